import { describe, expect, it } from 'vitest';
import { assemble, disassemble } from '../../src/asm/index.js';
import { AsmSyntaxError } from '../../src/errors.js';
import { opcodeCorpus } from './corpus.js';

// A small deterministic PRNG so failures reproduce.
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const PIECES = [
  'mov',
  'add32',
  'ldxw',
  'stxdw',
  'lock',
  'fetch',
  'xchg',
  'call',
  'local',
  'ja',
  'jeq',
  'lddw',
  'exit',
  'r1',
  'w2',
  '%r3',
  '%r10',
  '%r11',
  'r0',
  '=',
  '+=',
  's>>=',
  '*',
  '(',
  ')',
  '[',
  ']',
  ',',
  '+',
  '-',
  '0x7fffffff',
  '99999999999',
  '1',
  '-8',
  'u32',
  's8',
  'if',
  'goto',
  'gotol',
  'll',
  'skb',
  'label',
  'label:',
  ':',
  '#',
  ';',
  '//',
  '<f+0x8>',
  '12:',
  'b7 01 00 00 05 00 00 00',
  'map_fd',
  '.insn',
  'be16',
  'callx',
  'atomic_fetch_add',
  'cmpxchg_64',
  'pc',
  '\t',
];

describe('assembler robustness', () => {
  it('either assembles or throws AsmSyntaxError for random token soup (never another exception)', () => {
    const next = rng(12345);
    let ok = 0;
    for (let n = 0; n < 2000; n++) {
      const words = Array.from({ length: 1 + next(8) }, () => PIECES[next(PIECES.length)]);
      const text = words.join(next(2) ? ' ' : '');
      try {
        assemble(text);
        ok++;
      } catch (e) {
        if (!(e instanceof AsmSyntaxError)) throw new Error(`${JSON.stringify(text)} threw ${e}`);
        expect(e.line).toBe(1);
        expect(e.column).toBeGreaterThan(0);
        expect(e.column).toBeLessThanOrEqual(text.length + 1);
      }
    }
    expect(ok).toBeGreaterThan(0);
  });

  it('survives single-character corruption of valid listings', () => {
    const next = rng(777);
    const lines = [...opcodeCorpus().values()].flatMap((s) =>
      disassemble(s.slice(0, 12), { syntax: next(2) ? 'llvm' : 'mnemonic' }),
    );
    for (let n = 0; n < 3000; n++) {
      const line = lines[next(lines.length)]!;
      const at = next(line.length);
      const mutated = line.slice(0, at) + '=,()[]+-x9%#:'[next(13)] + line.slice(at + 1);
      try {
        assemble(mutated);
      } catch (e) {
        if (!(e instanceof AsmSyntaxError)) throw new Error(`${JSON.stringify(mutated)} threw ${e}`);
      }
    }
  });
});
