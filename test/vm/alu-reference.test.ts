// Differential test of the interpreter's ALU and conditional jumps against a second, independent model of
// RFC 9669 written with BigInt below. Thousands of seeded random operand pairs, biased to edge values.
import { describe, expect, it } from 'vitest';
import { AluOp, Class, type Insn, insn, JmpOp, lddw, Source } from '../../src/isa/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const u32 = (x: bigint) => x & M32;

/**
 * RFC 9669 section 4.1 at `bits` width: ALU64 on unsigned 64-bit operands (b already sign-extended for
 * immediates), ALU on their low 32 bits with the result zero-extended.
 */
function aluModel(bits: 32 | 64, op: string, a0: bigint, b0: bigint): bigint {
  const mask = bits === 64 ? M64 : M32;
  const signed = (x: bigint) => BigInt.asIntN(bits, x);
  const shift = BigInt(bits - 1); // shift amounts are taken modulo the width
  const a = a0 & mask;
  const b = b0 & mask;
  const r = (() => {
    switch (op) {
      case 'add':
        return a + b;
      case 'sub':
        return a - b;
      case 'mul':
        return a * b;
      case 'div':
        return b === 0n ? 0n : a / b;
      case 'sdiv':
        return b === 0n ? 0n : signed(b) === -1n ? -signed(a) : signed(a) / signed(b);
      case 'mod':
        return b === 0n ? a : a % b;
      case 'smod':
        return b === 0n ? a : signed(b) === -1n ? 0n : signed(a) % signed(b);
      case 'or':
        return a | b;
      case 'and':
        return a & b;
      case 'xor':
        return a ^ b;
      case 'lsh':
        return a << (b & shift);
      case 'rsh':
        return a >> (b & shift);
      case 'arsh':
        return signed(a) >> (b & shift);
      case 'mov':
        return b;
      default:
        throw new Error(op);
    }
  })();
  return r & mask;
}

const alu64 = (op: string, a: bigint, b: bigint): bigint => aluModel(64, op, a, b);
const alu32 = (op: string, a: bigint, b: bigint): bigint => aluModel(32, op, a, b);

const OPS: Record<string, { op: number; off: number }> = {
  add: { op: AluOp.ADD, off: 0 },
  sub: { op: AluOp.SUB, off: 0 },
  mul: { op: AluOp.MUL, off: 0 },
  div: { op: AluOp.DIV, off: 0 },
  sdiv: { op: AluOp.DIV, off: 1 },
  mod: { op: AluOp.MOD, off: 0 },
  smod: { op: AluOp.MOD, off: 1 },
  or: { op: AluOp.OR, off: 0 },
  and: { op: AluOp.AND, off: 0 },
  xor: { op: AluOp.XOR, off: 0 },
  lsh: { op: AluOp.LSH, off: 0 },
  rsh: { op: AluOp.RSH, off: 0 },
  arsh: { op: AluOp.ARSH, off: 0 },
  mov: { op: AluOp.MOV, off: 0 },
};

const JUMPS: Record<
  string,
  { op: number; test: (a: bigint, b: bigint, s: (x: bigint) => bigint) => boolean }
> = {
  jeq: { op: JmpOp.JEQ, test: (a, b) => a === b },
  jne: { op: JmpOp.JNE, test: (a, b) => a !== b },
  jset: { op: JmpOp.JSET, test: (a, b) => (a & b) !== 0n },
  jgt: { op: JmpOp.JGT, test: (a, b) => a > b },
  jge: { op: JmpOp.JGE, test: (a, b) => a >= b },
  jlt: { op: JmpOp.JLT, test: (a, b) => a < b },
  jle: { op: JmpOp.JLE, test: (a, b) => a <= b },
  jsgt: { op: JmpOp.JSGT, test: (a, b, s) => s(a) > s(b) },
  jsge: { op: JmpOp.JSGE, test: (a, b, s) => s(a) >= s(b) },
  jslt: { op: JmpOp.JSLT, test: (a, b, s) => s(a) < s(b) },
  jsle: { op: JmpOp.JSLE, test: (a, b, s) => s(a) <= s(b) },
};

