// Per-verdict counters for programs running in the kernel, which keeps no such statistics itself: every
// `exit` of the main function becomes a jump to an epilogue, inserted after the main function, that
// bumps a per-CPU array slot indexed by r0 (0..4, anything else in slot 5) and returns r0 unchanged.
// Subprograms move down by the epilogue's length; calls and function addresses into them are adjusted.

import {
  AluOp,
  Class,
  functionTarget,
  type Insn,
  insn,
  JmpOp,
  lddw,
  Mode,
  PseudoCall,
  PseudoLddw,
  Size,
  Source,
  subprogramStarts,
} from '../isa/index.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ProgramSpec } from '../spec/object.js';
import { XDP_ACTION_NAMES } from '../spec/verdicts.js';

/**
 * Names of the counter slots, in slot order: the XDP actions as the vocabulary names them (slot = the
 * action's number), then OTHER for every other return value.
 */
export const VERDICT_NAMES = [...XDP_ACTION_NAMES, 'OTHER'] as const;
/** A verdict counter's name: an XDP action, or OTHER for any other return value. */
export type VerdictName = (typeof VERDICT_NAMES)[number];

/** The counter map the instrumented programs update. */
export const VERDICT_MAP: MapSpec = {
  name: 'tsbpf_verdicts',
  type: MapType.PERCPU_ARRAY,
  keySize: 4,
  valueSize: 8,
  maxEntries: VERDICT_NAMES.length,
  flags: 0,
};

const EXIT = Class.JMP | JmpOp.EXIT;
const BPF_FUNC_map_lookup_elem = 1;

/** Epilogue: count r0 in the map at index `mapIndex` of the program's map array, then return r0. */
function epilogue(mapIndex: number): Insn[] {
  const other = VERDICT_NAMES.length - 1;
  return [
    insn(Class.ALU64 | AluOp.MOV | Source.X, 6, 0), // r6 = r0 (the main function is ending: r6 is free)
    insn(Class.JMP | JmpOp.JLT | Source.K, 0, 0, 1, other), // if r0 < 5 goto +1
    insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, other), // r0 = 5
    insn(Class.STX | Mode.MEM | Size.W, 10, 0, -4), // *(u32 *)(r10 - 4) = w0
    ...lddw(1, BigInt(mapIndex), PseudoLddw.MAP_FD), // r1 = &counters
    insn(Class.ALU64 | AluOp.MOV | Source.X, 2, 10), // r2 = r10
    insn(Class.ALU64 | AluOp.ADD | Source.K, 2, 0, 0, -4), // r2 += -4
    insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, BPF_FUNC_map_lookup_elem),
    insn(Class.JMP | JmpOp.JEQ | Source.K, 0, 0, 3, 0), // if r0 == 0 goto +3
    insn(Class.LDX | Mode.MEM | Size.DW, 1, 0, 0), // r1 = *(u64 *)(r0 + 0)
    insn(Class.ALU64 | AluOp.ADD | Source.K, 1, 0, 0, 1), // r1 += 1
    insn(Class.STX | Mode.MEM | Size.DW, 0, 1, 0), // *(u64 *)(r0 + 0) = r1 (per-CPU: no race)
    insn(Class.ALU64 | AluOp.MOV | Source.X, 0, 6), // r0 = r6
    insn(EXIT),
  ];
}

/** Slot where the main function ends: where its first subprogram starts (or the program's end). */
function mainEnd(insns: readonly Insn[]): number {
  return subprogramStarts(insns)[1] ?? insns.length;
}

/** A copy of `p` whose main-function exits count their verdict in map `mapIndex` (see VERDICT_MAP). */
export function instrumentVerdicts(p: ProgramSpec, mapIndex: number): ProgramSpec {
  const end = mainEnd(p.insns);
  const tail = epilogue(mapIndex);
  const shift = tail.length;
  const main = p.insns.slice(0, end).map((ins, i) => {
    if (ins.code === EXIT) {
      return insn(Class.JMP | JmpOp.JA, 0, 0, end - (i + 1)); // to the epilogue
    }
    const target = functionTarget(ins, i);
    if (target !== undefined && target >= end) return { ...ins, imm: ins.imm + shift };
    return { ...ins };
  });
  const moved = (n: number) => (n >= end ? n + shift : n);
  const out: ProgramSpec = { ...p, insns: [...main, ...tail, ...p.insns.slice(end).map((i) => ({ ...i }))] };
  if (p.lineInfo) out.lineInfo = p.lineInfo.map((l) => ({ ...l, insn: moved(l.insn) }));
  if (p.funcInfo) out.funcInfo = p.funcInfo.map((f) => ({ ...f, insn: moved(f.insn) }));
  return out;
}

/** Sum per-CPU counter values (u64 each, 8-byte slots) into totals by verdict name. */
export function sumVerdicts(valuesBySlot: readonly (Uint8Array | undefined)[]): Record<VerdictName, bigint> {
  const out = {} as Record<VerdictName, bigint>;
  VERDICT_NAMES.forEach((name, slot) => {
    const bytes = valuesBySlot[slot];
    let total = 0n;
    if (bytes) {
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at + 8 <= bytes.byteLength; at += 8) total += v.getBigUint64(at, true);
    }
    out[name] = total;
  });
  return out;
}
