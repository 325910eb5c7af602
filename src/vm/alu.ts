// 64-bit arithmetic on a register file of 32-bit halves: register r lives in R[2r] (low, as int32) and
// R[2r+1] (high). Each function updates the destination at index `d` (= 2 * register number) in place,
// so the interpreter allocates nothing; BigInt appears only in 64-bit division with operands that do
// not fit 32 bits. Semantics follow RFC 9669 and the kernel: division by zero gives 0, modulo by zero
// leaves the dividend, INT_MIN / -1 gives INT_MIN, INT_MIN % -1 gives 0, shift counts are pre-masked.

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 64-bit product of two 32-bit values. */
export function mulHighU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

export function mul64(R: Int32Array, d: number, bl: number, bh: number): void {
  const al = R[d]!;
  const ah = R[d + 1]!;
  R[d] = Math.imul(al, bl);
  R[d + 1] = (mulHighU32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
}

const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const i64 = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo >>> 0);

function setBig(R: Int32Array, d: number, v: bigint): void {
  // Most values (helper results, callback arguments) are safe integers: split them as numbers (ToInt32 of
  // an integer is exact modulo 2^32), without the BigInt operations that allocate.
  const n = Number(v);
  if (n >= -Number.MAX_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER) {
    R[d] = n | 0;
    R[d + 1] = Math.floor(n / TWO32) | 0;
    return;
  }
  R[d] = Number(BigInt.asIntN(32, v));
  R[d + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** 64-bit div/mod; `signed` for sdiv/smod (off = 1). */
export function divmod64(
  R: Int32Array,
  d: number,
  bl: number,
  bh: number,
  signed: boolean,
  mod: boolean,
): void {
  const al = R[d]!;
  const ah = R[d + 1]!;
  if (bl === 0 && bh === 0) {
    if (!mod) R[d] = R[d + 1] = 0;
    return;
  }
  if (!signed) {
    if (ah === 0 && bh === 0) {
      const a = al >>> 0;
      const b = bl >>> 0;
      R[d] = mod ? a % b : Math.floor(a / b);
      return;
    }
    const a = u64(al, ah);
    const b = u64(bl, bh);
    setBig(R, d, mod ? a % b : a / b);
    return;
  }
  if (ah === al >> 31 && bh === bl >> 31) {
    // Both fit int32: exact in doubles (INT32_MIN / -1 = 2^31 is representable in 64 bits).
    const q = mod ? al % bl : Math.trunc(al / bl);
    R[d] = q | 0;
    R[d + 1] = q < 0 ? -1 : 0;
    return;
  }
  const a = i64(al, ah);
  const b = i64(bl, bh);
  if (b === -1n) {
    // INT64_MIN / -1 overflows: the kernel yields INT64_MIN (and 0 for the remainder).
    setBig(R, d, mod ? 0n : -a);
    return;
  }
  setBig(R, d, mod ? a % b : a / b);
}

/** 32-bit div/mod; the result is zero-extended. */
export function divmod32(R: Int32Array, d: number, b: number, signed: boolean, mod: boolean): void {
  const a = R[d]!;
  R[d + 1] = 0;
  if (b === 0) {
    if (!mod) R[d] = 0;
    return;
  }
  if (signed) R[d] = mod ? a % b : Math.trunc(a / b);
  else R[d] = mod ? (a >>> 0) % (b >>> 0) : Math.floor((a >>> 0) / (b >>> 0));
}

export function shl64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const lo = R[d]!;
  if (n < 32) {
    R[d + 1] = (R[d + 1]! << n) | (lo >>> (32 - n));
    R[d] = lo << n;
  } else {
    R[d + 1] = lo << (n - 32);
    R[d] = 0;
  }
}

export function shr64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const hi = R[d + 1]!;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (hi << (32 - n));
    R[d + 1] = hi >>> n;
  } else {
    R[d] = hi >>> (n - 32);
    R[d + 1] = 0;
  }
}

export function sar64(R: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  const hi = R[d + 1]!;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (hi << (32 - n));
    R[d + 1] = hi >> n;
  } else {
    R[d] = hi >> (n - 32);
    R[d + 1] = hi >> 31;
  }
}

export function neg64(R: Int32Array, d: number): void {
  const lo = R[d]!;
  R[d] = -lo | 0;
  R[d + 1] = (~R[d + 1]! + (lo === 0 ? 1 : 0)) | 0;
}

