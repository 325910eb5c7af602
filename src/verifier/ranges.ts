// What the verifier knows about a scalar: its bits (a tnum) and its signed and unsigned ranges in 64 and
// in 32 bits. Every operation over-approximates; `sync` lets each view tighten the others, in the spirit
// of the kernel's reg_bounds_sync, and reports an empty set (a contradiction: the path cannot happen).

import { AluOp, JmpOp } from '../isa/index.js';
import {
  isConst,
  TNUM_UNKNOWN,
  type Tnum,
  tnum,
  tnumAdd,
  tnumAnd,
  tnumArshift,
  tnumCast,
  tnumConst,
  tnumIn,
  tnumIntersect,
  tnumLshift,
  tnumMul,
  tnumOr,
  tnumRange,
  tnumRshift,
  tnumSub,
  tnumSubreg,
  tnumToString,
  tnumWithSubreg,
  tnumXor,
  U32,
  U64,
} from './tnum.js';

export interface Scalar {
  readonly var: Tnum;
  readonly smin: bigint;
  readonly smax: bigint;
  readonly umin: bigint;
  readonly umax: bigint;
  readonly s32min: bigint;
  readonly s32max: bigint;
  readonly u32min: bigint;
  readonly u32max: bigint;
}

const SIGN64 = 1n << 63n;
const S64_MIN = -SIGN64;
const S64_MAX = (1n << 63n) - 1n;
const S32_MIN = -(1n << 31n);
const S32_MAX = (1n << 31n) - 1n;
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** A scalar with every field written out (one object shape; V8 runs object spreads far slower). */
function scalar(
  t: Tnum,
  smin: bigint,
  smax: bigint,
  umin: bigint,
  umax: bigint,
  s32min: bigint,
  s32max: bigint,
  u32min: bigint,
  u32max: bigint,
): Scalar {
  return { var: t, smin, smax, umin, umax, s32min, s32max, u32min, u32max };
}

export const UNKNOWN: Scalar = scalar(TNUM_UNKNOWN, S64_MIN, S64_MAX, 0n, U64, S32_MIN, S32_MAX, 0n, U32);

/** Unknown in the upper 32 bits, `t` and the ranges in the low 32 bits; for sync to tighten. */
const low32 = (t: Tnum, s32min: bigint, s32max: bigint, u32min: bigint, u32max: bigint): Scalar =>
  scalar(t, S64_MIN, S64_MAX, 0n, U64, s32min, s32max, u32min, u32max);

/**
 * Constants are immutable and a program uses few of them: built once (each holds nine BigInts). Those of 32
 * bits or less are found by their value as a number (a Map hashes a number much faster than a BigInt).
 */
const constants = new Map<bigint, Scalar>();
const smallConstants = new Map<number, Scalar>();
const MINUS_2_31 = -(1n << 31n);

export function constant(v: bigint): Scalar {
  if (v >= MINUS_2_31 && v <= U32) {
    const n = Number(v);
    let c = smallConstants.get(n);
    if (c) return c;
    if (smallConstants.size >= 4096) smallConstants.clear();
    c = buildConstant(v);
    smallConstants.set(n, c);
    return c;
  }
  let c = constants.get(v);
  if (c) return c;
  if (constants.size >= 4096) constants.clear();
  c = buildConstant(v);
  constants.set(v, c);
  return c;
}

function buildConstant(v: bigint): Scalar {
  const u = BigInt.asUintN(64, v);
  const lo = u & U32;
  return scalar(tnumConst(u), s64(u), s64(u), u, u, s32(lo), s32(lo), lo, lo);
}

/** Unknown values of 1, 2 and 4 bytes, zero- and sign-extended: built once (scalars are immutable). */
const unknownBytes: Scalar[] = [];
const unknownSignedBytes: Scalar[] = [];

/** An unknown value of `bytes` bytes, zero-extended (a narrow load). */
export function unknownOfSize(bytes: number): Scalar {
  if (bytes >= 8) return UNKNOWN;
  unknownBytes[bytes] ??= sync({ ...UNKNOWN, var: tnum(0n, (1n << BigInt(bytes * 8)) - 1n) })!;
  return unknownBytes[bytes]!;
}

