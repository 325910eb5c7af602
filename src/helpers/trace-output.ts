// Output and sample helpers of tracing programs beyond perf.ts: bpf_skb_output and bpf_xdp_output (a
// perf_event_output of a BTF-typed sk_buff or xdp_buff seen by an fentry/fexit program), bpf_snprintf_btf
// and bpf_seq_printf_btf (printing a kernel object by its BTF type id), bpf_perf_prog_read_value and
// bpf_read_branch_records (a perf_event program's counter and branch stack).
//
// What user space has: the perf buffers (so a sample of the program's own data is output as the kernel
// outputs it); what it has not: the sk_buff/xdp_buff behind a typed pointer (a sample asking for their
// bytes gets -EFAULT, the kernel's answer when they are not there), the kernel's BTF at run time (a type id
// is not found: -ENOENT), a counter behind a perf_event program (-EOPNOTSUPP) or a sampled branch stack
// (-ENOENT). Argument checks come first, as the kernel's.

import { PerfEventArrayMap } from '../maps/perf.js';
import { Errno } from '../spec/errno.js';
import { mapWord, onNumbers, ptrWord, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The BTF-typed programs that may output a typed skb or xdp buffer (tracing_prog_func_proto's callers). */
const TYPED_OUTPUT_TYPES = ['tracing', 'lsm', 'syscall'];
/** sizeof(struct bpf_perf_event_value). */
const PERF_VALUE_SIZE = 24;
/** sizeof(struct btf_ptr): ptr, type_id, flags. */
const BTF_PTR_SIZE = 16;
/** BTF_F_COMPACT, BTF_F_NONAME, BTF_F_PTR_RAW, BTF_F_ZERO. */
const BTF_F_ALL = 0xf;
/** BPF_F_GET_BRANCH_RECORDS_SIZE. */
const BRANCH_RECORDS_SIZE = 1;

/** skb_output/xdp_output: the program's data as a sample; the buffer's own bytes (ctx length) are not here. */
function typedOutput(
  env: HelperEnv,
  map: number,
  flags: number,
  data: number,
  size: number,
  helper: string,
): number {
  const m = mapWord(env, map, helper);
  if (!(m instanceof PerfEventArrayMap)) return -Errno.EINVAL;
  // flags: index in bits 0-31, the buffer's bytes to append in bits 32-51; above that invalid.
  if (!(flags >= 0 && flags < 2 ** 52)) return -Errno.EINVAL;
  if (Math.floor(flags / 2 ** 32) > 0) return -Errno.EFAULT;
  return m.output(env.cpu, BigInt(flags), ptrWord(data), size);
}

/** snprintf_btf/seq_printf_btf: the checks of a struct btf_ptr and flags, then the type lookup (-ENOENT). */
function btfPrint(env: HelperEnv, ptr: number, ptrSize: number, flags: number): number {
  if (!(flags >= 0 && flags <= BTF_F_ALL) || ptrSize !== BTF_PTR_SIZE) return -Errno.EINVAL;
  const typeId = env.space.view.getUint32(ptrWord(ptr) + 8, true);
  if (typeId === 0) return -Errno.EINVAL;
  return -Errno.ENOENT;
}

export const TRACE_OUTPUT_HELPERS: HelperDef[] = [
  {
    id: 111,
    name: 'skb_output',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'const_map_ptr', 'anything', 'mem', 'const_size_or_zero'],
      btfStruct: 'sk_buff',
    },
    programTypes: TYPED_OUTPUT_TYPES,
    ...onNumbers(['word', 'word', 'word', 'word', 'u32'], (env, _skb, map, flags, data, size) =>
      typedOutput(env, map, flags, data, size, 'skb_output'),
    ),
  },
  {
    id: 121,
    name: 'xdp_output',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'const_map_ptr', 'anything', 'mem', 'const_size_or_zero'],
      btfStruct: 'xdp_buff',
    },
    programTypes: TYPED_OUTPUT_TYPES,
    ...onNumbers(['word', 'word', 'word', 'word', 'u32'], (env, _xdp, map, flags, data, size) =>
      typedOutput(env, map, flags, data, size, 'xdp_output'),
    ),
  },
  {
    id: 149,
    name: 'snprintf_btf',
    // Every program type (the kernel's base set); the output buffer is cleared on failure.
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size', 'mem', 'const_size', 'anything'] },
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, str, strSize, ptr, ptrSize, flags) => {
      const r = btfPrint(env, ptr, ptrSize, flags);
      const at = ptrWord(str);
      writable(env, at, strSize, 'snprintf_btf');
      env.space.bytes.fill(0, at, at + strSize);
      return r;
    }),
  },
  {
    id: 150,
    name: 'seq_printf_btf',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'mem', 'const_size', 'anything'],
      btfStruct: 'seq_file',
    },
    programTypes: ['tracing'],
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, _seq, ptr, ptrSize, flags) =>
      btfPrint(env, ptr, ptrSize, flags),
    ),
  },
  {
    id: 56,
    name: 'perf_prog_read_value',
    proto: { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size'] },
    programTypes: ['perf_event'],
    // The buffer zeroed, then -EINVAL for a size other than struct bpf_perf_event_value's; no counter
    // stands behind a perf_event program here (-EOPNOTSUPP).
    ...onNumbers(['word', 'word', 'u32'], (env, _ctx, buf, size) => {
      const at = ptrWord(buf);
      writable(env, at, size, 'perf_prog_read_value');
      env.space.bytes.fill(0, at, at + size);
      return size === PERF_VALUE_SIZE ? -Errno.EOPNOTSUPP : -Errno.EINVAL;
    }),
  },
  {
    id: 119,
    name: 'read_branch_records',
    proto: { ret: 'integer', args: ['ctx', 'mem_or_null', 'const_size_or_zero', 'anything'] },
    programTypes: ['perf_event'],
    // Unknown flags: -EINVAL; then no branch stack was sampled: -ENOENT.
    ...onNumbers(['word', 'word', 'u32', 'word'], (_env, _ctx, _buf, _size, flags) =>
      flags === 0 || flags === BRANCH_RECORDS_SIZE ? -Errno.ENOENT : -Errno.EINVAL,
    ),
  },
];
