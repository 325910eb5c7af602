// QUEUE (FIFO) and STACK (LIFO): keyless maps of max_entries values, a ring of max_entries + 1 slots in
// linear memory as in the kernel. Push with BPF_EXIST on a full map overwrites the oldest element.
// From user space, update = push, lookup = peek, `pop()` = lookup-and-delete; delete and get_next_key
// are EINVAL.

import type { AddressSpace, Region } from '../vm/memory.js';
import { MapBase, type MapOptions, mapFail } from './base.js';
import { Errno, type MapSpec, MapType, UpdateFlag } from './types.js';

export class QueueStackMap extends MapBase {
  readonly stack: boolean;
  private readonly ring: Region;
  private readonly slots: number;
  private head = 0;
  private tail = 0;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.stack = spec.type === MapType.STACK;
    this.slots = spec.maxEntries + 1;
    this.ring = this.own(
      space.allocate(this.slots * spec.valueSize, 'map_value', `map ${spec.name} elements`),
    );
  }

  get size(): number {
    return (this.head - this.tail + this.slots) % this.slots;
  }

  /** bpf_map_push_elem: 0 or -errno. */
  push(valueAddr: number, flags: number): number {
    if (flags & UpdateFlag.NOEXIST || flags > UpdateFlag.EXIST) return -Errno.EINVAL;
    if (this.size === this.spec.maxEntries) {
      if (!(flags & UpdateFlag.EXIST)) return -Errno.E2BIG;
      this.tail = (this.tail + 1) % this.slots; // drop the oldest
    }
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
