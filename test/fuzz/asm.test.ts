// The assembler (src/asm): token soup, valid listings with characters, tokens and lines damaged, in both
// syntaxes. Every input assembles or throws an AsmSyntaxError whose line and column point into the text —
// never another exception. What assembles encodes to bytes, and its disassembly (either syntax) assembles
// back to the same slots.

import { assemble, disassemble } from '../../src/asm/index.js';
import { AsmSyntaxError } from '../../src/errors.js';
import { encode, type Insn } from '../../src/isa/index.js';
import { opcodeCorpus } from '../asm/corpus.js';
import { check, describeThrown, firstDifference, fuzzTarget, printNow, type Rng } from './harness.js';

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
  '0xffffffffffffffff',
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
  'r0 = 1',
  '*(u32 *)(r10 - 4)',
  'if r1 > r2 goto',
  '+1',
  '-0x8000',
  'may_goto',
  'le64',
  'bswap32',
  'w1 = (s8)w2',
  'r1 = -r1',
  '\\',
];

/** Listings of every valid opcode, one line each, in both syntaxes (the round-trip corpus). */
const LINES = [...opcodeCorpus().values()].flatMap((slots) => [
  ...disassemble(slots.slice(0, 12), { syntax: 'llvm' }),
  ...disassemble(slots.slice(0, 12), { syntax: 'mnemonic' }),
]);

/** A jumpy little program with labels, in either syntax. */
const PROGRAMS = [
  'r0 = 0\nr1 = 5\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit',
  'mov %r0, 0\nmov %r1, 5\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit',
  'r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\ncall f\nexit\nf:\nr0 = 1\nexit',
];

function input(r: Rng): string {
  switch (r.int(4)) {
    case 0: {
      const words = Array.from({ length: 1 + r.int(8) }, () => r.pick(PIECES));
      return words.join(r.chance(0.5) ? ' ' : '');
    }
    case 1: {
      // One character of a valid line replaced.
      const line = r.pick(LINES);
      const at = r.int(line.length);
      return line.slice(0, at) + '=,()[]+-x9%#:;<>* \t'[r.int(19)] + line.slice(at + 1);
    }
    case 2: {
      // A token of a valid line replaced, or two lines spliced.
      const line = r.pick(LINES).split(' ');
      line[r.int(line.length)] = r.pick(PIECES);
      return r.chance(0.3) ? `${line.join(' ')}\n${r.pick(LINES)}` : line.join(' ');
    }
    default: {
      // A program with a line dropped, repeated or damaged.
      const lines = r.pick(PROGRAMS).split('\n');
      const at = r.int(lines.length);
      const roll = r.int(3);
      if (roll === 0) lines.splice(at, 1);
      else if (roll === 1) lines.splice(at, 0, lines[r.int(lines.length)]!);
      else lines[at] = lines[at]!.replace(/\w+/, r.pick(PIECES));
      return lines.join('\n');
    }
  }
}

fuzzTarget(
  'asm',
  {
    seconds: 4,
    after: (counts, n) => {
      check((counts.assembled ?? 0) > n / 20, `only ${counts.assembled} of ${n} inputs assembled`);
      check((counts.rejected ?? 0) > n / 5, `only ${counts.rejected} of ${n} inputs rejected`);
    },
  },
  ({ r, verbose, count }) => {
    const text = input(r);
    if (verbose) printNow(`asm input: ${JSON.stringify(text)}`);
    let insns: Insn[];
    try {
      insns = assemble(text);
    } catch (e) {
      check(e instanceof AsmSyntaxError, () => `${JSON.stringify(text)} threw ${describeThrown(e)}`);
      const lines = text.split('\n');
      check(e.line >= 1 && e.line <= lines.length, `${JSON.stringify(text)}: error on line ${e.line}`);
      check(
        e.column >= 1 && e.column <= lines[e.line - 1]!.length + 1,
        `${JSON.stringify(text)}: error at column ${e.column} of a ${lines[e.line - 1]!.length}-character line`,
      );
      count('rejected');
      return;
    }
    count('assembled');
    try {
      encode(insns);
    } catch (e) {
      throw new Error(`${JSON.stringify(text)} assembled to slots that do not encode: ${describeThrown(e)}`);
    }
    for (const syntax of ['llvm', 'mnemonic'] as const) {
      const listing = disassemble(insns, { syntax }).join('\n');
      let back: Insn[];
      try {
        back = assemble(listing, { syntax });
      } catch (e) {
        throw new Error(
          `${JSON.stringify(text)}: its ${syntax} disassembly does not assemble: ${describeThrown(e)}`,
        );
      }
      const [a, b] = [JSON.stringify(insns), JSON.stringify(back)];
      check(
        a === b,
        () => `${JSON.stringify(text)}: changed through ${syntax} disassembly ${firstDifference(a, b)}`,
      );
    }
    count('round-tripped');
  },
);
