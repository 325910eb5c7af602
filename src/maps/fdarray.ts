// Arrays whose values are references rather than data: PROG_ARRAY (program ids the runtime resolves for
// tail calls), ARRAY_OF_MAPS (inner maps, by handle address), and the base of PERF_EVENT_ARRAY. User space
// writes and reads the reference as a u32; slots start empty. The kernel's rules: only BPF_ANY updates,
// index >= max_entries is E2BIG on update and EINVAL on delete, deleting an empty slot is ENOENT.

import type { AddressSpace } from '../vm/memory.js';
import { arrayNextKey } from './array.js';
import { MapBase, type MapOptions, mapInSpace } from './base.js';
import { Errno, KernelErrno, MapError, type MapSpec, MapType, UpdateFlag } from './types.js';

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

export class FdArrayMap extends MapBase {
  /** 0 = empty; otherwise a program id, an inner map's address, or a perf buffer tag. */
  readonly refs: Uint32Array;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.refs = new Uint32Array(spec.maxEntries);
  }

  /** ARRAY_OF_MAPS gives programs the inner map; the other fd arrays are not readable by lookup. */
  lookupPtr(keyAddr: number, _cpu: number): number {
    if (this.spec.type !== MapType.ARRAY_OF_MAPS) return 0;
    const i = this.dv.getUint32(keyAddr, true);
    return i < this.refs.length ? this.refs[i]! : 0;
  }

  /** The reference stored at `index`, or 0 (tail_call reads program ids through this). */
  refAt(index: number): number {
    return index < this.refs.length ? this.refs[index]! : 0;
  }

  /** Check a reference before storing it: 0, or -errno. */
  protected checkRef(ref: number): number {
    if (this.spec.type === MapType.ARRAY_OF_MAPS) return checkInnerMap(this.space, this.spec, ref);
    return ref === 0 ? -Errno.EBADF : 0;
  }

  updatePtr(keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    if (flags !== UpdateFlag.ANY) return -Errno.EINVAL;
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.refs.length) return -Errno.E2BIG;
    const ref = this.dv.getUint32(valueAddr, true);
    const err = this.checkRef(ref);
    if (err < 0) return err;
    this.refs[i] = ref;
    return 0;
  }

  deletePtr(keyAddr: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    if (i >= this.refs.length) return -Errno.EINVAL;
    if (this.refs[i] === 0) return -Errno.ENOENT;
    this.refs[i] = 0;
    return 0;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    return arrayNextKey(this.space, this.refs.length, keyAddr, outAddr);
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
