// bpf_skb_load_bytes inline: a bounds check against skb->len and one memory.copy, where the helper call
// leaving wasm cost ~40 ns (a tc parser calls it per header). The skb hook keeps `len` and `data` of the
// context in step with the packet (helpers/skb.ts syncSkb), so the code reads both from the context, as a
// direct packet access reads data and data_end. Only for verified programs: the verifier proved r1 the
// unmoved context and [r3, r3 + r4) writable memory of the program.

import { SKB_OFF } from '../helpers/skb.js';
import { Errno } from '../spec/errno.js';
import { SKB_TEST_RUN_TYPES } from '../spec/program-types.js';
import { type Code, Op, ValType } from './wasm/index.js';

/** Helper id of bpf_skb_load_bytes. */
export const HELPER_SKB_LOAD_BYTES = 26;

/**
 * Program types whose context a hook lays out with skb->len and data: the skb test runs and `tsbpf tc`, and
 * the flow dissector's, whose len is 0 (hooks/flow-dissector.ts): always -EFAULT, as the kernel's without
 * an skb.
 */
const SKB_CONTEXTS: ReadonlySet<string> = new Set([...SKB_TEST_RUN_TYPES, 'flow_dissector']);

/** Whether programs of `type` get skb_load_bytes inline. */
export const inlinesSkbLoads = (type: string): boolean => SKB_CONTEXTS.has(type);

const INT_MAX = 0x7fff_ffff;

/** i32 scratch locals the inline code uses: the context, the offset, the length. */
export interface SkbLoadLocals {
  readonly ctx: number;
  readonly off: number;
  readonly len: number;
}

/**
 * r0 = bpf_skb_load_bytes(r1 = skb, r2 = offset, r3 = to, r4 = len), as the helper: the bytes at
 * `offset` copied when `offset` ≤ INT_MAX and `offset + len` ≤ skb->len, else `to` zeroed and -EFAULT.
 */
export function emitSkbLoadBytes(code: Code, reg: (r: number) => number, locals: SkbLoadLocals): void {
  const { ctx, off, len } = locals;
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
