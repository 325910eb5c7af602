// Argument decoding shared by helper implementations: registers arrive as u64 bigints.

import { MapBase } from '../maps/base.js';
import type { HelperEnv, HelperImpl, NumberArg, NumberHelper } from './types.js';

/** The low 32 bits as an unsigned number. */
export function u32(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/** The low 32 bits as a signed number (C `int`). */
export function s32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** A pointer argument as a linear address (addresses are below 2^32; anything else maps to 0). */
export function ptr(v: bigint): number {
  return ptrWord(word(v));
}

/** A negative errno as a helper's return value. */
export function err(negErrno: number): bigint {
  return BigInt(negErrno);
}

/** The map whose handle is at the address in `reg`; a bad pointer is a program bug the verifier prevents. */
export function mapArg(env: HelperEnv, reg: bigint, helper: string): MapBase {
  return mapWord(env, word(reg), helper);
}

/**
 * Check that [addr, addr+size) is memory a helper may write for the program (unverified programs can pass
 * anything; the wasm sandbox protects JS, this protects the runtime's other regions).
 */
export function writable(env: HelperEnv, addr: number, size: number, helper: string): void {
  if (size === 0) return;
  const r = env.space.regionAt(addr, size);
  if (!r?.writable) {
    throw new Error(
      `${helper}: cannot write ${size} bytes at 0x${addr.toString(16)} (not writable program memory)`,
    );
  }
}

/** Whether [addr, addr+size) lies in mapped memory (probe_read's notion of a fault). */
export function readable(env: HelperEnv, addr: number, size: number): boolean {
  return size === 0 || env.space.regionAt(addr, size) !== undefined;
}

/** A NUL-terminated string at addr, within its region and at most `max` bytes; undefined on a fault. */
export function cString(
  env: HelperEnv,
  addr: number,
  max = 4096,
): { text: string; terminated: boolean } | undefined {
  const r = env.space.regionAt(addr, 1);
  if (!r) return undefined;
  const b = env.space.bytes;
  const end = Math.min(r.end, addr + max);
  let s = '';
  for (let i = addr; i < end; i++) {
    if (b[i] === 0) return { text: s, terminated: true };
    s += String.fromCharCode(b[i]!);
  }
  return { text: s, terminated: false };
}

// --- helpers on numbers ------------------------------------------------------------------------

/** A 64-bit register as a signed number (the nearest double beyond ±2^53), as a `word` argument. */
export function word(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

const FROM_BIGINT: Record<NumberArg, (v: bigint) => number> = { u32, s32, word };

/**
 * A helper written on numbers: its number form, and the BigInt `call` derived from it (each argument
 * converted as its kind says), so the logic exists once.
 */
export function onNumbers(
  args: readonly NumberArg[],
  fn: NumberHelper['call'],
): { numbers: NumberHelper; call: HelperImpl } {
  const [ca, cb, cc, cd, ce] = [0, 1, 2, 3, 4].map((i) => FROM_BIGINT[args[i] ?? 'word']);
  return {
    numbers: { args, call: fn },
    call: (env, a, b, c, d, e) => BigInt(fn(env, ca!(a), cb!(b), cc!(c), cd!(d), ce!(e))),
  };
}

/** A `word` pointer argument as a linear address (anything outside 0 .. 2^32 - 1 maps to 0). */
export function ptrWord(v: number): number {
  return v >= 0 && v <= 0xffffffff ? v : 0;
}

/** A `word` flags argument: values outside 0 .. 0xffff are clamped (invalid for every helper). */
export function flagsWord(v: number): number {
  return v < 0 || v > 0xffff ? 0xffff : v;
}

/** The map whose handle is at the `word` address `v`. */
export function mapWord(env: HelperEnv, v: number, helper: string): MapBase {
  const map = env.mapAt(ptrWord(v));
  if (!(map instanceof MapBase)) {
    throw new Error(`${helper}: argument is not a map (0x${BigInt.asUintN(64, BigInt(v)).toString(16)})`);
  }
  return map;
}
