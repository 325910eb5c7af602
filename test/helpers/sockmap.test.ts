// Socket maps (src/maps/sockmap.ts) against the kernel's: creation checks with their errnos, and what user
// space gets from an empty map (no socket exists here, and none is open in this test for the kernel's):
// an update with a descriptor that is not an open socket, lookups, deletes and key iteration.

import { describe, expect, it } from 'vitest';
import type { MapError } from '../../src/errors.js';
import { checkMapSpec, createMap } from '../../src/maps/registry.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

const spec = (o: Partial<MapSpec>): MapSpec => ({
  name: 'socks',
  type: MapType.SOCKMAP,
  keySize: 4,
  valueSize: 8,
  maxEntries: 4,
  flags: 0,
  ...o,
});

const CREATE: [string, Partial<MapSpec>][] = [
  ['a sockmap of u64 fds', {}],
  ['a sockmap of u32 fds', { valueSize: 4 }],
  ['a sockmap of 2-byte values', { valueSize: 2 }],
  ['a sockmap with 8-byte keys', { keySize: 8 }],
  ['a sockmap without entries', { maxEntries: 0 }],
  ['a sockmap with BPF_F_NO_PREALLOC', { flags: 1 }],
  ['a sockhash with 16-byte keys', { type: MapType.SOCKHASH, keySize: 16 }],
  ['a sockhash with no key', { type: MapType.SOCKHASH, keySize: 0 }],
  ['a sockhash with 600-byte keys', { type: MapType.SOCKHASH, keySize: 600 }],
  ['a reuseport array', { type: 20 }],
  ['a reuseport array of 2-byte values', { type: 20, valueSize: 2 }],
  ['a reuseport array with 8-byte keys', { type: 20, keySize: 8 }],
];

const errnoOf = (f: () => unknown): number => {
  try {
    f();
    return 0;
  } catch (e) {
    return (e as MapError).errno;
  }
};

type K = typeof import('../../src/kernel/index.js');

describe.runIf(oracle)('socket maps: the kernel and user space agree', () => {
  it.each(CREATE)('create %s', async (_, o) => {
    const k: K = await import('../../src/kernel/index.js');
    const s = spec(o);
    const kernel = errnoOf(() => k.close(k.mapCreate({ ...s })));
    expect(errnoOf(() => checkMapSpec(s))).toBe(kernel);
  });

  it.each([MapType.SOCKMAP, MapType.SOCKHASH, 20])(
    'an empty map of type %i: update, lookup, delete, next key',
    async (type) => {
      const k: K = await import('../../src/kernel/index.js');
      const s = spec({ type });
      const fd = k.mapCreate({ ...s });
      const ours = createMap(new AddressSpace(1 << 20), s);
      try {
        const key = new Uint8Array([1, 0, 0, 0]);
        // fd 999 is not open in this process.
        const value = new Uint8Array([0xe7, 3, 0, 0, 0, 0, 0, 0]);
        const kernel = {
          update: errnoOf(() => k.mapUpdate(fd, key, value)),
          lookup: k.mapLookup(fd, key, 8),
          // The kernel wrapper answers a missing key (ENOENT) with false.
          delete: errnoOf(() => k.mapDelete(fd, key)) || (k.mapDelete(fd, key) ? 0 : 2),
          next: k.mapNextKey(fd, undefined, 4),
        };
        expect({
          update: errnoOf(() => ours.update(key, value)),
          lookup: ours.lookup(key),
          delete: errnoOf(() => ours.delete(key)),
          next: ours.nextKey(undefined),
        }).toEqual(kernel);
      } finally {
        k.close(fd);
        ours.close();
      }
    },
  );
});
