// HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS. An index in linear memory (./hash-index.ts,
// which compiled programs probe inline) from key to slot; each slot holds the key bytes then the value(s)
// in linear memory, so programs get stable value pointers and iteration can copy keys out. Slots come from
// a free list, then new ones in order; slot memory is carved in 64 KiB chunks, and the index, the iteration
// list and the LRU lists grow, as the map fills: memory follows the elements, not max_entries (which
// createMap charges in full, as the kernel preallocates it). Iteration order is insertion order (the
// kernel's is by hash bucket: defined but seed-dependent), a missing key restarts at the first key as in
// the kernel.
//
// LRU maps take their elements from the kernel's LRU lists (./lru.ts). As the kernel does, an LRU update
// takes a free element first — evicting when the map is full — and only then checks the flags, so an
// update of a full LRU map can evict even when it fails; program lookups set the reference bit.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, MapType, UpdateFlag } from '../spec/maps.js';
import { MapBase, type MapOptions, roundUp8 } from './base.js';
import { hashCapacity } from './cost.js';
import { checkInnerMap } from './fdarray.js';
import { HashIndex } from './hash-index.js';
import { LruLists } from './lru.js';

const NIL = -1;
/** Slots the iteration list first makes room for; it doubles from there. */
const INITIAL_SLOTS = 64;

/** A doubly linked list over slot numbers (no allocation per operation; `room` grows it). */
class SlotList {
  head = NIL;
  tail = NIL;
  next: Int32Array;
  prev: Int32Array;
  constructor(n: number) {
    this.next = new Int32Array(n).fill(NIL);
    this.prev = new Int32Array(n).fill(NIL);
  }
  /** Make room for slot s (at most `max` slots). */
  room(s: number, max: number): void {
    const n = Math.min(max, Math.max(s + 1, 2 * this.next.length));
    const next = new Int32Array(n).fill(NIL);
    const prev = new Int32Array(n).fill(NIL);
    next.set(this.next);
    prev.set(this.prev);
    this.next = next;
    this.prev = prev;
  }
  insertAfter(at: number, s: number): void {
    const n = this.next[at]!;
    this.prev[s] = at;
    this.next[s] = n;
    this.next[at] = s;
    if (n !== NIL) this.prev[n] = s;
    else this.tail = s;
  }
  pushBack(s: number): void {
    this.next[s] = NIL;
    this.prev[s] = this.tail;
    if (this.tail !== NIL) this.next[this.tail] = s;
    else this.head = s;
    this.tail = s;
  }
  remove(s: number): void {
    const p = this.prev[s]!;
    const n = this.next[s]!;
    if (p !== NIL) this.next[p] = n;
    else this.head = n;
    if (n !== NIL) this.prev[n] = p;
    else this.tail = p;
  }
}

