// ARRAY and PERCPU_ARRAY: max_entries preallocated values, indexed by a u32 key, zero-filled at creation.
// Values are round_up(value_size, 8) apart (the kernel's elem_size), so an engine can inline a lookup:
// index < maxEntries ? valuesBase + index * valueStride : NULL. Per-CPU values of one index are adjacent:
// (index * nCpus + cpu) * valueStride.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { MapFlag, type MapSpec, UpdateFlag } from '../spec/maps.js';
import { MapBase, type MapOptions } from './base.js';
import type { ArrayLayout } from './types.js';

export function readU32(space: AddressSpace, addr: number): number {
  return space.view.getUint32(addr, true);
}

/** get_next_key of every array-like map: a missing or out-of-range key restarts at index 0. */
export function arrayNextKey(
  space: AddressSpace,
  maxEntries: number,
  keyAddr: number,
  outAddr: number,
): number {
  const i = keyAddr === 0 ? maxEntries : readU32(space, keyAddr);
  if (i >= maxEntries) {
    space.view.setUint32(outAddr, 0, true);
    return 0;
  }
  if (i === maxEntries - 1) return -Errno.ENOENT;
  space.view.setUint32(outAddr, i + 1, true);
  return 0;
}

/** Array maps (array, per-CPU array, and the data sections): values by u32 index in linear memory. */
export class ArrayMap extends MapBase implements ArrayLayout {
  readonly values: Region;
  readonly valuesBase: number;
  readonly maxEntries: number;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions, perCpu = false) {
    super(space, spec, opts, perCpu);
    this.maxEntries = spec.maxEntries;
    const writable = !(spec.readonly || spec.flags & MapFlag.RDONLY_PROG);
    this.values = this.own(
      space.allocate(
        this.valueStride * this.nCpus * spec.maxEntries,
        'map_value',
        `map ${spec.name} value`,
        writable,
      ),
    );
    this.valuesBase = this.values.start;
  }

  lookupPtr(keyAddr: number, cpu: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return 0;
    return this.valuesBase + (i * this.nCpus + (this.perCpu ? cpu : 0)) * this.valueStride;
  }

  updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.badFlags(flags, true)) return -Errno.EINVAL;
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return -Errno.E2BIG;
    // Every element of an array always exists.
    if (flags & UpdateFlag.NOEXIST) return -Errno.EEXIST;
    this.writeValue(
      this.valuesBase + i * this.nCpus * this.valueStride,
      this.valueStride,
      valueAddr,
      cpu,
      false,
    );
    return 0;
  }

  deletePtr(_keyAddr: number): number {
    return -Errno.EINVAL;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    return arrayNextKey(this.space, this.maxEntries, keyAddr, outAddr);
  }

  override forEachPtr(cpu: number, fn: (keyAddr: number, valueAddr: number) => boolean): number {
    const key = this.scratchKey;
    let n = 0;
    for (let i = 0; i < this.maxEntries; i++) {
      this.dv.setUint32(key, i, true);
      n++;
      if (fn(key, this.valuesBase + (i * this.nCpus + (this.perCpu ? cpu : 0)) * this.valueStride)) break;
    }
    return n;
  }
}
