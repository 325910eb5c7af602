import { describe, expect, it } from 'vitest';
import type { HashMap } from '../../src/maps/hash.js';
import { HASH_INDEX_HEADER, HashIndex, hashKey } from '../../src/maps/hash-index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { make, spec } from './util.js';

/** A deterministic xorshift generator. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

describe('hash index in linear memory', () => {
  for (const keySize of [1, 2, 3, 4, 5, 8, 13]) {
    it(`${keySize}-byte keys: random inserts and removals agree with a Map, through growth`, () => {
      const space = new AddressSpace(1 << 20);
      const index = new HashIndex(space, keySize, 'test index');
      const rand = rng(keySize * 7919);
      // Entries: one key per slot, the key bytes at entries[s].
      const entries: number[] = [];
      const model = new Map<string, number>();
      const probe = space.allocate(keySize, 'scratch', 'probe');
      const keyOf = (addr: number) => Array.from(space.bytes.subarray(addr, addr + keySize)).join(',');
      const domain = Math.min(256 ** keySize, 600);
      const writeKey = (addr: number, k: number) => {
        for (let i = 0; i < keySize; i++) space.bytes[addr + i] = i === 0 ? k & 0xff : (k >> 8) * (i + 1);
      };
      for (let op = 0; op < 4000; op++) {
        const k = rand(domain);
        writeKey(probe.start, k);
        const name = keyOf(probe.start);
        const found = index.find(probe.start);
        expect(found).toBe(model.get(name) ?? -1);
        if (found < 0 && rand(3) !== 0) {
          const s = entries.length;
          const at = space.allocate(keySize, 'scratch', `entry ${s}`).start;
          writeKey(at, k);
          entries.push(at);
          index.insert(s, at);
          model.set(name, s);
        } else if (found >= 0) {
          index.remove(found, entries[found]!);
          model.delete(name);
        }
        expect(index.size).toBe(model.size);
      }
      // The memory table holds each live entry's address, reachable from its home bucket.
      const dv = space.view;
      const table = dv.getUint32(index.header.start, true);
      const mask = dv.getUint32(index.header.start + 4, true);
      expect(index.header.end - index.header.start).toBe(HASH_INDEX_HEADER);
      for (const s of model.values()) {
        let b = hashKey(space.bytes, entries[s]!, keySize, index.seed) & mask;
        while (dv.getUint32(table + 4 * b, true) !== entries[s]) {
          expect(dv.getUint32(table + 4 * b, true)).not.toBe(0);
          b = (b + 1) & mask;
        }
      }
      let used = 0;
      for (let b = 0; b <= mask; b++) if (dv.getUint32(table + 4 * b, true) !== 0) used++;
      expect(used).toBe(model.size);
      expect(2 * model.size).toBeLessThanOrEqual(mask + 1);
    });
  }

  it('hashes every byte of the key, and the seed', () => {
    const u8 = new Uint8Array(16);
    const base = hashKey(u8, 0, 13, 1);
    for (let i = 0; i < 13; i++) {
      u8[i] = 1;
      expect(hashKey(u8, 0, 13, 1)).not.toBe(base);
      u8[i] = 0;
    }
    u8[13] = 1; // beyond the key
    expect(hashKey(u8, 0, 13, 1)).toBe(base);
    expect(hashKey(u8, 0, 13, 2)).not.toBe(base);
  });

  it('keeps working after the address space grows (its cached memory views are replaced)', () => {
    const m = make(spec('HASH', 4, 8, 4));
    m.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]));
    const before = m.space.memory.buffer.byteLength;
    m.space.allocate(before, 'scratch', 'grow the memory');
    expect(m.space.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(m.lookup(new Uint8Array([1, 0, 0, 0]))?.[0]).toBe(9);
    m.update(new Uint8Array([2, 0, 0, 0]), new Uint8Array(8));
    expect((m as HashMap).size).toBe(2);
  });

  it('a hash map gives its index memory back on close', () => {
    const m = make(spec('HASH', 4, 8, 4));
    for (let k = 0; k < 4; k++) m.update(new Uint8Array([k, 0, 0, 0]), new Uint8Array(8));
    const header = (m as unknown as { index: HashIndex }).index.header;
    expect(m.space.regionAt(header.start)).toBe(header);
    m.close();
    expect(m.space.regionAt(header.start)).toBeUndefined();
  });
});
