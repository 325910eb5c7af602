// Mutants of programs for the kernel-agreement test: one small change per mutant (a load offset, an
// immediate, a jump target or condition, a register, an access size, or an instruction replaced by
// `r0 = 0`), the kind of slip that turns a safe program unsafe.

import { Class, classOf, type Insn, isBranch, JmpOp, LDDW, OP_MASK, SIZE_MASK } from '../../src/isa/index.js';

/** A small deterministic generator (xorshift32). */
export class Rand {
  constructor(private s: number) {
    if (this.s === 0) this.s = 0x9e3779b9;
  }
  next(): number {
    this.s ^= this.s << 13;
    this.s ^= this.s >>> 17;
    this.s ^= this.s << 5;
    this.s >>>= 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const COND_OPS = [
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
  JmpOp.JSET,
];
const DELTAS = [-8, -4, -2, -1, 1, 2, 4, 8];

/** One mutant of `insns`, and what was changed. */
export function mutate(insns: readonly Insn[], rnd: Rand): { insns: Insn[]; what: string } {
  const starts: number[] = [];
  for (let i = 0; i < insns.length; i++) {
    starts.push(i);
    if (insns[i]!.code === LDDW) i++;
  }
  const out = insns.map((x) => ({ ...x }));
  for (let attempt = 0; attempt < 20; attempt++) {
    const i = rnd.pick(starts);
    const x = out[i]!;
    const cls = classOf(x.code);
    const mem = cls === Class.LDX || cls === Class.ST || cls === Class.STX;
    const kind = rnd.int(6);
    if (kind === 0 && mem) {
      const d = rnd.pick(DELTAS);
      x.off += d;
      return { insns: out, what: `insn ${i}: offset ${d > 0 ? '+' : ''}${d}` };
    }
    if (
      kind === 1 &&
      (x.code & 0x08) === 0 &&
      x.code !== LDDW &&
      (cls === Class.ALU64 || cls === Class.ALU || isBranch(x) || cls === Class.ST)
    ) {
      const d = rnd.pick(DELTAS);
      x.imm += d;
      return { insns: out, what: `insn ${i}: immediate ${d > 0 ? '+' : ''}${d}` };
    }
    if (kind === 2 && isBranch(x) && (x.code & OP_MASK) !== JmpOp.JA) {
      const op = rnd.pick(COND_OPS);
      x.code = (x.code & ~OP_MASK) | op;
      return { insns: out, what: `insn ${i}: condition -> 0x${op.toString(16)}` };
    }
    if (
      kind === 3 &&
      x.code !== LDDW &&
      !(cls === Class.JMP && ((x.code & OP_MASK) === JmpOp.EXIT || (x.code & OP_MASK) === JmpOp.CALL))
    ) {
      out[i] = { code: Class.ALU64 | 0xb0, dst: 0, src: 0, off: 0, imm: 0 };
      return { insns: out, what: `insn ${i}: replaced by r0 = 0` };
    }
    if (kind === 4 && (mem || cls === Class.ALU64 || cls === Class.ALU)) {
      const r = rnd.int(11);
      if (rnd.int(2)) x.src = r;
      else x.dst = r;
      return { insns: out, what: `insn ${i}: register -> r${r}` };
    }
    if (kind === 5 && mem) {
      const sz = rnd.pick([0x00, 0x08, 0x10, 0x18]);
      x.code = (x.code & ~SIZE_MASK) | sz;
      return { insns: out, what: `insn ${i}: size bits -> 0x${sz.toString(16)}` };
    }
  }
  return { insns: out, what: 'unchanged' };
}
