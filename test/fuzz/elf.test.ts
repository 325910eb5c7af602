// ELF objects (src/elf): mutated fixtures are read into an object or refused with a FormatError naming the
// file — never another exception, a hang or a giant allocation; a rejection comes from an explicit check,
// not from the reader's catch-all for stray RangeErrors. What the reader accepts, the writer writes (or
// refuses with a typed error), and what the writer writes reads back with the same programs and maps.

import { createHash } from 'node:crypto';
import { readObject, writeObject } from '../../src/elf/index.js';
import { FormatError, TsbpfError } from '../../src/errors.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { FIXTURES, fixture } from '../elf/fixtures.js';
import { check, describeThrown, firstDifference, fuzzTarget, saveInput } from './harness.js';
import { elfHotRanges, mutateElf } from './mutators.js';

const inputs = FIXTURES.map(fixture);
const hot = inputs.map(elfHotRanges);

/**
 * What must survive a write and a read (as test/elf/writer.test.ts has it): the license, each map's spec
 * (BTF type ids and an inner map's name are the writer's own), each program's name, section, type, slots,
 * and which program comes first (the one commands run by default).
 */
function shape(obj: ObjectSpec): string {
  return JSON.stringify(
    {
      license: obj.license,
      maps: obj.maps.map(({ btfKeyTypeId, btfValueTypeId, innerMap, ...m }) => ({
        ...m,
        innerMap: innerMap && { ...innerMap, name: '', btfKeyTypeId: undefined, btfValueTypeId: undefined },
      })),
      // Two sections of one name (a mutated name can make them) are written as one: the programs keep
      // their first, the rest may change places.
      first: obj.programs[0]?.name,
      programs: obj.programs
        .map((p) => [p.name, p.section, p.type, p.insns] as const)
        .sort((a, b) => (a[0] + a[1]).localeCompare(b[0] + b[1])),
    },
    // Bytes by their hash: a .bss may be megabytes of zeros, and its JSON would cost seconds.
    (_, v) =>
      typeof v === 'bigint'
        ? `${v}n`
        : v instanceof Uint8Array
          ? `${v.length} bytes ${createHash('sha1').update(v).digest('hex')}`
          : v,
  );
}

fuzzTarget(
  'elf',
  {
    seconds: 5,
    after: (counts, n) => {
      check((counts.parsed ?? 0) > n / 40, `only ${counts.parsed} of ${n} mutants parsed`);
      check((counts.rejected ?? 0) > n / 4, `only ${counts.rejected} of ${n} mutants rejected`);
    },
  },
  ({ r, index, verbose, count, size }) => {
    const which = r.int(inputs.length);
    const bytes = mutateElf(inputs[which]!, hot[which]!, r);
    size(bytes.length);
    const file = `fuzz${index}.o`;
    if (verbose) saveInput('elf', index, `${FIXTURES[which]}`, bytes);
    let obj: ObjectSpec;
    try {
      obj = readObject(bytes, { file });
    } catch (e) {
      check(e instanceof FormatError, () => `${FIXTURES[which]}: readObject threw ${describeThrown(e)}`);
      check(e.message.startsWith(file), `${FIXTURES[which]}: the error does not name the file: ${e.message}`);
      check(
        !e.message.includes('malformed object ('),
        `${FIXTURES[which]}: caught only by the safety net: ${e.message}`,
      );
      count('rejected');
      return;
    }
    count('parsed');
    let written: Uint8Array;
    try {
      written = writeObject(obj);
    } catch (e) {
      check(e instanceof TsbpfError, () => `${FIXTURES[which]}: writeObject threw ${describeThrown(e)}`);
      count('unwritable');
      return;
    }
    let back: ObjectSpec;
    try {
      back = readObject(written, { file: 'written.o' });
    } catch (e) {
      throw new Error(`${FIXTURES[which]}: the writer's output does not read back: ${describeThrown(e)}`);
    }
    const [before, after] = [shape(obj), shape(back)];
    check(
      before === after,
      () => `${FIXTURES[which]}: changed through write and read ${firstDifference(before, after)}`,
    );
    count('round-tripped');
  },
);