/** An unknown value of `bytes` bytes, sign-extended to 64 bits (ldsx, movsx). */
export function unknownSigned(bytes: number): Scalar {
  const half = 1n << BigInt(bytes * 8 - 1);
  unknownSignedBytes[bytes] ??= sync({ ...UNKNOWN, smin: -half, smax: half - 1n })!;
  return unknownSignedBytes[bytes]!;
}

export const isConstScalar = (s: Scalar): boolean => isConst(s.var);

/** Tighten every view from the others; undefined when the views contradict each other (empty set). */
export function sync(s: Scalar): Scalar | undefined {
  if (s.var.mask === 0n) {
    // A known value: it is either inside every range or the set is empty.
    const c = constant(s.var.value);
    return scalarIn(s, c) ? c : undefined;
  }
  if (s.var.value <= U32 && s.var.mask <= U32) {
    const r = syncU32(s);
    if (r !== FALLBACK) return r;
  }
  return syncBigInt(s);
}

const FALLBACK = Symbol('fallback');
const NUM_S32_MAX = 0x7fffffff;
/** A BigInt bound in [0, 2^32) as a number, or NaN (the caller falls back to BigInts). */
const small = (x: bigint): number => (x >= 0n && x <= U32 ? Number(x) : Number.NaN);

/**
 * `syncBigInt` for the common case of a value whose upper 32 bits are known to be zero (lengths, counters,
 * bytes and words loaded from memory): every bound then lies in [0, 2^32) and the same steps run on
 * numbers, with no BigInt allocated until the result. FALLBACK when an input bound lies outside the range
 * the known bits allow (a contradiction, or bounds wider than the 32-bit views): syncBigInt decides those.
 * Step for step the same as syncBigInt (test/verifier/ranges.test.ts compares the two).
 */
