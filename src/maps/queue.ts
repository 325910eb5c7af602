// QUEUE (FIFO) and STACK (LIFO): keyless maps of max_entries values, a ring of up to max_entries + 1 slots
// in linear memory as in the kernel. The ring starts small and doubles as it fills (programs never hold a
// pointer into it: values are copied in and out). Push with BPF_EXIST on a full map overwrites the oldest.
// From user space, update = push, lookup = peek, `pop()` = lookup-and-delete; delete and get_next_key
// are EINVAL.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, MapType, UpdateFlag } from '../spec/maps.js';
import { MapBase, type MapOptions, mapFail } from './base.js';

/** Bytes the ring first takes (at most max_entries + 1 values); it doubles from there. */
const INITIAL_RING_BYTES = 4096;

/** Queue and stack maps: values pushed and popped, without keys. */
export class QueueStackMap extends MapBase {
  readonly stack: boolean;
  private ring: Region;
  /** Slots of the ring now (one always empty): max_entries + 1 once it has grown all the way. */
  private slots: number;
  private head = 0;
  private tail = 0;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.stack = spec.type === MapType.STACK;
    this.slots = Math.min(spec.maxEntries + 1, Math.max(2, Math.floor(INITIAL_RING_BYTES / spec.valueSize)));
    this.ring = this.allocateRing(this.slots);
  }

  private allocateRing(slots: number): Region {
    const name = `map ${this.spec.name} elements`;
    return this.own(this.space.allocate(slots * this.spec.valueSize, 'map_value', name));
  }

  get size(): number {
    return (this.head - this.tail + this.slots) % this.slots;
  }

  /** Double the ring (up to max_entries + 1 slots), its elements moved to the start in order. */
  private grow(): void {
    const size = this.size;
    const slots = Math.min(this.spec.maxEntries + 1, 2 * this.slots);
    const old = this.ring;
    const ring = this.allocateRing(slots);
    const b = this.u8;
    const v = this.spec.valueSize;
    // Oldest first: tail .. end of the old ring, then its start .. head.
    const first = this.tail <= this.head ? this.head - this.tail : this.slots - this.tail;
    b.copyWithin(ring.start, old.start + this.tail * v, old.start + (this.tail + first) * v);
    b.copyWithin(ring.start + first * v, old.start, old.start + (size - first) * v);
    this.disown(old);
    this.ring = ring;
    this.slots = slots;
    this.tail = 0;
    this.head = size;
  }

  /** bpf_map_push_elem: 0 or -errno. */
  push(valueAddr: number, flags: number): number {
    if (flags & UpdateFlag.NOEXIST || flags > UpdateFlag.EXIST) return -Errno.EINVAL;
    const count = this.size;
    if (count === this.spec.maxEntries) {
      if (!(flags & UpdateFlag.EXIST)) return -Errno.E2BIG;
      this.tail = (this.tail + 1) % this.slots; // drop the oldest
    } else if (count === this.slots - 1) this.grow();
    const size = this.spec.valueSize;
    const dst = this.ring.start + this.head * size;
    this.u8.copyWithin(dst, valueAddr, valueAddr + size);
    this.head = (this.head + 1) % this.slots;
    return 0;
  }

  /** bpf_map_peek_elem / bpf_map_pop_elem: copy the next element to outAddr; 0 or -ENOENT. */
  take(outAddr: number, remove: boolean): number {
    if (this.size === 0) return -Errno.ENOENT;
    const size = this.spec.valueSize;
    let index: number;
    if (this.stack) {
      index = (this.head - 1 + this.slots) % this.slots;
      if (remove) this.head = index;
    } else {
      index = this.tail;
      if (remove) this.tail = (this.tail + 1) % this.slots;
    }
    const src = this.ring.start + index * size;
    this.u8.copyWithin(outAddr, src, src + size);
    return 0;
  }

  lookupPtr(): number {
    return 0;
  }

  updatePtr(_keyAddr: number, valueAddr: number, flags: number): number {
    return this.push(valueAddr, flags);
  }

  deletePtr(): number {
    return -Errno.EINVAL;
  }

  nextKeyPtr(): number {
    return -Errno.EINVAL;
  }

  /** Peek: the next element without removing it. */
  override lookup(key: Uint8Array = new Uint8Array(0)): Uint8Array | undefined {
    this.putKey(key, 'lookup');
    return this.take(this.scratchValue, false) === 0
      ? this.space.read(this.scratchValue, this.spec.valueSize)
      : undefined;
  }

  /** Lookup-and-delete: the next element, removed; undefined when empty. */
  pop(): Uint8Array | undefined {
    if (this.frozen) mapFail(this.spec, 'pop', -Errno.EPERM, 'map is frozen');
    return this.take(this.scratchValue, true) === 0
      ? this.space.read(this.scratchValue, this.spec.valueSize)
      : undefined;
  }
}
