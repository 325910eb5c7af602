// Mutated .BTF sections: parsing, sizing, naming and formatting every type either works or throws a
// TsbpfError — never a RangeError/TypeError, a hang, or a giant allocation.
import { describe, expect, it } from 'vitest';
import { formatValue, parseBtf, parseValue } from '../../src/btf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError, TsbpfError } from '../../src/errors.js';
import { fixture } from '../elf/fixtures.js';

const ITERATIONS = Number(process.env.TSBPF_FUZZ_ITERATIONS ?? 800);

describe('BTF fuzzing', () => {
  it(`survives ${ITERATIONS} mutated .BTF sections through parse, sizeof, formatValue and parseValue`, () => {
    const sources = ['types.o', 'maps_btf.o', 'globals.o'].map(
      (n) => parseElf(fixture(n), n).sections.find((s) => s.name === '.BTF')!.data,
    );
    let seed = 0xb7f;
    const r = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const counts = { parsed: 0, rejected: 0, formatted: 0, typeErrors: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const src = sources[i % sources.length]!;
      const b = src.slice();
      const v = new DataView(b.buffer);
      for (let k = 0; k <= r(3); k++) {
        const at = 24 + (r(b.length - 28) & ~3);
        v.setUint32(
          at,
          r(2) ? v.getUint32(at, true) ^ (1 << r(32)) : [0, 1, 0xffff, 0x7fffffff, 0xffffffff][r(5)]!,
          true,
        );
      }
      let btf: ReturnType<typeof parseBtf>;
      try {
        btf = parseBtf(b, `fuzz${i}`);
        counts.parsed++;
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`parse ${i}: ${(e as Error).stack}`);
        counts.rejected++;
        continue;
      }
      for (let k = 0; k < 12; k++) {
        const id = 1 + r(btf.types.length - 1);
        try {
          btf.typeName(id);
          const size = btf.sizeof(id);
          if (size > 1 << 16) continue;
          const value = formatValue(btf, id, new Uint8Array(size).fill(0xa5));
          parseValue(btf, id, value);
          counts.formatted++;
        } catch (e) {
          if (!(e instanceof TsbpfError)) throw new Error(`mutation ${i} type ${id}: ${(e as Error).stack}`);
          counts.typeErrors++;
        }
      }
    }
    console.log(`BTF fuzz: ${JSON.stringify(counts)}`);
    expect(counts.parsed).toBeGreaterThan(ITERATIONS / 10);
    expect(counts.formatted).toBeGreaterThan(ITERATIONS * 2);
  });
});
