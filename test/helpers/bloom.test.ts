// Bloom filters against the kernel's: with BPF_F_ZERO_SEED the same pushes set the same bits, so the same
// values look present, false positives included. test/fixtures/helpers/bloom.c pushes 12 values into two
// filters (u32 values: jhash2; 6-byte values: jhash) and peeks 400, each a test run in the kernel
// (BPF_PROG_TEST_RUN through the kernel back end) and on both engines: the same result for every packet.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import type { MapError } from '../../src/errors.js';
import { testRun } from '../../src/hooks/test-run.js';
import '../../src/kernel/register.js';
import { bloomBits } from '../../src/maps/bloom.js';
import { jhash } from '../../src/maps/jhash.js';
import { checkMapSpec } from '../../src/maps/registry.js';
import { Errno } from '../../src/spec/errno.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/bloom.o');

function packet(op: number, value: number): Uint8Array {
  const p = new Uint8Array(64);
  const v = new DataView(p.buffer);
  v.setUint16(0, op, true);
  v.setUint32(2, value, true);
  v.setUint16(6, value >>> 7, true);
  return p;
}

/** Push 6 values into each filter, try a bad flag, then peek 200 values in each. */
const PACKETS = [
  ...[3, 17, 99, 1000, 65537, 0xdeadbeef].flatMap((x) => [packet(0, x), packet(2, x)]),
  packet(9, 5),
  ...Array.from({ length: 200 }, (_, i) => [packet(1, i * 7919), packet(3, i * 7919)]).flat(),
];

const ours = (engine: (typeof ENGINES)[number]) => {
  const obj = loadObject(readObject(readFileSync(FIXTURE)));
  const runner = obj.program('ok_bloom').runner(engine);
  return PACKETS.map((p) => testRun(runner, { dataIn: p }).retval | 0);
};

describe('bloom filter', () => {
  it('has no false negatives, and agrees across engines', () => {
    const [a, b] = ENGINES.map(ours);
    expect(a).toEqual(b);
    expect(a!.slice(0, 12)).toEqual(Array(12).fill(0));
    expect(a![12]).toBe(-Errno.EINVAL);
    const maybe = a!.slice(13).filter((r) => r === 0).length;
    // 7919 * k for k < 200 includes none of the pushed values but 0 (k = 0): few false positives.
    expect(maybe).toBeGreaterThanOrEqual(2);
    expect(maybe).toBeLessThan(40);
  });

  it.runIf(oracle)('the kernel gives the same result for every packet', () => {
    const k = loadCollection(readObject(readFileSync(FIXTURE)), { backend: 'kernel' });
    try {
      const got = PACKETS.map((p) => k.program('ok_bloom').run({ dataIn: p }).retval | 0);
      expect(ours('interp')).toEqual(got);
    } finally {
      k.close();
    }
  });

  it('sizes and checks as bloom_map_alloc does', () => {
    const spec = (o: Partial<MapSpec>): MapSpec => ({
      name: 'b',
      type: MapType.BLOOM_FILTER,
      keySize: 0,
      valueSize: 4,
      maxEntries: 16,
      flags: 0,
      ...o,
    });
    expect(bloomBits(spec({}))).toBe(128); // 16 * 5 / 5 * 7 = 112 -> 128
    expect(bloomBits(spec({ maxEntries: 1 }))).toBe(64);
    expect(bloomBits(spec({ mapExtra: 3n }))).toBe(64); // 48 * 7 / 5 = 63 (integer) -> 64
    const errno = (o: Partial<MapSpec>) => {
      try {
        checkMapSpec(spec(o));
        return 0;
      } catch (e) {
        return (e as MapError).errno;
      }
    };
    expect([errno({}), errno({ keySize: 4 }), errno({ mapExtra: 16n }), errno({ flags: 0x40 })]).toEqual([
      0,
      Errno.EINVAL,
      Errno.EINVAL,
      0,
    ]);
    // lookup3's hashlittle of no bytes is its initial value.
    expect(jhash(new Uint8Array(0), 0, 0, 0)).toBe(0xdeadbeef);
  });
});
