// Ring buffers sized as libbpf sizes them (src/collection/collection.ts loaderSized): max_entries rounded up
// to a power-of-2 number of pages before the map is created, on both back ends, so an object declaring 512
// bytes (bcc tcpdrop) loads as it does with libbpf (kernel: 4096, bpftool map show as the oracle).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loaderSized } from '../../src/collection/collection.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { MapType } from '../../src/spec/maps.js';
import { kernelLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const FILE = 'a_ringbuf_512.o';
const spec = () =>
  readObject(new Uint8Array(readFileSync(new URL(`../fixtures/rodata/${FILE}`, import.meta.url))), {
    file: FILE,
  });
const ring = (maxEntries: number, type: number = MapType.RINGBUF) =>
  loaderSized({ name: 'r', type, keySize: 0, valueSize: 0, maxEntries, flags: 0 }).maxEntries;

describe('ring buffer sizes', () => {
  it('round up to a power-of-2 number of 4096-byte pages; 0 and other map types are left alone', () => {
    expect([1, 512, 4096, 4097, 3 * 4096, 1 << 20].map((n) => ring(n))).toEqual([
      4096,
      4096,
      4096,
      8192,
      16384,
      1 << 20,
    ]);
    expect(ring(512, MapType.USER_RINGBUF)).toBe(4096);
    expect(ring(0)).toBe(0);
    expect(ring(512, MapType.ARRAY)).toBe(512);
  });

  it(`${FILE}: the 512-byte ring buffer is created with 4096, in user space and in the kernel, as by libbpf`, () => {
    const s = spec();
    expect(s.maps.find((m) => m.name === 'events')?.maxEntries).toBe(512);
    const user = loadCollection(s);
    try {
      expect(user.map('events').spec.maxEntries).toBe(4096);
    } finally {
      user.close();
    }
    if (!kernelOracle()) return;
    const k = kernelLoad(`../rodata/${FILE}`, { pinMaps: true });
    try {
      expect([...k.verdicts.values()][0]?.verdict).toBe('accept');
      const shown = JSON.parse(
        execFileSync('bpftool', ['map', 'show', 'pinned', `${k.mapPins}/events`, '--json'], {
          encoding: 'utf8',
        }),
      );
      expect(shown.max_entries).toBe(4096);
    } finally {
      k.release();
    }
    const kernel = loadCollection(spec(), { backend: 'kernel' });
    try {
      expect(kernel.map('events').spec.maxEntries).toBe(4096);
    } finally {
      kernel.close();
    }
  });
});
