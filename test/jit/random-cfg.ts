// Random unverified programs with arbitrary control flow for interpreter-vs-JIT differential tests: jumps
// in both directions (loops, irreducible graphs, infinite loops that must exhaust the budget identically),
// bpf-to-bpf calls (including runaway recursion), every ALU op with register divisors that may be zero,
// stack loads/stores/atomics of every size, and occasional wild accesses that must fault identically.

import {
  AluOp,
  Class,
  type Insn,
  insn,
  JmpOp,
  lddw,
  Mode,
  SIZE_BYTES,
  Size,
  Source,
} from '../../src/isa/index.js';
import { ALL_ALU_OPS as ALU, ATOMIC_OPS as ATOMICS, JMP_OPS as JMP, Rng, SIZES } from '../support/gen.js';

const SMALL = [0, 1, -1, 2, 3, 7, 8, 16, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 0xff, 0xffff];

/** One instruction that is not a jump (may be two slots for lddw). */
function plain(r: Rng): Insn[] {
  const dst = r.int(10);
  const src = r.int(11);
  const imm = r.chance(0.5) ? r.pick(SMALL) : r.u32() | 0;
  const kind = r.int(10);
  if (kind < 5) {
    const op = r.pick(ALU);
    const cls = r.chance(0.5) ? Class.ALU64 : Class.ALU;
    if (op === AluOp.NEG) return [insn(cls | op, dst)];
    if (op === AluOp.END) {
      const width = r.pick([16, 32, 64]);
      if (cls === Class.ALU64) return [insn(Class.ALU64 | AluOp.END, dst, 0, 0, width)];
      return [insn(Class.ALU | AluOp.END | (r.chance(0.5) ? Source.X : Source.K), dst, 0, 0, width)];
    }
    const x = r.chance(0.5);
    let off = 0;
    if (op === AluOp.DIV || op === AluOp.MOD) off = r.int(2);
    if (op === AluOp.MOV && x && r.chance(0.3)) off = r.pick(cls === Class.ALU64 ? [8, 16, 32] : [8, 16]);
    return [insn(cls | op | (x ? Source.X : Source.K), dst, x ? src : 0, off, x ? 0 : imm)];
  }
  if (kind === 5) {
    if (r.chance(0.9)) return lddw(dst, r.u64());
    // A stack pointer with a high bit set, then a load through it: must fault in both engines.
    const t = (dst + 1) % 10;
    return [
      insn(Class.ALU64 | AluOp.MOV | Source.X, dst, 10),
      ...lddw(t, 1n << BigInt(32 + r.int(32))),
      insn(Class.ALU64 | AluOp.ADD | Source.X, dst, t),
      insn(Class.LDX | Mode.MEM | Size.W, t, dst, -8),
    ];
  }
  // Stack memory: r10 + off, occasionally out of the frame to provoke faults.
  const size = r.pick(SIZES);
  const wild = r.chance(0.03);
  const off = wild
    ? r.pick([8, -520, 0, -4096])
    : -SIZE_BYTES[size]! * (1 + r.int(512 / SIZE_BYTES[size]! - 1));
  if (kind === 6) return [insn(Class.LDX | Mode.MEM | size, dst, 10, off)];
  if (kind === 7) {
    if (size === Size.DW) return [insn(Class.LDX | Mode.MEM | size, dst, 10, off)];
    return [insn(Class.LDX | Mode.MEMSX | size, dst, 10, off)];
  }
  if (kind === 8) {
    if (r.chance(0.5)) return [insn(Class.ST | Mode.MEM | size, 10, 0, off, imm)];
    return [insn(Class.STX | Mode.MEM | size, 10, r.int(10), off)];
  }
  const wide = r.chance(0.5);
  const aoff = wild ? off : -(wide ? 8 : 4) * (1 + r.int(wide ? 63 : 127));
  return [insn(Class.STX | Mode.ATOMIC | (wide ? Size.DW : Size.W), 10, r.int(10), aoff, r.pick(ATOMICS))];
}

/**
 * A program of `functions` functions, each about `size` slots: random plain instructions, conditional and
 * unconditional jumps to any instruction start of the same function, calls, and exits.
 */
export function randomProgram(seed: number, size = 30, functions = 2): Insn[] {
  const r = new Rng(seed);
  const bodies: { insns: Insn[]; jumps: { at: number; cond: boolean }[]; calls: number[] }[] = [];
  for (let f = 0; f < functions; f++) {
    const insns: Insn[] = [];
    const jumps: { at: number; cond: boolean }[] = [];
    const calls: number[] = [];
    if (f === 0) for (let reg = 0; reg < 10; reg++) insns.push(...lddw(reg, r.u64()));
    while (insns.length < size) {
      const k = r.int(20);
      if (k < 4) {
        jumps.push({ at: insns.length, cond: k > 0 });
        insns.push(insn(0)); // patched below
      } else if (k === 4 && functions > 1 && r.chance(0.5)) {
        calls.push(insns.length);
        insns.push(insn(0));
      } else if (k === 5 && r.chance(0.3)) insns.push(insn(Class.JMP | JmpOp.EXIT));
      else insns.push(...plain(r));
    }
    insns.push(insn(Class.JMP | JmpOp.EXIT));
    bodies.push({ insns, jumps, calls });
  }
  const starts: number[] = [];
  let total = 0;
  for (const b of bodies) {
    starts.push(total);
    total += b.insns.length;
  }
  bodies.forEach((b, f) => {
    // Instruction starts of this function (not second halves of lddw).
    const heads: number[] = [];
    for (let i = 0; i < b.insns.length; i++) {
      heads.push(i);
      if (b.insns[i]!.code === 0x18) i++;
    }
    for (const { at, cond } of b.jumps) {
      const target = r.pick(heads);
      const off = target - at - 1;
      if (!cond)
        b.insns[at] = insn(r.chance(0.2) ? Class.JMP32 | JmpOp.JA : Class.JMP | JmpOp.JA, 0, 0, 0, 0);
      else {
        const x = r.chance(0.5);
        const cls = r.chance(0.5) ? Class.JMP : Class.JMP32;
        b.insns[at] = insn(
          cls | r.pick(JMP) | (x ? Source.X : Source.K),
          r.int(11),
          x ? r.int(11) : 0,
          off,
          x ? 0 : r.pick(SMALL),
        );
      }
      const j = b.insns[at]!;
      if (j.code === (Class.JMP32 | JmpOp.JA)) j.imm = off;
      else j.off = off;
    }
    for (const at of b.calls) {
      const callee = r.int(bodies.length - 1) + 1; // any function but main (may recurse)
      b.insns[at] = insn(Class.JMP | JmpOp.CALL, 0, 1, 0, starts[callee]! - (starts[f]! + at) - 1);
    }
  });
  return bodies.flatMap((b) => b.insns);
}
