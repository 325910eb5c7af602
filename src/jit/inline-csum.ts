// One's-complement checksum arithmetic for the JIT's inline helpers (bpf_l3/l4_csum_replace in
// inline-skb.ts, bpf_csum_diff here), as the helpers compute it (src/helpers/skb.ts, xdp.ts) but with no
// carry handling per addition: a chain of 32-bit end-around-carry additions equals the plain 64-bit sum
// folded at the end (both are the sum modulo 2^32 - 1, and 0 only when every term is), and so does the
// fold to 16 bits. The terms are added as i64 and folded once.

import { type Code, Op, ValType } from './wasm/index.js';

/** Helper id of bpf_csum_diff. */
export const HELPER_CSUM_DIFF = 28;

/** [] -> [] with `acc` (i64) folded to 16 bits, end-around: three folds take a sum of three u32 below 2^16. */
export function fold16(code: Code, acc: number): void {
  for (let i = 0; i < 3; i++) {
    code.localGet(acc).i64Const(0xffff).op(Op.i64_and);
    code.localGet(acc).i64Const(16).op(Op.i64_shr_u).op(Op.i64_add).localSet(acc);
  }
}

/** [] -> [] with `acc` (i64) folded to 32 bits, end-around: two folds take any sum of fewer than 2^31 words. */
function fold32(code: Code, acc: number): void {
  for (let i = 0; i < 2; i++) {
    code.localGet(acc).i64Const(0xffff_ffff).op(Op.i64_and);
    code.localGet(acc).i64Const(32).op(Op.i64_shr_u).op(Op.i64_add).localSet(acc);
  }
}

/** Locals csum_diff uses: i32 scratch for the address, the size and the index; i64 for the sum. */
export interface CsumDiffLocals {
  readonly at: number;
  readonly size: number;
  readonly i: number;
  readonly acc: number;
}

/**
 * r0 = bpf_csum_diff(r1 = from, r2 = from_size, r3 = to, r4 = to_size, r5 = seed), as the helper: the
 * seed plus the complement of each 32-bit little-endian word of `from` plus each word of `to` (a partial
 * last word zero padded), one's complement, then csum_from32to16. r1-r5 are dead after a call: `acc` may
 * be one of them once the arguments are read (it is set from r5 first).
 */
export function emitCsumDiff(code: Code, reg: (r: number) => number, locals: CsumDiffLocals): void {
  const { acc } = locals;
  code.localGet(reg(5)).i64Const(0xffff_ffff).op(Op.i64_and).localSet(acc);
  addWords(code, reg(1), reg(2), true, locals);
  addWords(code, reg(3), reg(4), false, locals);
  fold32(code, acc);
  // csum_from32to16: (sum + ror(sum, 16)) >> 16, in 32 bits.
  code.localGet(acc).op(Op.i32_wrap_i64).localTee(locals.i);
  code.localGet(locals.i).i32Const(16).op(Op.i32_rotl).op(Op.i32_add);
  code.i32Const(16).op(Op.i32_shr_u).op(Op.i64_extend_i32_u).localSet(reg(0));
}

/** acc += each word of [ptr, ptr + size) (complemented for `from`). */
function addWords(code: Code, ptr: number, size: number, complement: boolean, locals: CsumDiffLocals): void {
  const { at, i, acc } = locals;
  const n = locals.size;
  const term = () => {
    if (complement) code.i32Const(-1).op(Op.i32_xor);
    code.op(Op.i64_extend_i32_u).localGet(acc).op(Op.i64_add).localSet(acc);
  };
  code.localGet(ptr).op(Op.i32_wrap_i64).localSet(at);
  code.localGet(size).op(Op.i32_wrap_i64).localSet(n);
  code.i32Const(0).localSet(i);
  // Whole words while at least four bytes are left.
  code.block().loop();
  code.localGet(n).localGet(i).op(Op.i32_sub).i32Const(4).op(Op.i32_lt_u).brIf(1);
  code.localGet(at).localGet(i).op(Op.i32_add).mem(Op.i32_load, 0);
  term();
  code.localGet(i).i32Const(4).op(Op.i32_add).localSet(i).br(0);
  code.end().end();
  // A last word of one to three bytes, zero padded: n - i in {1, 2, 3}.
  code.localGet(n).localGet(i).op(Op.i32_sub).localTee(n).if();
  code.localGet(at).localGet(i).op(Op.i32_add).localSet(at);
  code.localGet(n).i32Const(2).op(Op.i32_and).if(ValType.i32);
  code.localGet(at).mem(Op.i32_load16_u, 0);
  code.localGet(n).i32Const(1).op(Op.i32_and).if(ValType.i32);
  code.localGet(at).mem(Op.i32_load8_u, 0, 2).i32Const(16).op(Op.i32_shl);
  code.else().i32Const(0).end().op(Op.i32_or);
  code.else().localGet(at).mem(Op.i32_load8_u, 0).end();
  term();
  code.end();
}