export const bswap32 = (v: number): number =>
  ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);

/** Byte swap of the low 16/32/64 bits (width variant 1/2/3), zero-extended. */
export function bswap(R: Int32Array, d: number, width: number): void {
  const lo = R[d]!;
  if (width === 1) {
    R[d] = ((lo & 0xff) << 8) | ((lo >>> 8) & 0xff);
    R[d + 1] = 0;
  } else if (width === 2) {
    R[d] = bswap32(lo);
    R[d + 1] = 0;
  } else {
    R[d] = bswap32(R[d + 1]!);
    R[d + 1] = bswap32(lo);
  }
}

/** Truncation to the low 16/32/64 bits (to-little-endian on a little-endian machine). */
export function truncate(R: Int32Array, d: number, width: number): void {
  if (width === 1) R[d] = R[d]! & 0xffff;
  if (width !== 3) R[d + 1] = 0;
}

/** movsx: sign-extend the low 8/16/32 bits (variant 1/2/3) of `src` into a 64-bit dst. */
export function movsx64(R: Int32Array, d: number, s: number, variant: number): void {
  const v = variant === 1 ? (R[s]! << 24) >> 24 : variant === 2 ? (R[s]! << 16) >> 16 : R[s]!;
  R[d] = v;
  R[d + 1] = v >> 31;
}

/** movsx32: sign-extend the low 8/16 bits to 32, then zero-extend. */
export function movsx32(R: Int32Array, d: number, s: number, variant: number): void {
  R[d] = variant === 1 ? (R[s]! << 24) >> 24 : (R[s]! << 16) >> 16;
  R[d + 1] = 0;
}

/** Register as unsigned 64-bit BigInt (helper arguments, results). */
export const regU64 = (R: Int32Array, r: number): bigint => u64(R[2 * r]!, R[2 * r + 1]!);

/** Store a BigInt (any sign) into register r, wrapping to 64 bits. */
export function setRegBig(R: Int32Array, r: number, v: bigint): void {
  setBig(R, 2 * r, v);
}

/** Store a JS number that is an integer in [-2^63, 2^64) (exact when |v| < 2^53). */
export function setRegNumber(R: Int32Array, r: number, v: number): void {
  R[2 * r] = v | 0;
  R[2 * r + 1] = Math.floor(v / TWO32) | 0;
}

/**
 * Atomic read-modify-write of 4 or 8 bytes at `a` (variant from program.ts AtomicVariant). Single-threaded,
 * so atomicity is free; what matters is which registers receive the old value.
 */
export function atomic(
  R: Int32Array,
  dv: DataView,
  a: number,
  s: number,
  variant: number,
  wide: boolean,
): void {
  const oldLo = dv.getInt32(a, true);
  const oldHi = wide ? dv.getInt32(a + 4, true) : 0;
  const vLo = R[s]!;
  const vHi = wide ? R[s + 1]! : 0;
  let lo: number;
  let hi: number;
  switch (variant) {
    case 1:
    case 2: {
      const sum = (oldLo >>> 0) + (vLo >>> 0);
      lo = sum | 0;
      hi = (oldHi + vHi + (sum >= TWO32 ? 1 : 0)) | 0;
      break;
    }
    case 3:
    case 4:
      lo = oldLo | vLo;
      hi = oldHi | vHi;
      break;
    case 5:
    case 6:
      lo = oldLo & vLo;
      hi = oldHi & vHi;
      break;
    case 7:
    case 8:
      lo = oldLo ^ vLo;
      hi = oldHi ^ vHi;
      break;
    case 9:
      lo = vLo;
      hi = vHi;
      break;
    default: {
      // cmpxchg: compare with r0 (its low half for 32 bits), store src on match, r0 gets the old value.
      const match = R[0] === oldLo && (!wide || R[1] === oldHi);
      lo = match ? vLo : oldLo;
      hi = match ? vHi : oldHi;
      R[0] = oldLo;
      R[1] = oldHi;
    }
  }
  dv.setInt32(a, lo, true);
  if (wide) dv.setInt32(a + 4, hi, true);
  if (variant === 2 || variant === 4 || variant === 6 || variant === 8 || variant === 9) {
    R[s] = oldLo;
    R[s + 1] = oldHi;
  }
}
