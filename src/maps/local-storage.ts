// Local storage maps: BPF_MAP_TYPE_TASK_STORAGE, CGRP_STORAGE, SK_STORAGE and INODE_STORAGE hold one value
// per kernel object (a task, a cgroup, a socket, an inode), created by the *_storage_get helpers. Here the
// owner is the object's address as the program has it (the modelled task_struct for the current task);
// values live in linear memory, at most MAX_OWNERS per map (past them a get that would create one returns
// NULL, as the kernel's does when it cannot allocate). User space names owners by file descriptor in the
// kernel (a pidfd, a cgroup or socket fd); it has none here, so its lookups, updates and deletes answer
// EBADF, and these maps have no key order (get_next_key: ENOTSUPP), as in the kernel.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import { MapBase, type MapOptions, mapFail } from './base.js';

/** Owners one map holds here at most. */
export const MAX_OWNERS = 64;
/** BPF_LOCAL_STORAGE_GET_F_CREATE. */
export const F_CREATE = 1;

/** A local storage map: a value per owner address. */
export class LocalStorageMap extends MapBase {
  private readonly values = new Map<number, Region>();

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
  }

  /** *_storage_get: the owner's value, created (from `init`, or zeros) with F_CREATE; 0 for NULL. */
  get(owner: number, init: number, flags: number): number {
    if (owner === 0 || flags & ~F_CREATE) return 0;
    const have = this.values.get(owner);
    if (have) return have.start;
    if (!(flags & F_CREATE) || this.values.size >= MAX_OWNERS) return 0;
    const r = this.own(
      this.space.allocate(this.spec.valueSize, 'map_value', `map ${this.spec.name} storage`),
    );
    if (init !== 0) this.u8.copyWithin(r.start, init, init + this.spec.valueSize);
    else this.u8.fill(0, r.start, r.start + this.spec.valueSize);
    this.values.set(owner, r);
    return r.start;
  }

  /** *_storage_delete: 0, -ENOENT without a value, -EINVAL without an owner. */
  remove(owner: number): number {
    if (owner === 0) return -Errno.EINVAL;
    const r = this.values.get(owner);
    if (!r) return -Errno.ENOENT;
    this.values.delete(owner);
    this.space.release(r);
    return 0;
  }

  lookupPtr(_keyAddr: number, _cpu: number): number {
    return 0;
  }

  /** User space's key is a file descriptor of the owner; no descriptor names one here. */
  updatePtr(_keyAddr: number, _valueAddr: number, _flags: number, _cpu: number): number {
    return -Errno.EBADF;
  }

  deletePtr(_keyAddr: number): number {
    return -Errno.EBADF;
  }

  nextKeyPtr(_keyAddr: number, _outAddr: number): number {
    return -KernelErrno.ENOTSUPP;
  }

  /** A lookup names the owner by descriptor, and none does here: EBADF (not "not found"). */
  override lookup(key: Uint8Array): Uint8Array | undefined {
    this.putKey(key, 'lookup');
    return mapFail(this.spec, 'lookup', -Errno.EBADF, 'no file descriptor names an owner here');
  }
}