/** Hash maps (hash, per-CPU, LRU, hash of maps, devmap by hash): keys indexed in linear memory. */
export class HashMap extends MapBase {
  readonly lru: boolean;
  readonly ofMaps: boolean;
  /** Key -> slot, in linear memory. */
  readonly index: HashIndex;
  private readonly order: SlotList;
  private readonly lruLists: LruLists | undefined;
  private readonly freeSlots: number[] = [];
  private fresh = 0;
  private readonly chunks: Region[] = [];
  private readonly chunkSlots: number;
  /** Elements the map holds: max_entries (rounded up to whole CPUs for a per-CPU LRU). */
  readonly capacity: number;
  /** Bytes of key (rounded up to 8) before an entry's value. */
  readonly keyStride: number;
  private readonly entryBytes: number;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    const t = spec.type;
    super(space, spec, opts, t === MapType.PERCPU_HASH || t === MapType.LRU_PERCPU_HASH);
    this.lru = t === MapType.LRU_HASH || t === MapType.LRU_PERCPU_HASH;
    this.ofMaps = t === MapType.HASH_OF_MAPS;
    const cpus = Math.max(1, opts.cpus);
    // BPF_F_NO_COMMON_LRU: the kernel rounds max_entries up to a multiple of the CPUs (equal lists).
    const perCpuLru = this.lru && (spec.flags & 2) !== 0;
    this.capacity = hashCapacity(spec, cpus);
    this.order = new SlotList(Math.min(this.capacity, INITIAL_SLOTS));
    this.lruLists = this.lru ? new LruLists(this.capacity, cpus, perCpuLru) : undefined;
    this.keyStride = roundUp8(spec.keySize);
    this.entryBytes = this.keyStride + this.valueStride * this.nCpus;
    this.chunkSlots = Math.min(this.capacity, Math.max(1, Math.floor(65536 / this.entryBytes)));
    this.index = new HashIndex(space, spec.keySize, `map ${spec.name} index`, this);
  }

  /** Number of elements. */
  get size(): number {
    return this.index.size;
  }

  private slotAddr(s: number): number {
    const chunk = Math.floor(s / this.chunkSlots);
    let region = this.chunks[chunk];
    if (!region) {
      const n = Math.min(this.chunkSlots, this.capacity - chunk * this.chunkSlots);
      region = this.own(this.space.allocate(n * this.entryBytes, 'map_value', `map ${this.spec.name} value`));
      this.chunks[chunk] = region;
    }
    return region.start + (s - chunk * this.chunkSlots) * this.entryBytes;
  }

  private valueAddr(s: number, cpu: number): number {
    return this.slotAddr(s) + this.keyStride + (this.perCpu ? cpu : 0) * this.valueStride;
  }

  /** A free slot, or NIL when all max_entries are in use. */
  private takeSlot(): number {
    if (this.freeSlots.length > 0) return this.freeSlots.pop()!;
    if (this.fresh >= this.capacity) return NIL;
    return this.fresh++;
  }

  private find(keyAddr: number): number {
    return this.index.find(keyAddr);
  }

  /** Forget element s (the slot itself is not freed: the LRU evicts through this). */
  private forget = (s: number): void => {
    this.index.remove(s, this.slotAddr(s));
    this.order.remove(s);
  };

  private unlink(s: number): void {
    this.forget(s);
    if (this.lruLists) this.lruLists.pushFree(s);
    else this.freeSlots.push(s);
  }

  /** Value address for a u32 key given as a number (4-byte keys only), or 0: no key in memory needed. */
  valueAtU32(key: number): number {
    if (this.spec.keySize !== 4) return 0;
    this.dv.setUint32(this.scratchKey, key >>> 0, true);
    const s = this.find(this.scratchKey);
    return s === NIL ? 0 : this.valueAddr(s, 0);
  }

  protected override peekPtr(keyAddr: number, cpu: number): number {
    const s = this.find(keyAddr);
    return s === NIL ? 0 : this.valueAddr(s, cpu);
  }

  lookupPtr(keyAddr: number, cpu: number): number {
    const s = this.find(keyAddr);
    if (s === NIL) return 0;
    this.lruLists?.setRef(s);
    // A map-in-map gives programs the inner map itself.
    if (this.ofMaps) return this.dv.getUint32(this.valueAddr(s, 0), true);
    return this.valueAddr(s, cpu);
  }

  updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.lru ? flags > UpdateFlag.EXIST : this.badFlags(flags, !this.perCpu)) return -Errno.EINVAL;
    if (this.ofMaps) {
      const err = checkInnerMap(this.space, this.spec, this.dv.getUint32(valueAddr, true));
      if (err < 0) return err;
    }
    // LRU: take a node before looking at the old element (an LRU_PERCPU update with BPF_EXIST does not).
    let node = NIL;
    if (this.lruLists && !(this.perCpu && flags === UpdateFlag.EXIST)) {
      node = this.lruLists.pop(Math.max(0, cpu), this.forget);
      if (node === NIL) return -Errno.ENOMEM;
    }
    const old = this.find(keyAddr);
    const mode = flags & ~UpdateFlag.F_LOCK;
    const err =
      old !== NIL && mode === UpdateFlag.NOEXIST
        ? -Errno.EEXIST
        : old === NIL && mode === UpdateFlag.EXIST
          ? -Errno.ENOENT
          : 0;
    if (err < 0 || (old !== NIL && (!this.lru || this.perCpu))) {
      if (node !== NIL) this.lruLists!.pushFree(node);
      if (err < 0) return err;
      // Existing element: the value is updated in place.
      this.writeValue(this.valueAddr(old, 0), this.valueStride, valueAddr, cpu, false);
      this.lruLists?.setRef(old);
      return 0;
    }
    const s = node !== NIL ? node : this.takeSlot();
    if (s === NIL) return -Errno.E2BIG;
    const at = this.slotAddr(s);
    const b = this.u8;
    b.fill(0, at, at + this.entryBytes);
    b.copyWithin(at, keyAddr, keyAddr + this.spec.keySize);
    this.writeValue(at + this.keyStride, this.valueStride, valueAddr, cpu, true);
    if (s >= this.order.next.length) this.order.room(s, this.capacity);
    if (old !== NIL) {
      // LRU replace: a new node takes the old one's place (iteration position kept), the old is freed.
      this.order.insertAfter(old, s);
      this.unlink(old);
      this.lruLists?.setRef(s);
    } else this.order.pushBack(s);
    this.index.insert(s, at);
    return 0;
  }

  override close(): void {
    this.index.close();
    super.close();
  }

  deletePtr(keyAddr: number): number {
    const s = this.find(keyAddr);
    if (s === NIL) return -Errno.ENOENT;
    this.unlink(s);
    return 0;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    const s = keyAddr === 0 ? NIL : this.find(keyAddr);
    const n = s === NIL ? this.order.head : this.order.next[s]!;
    if (n === NIL) return -Errno.ENOENT;
    const at = this.slotAddr(n);
    this.u8.copyWithin(outAddr, at, at + this.spec.keySize);
    return 0;
  }

  override forEachPtr(cpu: number, fn: (keyAddr: number, valueAddr: number) => boolean): number {
    let n = 0;
    for (let s = this.order.head; s !== NIL; ) {
      const next = this.order.next[s]!; // the callback may delete the current element
      n++;
      if (fn(this.slotAddr(s), this.valueAddr(s, cpu))) break;
      s = next;
    }
    return n;
  }
}
