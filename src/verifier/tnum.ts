// Tristate numbers: what is known about the bits of a 64-bit value. A bit is known-0, known-1 (in `value`)
// or unknown (set in `mask`); value & mask is always 0. The operations over-approximate the concrete ones,
// following the kernel's tnum algorithms (Jakobsen/Vishwanathan et al. for add, sub and mul).

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64 = (1n << 64n) - 1n;
export const U32 = (1n << 32n) - 1n;

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
/** The upper 32 bits of a u64. */
const HI32 = U64 ^ U32;
/** MASKS[n]: the low n bits set (n = 0..64); BigInt shifts are not folded into constants. */
const MASKS: readonly bigint[] = Array.from({ length: 65 }, (_, n) => (1n << BigInt(n)) - 1n);

// The operations below build a Tnum directly when the invariant (value and mask in u64, value & mask = 0)
// already holds, rather than normalising it again through `tnum`: every BigInt operation allocates.

export const tnum = (value: bigint, mask: bigint): Tnum => ({ value: u64(value & ~mask), mask: u64(mask) });
export const tnumConst = (v: bigint): Tnum => ({ value: u64(v), mask: 0n });
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64 };

export const isConst = (a: Tnum): boolean => a.mask === 0n;

/** Highest set bit position plus one (0 for 0). */
function fls(x: bigint): number {
  if (x === 0n) return 0;
  if (x >> 32n) return 64 - Math.clz32(Number(x >> 32n));
  return 32 - Math.clz32(Number(x));
}

/** The smallest tnum holding every value of the unsigned range [min, max]. */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  const bits = fls(chi);
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = MASKS[bits]!;
  return { value: min & ~delta, mask: delta };
}

export const tnumLshift = (a: Tnum, s: number): Tnum => tnum(a.value << BigInt(s), a.mask << BigInt(s));
export const tnumRshift = (a: Tnum, s: number): Tnum => tnum(a.value >> BigInt(s), a.mask >> BigInt(s));

/** Arithmetic right shift in `bits` (32 or 64) width; the result is zero-extended from that width. */
export function tnumArshift(a: Tnum, s: number, bits: 32 | 64): Tnum {
  const sx = (x: bigint) => BigInt.asUintN(bits, BigInt.asIntN(bits, x) >> BigInt(s));
  return tnum(sx(a.value), sx(a.mask));
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return tnum(sv & ~mu, mu);
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return tnum(dv & ~mu, mu);
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return tnum(v, alpha & beta & ~v);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  return tnum(v, (a.mask | b.mask) & ~v);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return tnum(v & ~mu, mu);
}

/** Multiplication by partial products: known bits of `a` add shifted `b`, unknown bits add uncertainty. */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  const accV = u64(a.value * b.value);
  let accM: Tnum = tnumConst(0n);
  while (a.value !== 0n || a.mask !== 0n) {
    if (a.value & 1n) accM = tnumAdd(accM, tnum(0n, b.mask));
    else if (a.mask & 1n) accM = tnumAdd(accM, tnum(0n, b.value | b.mask));
    a = tnumRshift(a, 1);
    b = tnumLshift(b, 1);
  }
  return tnumAdd(tnumConst(accV), accM);
}

/** Values in both `a` and `b` (undefined when the known bits disagree: no value is in both). */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum | undefined {
  if ((a.value ^ b.value) & ~(a.mask | b.mask)) return undefined;
  const mu = a.mask & b.mask;
  return { value: (a.value | b.value) & ~mu, mask: mu };
}

/** Keep the low `bytes` bytes (zero-extend). */
export function tnumCast(a: Tnum, bytes: number): Tnum {
  if (bytes >= 8) return a;
  const m = MASKS[bytes * 8]!;
  if (a.value <= m && a.mask <= m) return a;
  return { value: a.value & m, mask: a.mask & m };
}

/** Is every value of `b` also a value of `a`? */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return a.value === (b.value & ~a.mask);
}

export const tnumSubreg = (a: Tnum): Tnum => tnumCast(a, 4);
export const tnumClearSubreg = (a: Tnum): Tnum => ({ value: a.value & HI32, mask: a.mask & HI32 });
/** `a` with its low 32 bits replaced by those of `sub`. */
export const tnumWithSubreg = (a: Tnum, sub: Tnum): Tnum => ({
  value: (a.value & HI32) | (sub.value & U32),
  mask: (a.mask & HI32) | (sub.mask & U32),
});

export function tnumToString(a: Tnum): string {
  if (isConst(a)) return `0x${a.value.toString(16)}`;
  return `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
}
