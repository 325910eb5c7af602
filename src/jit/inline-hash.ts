// bpf_map_lookup_elem on a plain hash map, inline: hash the key with the map's seed exactly as
// src/maps/hash-index.ts does, then probe the index in linear memory. The key size is known when the
// program is compiled, so the hash and the key comparison are unrolled; the table's address and mask are
// read from the index header on every probe, because the table moves when the map grows.

import { KeyHash } from '../maps/hash-index.js';
import type { HashLayout } from '../maps/types.js';
import { type Code, Op } from './wasm/index.js';

/** Keys longer than this are looked up through the map's code (the unrolled code would grow large). */
export const MAX_INLINE_KEY = 64;

/** Scratch i32 locals the lookup may use: the key address, the running hash, the entry address. */
export interface HashLookupLocals {
  readonly key: number;
  readonly hash: number;
  readonly entry: number;
}

/** r0 = the value address of the key r2 points to, or 0: what the helper returns for a plain HASH map. */
export function emitHashLookup(
  code: Code,
  layout: HashLayout,
  r2: number,
  r0: number,
  locals: HashLookupLocals,
): void {
  const { key, hash, entry } = locals;
  const size = layout.keySize;
  code.localGet(r2).op(Op.i32_wrap_i64).localSet(key);

  // The hash: words of four bytes, a zero-padded last word, then the avalanche.
  code.i32Const(layout.seed | 0);
  let at = 0;
  for (; at + 4 <= size; at += 4) {
    code.localGet(key).mem(Op.i32_load, 0, at);
    mixWord(code);
  }
  if (at < size) {
    loadTail(code, key, at, size - at);
    mixWord(code);
  }
  code.i32Const(size).op(Op.i32_xor);
  xorShiftRight(code, hash, 16);
  code.i32Const(KeyHash.f1 | 0).op(Op.i32_mul);
  xorShiftRight(code, hash, 13);
  code.i32Const(KeyHash.f2 | 0).op(Op.i32_mul);
  xorShiftRight(code, hash, 16);
  code.localSet(hash);

  // Probe: entry = table[hash & mask]; empty ends the search, equal keys find the value.
  code.block().loop();
  code.i32Const(0).mem(Op.i32_load, 2, layout.header); // table
  code
    .localGet(hash)
    .i32Const(0)
    .mem(Op.i32_load, 2, layout.header + 4)
    .op(Op.i32_and); // bucket
  code.i32Const(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0).localTee(entry);
  code.op(Op.i32_eqz).if();
  code.i64Const(0).localSet(r0).br(2);
  code.end();
  sameKey(code, entry, key, size);
  code.if();
  code.localGet(entry).op(Op.i64_extend_i32_u).i64Const(layout.valueOffset).op(Op.i64_add).localSet(r0);
  code.br(2);
  code.end();
  code.localGet(hash).i32Const(1).op(Op.i32_add).localSet(hash).br(0);
  code.end().end();
}

/** [h, w] -> h mixed with word w (hash-index.ts mixWord). */
function mixWord(code: Code): void {
  code.i32Const(KeyHash.c1 | 0).op(Op.i32_mul);
  code.i32Const(KeyHash.rotWord).op(Op.i32_rotl);
  code.i32Const(KeyHash.c2 | 0).op(Op.i32_mul);
  code.op(Op.i32_xor);
  code.i32Const(KeyHash.rotHash).op(Op.i32_rotl);
  code.i32Const(KeyHash.mulHash).op(Op.i32_mul);
  code.i32Const(KeyHash.addHash | 0).op(Op.i32_add);
}

/** [h] -> h ^ (h >>> n), through the scratch local. */
function xorShiftRight(code: Code, scratch: number, n: number): void {
  code.localTee(scratch).localGet(scratch).i32Const(n).op(Op.i32_shr_u).op(Op.i32_xor);
}

/** The last 1-3 key bytes at key + at, little endian, zero-padded to a word. */
function loadTail(code: Code, key: number, at: number, n: number): void {
  if (n === 1) code.localGet(key).mem(Op.i32_load8_u, 0, at);
  else code.localGet(key).mem(Op.i32_load16_u, 0, at);
  if (n === 3) {
    code
      .localGet(key)
      .mem(Op.i32_load8_u, 0, at + 2)
      .i32Const(16)
      .op(Op.i32_shl)
      .op(Op.i32_or);
  }
}

/** [] -> whether the `size` bytes at a and b are equal, compared in the widest loads that fit. */
function sameKey(code: Code, a: number, b: number, size: number): void {
  let at = 0;
  let first = true;
  const compare = (width: number, load: number, eq: number) => {
    code.localGet(a).mem(load, 0, at).localGet(b).mem(load, 0, at).op(eq);
    if (!first) code.op(Op.i32_and);
    first = false;
    at += width;
  };
  while (size - at >= 8) compare(8, Op.i64_load, Op.i64_eq);
  if (size - at >= 4) compare(4, Op.i32_load, Op.i32_eq);
  if (size - at >= 2) compare(2, Op.i32_load16_u, Op.i32_eq);
  if (size - at >= 1) compare(1, Op.i32_load8_u, Op.i32_eq);
}