function syncU32(s: Scalar): Scalar | undefined | typeof FALLBACK {
  let tv = Number(s.var.value);
  let tm = Number(s.var.mask);
  // The 64-bit bounds the known bits allow are [tv, tv | tm]: a bound outside them is replaced by them,
  // one inside must be a number in range.
  let hi = (tv | tm) >>> 0;
  let smin = s.smin <= tv ? tv : small(s.smin);
  let smax = s.smax >= hi ? hi : small(s.smax);
  let umin = s.umin <= tv ? tv : small(s.umin);
  let umax = s.umax >= hi ? hi : small(s.umax);
  if (s.s32min < S32_MIN || s.s32max > S32_MAX || s.u32min < 0n || s.u32max > U32) return FALLBACK;
  let s32min = Number(s.s32min);
  let s32max = Number(s.s32max);
  let u32min = Number(s.u32min);
  let u32max = Number(s.u32max);
  // NaN: a bound outside [0, 2^32) that the known bits do not replace.
  if (Number.isNaN(smin + smax + umin + umax)) return FALLBACK;
  // The input as numbers (a 64-bit bound outside [0, 2^32) never equals a result, which lies inside).
  const t0v = tv;
  const t0m = tm;
  const sminIn = Number(s.smin);
  const smaxIn = Number(s.smax);
  const uminIn = Number(s.umin);
  const umaxIn = Number(s.umax);
  const s32minIn = s32min;
  const s32maxIn = s32max;
  const u32minIn = u32min;
  const u32maxIn = u32max;
  for (let round = 0; round < 2; round++) {
    // bounds from known bits (the upper 32 bits are known zero: the 32-bit view is the value)
    s32min = Math.max(s32min, tv | (tm & 0x80000000) | 0);
    s32max = Math.min(s32max, tv | (tm & NUM_S32_MAX) | 0);
    hi = (tv | tm) >>> 0;
    u32min = Math.max(u32min, tv);
    u32max = Math.min(u32max, hi);
    smin = Math.max(smin, tv);
    smax = Math.min(smax, hi);
    umin = Math.max(umin, tv);
    umax = Math.min(umax, hi);
    // 32-bit signed <-> unsigned when the range does not cross the sign boundary
    if (u32min <= NUM_S32_MAX === u32max <= NUM_S32_MAX) {
      s32min = Math.max(s32min, u32min | 0);
      s32max = Math.min(s32max, u32max | 0);
    }
    if (s32min >= 0 || s32max < 0) {
      u32min = Math.max(u32min, s32min >>> 0);
      u32max = Math.min(u32max, s32max >>> 0);
    }
    // 64-bit signed <-> unsigned: both bounds are below 2^63, and smin >= 0
    smin = Math.max(smin, umin);
    smax = Math.min(smax, umax);
    umin = Math.max(umin, smin);
    umax = Math.min(umax, smax);
    // 64 <-> 32: the upper halves are fixed (zero)
    u32min = Math.max(u32min, umin);
    u32max = Math.min(u32max, umax);
    umin = Math.max(umin, u32min);
    umax = Math.min(umax, u32max);
    u32min = Math.max(u32min, smin);
    u32max = Math.min(u32max, smax);
    smin = Math.max(smin, u32min);
    smax = Math.min(smax, u32max);
    if (umin > umax || smin > smax || u32min > u32max || s32min > s32max) return undefined;
    // known bits from bounds: the 64-bit range, then the 32-bit one (the same bits here)
    let rm = rangeMask32(umin, umax);
    let rv = (umin & ~rm) >>> 0;
    if (((tv ^ rv) & ~(tm | rm)) !== 0) return undefined;
    const m64 = (tm & rm) >>> 0;
    const v64 = ((tv | rv) & ~m64) >>> 0;
    rm = rangeMask32(u32min, u32max);
    rv = (u32min & ~rm) >>> 0;
    if (((v64 ^ rv) & ~(m64 | rm)) !== 0) return undefined;
    const mu = (m64 & rm) >>> 0;
    const v2 = ((v64 | rv) & ~mu) >>> 0;
    // A first round that learned nothing would repeat itself: the input was already in sync.
    if (
      round === 0 &&
      v2 === t0v &&
      mu === t0m &&
      smin === sminIn &&
      smax === smaxIn &&
      umin === uminIn &&
      umax === umaxIn &&
      s32min === s32minIn &&
      s32max === s32maxIn &&
      u32min === u32minIn &&
      u32max === u32maxIn
    )
      return s;
    tv = v2;
    tm = mu;
  }
  // Lower bounds are often one value (umin = smin = u32min): one BigInt for it.
  const lo = BigInt(umin);
  const big = (n: number) => (n === umin ? lo : BigInt(n));
  return scalar(
    tv === t0v && tm === t0m ? s.var : { value: BigInt(tv), mask: BigInt(tm) },
    smin === sminIn ? s.smin : big(smin),
    smax === smaxIn ? s.smax : big(smax),
    umin === uminIn ? s.umin : big(umin),
    umax === umaxIn ? s.umax : big(umax),
    s32min === s32minIn ? s.s32min : big(s32min),
    s32max === s32maxIn ? s.s32max : big(s32max),
    u32min === u32minIn ? s.u32min : big(u32min),
    u32max === u32maxIn ? s.u32max : big(u32max),
  );
}

/** RANGE_MASKS[clz32(x)]: the low bits up to x's highest set bit (0 for x = 0). */
const RANGE_MASKS: readonly number[] = Array.from({ length: 33 }, (_, z) => 2 ** (32 - z) - 1);

/** The mask of tnumRange(min, max) for 0 <= min <= max < 2^32 (its value is min & ~mask). */
const rangeMask32 = (min: number, max: number): number => RANGE_MASKS[Math.clz32(min ^ max)]!;

const NOT_U32 = ~U32;
const MINUS_2_32 = -(1n << 32n);

/** a >> 32 === b >> 32, without the two shifts (each allocates) when a lies within 2^32 of zero. */
function sameHigh(a: bigint, b: bigint): boolean {
  if (a >= 0n && a <= U32) return b >= 0n && b <= U32;
  if (a < 0n && a >= MINUS_2_32) return b < 0n && b >= MINUS_2_32;
  return a >> 32n === b >> 32n;
}

