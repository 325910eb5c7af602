// Soundness of the scalar domain: for random abstract values and random concrete members of them, the
// abstract result of every ALU op and comparison contains the concrete result.

import { describe, expect, it } from 'vitest';
import { AluOp, JmpOp } from '../../src/isa/index.js';
import {
  aluConcrete,
  constant,
  refine,
  type Scalar,
  scalarAlu,
  scalarIn,
  sync,
  syncBigInt,
  UNKNOWN,
} from '../../src/verifier/ranges.js';
import { tnumAdd, tnumConst, tnumIn, tnumMul, tnumRange, tnumSub } from '../../src/verifier/tnum.js';
import { Rand } from './mutate.js';

const U64 = (1n << 64n) - 1n;

function big(r: Rand): bigint {
  const kind = r.int(4);
  const raw = (BigInt(r.next()) << 32n) | BigInt(r.next());
  if (kind === 0) return BigInt(r.int(64));
  if (kind === 1) return raw & 0xffffn;
  if (kind === 2) return BigInt.asUintN(64, -BigInt(r.int(300)));
  return raw;
}

/** A random abstract value and a few concrete members of it. */
function sample(r: Rand): { s: Scalar; members: bigint[] } {
  const a = big(r);
  const b = big(r);
  // biome-ignore lint/complexity/useMathMinMax: bigints (Math.min takes numbers)
  const lo = a < b ? a : b;
  // biome-ignore lint/complexity/useMathMinMax: bigints
  const hi = a < b ? b : a;
  const s = r.int(4) === 0 ? constant(a) : sync({ ...UNKNOWN, umin: lo, umax: hi })!;
  const members = [lo, hi, lo + (hi - lo) / 2n].filter((m) => scalarIn(s, constant(m)));
  if (r.int(3) === 0) {
    // a masked value: known zero high bits
    const m = (1n << BigInt(1 + r.int(40))) - 1n;
    const t = scalarAlu(AluOp.AND, s, constant(m), true);
    return { s: t, members: members.map((x) => x & m) };
  }
  return { s, members };
}

const OPS = [
  AluOp.ADD,
  AluOp.SUB,
  AluOp.MUL,
  AluOp.AND,
  AluOp.OR,
  AluOp.XOR,
  AluOp.LSH,
  AluOp.RSH,
  AluOp.ARSH,
  AluOp.DIV,
  AluOp.MOD,
];

describe('tnum', () => {
  it('add, sub, mul contain the concrete results', () => {
    const r = new Rand(7);
    for (let i = 0; i < 2000; i++) {
      const x = big(r);
      const y = big(r);
      const a = tnumRange(x < 100n ? 0n : x - 100n, x);
      const b = tnumRange(y & ~0xffn, y);
      expect(tnumIn(tnumAdd(a, b), tnumConst((x + y) & U64))).toBe(true);
      expect(tnumIn(tnumSub(a, b), tnumConst((x - y) & U64))).toBe(true);
      expect(tnumIn(tnumMul(a, b), tnumConst((x * y) & U64))).toBe(true);
    }
  });
  it('knows constants exactly', () => {
    expect(tnumAdd(tnumConst(3n), tnumConst(4n))).toEqual(tnumConst(7n));
    expect(tnumRange(0n, 255n)).toEqual({ value: 0n, mask: 255n });
  });
});

