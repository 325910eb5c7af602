import { describe, expect, it } from 'vitest';
import { assemble, disassemble } from '../../src/asm/index.js';
import { opcodeCorpus } from './corpus.js';

const corpus = opcodeCorpus();

describe.each(['llvm', 'mnemonic'] as const)('round trip through %s syntax', (syntax) => {
  it('gives back the same slots for every valid opcode', () => {
    expect(corpus.size).toBeGreaterThan(120);
    for (const [code, slots] of corpus) {
      const text = disassemble(slots, { syntax });
      const back = assemble(text.join('\n'), { syntax, allowBadRegisters: true });
      expect(back, `opcode 0x${code.toString(16)}:\n${text.join('\n')}`).toEqual(slots);
      // Auto-detection must read the same text the same way.
      expect(assemble(text.join('\n'), { allowBadRegisters: true })).toEqual(slots);
    }
  });

  it('has a canonical (non-.insn) text form for every valid opcode', () => {
    for (const [code, slots] of corpus) {
      const text = disassemble(slots, { syntax });
      expect(
        text.some((l) => !l.startsWith('.insn')),
        `opcode 0x${code.toString(16)}`,
      ).toBe(true);
    }
  });
});