/** sync on BigInts, for every scalar (the reference syncU32 is compared with). */
export function syncBigInt(s: Scalar): Scalar | undefined {
  if (s.var.mask === 0n) {
    const c = constant(s.var.value);
    return scalarIn(s, c) ? c : undefined;
  }
  let { var: t, smin, smax, umin, umax, s32min, s32max, u32min, u32max } = s;
  for (let round = 0; round < 2; round++) {
    // bounds from known bits
    const t32 = tnumSubreg(t);
    s32min = max(s32min, s32(t32.value | (t32.mask & 0x80000000n)));
    s32max = min(s32max, s32(t32.value | (t32.mask & 0x7fffffffn)));
    u32min = max(u32min, t32.value);
    u32max = min(u32max, t32.value | t32.mask);
    smin = max(smin, s64(t.value | (t.mask & SIGN64)));
    smax = min(smax, s64(t.value | (t.mask & S64_MAX)));
    umin = max(umin, t.value);
    umax = min(umax, t.value | t.mask);
    // 32-bit signed <-> unsigned when the range does not cross the sign boundary
    if (u32min <= S32_MAX === u32max <= S32_MAX) {
      s32min = max(s32min, s32(u32min));
      s32max = min(s32max, s32(u32max));
    }
    if (s32min >= 0n || s32max < 0n) {
      u32min = max(u32min, s32min & U32);
      u32max = min(u32max, s32max & U32);
    }
    if (umin <= S64_MAX === umax <= S64_MAX) {
      smin = max(smin, s64(umin));
      smax = min(smax, s64(umax));
    }
    if (smin >= 0n || smax < 0n) {
      umin = max(umin, smin & U64);
      umax = min(umax, smax & U64);
    }
    // 64 <-> 32 when the upper halves are fixed
    if (sameHigh(umin, umax)) {
      const hi = umin & NOT_U32;
      u32min = max(u32min, umin & U32);
      u32max = min(u32max, umax & U32);
      umin = max(umin, hi | u32min);
      umax = min(umax, hi | u32max);
    }
    if (sameHigh(smin, smax)) {
      const hi = smin & NOT_U32;
      u32min = max(u32min, smin & U32);
      u32max = min(u32max, smax & U32);
      smin = max(smin, hi + u32min);
      smax = min(smax, hi + u32max);
    }
    if (umin > umax || smin > smax || u32min > u32max || s32min > s32max) return undefined;
    // known bits from bounds
    const r64 = tnumIntersect(t, tnumRange(umin, umax));
    if (!r64) return undefined;
    const r32 = tnumIntersect(tnumSubreg(r64), tnumRange(u32min, u32max));
    if (!r32) return undefined;
    const t2 = tnumWithSubreg(r64, r32);
    // A first round that learned nothing would repeat itself: the input was already in sync.
    if (
      round === 0 &&
      t2.value === t.value &&
      t2.mask === t.mask &&
      smin === s.smin &&
      smax === s.smax &&
      umin === s.umin &&
      umax === s.umax &&
      s32min === s.s32min &&
      s32max === s.s32max &&
      u32min === s.u32min &&
      u32max === s.u32max
    )
      return s;
    t = t2;
  }
  if (umin > umax || smin > smax || u32min > u32max || s32min > s32max) return undefined;
  return scalar(t, smin, smax, umin, umax, s32min, s32max, u32min, u32max);
}

/** One width's view of a scalar. */
interface View {
  t: Tnum;
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
}

const view64 = (s: Scalar): View => ({ t: s.var, umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax });
const view32 = (s: Scalar): View => ({
  t: tnumSubreg(s.var),
  umin: s.u32min,
  umax: s.u32max,
  smin: s.s32min,
  smax: s.s32max,
});

const LIMITS64 = { umax: U64, smin: S64_MIN, smax: S64_MAX } as const;
const LIMITS32 = { umax: U32, smin: S32_MIN, smax: S32_MAX } as const;
const limits = (bits: 32 | 64) => (bits === 64 ? LIMITS64 : LIMITS32);