describe('scalar ranges', () => {
  it('every ALU op (64 and 32 bit) contains the concrete result', () => {
    const r = new Rand(99);
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      const a = sample(r);
      const b = r.int(2)
        ? sample(r)
        : (() => {
            const k = BigInt(r.int(64));
            return { s: constant(k), members: [k] };
          })();
      const op = OPS[r.int(OPS.length)]!;
      const alu64 = r.int(2) === 0;
      const res = scalarAlu(op, a.s, b.s, alu64);
      for (const x of a.members) {
        for (const y of b.members) {
          if ((op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) && y >= (alu64 ? 64n : 32n))
            continue;
          const c = aluConcrete(op, x, y, alu64);
          expect(scalarIn(res, constant(c)), `op 0x${op.toString(16)} ${x} ${y} alu64=${alu64}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('a comparison keeps every member for which it holds', () => {
    const r = new Rand(5);
    const ops = [
      JmpOp.JEQ,
      JmpOp.JNE,
      JmpOp.JGT,
      JmpOp.JGE,
      JmpOp.JLT,
      JmpOp.JLE,
      JmpOp.JSGT,
      JmpOp.JSGE,
      JmpOp.JSLT,
      JmpOp.JSLE,
    ];
    for (let i = 0; i < 3000; i++) {
      const a = sample(r);
      const b = sample(r);
      const op = ops[r.int(ops.length)]!;
      const jmp32 = r.int(3) === 0;
      const res = refine(op, a.s, b.s, jmp32);
      for (const x of a.members) {
        for (const y of b.members) {
          const W = jmp32 ? 32 : 64;
          const ux = BigInt.asUintN(W, x);
          const uy = BigInt.asUintN(W, y);
          const sx = BigInt.asIntN(W, x);
          const sy = BigInt.asIntN(W, y);
          const holds = {
            [JmpOp.JEQ]: ux === uy,
            [JmpOp.JNE]: ux !== uy,
            [JmpOp.JGT]: ux > uy,
            [JmpOp.JGE]: ux >= uy,
            [JmpOp.JLT]: ux < uy,
            [JmpOp.JLE]: ux <= uy,
            [JmpOp.JSGT]: sx > sy,
            [JmpOp.JSGE]: sx >= sy,
            [JmpOp.JSLT]: sx < sy,
            [JmpOp.JSLE]: sx <= sy,
          }[op]!;
          if (!holds) continue;
          expect(
            res,
            `op 0x${op.toString(16)} ${x} ${y} jmp32=${jmp32}: the branch was ruled out`,
          ).toBeDefined();
          expect(scalarIn(res![0], constant(x)) && scalarIn(res![1], constant(y))).toBe(true);
        }
      }
    }
  });

  it('learns bounds from a comparison', () => {
    const x = sync({ ...UNKNOWN, umax: 1000n })!;
    const [lt] = refine(JmpOp.JLT, x, constant(10n), false)!;
    expect(lt.umax).toBe(9n);
    expect(lt.smax).toBe(9n);
    expect(refine(JmpOp.JGT, constant(3n), constant(5n), false)).toBeUndefined();
  });
});

describe('sync on numbers', () => {
  /** A bound near the interesting edges: 0, 2^31, 2^32, the 64-bit extremes, or a random 32-bit value. */
  function bound(r: Rand, around: bigint): bigint {
    switch (r.int(8)) {
      case 0:
        return around;
      case 1:
        return around + BigInt(r.int(5)) - 2n;
      case 2:
        return r.pick([0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, -1n, U64]);
      case 3:
        return r.pick([-(1n << 63n), (1n << 63n) - 1n, -(1n << 31n), (1n << 31n) - 1n]);
      default:
        return BigInt(r.next());
    }
  }

  it('gives exactly what the BigInt version gives, for values whose upper half is known zero', () => {
    const r = new Rand(2026);
    let defined = 0;
    let changed = 0;
    for (let i = 0; i < 30_000; i++) {
      // A value as the verifier makes them (in sync), then one or two fields moved as refine moves them.
      const lo = BigInt(r.next());
      const hi = r.int(4) === 0 ? 0xffffffffn : BigInt(r.next());
      const base = syncBigInt({ ...UNKNOWN, umin: lo < hi ? lo : hi, umax: lo < hi ? hi : lo });
      if (!base) continue;
      const s: Record<string, unknown> = { ...base };
      const fields = ['smin', 'smax', 'umin', 'umax', 's32min', 's32max', 'u32min', 'u32max'] as const;
      for (let k = 1 + r.int(2); k > 0; k--) {
        const f = r.pick(fields);
        s[f] = bound(r, base[f]);
      }
      if (r.int(4) === 0) {
        const bit = 1n << BigInt(r.int(32));
        s.var = { value: (base.var.value | bit) & ~(base.var.mask & ~bit), mask: base.var.mask & ~bit };
      }
      const input = s as unknown as Scalar;
      const want = syncBigInt(input);
      expect(sync(input), `${JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`).toEqual(
        want,
      );
      if (want) defined++;
      if (want && want !== input) changed++;
    }
    // Most inputs are consistent and learn something: the comparison is not only about empty sets.
    expect(defined).toBeGreaterThan(10_000);
    expect(changed).toBeGreaterThan(6_000);
  });
});
