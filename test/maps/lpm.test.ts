// LPM trie lookups on random tries against a brute-force reference (the longest stored prefix that
// covers the key's first prefixlen bits), for IPv4 and IPv6 key sizes and the sizes around the word
// boundaries the lookup fast paths use, with prefixlen 0 and full-length prefixes, updates and deletes.
import { describe, expect, it } from 'vitest';
import type { LpmTrieMap } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { hex, lpmKey, make, spec, u32 } from './util.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bitOf(data: Uint8Array, i: number): number {
  return (data[i >> 3]! >> (7 - (i & 7))) & 1;
}

function covers(prefix: Uint8Array, plen: number, addr: Uint8Array): boolean {
  for (let i = 0; i < plen; i++) if (bitOf(prefix, i) !== bitOf(addr, i)) return false;
  return true;
}

function key(plen: number, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(4 + data.length);
  k.set(u32(plen), 0);
  k.set(data, 4);
  return k;
}

/** Stored entries: prefixlen, the data of the last update (bits past the prefix included), value. */
interface Entry {
  plen: number;
  data: Uint8Array;
  value: number;
}

/** The reference: the entry with the longest prefix that covers the key's first `plen` bits. */
function reference(entries: Entry[], plen: number, addr: Uint8Array): Entry | undefined {
  let best: Entry | undefined;
  for (const e of entries) {
    if (e.plen <= plen && covers(e.data, e.plen, addr) && (!best || e.plen > best.plen)) best = e;
  }
  return best;
}

function sameKey(e: Entry, plen: number, data: Uint8Array): boolean {
  return e.plen === plen && covers(e.data, plen, data);
}

function randomCase(dataSize: number, seed: number, ops: number): void {
  const r = rng(seed);
  const max = dataSize * 8;
  const m = make(spec('LPM_TRIE', 4 + dataSize, 4, 64, 1)) as LpmTrieMap;
  let entries: Entry[] = [];
  const randomData = () => Uint8Array.from({ length: dataSize }, () => Math.floor(r() * 256));
  // Prefixes drawn near a few bases so tries get deep and share long common prefixes.
  const bases = [randomData(), randomData(), randomData()];
  const near = (): Uint8Array => {
    const d = bases[Math.floor(r() * bases.length)]!.slice();
    const from = Math.floor(r() * (max + 1));
    for (let i = from; i < max; i++) if (r() < 0.5) d[i >> 3]! ^= 0x80 >> (i & 7);
    return d;
  };
  const randomPlen = (): number => {
    const x = r();
    return x < 0.1 ? 0 : x < 0.25 ? max : Math.floor(r() * (max + 1));
  };
  let checked = 0;
  for (let op = 0; op < ops; op++) {
    const x = r();
    if (x < 0.35) {
      const plen = randomPlen();
      const data = near();
      const existing = entries.find((e) => sameKey(e, plen, data));
      if (!existing && entries.length >= 64) continue;
      m.update(key(plen, data), u32(op));
      if (existing) {
        existing.data = data;
        existing.value = op;
      } else entries.push({ plen, data, value: op });
    } else if (x < 0.5 && entries.length > 0) {
      const e = entries[Math.floor(r() * entries.length)]!;
      // Bits past the prefix do not name a different key.
      const data = e.data.slice();
      if (e.plen < max) data[(max - 1) >> 3]! ^= 1;
      m.delete(key(e.plen, data));
      entries = entries.filter((f) => f !== e);
    } else {
      const plen = r() < 0.8 ? max : randomPlen();
      const addr = r() < 0.7 ? near() : randomData();
      const want = reference(entries, plen, addr);
      const got = m.lookup(key(plen, addr));
      expect(hex(got), `lookup ${plen}/${hex(addr)} after ${op} ops`).toBe(want && hex(u32(want.value)));
      if (want) checked++;
    }
  }
  expect(m.size).toBe(entries.length);
  const stored: string[] = [];
  for (let k = m.nextKey(undefined); k; k = m.nextKey(k)) stored.push(hex(k)!);
  expect(stored.sort()).toEqual(entries.map((e) => hex(key(e.plen, e.data))!).sort());
  // Enough lookups found something for the comparison to mean anything.
  expect(checked).toBeGreaterThan(ops / 20);
}

describe('LPM trie lookups against a brute-force longest-prefix match', () => {
  for (const [name, dataSize] of [
    ['IPv4', 4],
    ['IPv6', 16],
    ['1-byte data', 1],
    ['3-byte data', 3],
    ['6-byte data', 6],
    ['13-byte data', 13],
    ['20-byte data (byte-wise path)', 20],
  ] as const) {
    it(`${name}: random updates, deletes and lookups`, () => {
      for (let seed = 1; seed <= 6; seed++) randomCase(dataSize, seed * 1000 + dataSize, 600);
    });
  }

  it('prefixlen 0 covers everything; a full-length prefix only its address; key prefixlen limits the match', () => {
    for (const dataSize of [4, 16]) {
      const max = dataSize * 8;
      const m = make(spec('LPM_TRIE', 4 + dataSize, 4, 8, 1)) as LpmTrieMap;
      const addr = Uint8Array.from({ length: dataSize }, (_, i) => i * 17 + 3);
      const other = addr.slice();
      other[dataSize - 1]! ^= 1;
      expect(m.lookup(key(max, addr))).toBeUndefined();
      m.update(key(0, new Uint8Array(dataSize).fill(0xff)), u32(100));
      m.update(key(max, addr), u32(200));
      m.update(key(max - 1, addr), u32(300));
      expect(hex(m.lookup(key(max, addr)))).toBe(hex(u32(200)));
      expect(hex(m.lookup(key(max, other)))).toBe(hex(u32(300)));
      expect(hex(m.lookup(key(max - 1, addr)))).toBe(hex(u32(300)));
      expect(hex(m.lookup(key(max - 2, addr)))).toBe(hex(u32(100)));
      expect(hex(m.lookup(key(0, addr)))).toBe(hex(u32(100)));
      expect(m.lookup(key(max + 1, addr))).toBeUndefined();
      m.delete(key(0, new Uint8Array(dataSize)));
      expect(m.lookup(key(max - 2, addr))).toBeUndefined();
      expect(hex(m.lookup(key(max, other)))).toBe(hex(u32(300)));
    }
  });

  it('lookups, updates, deletes and iteration stay right after the linear memory grows', () => {
    const space = new AddressSpace(1 << 16);
    const m = make(spec('LPM_TRIE', 8, 4, 4, 1), 1, space) as LpmTrieMap;
    m.update(lpmKey(16, 10, 1, 0, 0), u32(7));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 2, 3)))).toBe(hex(u32(7)));
    const before = space.memory.buffer.byteLength;
    space.allocate(1 << 20, 'scratch', 'grow');
    expect(space.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(hex(m.lookup(lpmKey(32, 10, 1, 2, 3)))).toBe(hex(u32(7)));
    expect(m.lookup(lpmKey(32, 10, 2, 2, 3))).toBeUndefined();
    m.update(lpmKey(24, 10, 1, 2, 0), u32(8));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 2, 3)))).toBe(hex(u32(8)));
    expect(hex(m.nextKey(undefined))).toBe(hex(lpmKey(24, 10, 1, 2, 0)));
    m.delete(lpmKey(24, 10, 1, 2, 0));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 2, 3)))).toBe(hex(u32(7)));
  });
});