/** The result view of `a op b` in one width, or undefined when nothing is tracked (unknown). */
function opView(op: number, a: View, b: View, bits: 32 | 64): View | undefined {
  const L = limits(bits);
  // A range that leaves the width (wraps around) says nothing: the whole width.
  const wrapped = (t: Tnum, ulo: bigint, uhi: bigint, slo: bigint, shi: bigint): View => {
    const uIn = ulo >= 0n && uhi <= L.umax;
    const sIn = slo >= L.smin && shi <= L.smax;
    return {
      t,
      umin: uIn ? ulo : 0n,
      umax: uIn ? uhi : L.umax,
      smin: sIn ? slo : L.smin,
      smax: sIn ? shi : L.smax,
    };
  };
  const view = (t: Tnum, umin: bigint, umax: bigint, smin: bigint, smax: bigint): View => ({
    t,
    umin,
    umax,
    smin,
    smax,
  });
  const bytes = bits / 8;
  const shift = b.umin === b.umax && b.umax < BigInt(bits) ? Number(b.umin) : undefined;
  switch (op) {
    case AluOp.ADD:
      return wrapped(
        tnumCast(tnumAdd(a.t, b.t), bytes),
        a.umin + b.umin,
        a.umax + b.umax,
        a.smin + b.smin,
        a.smax + b.smax,
      );
    case AluOp.SUB:
      return wrapped(
        tnumCast(tnumSub(a.t, b.t), bytes),
        a.umin - b.umax,
        a.umax - b.umin,
        a.smin - b.smax,
        a.smax - b.smin,
      );
    case AluOp.MUL: {
      const p = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax];
      return wrapped(
        tnumCast(tnumMul(a.t, b.t), bytes),
        a.umin * b.umin,
        a.umax * b.umax,
        p.reduce(min),
        p.reduce(max),
      );
    }
    case AluOp.AND: {
      const t = tnumAnd(a.t, b.t);
      return view(t, t.value, min(a.umax, b.umax), L.smin, L.smax);
    }
    case AluOp.OR: {
      const t = tnumOr(a.t, b.t);
      return view(t, max(a.umin, b.umin), t.value | t.mask, L.smin, L.smax);
    }
    case AluOp.XOR: {
      const t = tnumXor(a.t, b.t);
      return view(t, t.value, t.value | t.mask, L.smin, L.smax);
    }
    case AluOp.LSH:
      if (shift === undefined) return undefined;
      return wrapped(
        tnumCast(tnumLshift(a.t, shift), bytes),
        a.umin << BigInt(shift),
        a.umax << BigInt(shift),
        L.smin,
        L.smax,
      );
    case AluOp.RSH:
      if (shift === undefined) return undefined;
      return view(tnumRshift(a.t, shift), a.umin >> BigInt(shift), a.umax >> BigInt(shift), L.smin, L.smax);
    case AluOp.ARSH:
      if (shift === undefined) return undefined;
      return view(
        tnumArshift(a.t, shift, bits),
        0n,
        L.umax,
        a.smin >> BigInt(shift),
        a.smax >> BigInt(shift),
      );
    default:
      return undefined; // div, mod (signed or not): the kernel does not track them either
  }
}

/** Ops whose low 32 result bits depend only on the low 32 bits of the operands. */
const LOW_BITS_ONLY = new Set<number>([AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR]);