/** Deterministic xorshift so failures reproduce. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const EDGES = [
    0n,
    1n,
    2n,
    M64,
    M64 - 1n,
    1n << 63n,
    (1n << 63n) - 1n,
    M32,
    1n << 31n,
    (1n << 31n) - 1n,
    1n << 32n,
  ];
  const u64 = (): bigint => {
    const k = next();
    if (k < 0.35) return EDGES[Math.floor(next() * EDGES.length)]!;
    if (k < 0.55) return BigInt(Math.floor(next() * 70));
    if (k < 0.75) return BigInt(Math.floor(next() * 2 ** 32));
    return (BigInt(Math.floor(next() * 2 ** 32)) << 32n) | BigInt(Math.floor(next() * 2 ** 32));
  };
  const imm = (): number => {
    const k = next();
    if (k < 0.3) return [0, 1, -1, 0x7fffffff, -0x80000000, 63, 64, 31, 32][Math.floor(next() * 9)]!;
    if (k < 0.6) return Math.floor(next() * 100) - 50;
    return Math.floor(next() * 2 ** 32) | 0;
  };
  return { u64, imm };
}

const sext = (imm: number): bigint => BigInt.asUintN(64, BigInt(imm));
const prog = (...parts: (Insn | Insn[])[]): Insn[] => parts.flat();
const ROUNDS = 40;

describe('ALU against the BigInt model', () => {
  const rt = new Runtime();
  const vm = new Interpreter(rt);
  const r = rng(0x5eed);

  for (const [name, { op, off }] of Object.entries(OPS)) {
    for (const wide of [true, false]) {
      it(`${name}${wide ? '' : '32'} reg and imm`, () => {
        const cls = wide ? Class.ALU64 : Class.ALU;
        const model = wide ? alu64 : alu32;
        for (let i = 0; i < ROUNDS; i++) {
          const a = r.u64();
          const b = r.u64();
          const k = r.imm();
          const viaReg = prog(
            lddw(1, a),
            lddw(2, b),
            insn(cls | op | Source.X, 1, 2, off),
            insn(0xbf, 0, 1),
            insn(0x95),
          );
          const got = vm.run(rt.prepare(viaReg)).r0;
          expect(`${name} ${a} ${b}: ${got}`).toBe(`${name} ${a} ${b}: ${model(name, a, b)}`);
          const viaImm = prog(
            lddw(1, a),
            insn(cls | op | Source.K, 1, 0, off, k),
            insn(0xbf, 0, 1),
            insn(0x95),
          );
          const gotK = vm.run(rt.prepare(viaImm)).r0;
          const bK = wide ? sext(k) : BigInt(k >>> 0);
          expect(`${name} ${a} imm ${k}: ${gotK}`).toBe(`${name} ${a} imm ${k}: ${model(name, a, bK)}`);
        }
      });
    }
  }

  it('neg and neg32', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const a = r.u64();
      const n64 = vm.run(rt.prepare(prog(lddw(0, a), insn(0x87, 0), insn(0x95)))).r0;
      expect(n64).toBe(-a & M64);
      const n32 = vm.run(rt.prepare(prog(lddw(0, a), insn(0x84, 0), insn(0x95)))).r0;
      expect(n32).toBe(-u32(a) & M32);
    }
  });
});

describe('conditional jumps against the BigInt model', () => {
  const rt = new Runtime();
  const vm = new Interpreter(rt);
  const r = rng(0x1234567);

  for (const [name, { op, test }] of Object.entries(JUMPS)) {
    for (const wide of [true, false]) {
      it(`${name}${wide ? '' : '32'}`, () => {
        const cls = wide ? Class.JMP : Class.JMP32;
        const sign = wide ? s64 : s32;
        const norm = wide ? (x: bigint) => x : u32;
        for (let i = 0; i < ROUNDS; i++) {
          const a = r.u64();
          const b = i % 4 === 0 ? a : r.u64();
          const k = r.imm();
          const body = (j: Insn) =>
            prog(
              insn(0xb7, 0, 0, 0, 0),
              lddw(1, a),
              lddw(2, b),
              j,
              insn(0x95),
              insn(0xb7, 0, 0, 0, 1),
              insn(0x95),
            );
          const viaReg = vm.run(rt.prepare(body(insn(cls | op | Source.X, 1, 2, 1)))).r0;
          expect(`${name} ${a} ${b} -> ${viaReg}`).toBe(
            `${name} ${a} ${b} -> ${test(norm(a), norm(b), sign) ? 1n : 0n}`,
          );
          const viaImm = vm.run(rt.prepare(body(insn(cls | op | Source.K, 1, 0, 1, k)))).r0;
          const bK = wide ? sext(k) : BigInt(k >>> 0);
          expect(`${name} ${a} imm ${k} -> ${viaImm}`).toBe(
            `${name} ${a} imm ${k} -> ${test(norm(a), bK, sign) ? 1n : 0n}`,
          );
        }
      });
    }
  }
});
