// Counters and trace output: perf_event_read(_value) read a hardware or software counter that a perf event
// array slot holds in the kernel; here the slots hold output buffers only (perf_event_output), so a read
// finds no counter: the kernel's -ENOENT for an empty slot, after its flag and index checks (value
// buffer zeroed on any error). trace_vprintk is trace_printk with its arguments in an array; seq_printf and
// seq_write are an iterator's output (Invocation.seq, when a hook collects it).

import { PerfEventArrayMap } from '../maps/perf.js';
import { Errno } from '../spec/errno.js';
import { cString, mapWord, onNumbers, ptr, ptrWord, u32, writable } from './args.js';
import { bpfFormat } from './strings.js';
import type { HelperDef, HelperEnv } from './types.js';

/** BPF_F_INDEX_MASK and BPF_F_CURRENT_CPU. */
const INDEX_MASK = 0xffffffff;
const CURRENT_CPU = 0xffffffff;
/** sizeof(struct bpf_perf_event_value): counter, enabled, running. */
const PERF_VALUE_SIZE = 24;
/** The most arguments trace_vprintk and snprintf take (MAX_BPRINTF_VARARGS). */
const MAX_VARARGS = 12;
/** trace_printk's output line limit (its buffer). */
const LINE = 1024;

/** The counter at the slot flags name: always -errno here (no counters). */
function readCounter(env: HelperEnv, map: number, flags: bigint, helper: string): number {
  const m = mapWord(env, map, helper);
  if (!(m instanceof PerfEventArrayMap)) return -Errno.EINVAL;
  if (flags & ~BigInt(INDEX_MASK)) return -Errno.EINVAL;
  const index = Number(flags) === CURRENT_CPU ? env.cpu : Number(flags);
  if (index >= m.spec.maxEntries) return -Errno.E2BIG;
  return -Errno.ENOENT;
}

/** The iterator's output, or a clear stop when no hook collects it. */
function seqOut(env: HelperEnv, helper: string): string[] {
  const seq = env.invocation.seq;
  if (!seq) throw new Error(`bpf_${helper}: no iterator output here (no hook runs iter programs)`);
  return seq;
}

/** seq_printf's and trace_vprintk's arguments: at most 12 whole words, an array unless there are none. */
function varargs(env: HelperEnv, at: number, n: number): bigint[] | number {
  if (n % 8 !== 0 || n > MAX_VARARGS * 8 || (n !== 0 && at === 0)) return -Errno.EINVAL;
  const args: bigint[] = [];
  for (let i = 0; i < n / 8; i++) args.push(env.space.view.getBigUint64(at + 8 * i, true));
  return args;
}

export const PERF_HELPERS: HelperDef[] = [
  {
    id: 22,
    name: 'perf_event_read',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything'] },
    // No number form: flags are a u64 whose upper half must be checked whole.
    call: (env, map, flags) => BigInt(readCounter(env, Number(map & 0xffffffffn), flags, 'perf_event_read')),
  },
  {
    id: 55,
    name: 'perf_event_read_value',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything', 'uninit_mem', 'const_size'] },
    call: (env, map, flags, buf, size) => {
      const at = Number(buf & 0xffffffffn);
      const n = Number(size & 0xffffffffn);
      writable(env, at, n, 'perf_event_read_value');
      env.space.bytes.fill(0, at, at + n);
      if (n !== PERF_VALUE_SIZE) return BigInt(-Errno.EINVAL);
      return BigInt(readCounter(env, Number(map & 0xffffffffn), flags, 'perf_event_read_value'));
    },
  },
  {
    id: 177,
    name: 'trace_vprintk',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'mem_or_null', 'const_size_or_zero'] },
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, fmt, fmtSize, data, n) => {
      const args = varargs(env, ptrWord(data), n);
      if (typeof args === 'number') return args;
      const f = cString(env, ptrWord(fmt), fmtSize);
      if (!f?.terminated) return -Errno.EINVAL;
      const text = bpfFormat(env, f.text, args);
      if (typeof text === 'number') return text;
      const line = text.slice(0, LINE - 1);
      env.trace(line.endsWith('\n') ? line.slice(0, -1) : line);
      return text.length;
    }),
  },
  {
    id: 126,
    name: 'seq_printf',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'mem', 'const_size', 'mem_or_null', 'const_size_or_zero'],
      btfStruct: 'seq_file',
    },
    // Iterator programs only (tracing programs attached to an iter/ target).
    programTypes: ['tracing'],
    // No number form: without an iterator here the call stops the run, which number forms may not do.
    call: (env, _seq, fmt, fmtSize, data, n) => {
      const out = seqOut(env, 'seq_printf');
      const args = varargs(env, ptr(data), u32(n));
      if (typeof args === 'number') return BigInt(args);
      const f = cString(env, ptr(fmt), u32(fmtSize));
      if (!f?.terminated) return BigInt(-Errno.EINVAL);
      const text = bpfFormat(env, f.text, args);
      if (typeof text === 'number') return BigInt(text);
      out.push(text);
      return 0n;
    },
  },
  {
    id: 127,
    name: 'seq_write',
    proto: { ret: 'integer', args: ['btf_id', 'mem', 'const_size_or_zero'], btfStruct: 'seq_file' },
    programTypes: ['tracing'],
    call: (env, _seq, data, n) => {
      const out = seqOut(env, 'seq_write');
      const at = ptr(data);
      let s = '';
      for (let i = 0; i < u32(n); i++) s += String.fromCharCode(env.space.bytes[at + i]!);
      out.push(s);
      return 0n;
    },
  },
];