/** Concrete ALU semantics (RFC 9669) on unsigned 64-bit values; `off` selects signed div/mod. */
export function aluConcrete(op: number, a: bigint, b: bigint, alu64: boolean, off = 0): bigint {
  const bits = alu64 ? 64 : 32;
  const W = (x: bigint) => BigInt.asUintN(bits, x);
  const S = (x: bigint) => BigInt.asIntN(bits, x);
  a = W(a);
  b = W(b);
  const sh = b & BigInt(bits - 1);
  switch (op) {
    case AluOp.ADD:
      return W(a + b);
    case AluOp.SUB:
      return W(a - b);
    case AluOp.MUL:
      return W(a * b);
    case AluOp.DIV:
      if (b === 0n) return 0n;
      return off === 1 ? W(S(a) / S(b)) : a / b;
    case AluOp.MOD:
      if (b === 0n) return a;
      return off === 1 ? W(S(a) % S(b)) : a % b;
    case AluOp.OR:
      return a | b;
    case AluOp.AND:
      return a & b;
    case AluOp.XOR:
      return a ^ b;
    case AluOp.LSH:
      return W(a << sh);
    case AluOp.RSH:
      return a >> sh;
    case AluOp.ARSH:
      return W(S(a) >> sh);
    case AluOp.NEG:
      return W(-a);
    case AluOp.MOV:
      return b;
    default:
      throw new Error(`aluConcrete: op 0x${op.toString(16)}`);
  }
}

/** `a op b` on scalars for ALU64 (alu64) or ALU32 (result zero-extended). */
export function scalarAlu(op: number, a: Scalar, b: Scalar, alu64: boolean, off = 0): Scalar {
  if (op === AluOp.NEG) return scalarAlu(AluOp.SUB, constant(0n), a, alu64);
  if (isConstScalar(a) && isConstScalar(b))
    return constant(aluConcrete(op, a.var.value, b.var.value, alu64, off));
  const signedDivMod = off === 1 && (op === AluOp.DIV || op === AluOp.MOD);
  if (alu64) {
    const r = signedDivMod ? undefined : opView(op, view64(a), view64(b), 64);
    if (!r) return UNKNOWN;
    const r32 = LOW_BITS_ONLY.has(op) ? opView(op, view32(a), view32(b), 32) : undefined;
    let t = r.t;
    if (r32) t = tnumWithSubreg(t, tnumIntersect(tnumSubreg(t), r32.t) ?? tnumSubreg(t));
    const out = r32
      ? scalar(t, r.smin, r.smax, r.umin, r.umax, r32.smin, r32.smax, r32.umin, r32.umax)
      : scalar(t, r.smin, r.smax, r.umin, r.umax, S32_MIN, S32_MAX, 0n, U32);
    return sync(out) ?? UNKNOWN;
  }
  const r = signedDivMod ? undefined : opView(op, view32(a), view32(b), 32);
  if (!r) return zext32(UNKNOWN);
  return fromView32(r);
}

function fromView32(r: View): Scalar {
  return sync(low32(tnumSubreg(r.t), r.smin, r.smax, r.umin, r.umax)) ?? zext32(UNKNOWN);
}

/** The low 32 bits, zero-extended (ALU32 results, `w1 = w2`). */
export function zext32(s: Scalar): Scalar {
  return sync(low32(tnumSubreg(s.var), s.s32min, s.s32max, s.u32min, s.u32max))!;
}

/** Sign-extend the low `bytes` bytes to 64 bits (movsx, ldsx); `alu32` then keeps the low 32 bits. */
export function signExtend(s: Scalar, bytes: 1 | 2 | 4): Scalar {
  if (isConstScalar(s)) return constant(BigInt.asIntN(bytes * 8, s.var.value));
  const bits = BigInt(bytes * 8);
  const m = (1n << bits) - 1n;
  // If the value provably fits in bytes*8-1 bits unsigned, sign extension keeps it (and its bounds).
  if (s.umax <= m >> 1n) return s;
  return unknownSigned(bytes);
}

// ---- comparisons ------------------------------------------------------------------------------------

/** The jump op that holds on the fall-through side of `op`. */
export function negateJmp(op: number): number {
  switch (op) {
    case JmpOp.JEQ:
      return JmpOp.JNE;
    case JmpOp.JNE:
      return JmpOp.JEQ;
    case JmpOp.JGT:
      return JmpOp.JLE;
    case JmpOp.JLE:
      return JmpOp.JGT;
    case JmpOp.JGE:
      return JmpOp.JLT;
    case JmpOp.JLT:
      return JmpOp.JGE;
    case JmpOp.JSGT:
      return JmpOp.JSLE;
    case JmpOp.JSLE:
      return JmpOp.JSGT;
    case JmpOp.JSGE:
      return JmpOp.JSLT;
    case JmpOp.JSLT:
      return JmpOp.JSGE;
    default:
      return op;
  }
}

