// The skb helpers a tc program calls per packet, inline: bpf_skb_load_bytes, bpf_skb_store_bytes,
// bpf_l3_csum_replace, bpf_l4_csum_replace (and bpf_csum_diff, ./inline-csum.ts), where each call
// leaving wasm for the helper cost ~30-40 ns (a NAT rewrites an address and a port with nine of them).
// The skb hook keeps `len` and `data` of the context in step with the packet (helpers/skb.ts syncSkb),
// so the code reads both from the context, as a direct packet access reads data and data_end; the hash's
// kind lives in the context too (SKB_HASH_KIND), so store_bytes' BPF_F_INVALIDATE_HASH clears it here.
// The rules (flags, limits) are the helpers' own (SKB_WRITE_RULES); test/jit/inline-skb*.test.ts hold
// every path to the interpreter's helper and the kernel's. Only for verified programs: the verifier
// proved r1 the unmoved context and the buffers readable or writable for their length.

import { SKB_WRITE_RULES as RULES, SKB_HASH_KIND, SKB_OFF } from '../helpers/skb.js';
import { Errno } from '../spec/errno.js';
import { SKB_TEST_RUN_TYPES } from '../spec/program-types.js';
import { emitCsumDiff, fold16, HELPER_CSUM_DIFF } from './inline-csum.js';
import { type Code, Op, ValType } from './wasm/index.js';

/** Helper id of bpf_skb_load_bytes. */
export const HELPER_SKB_LOAD_BYTES = 26;
const HELPER_SKB_STORE_BYTES = 9;
const HELPER_L3_CSUM_REPLACE = 10;
const HELPER_L4_CSUM_REPLACE = 11;

/**
 * Program types whose context a hook lays out with skb->len and data: the skb test runs and `tsbpf tc`, and
 * the flow dissector's, whose len is 0 (hooks/flow-dissector.ts): always -EFAULT, as the kernel's without
 * an skb.
 */
const SKB_CONTEXTS: ReadonlySet<string> = new Set([...SKB_TEST_RUN_TYPES, 'flow_dissector']);

/** The helpers emitted inline by `emitSkbHelper`: id → name (the program's helper must be that one). */
const SKB_INLINE: ReadonlyMap<number, string> = new Map([
  [HELPER_SKB_LOAD_BYTES, 'skb_load_bytes'],
  [HELPER_SKB_STORE_BYTES, 'skb_store_bytes'],
  [HELPER_L3_CSUM_REPLACE, 'l3_csum_replace'],
  [HELPER_L4_CSUM_REPLACE, 'l4_csum_replace'],
]);

/**
 * The helper ids of this file emitted inline for a program of `type`: the skb helpers for the skb
 * contexts, csum_diff (no context) for any. `is(id, name)`: the program calls helper `id` and it is `name`.
 */
export function inlinedSkbHelpers(type: string, is: (id: number, name: string) => boolean): Set<number> {
  const ids = new Set<number>();
  if (is(HELPER_CSUM_DIFF, 'csum_diff')) ids.add(HELPER_CSUM_DIFF);
  if (!SKB_CONTEXTS.has(type)) return ids;
  for (const [id, name] of SKB_INLINE) if (is(id, name)) ids.add(id);
  return ids;
}

const INT_MAX = 0x7fff_ffff;

