// Raw bytecode (src/isa): random slots — mostly valid opcodes with random and edge fields, some random
// bytes, some truncated — are decoded or refused with an InvalidBytecodeError naming a slot inside the
// input. What decodes encodes back to the same bytes, passes or fails `checkProgram` with the same error
// class, and its disassembly in either syntax assembles back to the same slots.

import { assemble, disassemble } from '../../src/asm/index.js';
import { InvalidBytecodeError } from '../../src/errors.js';
import { checkProgram, decode, encode, INSN_SIZE, type Insn, isValidOpcode } from '../../src/isa/index.js';
import { check, describeThrown, firstDifference, fuzzTarget, printNow, type Rng } from './harness.js';

const VALID = Array.from({ length: 256 }, (_, c) => c).filter(isValidOpcode);
const OFFS = [0, 1, -1, 2, -2, 0x7fff, -0x8000, 8, 16, 32, 64];
const IMMS = [0, 1, -1, 8, 16, 32, 64, 0x7fffffff, -0x80000000, 0x01, 0x40, 0x41, 0xe1, 0xf1, 0xa0, 0x50];

function program(r: Rng): Uint8Array {
  const n = 1 + r.int(24);
  const bytes = new Uint8Array(n * INSN_SIZE + (r.chance(0.05) ? 1 + r.int(7) : 0));
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
  for (let i = 0; i < n; i++) {
    if (r.chance(0.1)) continue; // random bytes
    const at = i * INSN_SIZE;
    bytes[at] = r.chance(0.05) ? 0 : r.pick(VALID);
    // Registers mostly 0-10 (decode refuses others), sometimes anything.
    bytes[at + 1] = r.chance(0.9) ? (r.int(11) << 4) | r.int(11) : r.int(256);
    v.setInt16(at + 2, r.chance(0.6) ? r.pick(OFFS) : (r.int(0x10000) << 16) >> 16, true);
    v.setInt32(at + 4, r.chance(0.5) ? r.pick(IMMS) : r.u32() | 0, true);
    // lddw's second half: opcode 0 and zero fields, usually.
    if (bytes[at] === 0x18 && i + 1 < n && r.chance(0.8)) {
      bytes.fill(0, at + 8, at + 12);
      i++;
    }
  }
  return bytes;
}

fuzzTarget(
  'isa',
  {
    seconds: 4,
    after: (counts, n) => {
      check((counts.decoded ?? 0) > n / 10, `only ${counts.decoded} of ${n} programs decoded`);
      check((counts.rejected ?? 0) > n / 10, `only ${counts.rejected} of ${n} programs rejected`);
    },
  },
  ({ r, verbose, count, size }) => {
    const bytes = program(r);
    size(bytes.length);
    const hex = Buffer.from(bytes).toString('hex');
    if (verbose) printNow(`isa input: ${hex}`);
    let insns: Insn[];
    try {
      insns = decode(bytes);
    } catch (e) {
      check(e instanceof InvalidBytecodeError, () => `${hex}: decode threw ${describeThrown(e)}`);
      check(
        e.index >= 0 && e.index <= Math.floor(bytes.length / INSN_SIZE),
        `${hex}: the error names slot ${e.index}`,
      );
      count('rejected');
      return;
    }
    count('decoded');
    check(Buffer.from(encode(insns)).toString('hex') === hex, `${hex}: encode(decode(bytes)) differs`);
    try {
      checkProgram(insns);
      count('structurally valid');
    } catch (e) {
      check(e instanceof InvalidBytecodeError, () => `${hex}: checkProgram threw ${describeThrown(e)}`);
    }
    for (const syntax of ['llvm', 'mnemonic'] as const) {
      let listing: string;
      let back: Insn[];
      try {
        listing = disassemble(insns, { syntax }).join('\n');
      } catch (e) {
        throw new Error(`${hex}: ${syntax} disassembly threw ${describeThrown(e)}`);
      }
      try {
        back = assemble(listing, { syntax });
      } catch (e) {
        throw new Error(
          `${hex}: its ${syntax} disassembly does not assemble:\n${listing}\n${describeThrown(e)}`,
        );
      }
      const [a, b] = [JSON.stringify(insns), JSON.stringify(back)];
      check(
        a === b,
        () => `${hex}: changed through ${syntax} disassembly ${firstDifference(a, b)}\n${listing}`,
      );
    }
    count('round-tripped');
  },
);
