// Mutated fixtures: every outcome must be a parsed object or a FormatError — never another exception, a
// hang, or an allocation beyond the file's size. A seeded generator keeps failures reproducible.
import { describe, expect, it } from 'vitest';
import { readObject, writeObject } from '../../src/elf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError, TsbpfError } from '../../src/errors.js';
import { FIXTURES, fixture } from './fixtures.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff];

/** Byte ranges of the sections whose parsers are the most intricate: .BTF, .BTF.ext, .maps, relocations. */
function hotRanges(src: Uint8Array): [number, number][] {
  return parseElf(src, 'fixture')
    .sections.filter((s) => /^(\.BTF|\.BTF\.ext|\.maps|\.rel.*|maps|\.symtab)$/.test(s.name) && s.size > 0)
    .map((s) => [s.offset, s.size]);
}

function mutate(src: Uint8Array, hot: [number, number][], r: (n: number) => number): Uint8Array {
  const b = src.slice();
  const v = new DataView(b.buffer);
  const kind = r(8);
  const n = 1 + r(4);
  for (let i = 0; i < n; i++) {
    const at = r(b.length - 4);
    if (kind === 0) b[at] = r(256);
    else if (kind === 1) b[at] ^= 1 << r(8);
    else if (kind === 2) v.setUint32(at & ~3, INTERESTING[r(INTERESTING.length)]!, true);
    else if (kind === 3) {
      // Section header fields (offset, size, link, info) are the juiciest targets.
      const shoff = Number(new DataView(src.buffer, src.byteOffset).getBigUint64(40, true));
      const shnum = new DataView(src.buffer, src.byteOffset).getUint16(60, true);
      const field = [24, 32, 40, 44, 4, 56][r(6)]!;
      const h = shoff + r(shnum) * 64 + field;
      if (h + 4 <= b.length) v.setUint32(h, INTERESTING[r(INTERESTING.length)]! ^ r(64), true);
    } else if (kind === 4) return b.subarray(0, r(b.length));
    else if (kind === 5) b[at] = 0;
    else {
      // Inside a structured section: counts, offsets, type ids and kinds.
      const [start, size] = hot[r(hot.length)]!;
      const p = start + (r(size) & ~3);
      if (p + 4 <= b.length)
        v.setUint32(
          p,
          kind === 6 ? INTERESTING[r(INTERESTING.length)]! : v.getUint32(p, true) + 1 + r(3),
          true,
        );
    }
  }
  return b;
}

// Longer runs: TSBPF_FUZZ_ITERATIONS=100000 TSBPF_FUZZ_SEED=7 npx vitest run test/elf/fuzz.test.ts
const ITERATIONS = Number(process.env.TSBPF_FUZZ_ITERATIONS ?? 2500);
const SEED = Number(process.env.TSBPF_FUZZ_SEED ?? 0x5eed);

describe('ELF reader fuzzing', () => {
  it(`survives ${ITERATIONS} mutated fixtures with a parsed object or a FormatError`, () => {
    const r = rng(SEED);
    const inputs = FIXTURES.map(fixture);
    const hot = inputs.map(hotRanges);
    const outcomes = { ok: 0, formatError: 0, safetyNet: 0 };
    const started = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = mutate(inputs[i % inputs.length]!, hot[i % inputs.length]!, r);
      try {
        const obj = readObject(bytes, { file: `fuzz${i}.o` });
        outcomes.ok++;
        // What the reader accepts, the writer must either write or refuse with a typed error.
        try {
          writeObject(obj);
        } catch (e) {
          if (!(e instanceof TsbpfError)) throw new Error(`writer crashed on mutation ${i}: ${e}`);
        }
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`mutation ${i}: ${(e as Error).stack}`);
        expect(e.message).toMatch(/^fuzz\d+\.o/);
        if (e.message.includes('malformed object (')) outcomes.safetyNet++;
        outcomes.formatError++;
      }
    }
    const ms = performance.now() - started;
    console.log(`ELF fuzz: ${JSON.stringify(outcomes)} in ${ms.toFixed(0)} ms`);
    expect(outcomes.ok).toBeGreaterThan(ITERATIONS / 40);
    expect(outcomes.ok + outcomes.formatError).toBe(ITERATIONS);
    expect(outcomes.formatError).toBeGreaterThan(ITERATIONS / 4);
    // Every rejection came from an explicit check, not from the catch-all for stray RangeErrors.
    expect(outcomes.safetyNet).toBe(0);
  });
});