/** i32 scratch locals the inline code uses (three). */
export interface SkbLocals {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/** r0 = helper `id` (one of `inlinedSkbHelpers`) on r1-r5, inline. */
export function emitSkbHelper(code: Code, id: number, reg: (r: number) => number, locals: SkbLocals): void {
  switch (id) {
    case HELPER_SKB_LOAD_BYTES:
      emitSkbLoadBytes(code, reg, locals);
      return;
    case HELPER_SKB_STORE_BYTES:
      emitSkbStoreBytes(code, reg, locals);
      return;
    case HELPER_L3_CSUM_REPLACE:
      emitCsumReplace(code, reg, locals, false);
      return;
    case HELPER_L4_CSUM_REPLACE:
      emitCsumReplace(code, reg, locals, true);
      return;
    case HELPER_CSUM_DIFF:
      // The sum in r5: the seed is read into it first.
      emitCsumDiff(code, reg, { at: locals.a, size: locals.b, i: locals.c, acc: reg(5) });
      return;
    default:
      throw new Error(`helper #${id} has no inline form`);
  }
}

/**
 * r0 = bpf_skb_load_bytes(r1 = skb, r2 = offset, r3 = to, r4 = len), as the helper: the bytes at
 * `offset` copied when `offset` ≤ INT_MAX and `offset + len` ≤ skb->len, else `to` zeroed and -EFAULT.
 */
export function emitSkbLoadBytes(code: Code, reg: (r: number) => number, locals: SkbLocals): void {
  const { a: ctx, b: off, c: len } = locals;
  code.localGet(reg(1)).op(Op.i32_wrap_i64).localSet(ctx);
  code.localGet(reg(2)).op(Op.i32_wrap_i64).localSet(off);
  code.localGet(reg(4)).op(Op.i32_wrap_i64).localSet(len);
  // offset <= INT_MAX && (u64)offset + len <= skb->len (64-bit: the sum of two u32 cannot wrap)
  code.localGet(off).i32Const(INT_MAX).op(Op.i32_le_u);
  code.localGet(off).op(Op.i64_extend_i32_u).localGet(len).op(Op.i64_extend_i32_u).op(Op.i64_add);
  code.localGet(ctx).mem(Op.i32_load, 2, SKB_OFF.len).op(Op.i64_extend_i32_u).op(Op.i64_le_u);
  code.op(Op.i32_and).if(ValType.i64);
  code.localGet(reg(3)).op(Op.i32_wrap_i64);
  code.localGet(ctx).mem(Op.i32_load, 2, SKB_OFF.data).localGet(off).op(Op.i32_add);
  code.localGet(len).memoryCopy().i64Const(0);
  code.else();
  code.localGet(reg(3)).op(Op.i32_wrap_i64).i32Const(0).localGet(len).memoryFill().i64Const(-Errno.EFAULT);
  code.end().localSet(reg(0));
}

/** [] -> [] with `cond` (i32 on the stack) ending in r0 = `errno` negated, out of `depth` blocks. */
function failIf(code: Code, reg: (r: number) => number, errno: number, depth: number): void {
  code
    .if()
    .i64Const(-errno)
    .localSet(reg(0))
    .br(depth + 1)
    .end();
}

/**
 * r0 = bpf_skb_store_bytes(r1 = skb, r2 = offset, r3 = from, r4 = len, r5 = flags), as the helper:
 * unknown flags -EINVAL; `offset` > INT_MAX or `offset + len` > skb->len -EFAULT; else the bytes copied
 * in and, with BPF_F_INVALIDATE_HASH, the hash cleared (BPF_F_RECOMPUTE_CSUM has no skb->csum to update).
 */
function emitSkbStoreBytes(code: Code, reg: (r: number) => number, locals: SkbLocals): void {
  const { a: ctx, b: off, c: len } = locals;
  code.block();
  code.localGet(reg(5)).i64Const(~RULES.storeFlags).op(Op.i64_and).op(Op.i64_eqz).op(Op.i32_eqz);
  failIf(code, reg, Errno.EINVAL, 0);
  code.localGet(reg(1)).op(Op.i32_wrap_i64).localSet(ctx);
  code.localGet(reg(2)).op(Op.i32_wrap_i64).localSet(off);
  code.localGet(reg(4)).op(Op.i32_wrap_i64).localSet(len);
  code.localGet(off).i32Const(RULES.maxOffset).op(Op.i32_gt_u);
  code.localGet(off).op(Op.i64_extend_i32_u).localGet(len).op(Op.i64_extend_i32_u).op(Op.i64_add);
  code.localGet(ctx).mem(Op.i32_load, 2, SKB_OFF.len).op(Op.i64_extend_i32_u).op(Op.i64_gt_u);
  code.op(Op.i32_or);
  failIf(code, reg, Errno.EFAULT, 0);
  code.localGet(ctx).mem(Op.i32_load, 2, SKB_OFF.data).localGet(off).op(Op.i32_add);
  code.localGet(reg(3)).op(Op.i32_wrap_i64).localGet(len).memoryCopy();
  code.localGet(reg(5)).i64Const(RULES.invalidateHash).op(Op.i64_and).op(Op.i64_eqz).op(Op.i32_eqz).if();
  code.localGet(ctx).i32Const(0).mem(Op.i32_store, 2, SKB_OFF.hash);
  code.localGet(ctx).i32Const(0).mem(Op.i32_store8, 0, SKB_HASH_KIND);
  code.end();
  code.i64Const(0).localSet(reg(0));
  code.end();
}

/**
 * r0 = bpf_l3_csum_replace / bpf_l4_csum_replace(r1 = skb, r2 = offset, r3 = from, r4 = to, r5 = flags), as
 * the helpers: unknown flags -EINVAL; an odd offset, one above 0xffff or a checksum past skb->len -EFAULT;
 * l4 with BPF_F_MARK_MANGLED_0 (not enforced) leaves a 0 checksum alone; the size in the flags' low bits
 * picks the replacement (4: 32-bit values; 2: 16-bit values, l3 in 16-bit arithmetic; 0: `to` is a
 * difference and `from` must be 0; else -EINVAL); l4's mangled-0 writes a 0 result as 0xffff.
 */
function emitCsumReplace(code: Code, reg: (r: number) => number, locals: SkbLocals, l4: boolean): void {
  const { a: at, b: size, c: sum } = locals;
  const acc = reg(2); // the offset is read first
  const flags = () => code.localGet(reg(5));
  const mangled = () => {
    flags().i64Const(RULES.mangled0).op(Op.i64_and).op(Op.i64_eqz).op(Op.i32_eqz);
  };
  code.block(); // out
  code.block(); // -EINVAL
  flags()
    .i64Const(~(l4 ? RULES.l4Flags : RULES.l3Flags))
    .op(Op.i64_and)
    .op(Op.i64_eqz)
    .op(Op.i32_eqz)
    .brIf(0);
  // The checksum's address: data + offset, the offset even, ≤ 0xffff, its two bytes within skb->len.
  code.localGet(reg(2)).op(Op.i32_wrap_i64).localSet(size);
  code.localGet(reg(1)).op(Op.i32_wrap_i64).localSet(at);
  code.localGet(size).i32Const(RULES.csumMaxOffset).op(Op.i32_gt_u);
  code.localGet(size).i32Const(1).op(Op.i32_and).op(Op.i32_or);
  code
    .localGet(size)
    .i32Const(2)
    .op(Op.i32_add)
    .localGet(at)
    .mem(Op.i32_load, 2, SKB_OFF.len)
    .op(Op.i32_gt_u);
  code.op(Op.i32_or);
  failIf(code, reg, Errno.EFAULT, 1);
  code.localGet(at).mem(Op.i32_load, 2, SKB_OFF.data).localGet(size).op(Op.i32_add).localSet(at);
  code.localGet(at).mem(Op.i32_load16_u, 0).localSet(sum);
  if (l4) {
    // A UDP checksum of 0 means "none": left alone unless enforced.
    mangled();
    flags().i64Const(RULES.enforce).op(Op.i64_and).op(Op.i64_eqz).op(Op.i32_and);
    code.localGet(sum).op(Op.i32_eqz).op(Op.i32_and);
    code.if().i64Const(0).localSet(reg(0)).br(2).end();
  }
  code.localGet(reg(5)).op(Op.i32_wrap_i64).i32Const(RULES.sizeMask).op(Op.i32_and).localSet(size);
  // acc = ~sum + ~from + to as the size has them (inline-csum.ts: folded once at the end).
  const term = (r: number, mask: number, complement: number) => {
    code.localGet(r).op(Op.i32_wrap_i64);
    if (mask !== -1) code.i32Const(mask).op(Op.i32_and);
    if (complement) code.i32Const(complement).op(Op.i32_xor);
    code.op(Op.i64_extend_i32_u);
  };
  const notSum = (complement: number) => {
    code.localGet(sum).i32Const(complement).op(Op.i32_xor).op(Op.i64_extend_i32_u);
  };
  code.localGet(size).i32Const(4).op(Op.i32_eq).if(ValType.i64);
  notSum(-1);
  term(reg(3), -1, -1);
  term(reg(4), -1, 0);
  code.op(Op.i64_add).op(Op.i64_add);
  code.else().localGet(size).i32Const(2).op(Op.i32_eq).if(ValType.i64);
  // l4: the kernel's inet_proto_csum_replace2 is a 32-bit replace of the 16-bit values; l3's csum_replace2
  // works in 16 bits (its complements are 16-bit).
  const c = l4 ? -1 : 0xffff;
  notSum(c);
  term(reg(3), 0xffff, c);
  term(reg(4), 0xffff, 0);
  code.op(Op.i64_add).op(Op.i64_add);
  code.else().localGet(size).op(Op.i32_eqz).if(ValType.i64);
  code.localGet(reg(3)).op(Op.i64_eqz).op(Op.i32_eqz).brIf(3); // a difference: `from` must be 0
  notSum(-1);
  term(reg(4), -1, 0);
  code.op(Op.i64_add);
  code.else().br(3).end();
  code.end().end().localSet(acc);
  fold16(code, acc);
  // The new checksum: the folded sum complemented; l4's mangled-0 turns 0 into 0xffff.
  code.localGet(acc).op(Op.i32_wrap_i64).i32Const(0xffff).op(Op.i32_xor).localSet(sum);
  if (l4) {
    mangled();
    code.localGet(sum).op(Op.i32_eqz).op(Op.i32_and).if();
    code.i32Const(RULES.csumMangled0).localSet(sum);
    code.end();
  }
  code.localGet(at).localGet(sum).mem(Op.i32_store16, 0);
  code.i64Const(0).localSet(reg(0)).br(1);
  code.end(); // -EINVAL
  code.i64Const(-Errno.EINVAL).localSet(reg(0));
  code.end(); // out
}
