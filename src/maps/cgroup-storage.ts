// BPF_MAP_TYPE_CGROUP_STORAGE and PERCPU_CGROUP_STORAGE: one value per (cgroup, attach type) a program
// using the map is attached to, which bpf_get_local_storage hands the program without a lookup. There is
// no cgroup hierarchy to attach to here, so a map holds one storage: that of the cgroup the program runs
// in (the task model's own cgroup), created zeroed on the program's first get_local_storage, as the
// kernel creates it at attach. User space finds it by key like the kernel — a u64 cgroup id, or struct
// bpf_cgroup_storage_key {u64 cgroup id; u32 attach type} — and updates it in place; it cannot create or
// delete one (the kernel's -ENOENT and -EINVAL). The attach type is not known at run time here, so a
// 16-byte key matches on the cgroup id, and next_key reports attach type 0.
//
// One difference from the kernel's BPF_PROG_TEST_RUN: the kernel gives each test run fresh storage (freed
// after it), where here the storage lives as long as the map, as it does for a program attached to a
// cgroup. Within one test run (all its repeats) both are the same.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, MapType, UpdateFlag } from '../spec/maps.js';
import { MapBase, type MapOptions } from './base.js';

/** sizeof(struct bpf_cgroup_storage_key); a plain u64 cgroup id is the other accepted key. */
export const CGROUP_STORAGE_KEY_SIZE = 16;

/** A cgroup storage map (shared or per-CPU): the one attached cgroup's value. */
export class CgroupStorageMap extends MapBase {
  /** The value (per CPU: nCpus values valueStride apart), allocated at creation. */
  private readonly value: Region;
  /** The cgroup whose storage it is, once a program created it (0: none yet). */
  private cgroupId = 0n;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts, spec.type === MapType.PERCPU_CGROUP_STORAGE);
    this.value = this.own(
      space.allocate(this.valueStride * this.nCpus, 'map_value', `map ${spec.name} cgroup storage`),
    );
    this.u8.fill(0, this.value.start, this.value.end);
  }

  /** bpf_get_local_storage: this CPU's value of cgroup `cgroupId`'s storage (created zeroed at first). */
  storage(cgroupId: bigint, cpu: number): number {
    if (this.cgroupId === 0n) this.cgroupId = cgroupId;
    return this.value.start + (this.perCpu ? cpu : 0) * this.valueStride;
  }

  private keyMatches(keyAddr: number): boolean {
    return this.cgroupId !== 0n && this.dv.getBigUint64(keyAddr, true) === this.cgroupId;
  }

  lookupPtr(keyAddr: number, cpu: number): number {
    if (!this.keyMatches(keyAddr)) return 0;
    return this.value.start + (this.perCpu ? cpu : 0) * this.valueStride;
  }

  /**
   * Only an existing storage is updated (no storage: -ENOENT). Flags as the kernel checks them: ANY,
   * NOEXIST or EXIST (per-CPU: ANY or EXIST only), F_LOCK only with a spin lock in the value.
   */
  updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.perCpu ? flags !== UpdateFlag.ANY && flags !== UpdateFlag.EXIST : this.badFlags(flags, true))
      return -Errno.EINVAL;
    if (!this.keyMatches(keyAddr)) return -Errno.ENOENT;
    this.writeValue(this.value.start, this.valueStride, valueAddr, cpu, false);
    return 0;
  }

  /** Storages go with their attachment: user space cannot delete one. */
  deletePtr(_keyAddr: number): number {
    return -Errno.EINVAL;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    if (this.cgroupId === 0n || (keyAddr !== 0 && this.keyMatches(keyAddr))) return -Errno.ENOENT;
    this.dv.setBigUint64(outAddr, this.cgroupId, true);
    if (this.spec.keySize === CGROUP_STORAGE_KEY_SIZE) this.dv.setBigUint64(outAddr + 8, 0n, true);
    return 0;
  }
}

/** BPF_LOCAL_STORAGE_MAX_VALUE_SIZE (U16_MAX less the element header); per-CPU values also PCPU_MIN_UNIT_SIZE. */
const MAX_VALUE = 65535 - 128;
const PCPU_MIN_UNIT_SIZE = 32768;
/** BPF_F_NUMA_NODE and the access flags (RDONLY, WRONLY, RDONLY_PROG, WRONLY_PROG). */
const CREATE_FLAGS = 0x4 | 0x8 | 0x10 | 0x80 | 0x100;

/** cgroup_storage_map_alloc's checks, in its order: the errno and why, or undefined. */
export function checkCgroupStorage(s: MapSpec): [errno: number, reason: string] | undefined {
  const max = s.type === MapType.PERCPU_CGROUP_STORAGE ? Math.min(MAX_VALUE, PCPU_MIN_UNIT_SIZE) : MAX_VALUE;
  if (s.keySize !== CGROUP_STORAGE_KEY_SIZE && s.keySize !== 8)
    return [
      Errno.EINVAL,
      `key size must be 16 (struct bpf_cgroup_storage_key) or 8 (a cgroup id), got ${s.keySize}`,
    ];
  if (s.valueSize === 0) return [Errno.EINVAL, 'value size must be > 0'];
  if (s.valueSize > max) return [Errno.E2BIG, `value size above ${max}`];
  const access = s.flags & 0x198;
  if (s.flags & ~CREATE_FLAGS || (access & 0x80 && access & 0x100) || (access & 0x8 && access & 0x10))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.maxEntries !== 0) return [Errno.EINVAL, 'max_entries must be 0 (one value per attached cgroup)'];
  return undefined;
}
