// A deterministic corpus of slots covering every valid opcode with varied registers, offsets and
// immediates (canonical encodings and ones with stray reserved fields), shared by the round-trip and
// llvm-objdump tests.

import { AtomicOp, type Insn, insn, isValidOpcode, LDDW } from '../../src/isa/index.js';

const OFFS = [0, 1, 8, 16, 32, -1, 3, -0x8000, 0x7fff];
const IMMS = [
  0,
  1,
  16,
  32,
  64,
  -1,
  7,
  0x7fffffff,
  -0x80000000,
  AtomicOp.FETCH | 0x40,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
  0xa0,
  0x50,
];

/** For each valid opcode, a list of programs' worth of slots (lddw as two slots). */
export function opcodeCorpus(): Map<number, Insn[]> {
  const out = new Map<number, Insn[]>();
  for (let code = 0; code < 256; code++) {
    if (!isValidOpcode(code)) continue;
    const slots: Insn[] = [];
    let k = 0;
    for (const off of OFFS) {
      for (const imm of IMMS) {
        const dst = k % 11;
        const src = (k * 7) % 11;
        k++;
        if (code === LDDW) {
          slots.push(
            insn(code, dst, k % 7, off === 0 || k % 2 ? 0 : off, imm),
            insn(0, 0, 0, 0, IMMS[k % IMMS.length]),
          );
        } else {
          // Variants with the fields some classes leave unused set to zero, so canonical encodings get
          // varied values too (not only the `.insn` escape).
          const variants = [
            insn(code, dst, src, off, imm),
            insn(code, dst, 0, off, imm),
            insn(code, dst, src, off, 0),
            insn(code, dst, 0, 0, imm),
            insn(code, dst, src, 0, 0),
            insn(code, 0, 0, off, 0),
            insn(code, 0, 0, 0, imm),
            insn(code, 0, src, 0, imm),
          ];
          slots.push(variants[k % 8]!, variants[(k + 3) % 8]!);
        }
      }
    }
    // The canonical shapes that the products above can miss: zero src/dst with a zero field elsewhere.
    if (code === LDDW) slots.push(insn(code, 1, 0, 0, 5), insn(0, 0, 0, 0, 0));
    else {
      slots.push(
        insn(code, 0, 0, 0, 0),
        insn(code, 1, 0, 0, 5),
        insn(code, 1, 2, 4, 0),
        insn(code, 0, 2, 0, 5),
      );
      slots.push(
        insn(code, 3, 0, 0, 16),
        insn(code, 3, 0, 0, 32),
        insn(code, 9, 0, 0, 64),
        insn(code, 1, 2, -4, 0xa1),
      );
    }
    out.set(code, slots);
  }
  return out;
}
