/* The probe context of tsbpf's JavaScript probes, for programs written in C.
 *
 * A probe program receives the x86-64 `struct pt_regs` (168 bytes, read-only), so libbpf's
 * PT_REGS_PARM1..5(ctx), PT_REGS_RC(ctx), BPF_KPROBE and BPF_KRETPROBE work unchanged when the program is
 * compiled with -D__TARGET_ARCH_x86. Arguments become u64: integers (two's complement, fractions
 * truncated), bigints modulo 2^64, booleans 0/1, strings and buffers their length, anything else 0.
 * Registers a JavaScript call has no use for carry what the probe adds:
 *
 *   r15  time of the event, ns (the clock bpf_ktime_get_ns reads)
 *   r14  duration of the call, ns (return probes; 0 on entry)
 *   r13  call id (the same on entry and return of one call)
 *   r12  number of arguments the function was called with
 *   bx   flags: TSBPF_F_RETURN, TSBPF_F_THREW, TSBPF_F_ASYNC
 *   ip   probe id of the traced function (one program may serve several functions)
 */
#ifndef TSBPF_PROBE_H
#define TSBPF_PROBE_H

#include <linux/types.h>

#define TSBPF_CTX_U64(ctx, off) (*(const __u64 *)((const char *)(ctx) + (off)))

#define TSBPF_TIME_NS(ctx) TSBPF_CTX_U64(ctx, 0)
#define TSBPF_DURATION_NS(ctx) TSBPF_CTX_U64(ctx, 8)
#define TSBPF_CALL_ID(ctx) TSBPF_CTX_U64(ctx, 16)
#define TSBPF_ARGC(ctx) TSBPF_CTX_U64(ctx, 24)
#define TSBPF_FLAGS(ctx) TSBPF_CTX_U64(ctx, 40)
#define TSBPF_PROBE_ID(ctx) TSBPF_CTX_U64(ctx, 128)

#define TSBPF_F_RETURN 1
#define TSBPF_F_THREW 2
#define TSBPF_F_ASYNC 4

/* The log2 slot tsbpf's histograms use: 0 for 0, else the number of bits (1 -> 1, 2..3 -> 2, 4..7 -> 3). */
static __always_inline __u32 tsbpf_log2_slot(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { v >>= 1; r += 1; }
	return r + (v != 0);
}

#endif
