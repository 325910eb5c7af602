// The index of a hash map, kept in linear memory so compiled programs can look keys up without leaving
// WebAssembly (src/jit/inline-hash.ts emits the same probe). Open addressing with linear probing over a
// power-of-two table of u32 entry addresses (0 = empty), at most half full; deletion shifts the following
// entries back, so there are no tombstones and a probe ends at the first empty bucket.
//
// A small header holds the table's address and mask, so the table can double as the map fills while code
// compiled against the header keeps working:
//
//   header + 0   u32   address of the table (buckets * 4 bytes)
//   header + 4   u32   mask (buckets - 1)
//
// Keys hash as murmur3-style 32-bit mixing of little-endian 4-byte words (a last partial word zero-padded),
// with a per-map random seed so keys chosen by packets cannot be steered into one probe chain.

import type { AddressSpace, Region } from '../memory/address-space.js';

/** Constants of the key hash, shared with the JIT's inline copy of it. */
export const KeyHash = {
  c1: 0xcc9e2d51,
  c2: 0x1b873593,
  rotWord: 15,
  rotHash: 13,
  mulHash: 5,
  addHash: 0xe6546b64,
  f1: 0x85ebca6b,
  f2: 0xc2b2ae35,
} as const;

/** Mix one 4-byte word into the running hash. */
export function mixWord(h: number, w: number): number {
  let k = Math.imul(w, KeyHash.c1);
  k = (k << KeyHash.rotWord) | (k >>> (32 - KeyHash.rotWord));
  k = Math.imul(k, KeyHash.c2);
  h ^= k;
  h = (h << KeyHash.rotHash) | (h >>> (32 - KeyHash.rotHash));
  return (Math.imul(h, KeyHash.mulHash) + KeyHash.addHash) | 0;
}

/** The final avalanche (after the key length is folded in). */
export function finishHash(h: number, keySize: number): number {
  h ^= keySize;
  h ^= h >>> 16;
  h = Math.imul(h, KeyHash.f1);
  h ^= h >>> 13;
  h = Math.imul(h, KeyHash.f2);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of the `size` key bytes at `addr`. */
export function hashKey(u8: Uint8Array, addr: number, size: number, seed: number): number {
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    const a = addr + i;
    h = mixWord(h, u8[a]! | (u8[a + 1]! << 8) | (u8[a + 2]! << 16) | (u8[a + 3]! << 24));
  }
  if (i < size) {
    let w = 0;
    for (let j = size - 1; j >= i; j--) w = (w << 8) | u8[addr + j]!;
    h = mixWord(h, w);
  }
  return finishHash(h, size);
}

const NIL = -1;
const MIN_BUCKETS = 16;
/** Bytes of the header (table address, mask). */
export const HASH_INDEX_HEADER = 8;

/** Buckets of the table once it holds `count` entries (it doubles to stay at most half full). */
export function indexBuckets(count: number): number {
  let buckets = MIN_BUCKETS;
  while (buckets < 2 * count) buckets *= 2;
  return buckets;
}

export class HashIndex {
  /** The header the compiled lookups read (see the file comment). */
  readonly header: Region;
  readonly seed: number;
  private table: Region;
  private mask: number;
  /** Slot number per bucket (NIL when empty): the JS side's view of the same table. */
  private slots: Int32Array;
  private count = 0;

  constructor(
    private readonly space: AddressSpace,
    private readonly keySize: number,
    private readonly name: string,
    /** The map the index belongs to (its regions are the map's: checked mode tells maps apart by owner). */
    private readonly owner?: object,
  ) {
    this.seed = (Math.random() * 0x1_0000_0000) >>> 0;
    this.header = space.allocate(HASH_INDEX_HEADER, 'map', name, false);
    this.header.owner = owner;
    this.table = this.allocateTable(MIN_BUCKETS);
    this.mask = MIN_BUCKETS - 1;
    this.slots = new Int32Array(MIN_BUCKETS).fill(NIL);
    this.writeHeader();
  }

