// Redirect targets for bpf_redirect_map: DEVMAP (ifindex [+ program]), CPUMAP (queue size [+ program]) and
// XSKMAP (AF_XDP socket). Arrays whose slots may be empty: update sets a slot (BPF_NOEXIST is EEXIST as
// every index exists), delete empties it (0 even when already empty; EINVAL past the end), lookup of an
// empty slot finds nothing. DEVMAP_HASH is a HashMap.

import type { AddressSpace } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, UpdateFlag } from '../spec/maps.js';
import { ArrayMap } from './array.js';
import type { MapOptions } from './base.js';

/** Redirect targets by u32 index (devmap, cpumap, xskmap), with which slots are set. */
export class RedirectArrayMap extends ArrayMap {
  private readonly present: Uint8Array;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.present = new Uint8Array(spec.maxEntries);
  }

  /** Address of the value at `index`, or 0 when the slot is empty (bpf_redirect_map). */
  targetAt(index: number): number {
    return index < this.maxEntries && this.present[index] ? this.valuesBase + index * this.valueStride : 0;
  }

  override lookupPtr(keyAddr: number, cpu: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    return i < this.maxEntries && this.present[i] ? super.lookupPtr(keyAddr, cpu) : 0;
  }

  override updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (flags > UpdateFlag.EXIST) return -Errno.EINVAL;
    const r = super.updatePtr(keyAddr, valueAddr, flags, cpu);
    if (r === 0) this.present[this.dv.getUint32(keyAddr, true)] = 1;
    return r;
  }

  override deletePtr(keyAddr: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return -Errno.EINVAL;
    this.present[i] = 0;
    return 0;
  }
}