/** `b op a` holds exactly when `a swapped(op) b` holds. */
export function swapJmp(op: number): number {
  switch (op) {
    case JmpOp.JGT:
      return JmpOp.JLT;
    case JmpOp.JLT:
      return JmpOp.JGT;
    case JmpOp.JGE:
      return JmpOp.JLE;
    case JmpOp.JLE:
      return JmpOp.JGE;
    case JmpOp.JSGT:
      return JmpOp.JSLT;
    case JmpOp.JSLT:
      return JmpOp.JSGT;
    case JmpOp.JSGE:
      return JmpOp.JSLE;
    case JmpOp.JSLE:
      return JmpOp.JSGE;
    default:
      return op;
  }
}

/**
 * Narrow `a` and `b` to the values for which `a op b` holds (op from JmpOp, JSET included; for JSET use
 * `jsetFalse` for the side where no common bit is set). undefined: the comparison cannot hold.
 */
export function refine(
  op: number,
  a: Scalar,
  b: Scalar,
  jmp32: boolean,
  jsetFalse = false,
): [Scalar, Scalar] | undefined {
  const bits = jmp32 ? 32 : 64;
  if (isConstScalar(a) && isConstScalar(b))
    return holds(op, a.var.value, b.var.value, bits, jsetFalse) ? [a, b] : undefined;
  const va = jmp32 ? view32(a) : view64(a);
  const vb = jmp32 ? view32(b) : view64(b);
  const L = limits(bits);
  const one = (v: View) => v.umin === v.umax;
  switch (op) {
    case JmpOp.JEQ: {
      const t = tnumIntersect(va.t, vb.t);
      if (!t) return undefined;
      const r = {
        t,
        umin: max(va.umin, vb.umin),
        umax: min(va.umax, vb.umax),
        smin: max(va.smin, vb.smin),
        smax: min(va.smax, vb.smax),
      };
      Object.assign(va, r);
      Object.assign(vb, r);
      break;
    }
    case JmpOp.JNE:
      for (const [x, y] of [
        [va, vb],
        [vb, va],
      ] as const) {
        if (!one(y)) continue;
        const c = y.umin;
        const sc = BigInt.asIntN(bits, c);
        if (x.umin === c) x.umin++;
        else if (x.umax === c) x.umax--;
        if (x.smin === sc) x.smin++;
        else if (x.smax === sc) x.smax--;
        if (x.umin > x.umax || x.smin > x.smax) return undefined;
      }
      break;
    case JmpOp.JGT:
    case JmpOp.JGE: {
      const d = op === JmpOp.JGT ? 1n : 0n;
      va.umin = max(va.umin, vb.umin + d);
      vb.umax = min(vb.umax, va.umax - d);
      if (va.umin > L.umax || vb.umax < 0n) return undefined;
      break;
    }
    case JmpOp.JSGT:
    case JmpOp.JSGE: {
      const d = op === JmpOp.JSGT ? 1n : 0n;
      va.smin = max(va.smin, vb.smin + d);
      vb.smax = min(vb.smax, va.smax - d);
      break;
    }
    case JmpOp.JLT:
    case JmpOp.JLE:
    case JmpOp.JSLT:
    case JmpOp.JSLE: {
      const r = refine(swapJmp(op), b, a, jmp32);
      return r && [r[1], r[0]];
    }
    case JmpOp.JSET: {
      if (!one(vb)) {
        // Unknown mask: only the impossible cases can be ruled out.
        if (!jsetFalse && ((va.t.value | va.t.mask) & (vb.t.value | vb.t.mask)) === 0n) return undefined;
        if (jsetFalse && (va.t.value & vb.t.value) !== 0n) return undefined;
        return [a, b];
      }
      const c = vb.umin;
      if (jsetFalse) {
        if (va.t.value & c) return undefined;
        va.t = tnumAnd(va.t, tnum(~c & L.umax, 0n));
        va.t = tnum(va.t.value, va.t.mask & ~c);
      } else {
        if (((va.t.value | va.t.mask) & c) === 0n) return undefined;
        if ((c & (c - 1n)) === 0n) va.t = tnumOr(va.t, tnumConst(c));
      }
      break;
    }
    default:
      return [a, b];
  }
  const na = fromView(a, va, jmp32);
  const nb = fromView(b, vb, jmp32);
  if (!na || !nb) return undefined;
  return [na, nb];
}