  get size(): number {
    return this.count;
  }

  private allocateTable(buckets: number): Region {
    const table = this.space.allocate(buckets * 4, 'map', this.name, false);
    table.owner = this.owner;
    return table;
  }

  private writeHeader(): void {
    const dv = this.space.view;
    dv.setUint32(this.header.start, this.table.start, true);
    dv.setUint32(this.header.start + 4, this.mask, true);
  }

  hash(keyAddr: number): number {
    return hashKey(this.space.bytes, keyAddr, this.keySize, this.seed);
  }

  private sameKey(u8: Uint8Array, a: number, b: number): boolean {
    for (let i = 0; i < this.keySize; i++) if (u8[a + i] !== u8[b + i]) return false;
    return true;
  }

  /** Slot of the element whose key equals the bytes at keyAddr, or -1. */
  find(keyAddr: number): number {
    const u8 = this.space.bytes;
    const dv = this.space.view;
    const base = this.table.start;
    for (let b = hashKey(u8, keyAddr, this.keySize, this.seed) & this.mask; ; b = (b + 1) & this.mask) {
      const s = this.slots[b]!;
      if (s === NIL) return NIL;
      if (this.sameKey(u8, dv.getUint32(base + 4 * b, true), keyAddr)) return s;
    }
  }

  /** Add slot s whose key bytes (a key not in the index) start at entryAddr. */
  insert(s: number, entryAddr: number): void {
    if (2 * (this.count + 1) > this.slots.length) this.grow();
    this.place(s, entryAddr, this.space.view);
    this.count++;
  }

  private place(s: number, entryAddr: number, dv: DataView): void {
    let b = this.hash(entryAddr) & this.mask;
    while (this.slots[b] !== NIL) b = (b + 1) & this.mask;
    this.slots[b] = s;
    dv.setUint32(this.table.start + 4 * b, entryAddr, true);
  }

  /** Remove slot s, whose key bytes start at entryAddr. */
  remove(s: number, entryAddr: number): void {
    const dv = this.space.view;
    const mask = this.mask;
    const base = this.table.start;
    let hole = this.hash(entryAddr) & mask;
    while (this.slots[hole] !== s) {
      if (this.slots[hole] === NIL) throw new Error(`hash index: slot ${s} is not indexed`);
      hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: move up every later entry of the run whose home bucket is not between
    // the hole and itself (cyclically), so every key stays reachable from its home bucket.
    for (let b = (hole + 1) & mask; this.slots[b] !== NIL; b = (b + 1) & mask) {
      const addr = dv.getUint32(base + 4 * b, true);
      const home = this.hash(addr) & mask;
      const between = hole <= b ? hole < home && home <= b : hole < home || home <= b;
      if (between) continue;
      this.slots[hole] = this.slots[b]!;
      dv.setUint32(base + 4 * hole, addr, true);
      hole = b;
    }
    this.slots[hole] = NIL;
    dv.setUint32(base + 4 * hole, 0, true);
    this.count--;
  }

  /** Double the table and re-place every entry. */
  private grow(): void {
    const old = this.table;
    const oldSlots = this.slots;
    const buckets = oldSlots.length * 2;
    this.table = this.allocateTable(buckets);
    this.mask = buckets - 1;
    this.slots = new Int32Array(buckets).fill(NIL);
    const dv = this.space.view;
    for (let b = 0; b < oldSlots.length; b++) {
      const s = oldSlots[b]!;
      if (s !== NIL) this.place(s, dv.getUint32(old.start + 4 * b, true), dv);
    }
    this.space.release(old);
    this.writeHeader();
  }

  /** Forget every entry (the table keeps its size). */
  clear(): void {
    this.slots.fill(NIL);
    this.space.bytes.fill(0, this.table.start, this.table.end);
    this.count = 0;
  }

  /** Give the memory back. */
  close(): void {
    this.space.release(this.table);
    this.space.release(this.header);
  }
}
