// Arrays whose values are references rather than data: PROG_ARRAY (program ids the runtime resolves for
// tail calls), ARRAY_OF_MAPS (inner maps, by handle address), and the base of PERF_EVENT_ARRAY. User space
// writes and reads the reference as a u32; slots start empty. The references live in linear memory, one
// u32 per slot, so compiled code can read a program array without leaving WebAssembly. The kernel's rules: only BPF_ANY updates,
// index >= max_entries is E2BIG on update and EINVAL on delete, deleting an empty slot is ENOENT.

import { MapError } from '../errors.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import { type MapSpec, MapType, UpdateFlag } from '../spec/maps.js';
import { arrayNextKey } from './array.js';
import { MapBase, type MapOptions, mapInSpace } from './base.js';

/** BPF_F_INNER_MAP: inner maps may differ in max_entries. */
export const F_INNER_MAP = 0x1000;

/** Why `inner` cannot be stored in a map-in-map whose inner template is `tmpl`, or undefined if it can. */
export function innerMapMismatch(tmpl: MapSpec | undefined, inner: MapSpec): string | undefined {
  if (!tmpl) return 'map-in-map has no inner map template';
  if (inner.type !== tmpl.type) return `inner map type ${inner.type} differs from template type ${tmpl.type}`;
  if (inner.keySize !== tmpl.keySize || inner.valueSize !== tmpl.valueSize)
    return 'inner map key/value size differs from template';
  if (inner.flags !== tmpl.flags) return 'inner map flags differ from template';
  if (!(tmpl.flags & F_INNER_MAP) && inner.maxEntries !== tmpl.maxEntries)
    return 'inner map max_entries differs from template';
  return undefined;
}

/** Resolve and check a map-in-map value (an inner map's handle address): 0, or -errno. */
export function checkInnerMap(space: AddressSpace, outer: MapSpec, ref: number): number {
  const inner = mapInSpace(space, ref);
  if (!inner) return -Errno.EBADF;
  if (innerMapMismatch(outer.innerMap, inner.spec)) return -Errno.EINVAL;
  return 0;
}

/** Arrays of references (program arrays, arrays of maps): each slot holds a program id or a map handle. */
export class FdArrayMap extends MapBase {
  /** u32 per slot: 0 = empty; otherwise a program id, an inner map's address, or a perf buffer tag. */
  readonly refs: Region;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.refs = this.own(space.allocate(4 * spec.maxEntries, 'map', `map ${spec.name} references`, false));
  }

  protected setRef(index: number, ref: number): void {
    this.dv.setUint32(this.refs.start + 4 * index, ref, true);
  }

  /** ARRAY_OF_MAPS gives programs the inner map; the other fd arrays are not readable by lookup. */
  lookupPtr(keyAddr: number, _cpu: number): number {
    if (this.spec.type !== MapType.ARRAY_OF_MAPS) return 0;
    const i = this.dv.getUint32(keyAddr, true);
    return this.refAt(i);
  }

  /** The reference stored at `index`, or 0 (tail_call reads program ids through this). */
  refAt(index: number): number {
    return index < this.spec.maxEntries ? this.dv.getUint32(this.refs.start + 4 * index, true) : 0;
  }

  /** Check a reference before storing it: 0, or -errno. */
  protected checkRef(ref: number): number {
    if (this.spec.type === MapType.ARRAY_OF_MAPS) return checkInnerMap(this.space, this.spec, ref);
    return ref === 0 ? -Errno.EBADF : 0;
  }

  updatePtr(keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    if (flags !== UpdateFlag.ANY) return -Errno.EINVAL;
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.spec.maxEntries) return -Errno.E2BIG;
    const ref = this.dv.getUint32(valueAddr, true);
    const err = this.checkRef(ref);
    if (err < 0) return err;
    this.setRef(i, ref);
    return 0;
  }

  deletePtr(keyAddr: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.spec.maxEntries) return -Errno.EINVAL;
    if (this.refAt(i) === 0) return -Errno.ENOENT;
    this.setRef(i, 0);
    return 0;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    return arrayNextKey(this.space, this.spec.maxEntries, keyAddr, outAddr);
  }

  /** User space reads the reference (program id, inner map address) as a u32. */
  override lookup(key: Uint8Array): Uint8Array | undefined {
    const i = this.dv.getUint32(this.putKey(key, 'lookup'), true);
    if (this.spec.type === MapType.PERF_EVENT_ARRAY) {
      throw new MapError(
        KernelErrno.ENOTSUPP,
        `map '${this.spec.name}': lookup: not supported for perf event arrays`,
      );
    }
    const ref = this.refAt(i);
    if (ref === 0) return undefined;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, ref, true);
    return out;
  }
}