/** The comparison on two known values. */
function holds(op: number, x: bigint, y: bigint, bits: 32 | 64, jsetFalse: boolean): boolean {
  const ux = BigInt.asUintN(bits, x);
  const uy = BigInt.asUintN(bits, y);
  const sx = BigInt.asIntN(bits, x);
  const sy = BigInt.asIntN(bits, y);
  switch (op) {
    case JmpOp.JEQ:
      return ux === uy;
    case JmpOp.JNE:
      return ux !== uy;
    case JmpOp.JGT:
      return ux > uy;
    case JmpOp.JGE:
      return ux >= uy;
    case JmpOp.JLT:
      return ux < uy;
    case JmpOp.JLE:
      return ux <= uy;
    case JmpOp.JSGT:
      return sx > sy;
    case JmpOp.JSGE:
      return sx >= sy;
    case JmpOp.JSLT:
      return sx < sy;
    case JmpOp.JSLE:
      return sx <= sy;
    case JmpOp.JSET:
      return ((ux & uy) !== 0n) !== jsetFalse;
    default:
      return true;
  }
}

function fromView(s: Scalar, v: View, jmp32: boolean): Scalar | undefined {
  // A constant the comparison left as it was is already exact (sync would return an equal constant).
  if (
    isConstScalar(s) &&
    !jmp32 &&
    v.t === s.var &&
    v.umin === s.umin &&
    v.umax === s.umax &&
    v.smin === s.smin &&
    v.smax === s.smax
  )
    return s;
  if (jmp32) {
    const t = tnumWithSubreg(s.var, v.t);
    return sync(scalar(t, s.smin, s.smax, s.umin, s.umax, v.smin, v.smax, v.umin, v.umax));
  }
  return sync(scalar(v.t, v.smin, v.smax, v.umin, v.umax, s.s32min, s.s32max, s.u32min, s.u32max));
}

/** Is every value `cur` may hold also a value `old` may hold? */
export function scalarIn(old: Scalar, cur: Scalar): boolean {
  return (
    old.umin <= cur.umin &&
    cur.umax <= old.umax &&
    old.smin <= cur.smin &&
    cur.smax <= old.smax &&
    old.u32min <= cur.u32min &&
    cur.u32max <= old.u32max &&
    old.s32min <= cur.s32min &&
    cur.s32max <= old.s32max &&
    tnumIn(old.var, cur.var)
  );
}

export function scalarEquals(a: Scalar, b: Scalar): boolean {
  return scalarIn(a, b) && scalarIn(b, a);
}

export function scalarToString(s: Scalar): string {
  if (isConstScalar(s)) {
    const v = s.var.value;
    return v > 0xffffffffn && s.smin < 0n ? `${s.smin}` : `${v}`;
  }
  const parts: string[] = [];
  if (s.smin !== S64_MIN) parts.push(`smin=${s.smin}`);
  if (s.smax !== S64_MAX) parts.push(`smax=${s.smax}`);
  if (s.umin !== 0n) parts.push(`umin=${s.umin}`);
  if (s.umax !== U64) parts.push(`umax=${s.umax}`);
  if (s.s32min !== S32_MIN) parts.push(`smin32=${s.s32min}`);
  if (s.s32max !== S32_MAX) parts.push(`smax32=${s.s32max}`);
  if (s.u32min !== 0n) parts.push(`umin32=${s.u32min}`);
  if (s.u32max !== U32) parts.push(`umax32=${s.u32max}`);
  if (s.var.mask !== U64) parts.push(`var_off=${tnumToString(s.var)}`);
  return parts.join(',');
}
