// The context a probe program reads: the kernel's x86-64 `struct pt_regs` (168 bytes, read-only), so a C
// program built with libbpf's PT_REGS_PARM1..5 / PT_REGS_RC (or BPF_KPROBE/BPF_KRETPROBE) and
// `-D__TARGET_ARCH_x86` reads the arguments and the return value unchanged. The registers a uprobe would
// leave meaningless carry what a JavaScript probe adds (see examples/trace/tsbpf_probe.h):
//
//   offset  register   probe meaning
//     0     r15        time of the event, ns (the runtime clock, the one bpf_ktime_get_ns reads)
//     8     r14        duration of the call, ns (return probes; 0 on entry)
//    16     r13        call id (the same on entry and return of one call)
//    24     r12        number of arguments the function was called with
//    40     bx         flags: 1 = return probe, 2 = the function threw, 4 = a promise settled
//    72     r8         argument 5                 (PT_REGS_PARM5)
//    80     ax         return value on return     (PT_REGS_RC)
//    88     cx         argument 4                 (PT_REGS_PARM4)
//    96     dx         argument 3                 (PT_REGS_PARM3)
//   104     si         argument 2                 (PT_REGS_PARM2)
//   112     di         argument 1                 (PT_REGS_PARM1)
//   128     ip         probe id of the traced function (as a kprobe's ip names the function)
//
// Values become u64: integers as two's complement (fractions truncated), bigints modulo 2^64, booleans 0/1,
// strings and buffers their length, anything else 0.

/** Size of `struct pt_regs` on x86-64, the probe context. */
export const PROBE_CTX_SIZE = 168;

/** Byte offsets of the probe context fields. */
export const ProbeCtx = {
  time: 0,
  duration: 8,
  callId: 16,
  argc: 24,
  flags: 40,
  arg5: 72,
  ret: 80,
  arg4: 88,
  arg3: 96,
  arg2: 104,
  arg1: 112,
  probeId: 128,
} as const;

/** Argument offsets in order: PT_REGS_PARM1..5 (di, si, dx, cx, r8). */
export const PROBE_ARG_OFFSETS: readonly number[] = [
  ProbeCtx.arg1,
  ProbeCtx.arg2,
  ProbeCtx.arg3,
  ProbeCtx.arg4,
  ProbeCtx.arg5,
];

/** Bits of the flags field. */
export const ProbeFlag = { RETURN: 1, THREW: 2, ASYNC: 4 } as const;

const TWO32 = 4294967296;
const TWO63 = 2 ** 63;

/**
 * Write `value` as a u64 into words[i] (low) and words[i + 1] (high) of an Int32Array. Numbers stay numbers
 * (no BigInt on the hot path unless the value needs 64 bits of precision).
 */
export function putValue(words: Int32Array, i: number, value: unknown): void {
  let lo = 0;
  let hi = 0;
  switch (typeof value) {
    case 'number':
      if (value === (value | 0)) {
        lo = value;
        hi = value < 0 ? -1 : 0;
      } else if (Number.isFinite(value)) {
        const t = Math.trunc(value);
        if (t >= -TWO63 && t < TWO63) {
          hi = Math.floor(t / TWO32);
          lo = t - hi * TWO32;
        } else {
          putBig(words, i, BigInt(t));
          return;
        }
      }
      break;
    case 'bigint':
      putBig(words, i, value);
      return;
    case 'boolean':
      lo = value ? 1 : 0;
      break;
    case 'string':
      lo = value.length;
      break;
    case 'object':
      if (value !== null && ArrayBuffer.isView(value)) lo = value.byteLength;
      else if (value instanceof ArrayBuffer) lo = value.byteLength;
      break;
  }
  words[i] = lo;
  words[i + 1] = hi;
}

function putBig(words: Int32Array, i: number, value: bigint): void {
  const u = BigInt.asUintN(64, value);
  words[i] = Number(u & 0xffffffffn) | 0;
  words[i + 1] = Number(u >> 32n) | 0;
}

/** Decode a u64 written by putValue (for tests and user-space readers). */
export function readU64(words: Int32Array, i: number): bigint {
  return (BigInt(words[i + 1]! >>> 0) << 32n) | BigInt(words[i]! >>> 0);
}
