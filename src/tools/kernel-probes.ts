// The programs of the kernel funccount and funclatency (`tsbpf trace … --ufn/--kfn`), as instructions: the
// same counting as the JS-function tools (./funccount.ts, ./funclatency.ts), keyed by the probe's attach
// cookie (the index of the traced function) instead of the probe context's id. Kernel probes carry no
// call duration, so funclatency takes two programs, as BCC's: the entry one stores the time by thread, the
// return one takes it back and counts log2(now - then). Map 0 is the counters, map 1 the start times.

import { ProgramBuilder, R0, R1, R2, R3, R4, R6, R7, R10 } from '../asm/index.js';
import type { Insn } from '../isa/index.js';
import { emitLog2Slot } from './histogram.js';
import { emitCountAndExit } from './probe-tool.js';

/** funccount: counts[u32 cookie] += 1. */
export function kernelCountProgram(): Insn[] {
  const b = new ProgramBuilder().call('get_attach_cookie').stx('u32', R10, -4, R0);
  return emitCountAndExit(b, -4).build();
}

/** funclatency at entry: starts[pid_tgid] = ktime_get_ns(). */
export function kernelEntryProgram(): Insn[] {
  return new ProgramBuilder()
    .call('get_current_pid_tgid')
    .stx('u64', R10, -8, R0)
    .call('ktime_get_ns')
    .stx('u64', R10, -16, R0)
    .ldMap(R1, 1)
    .mov64(R2, R10)
    .add64(R2, -8)
    .mov64(R3, R10)
    .add64(R3, -16)
    .mov64(R4, 0)
    .call('map_update_elem')
    .mov64(R0, 0)
    .exit()
    .build();
}

/** funclatency at return: hist[{cookie, log2(now - starts[pid_tgid])}] += 1; the start is removed. */
export function kernelReturnProgram(): Insn[] {
  const b = new ProgramBuilder()
    .mov64(R6, R1)
    .call('get_attach_cookie')
    .stx('u32', R10, -8, R0) // key.group = function index
    .call('get_current_pid_tgid')
    .stx('u64', R10, -24, R0)
    .ldMap(R1, 1)
    .mov64(R2, R10)
    .add64(R2, -24)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'unmatched') // a return whose entry was not seen (attached mid-call)
    .ldx('u64', R7, R0, 0)
    .ldMap(R1, 1)
    .mov64(R2, R10)
    .add64(R2, -24)
    .call('map_delete_elem')
    .call('ktime_get_ns')
    .mov64(R6, R0)
    .sub64(R6, R7);
  emitLog2Slot(b, R7, R6, R3);
  b.stx('u32', R10, -4, R7); // key.slot
  emitCountAndExit(b, -8);
  return b.label('unmatched').mov64(R0, 0).exit().build();
}
