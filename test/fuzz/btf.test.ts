// BTF (src/btf): mutated .BTF and .BTF.ext sections of the fixtures. Parsing, then naming, sizing,
// formatting and parsing back values of random types, either works or throws a TsbpfError (a FormatError
// for the sections themselves) — never a RangeError/TypeError, a stack overflow, a hang or a giant
// allocation.

import {
  type Btf,
  type BtfValue,
  formatValue,
  parseBtf,
  parseBtfExt,
  parseValue,
} from '../../src/btf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError, TsbpfError } from '../../src/errors.js';
import { fixture } from '../elf/fixtures.js';
import { check, describeThrown, firstDifference, fuzzTarget, saveInput } from './harness.js';
import { INTERESTING_U32, mutateBytes } from './mutators.js';

const FILES = ['types.o', 'maps_btf.o', 'globals.o', 'calls.o', 'global_funcs.o'];
const sections = FILES.map((name) => {
  const elf = parseElf(fixture(name), name);
  const data = (s: string) => elf.sections.find((x) => x.name === s)?.data;
  return { name, btf: data('.BTF')!, ext: data('.BTF.ext') };
});

/** Damage to a BTF-like section: aligned words in the type area (kinds, counts, ids, sizes), or bytes. */
function mutateSection(src: Uint8Array, r: Parameters<typeof mutateBytes>[1]): Uint8Array {
  if (r.chance(0.2)) return mutateBytes(src, r);
  const b = src.slice();
  const v = new DataView(b.buffer);
  for (let k = 0; k <= r.int(3); k++) {
    const at = (r.chance(0.1) ? 0 : 24) + (r.int(b.length - 28) & ~3);
    v.setUint32(at, r.chance(0.5) ? v.getUint32(at, true) ^ (1 << r.int(32)) : r.pick(INTERESTING_U32), true);
  }
  return b;
}

const big = (_: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

fuzzTarget(
  'btf',
  {
    seconds: 4,
    after: (counts, n) => {
      check((counts.parsed ?? 0) > n / 10, `only ${counts.parsed} of ${n} mutants parsed`);
      check((counts.formatted ?? 0) > n, `only ${counts.formatted} values formatted in ${n} iterations`);
    },
  },
  ({ r, index, verbose, count, size }) => {
    const src = r.pick(sections);
    const ext = src.ext && r.chance(0.3);
    if (ext) {
      // .BTF.ext against the file's intact .BTF (its string offsets are what the records name).
      const btf = parseBtf(src.btf, `${src.name} .BTF`);
      const bytes = mutateSection(src.ext!, r);
      size(bytes.length);
      if (verbose) saveInput('btf', index, `${src.name}.BTF.ext`, bytes);
      try {
        parseBtfExt(bytes, btf, `fuzz${index}`);
        count('ext parsed');
      } catch (e) {
        check(e instanceof FormatError, () => `${src.name} .BTF.ext: parseBtfExt threw ${describeThrown(e)}`);
        count('ext rejected');
      }
      return;
    }
    // Some iterations keep the section intact: random values of real types must format stably. A mutated
    // section may name two members alike or overlap them, which no keyed object can round-trip.
    const intact = r.chance(0.3);
    const bytes = intact ? src.btf : mutateSection(src.btf, r);
    size(bytes.length);
    if (verbose) saveInput('btf', index, `${src.name}.BTF`, bytes);
    let btf: Btf;
    try {
      btf = parseBtf(bytes, `fuzz${index}`);
      count('parsed');
    } catch (e) {
      check(e instanceof FormatError, () => `${src.name} .BTF: parseBtf threw ${describeThrown(e)}`);
      count('rejected');
      return;
    }
    for (let k = 0; k < 12 && btf.types.length > 1; k++) {
      const id = 1 + r.int(btf.types.length - 1);
      let value: BtfValue;
      let again: BtfValue;
      try {
        btf.typeName(id);
        const bytesOf = btf.sizeof(id);
        if (bytesOf > 1 << 16) continue;
        value = formatValue(
          btf,
          id,
          new Uint8Array(bytesOf).map(() => r.int(256)),
        );
        again = formatValue(btf, id, parseValue(btf, id, value));
      } catch (e) {
        check(e instanceof TsbpfError, () => `${src.name} .BTF type ${id}: threw ${describeThrown(e)}`);
        count('type errors');
        continue;
      }
      count('formatted');
      if (!intact) continue;
      // What formatValue prints, parseValue reads back to bytes that print the same.
      const [a, b] = [JSON.stringify(value, big), JSON.stringify(again, big)];
      check(a === b, () => `${src.name} .BTF type ${id} (${btf.typeName(id)}): ${firstDifference(a, b)}`);
      count('stable');
    }
  },
);
