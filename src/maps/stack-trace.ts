// BPF_MAP_TYPE_STACK_TRACE: stack ids to call stacks, filled only by bpf_get_stackid. The key is a u32 stack
// id, the value an array of value_size / 8 instruction addresses (zero after the stack's end). As in the
// kernel: max_entries is rounded up to a power of two buckets, a stack's id is the jhash2 of its addresses
// masked to the bucket count, a different stack in a taken bucket is -EEXIST unless BPF_F_REUSE_STACKID
// replaces it, and at most max_entries stacks are held (-ENOMEM past that). User space may look up, delete
// and iterate ids, but not update (EINVAL); programs reach the map only through get_stackid.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import { MapBase, type MapOptions } from './base.js';
import { jhash2 } from './jhash.js';

/** get_stackid flags (include/uapi/linux/bpf.h). */
export const StackFlag = {
  SKIP_FIELD_MASK: 0xff,
  USER_STACK: 1 << 8,
  FAST_STACK_CMP: 1 << 9,
  REUSE_STACKID: 1 << 10,
  USER_BUILD_ID: 1 << 11,
} as const;

/** BPF_F_STACK_BUILD_ID: values are struct bpf_stack_build_id (32 bytes) instead of addresses. */
export const F_STACK_BUILD_ID = 0x20;
/** sizeof(struct bpf_stack_build_id): s32 status, 20 bytes of build id, then a u64 offset or ip at 24. */
export const BUILD_ID_SIZE = 32;
/** BPF_STACK_BUILD_ID_IP: the entry holds an address, no build id was found. */
export const BUILD_ID_IP = 2;
/** sysctl kernel.perf_event_max_stack's default: the deepest stack a map value or a callchain holds. */
export const PERF_MAX_STACK = 127;

/** The bucket count for max_entries: the next power of two (roundup_pow_of_two). */
export function stackBuckets(maxEntries: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, maxEntries)));
}

/** A stack trace map: buckets of addresses in linear memory, their hashes and depths beside them. */
export class StackTraceMap extends MapBase {
  readonly buckets: number;
  /** value_size bytes per bucket, zero past the stack's end. */
  readonly data: Region;
  private readonly hashes: Uint32Array;
  /** Addresses in each bucket; 0 = empty. */
  private readonly depths: Uint32Array;
  private used = 0;
  private readonly buildId: boolean;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.buckets = stackBuckets(spec.maxEntries);
    this.data = this.own(
      space.allocate(this.buckets * spec.valueSize, 'map_value', `map ${spec.name} stacks`),
    );
    this.hashes = new Uint32Array(this.buckets);
    this.depths = new Uint32Array(this.buckets);
    this.buildId = (spec.flags & F_STACK_BUILD_ID) !== 0;
  }

  /** Bytes per stack entry: 8 (an address) or 32 (struct bpf_stack_build_id). */
  get entrySize(): number {
    return this.buildId ? BUILD_ID_SIZE : 8;
  }

  /**
   * bpf_get_stackid's store: the id of `ips` (a stack already cut to the map's depth, the skipped frames
   * dropped), or -errno. A build-id map holds struct bpf_stack_build_id entries; no build id is known
   * here, so each is what the kernel writes then: status BPF_STACK_BUILD_ID_IP and the address.
   */
  stackId(ips: readonly bigint[], flags: number): number {
    const words = new Uint32Array(ips.length * 2);
    ips.forEach((ip, k) => {
      words[2 * k] = Number(ip & 0xffffffffn);
      words[2 * k + 1] = Number((ip >> 32n) & 0xffffffffn);
    });
    const hash = jhash2(words, 0);
    const id = hash & (this.buckets - 1);
    const taken = this.depths[id]! !== 0;
    const hashMatches = taken && this.hashes[id] === hash;
    if (hashMatches && flags & StackFlag.FAST_STACK_CMP) return id;
    if (hashMatches && this.depths[id] === ips.length && this.same(id, ips)) return id;
    if (taken && !(flags & StackFlag.REUSE_STACKID)) return -Errno.EEXIST;
    // A new stack takes a free element even when it replaces one (the old one is freed after).
    if (this.used >= this.spec.maxEntries) return -Errno.ENOMEM;
    const at = this.data.start + id * this.spec.valueSize;
    const v = this.dv;
    this.u8.fill(0, at, at + this.spec.valueSize);
    ips.forEach((ip, k) => {
      if (!this.buildId) v.setBigUint64(at + 8 * k, ip, true);
      else {
        v.setInt32(at + BUILD_ID_SIZE * k, BUILD_ID_IP, true);
        v.setBigUint64(at + BUILD_ID_SIZE * k + 24, ip, true);
      }
    });
    if (!taken) this.used++;
    this.hashes[id] = hash;
    this.depths[id] = ips.length;
    return id;
  }

  private same(id: number, ips: readonly bigint[]): boolean {
    const at = this.data.start + id * this.spec.valueSize + (this.buildId ? 24 : 0);
    const stride = this.buildId ? BUILD_ID_SIZE : 8;
    return ips.every((ip, k) => this.dv.getBigUint64(at + stride * k, true) === ip);
  }

  lookupPtr(keyAddr: number, _cpu: number): number {
    const id = this.dv.getUint32(keyAddr, true);
    return id < this.buckets && this.depths[id] !== 0 ? this.data.start + id * this.spec.valueSize : 0;
  }

  updatePtr(_keyAddr: number, _valueAddr: number, _flags: number, _cpu: number): number {
    return -Errno.EINVAL;
  }

  deletePtr(keyAddr: number): number {
    const id = this.dv.getUint32(keyAddr, true);
    if (id >= this.buckets) return -Errno.EINVAL;
    if (this.depths[id] === 0) return -Errno.ENOENT;
    this.depths[id] = 0;
    this.used--;
    return 0;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    // A missing or unknown key starts over at the first id, as the kernel's stack_map_get_next_key.
    let id = 0;
    if (keyAddr !== 0) {
      const k = this.dv.getUint32(keyAddr, true);
      id = k < this.buckets && this.depths[k] !== 0 ? k + 1 : 0;
    }
    while (id < this.buckets && this.depths[id] === 0) id++;
    if (id >= this.buckets) return -Errno.ENOENT;
    this.dv.setUint32(outAddr, id, true);
    return 0;
  }
}
