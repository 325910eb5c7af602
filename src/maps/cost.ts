// What a map costs, and the account it is charged to. A map's cost is its memory at its largest — every
// one of max_entries elements present: the linear memory it would take and the JS-side structures that
// grow with it (index mirrors, lists, trie nodes). createMap charges it against the address space's
// `mapMemoryLimit` before allocating anything and `close()` gives it back; past the limit creation fails
// with ENOMEM, as the kernel's does when its memcg charge fails. Maps still allocate lazily (a hash map of
// 2^24 entries holding ten takes little), so the charge is a bound, not what the map takes now. Maps the
// kernel does not preallocate (LPM tries, BPF_F_NO_PREALLOC hashes) are charged at their largest too:
// creation is the one place a map can fail for memory, never an update half-way through a program.
//
// The JS figures are V8's on x86-64 with pointer compression, measured (an LPM trie node: ~350 bytes with
// its key copy) or exact (typed arrays); a structure that doubles is charged at its peak, while it copies.

import { MapError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import { roundUp8 } from './base.js';
import { bloomBits } from './bloom.js';
import { indexBuckets } from './hash-index.js';
import { LRU_NODE_BYTES } from './lru.js';

/** The map's JS objects whatever its size (the map, its handle and scratch records, small arrays). */
const MAP_OBJECT_BYTES = 1024;
/** Per hash slot: the iteration list's next/prev (i32 each, x1.5 while it doubles). */
const ORDER_SLOT_BYTES = 12;
/** Per hash slot of a map without LRU: its place on the JS free-slot array once deleted. */
const FREE_SLOT_BYTES = 8;
/** Per index bucket: the table in linear memory and its JS mirror (i32 each), x1.5 while it doubles. */
const INDEX_BUCKET_BYTES = 12;
/** One LPM trie node in V8 (the object and its copy of the key's data, without the data bytes). */
const LPM_NODE_BYTES = 360;
/** JS bytes per buffered perf record (the record object and its data array), at least one per 16 bytes. */
const PERF_RECORD_BYTES = 192;
const PERF_MIN_SAMPLE = 16;

/** Bytes every map takes besides its elements: the handle, the scratch area, the JS objects. */
function baseBytes(spec: MapSpec, valueCpus: number): number {
  return (
    8 + 2 * roundUp8(Math.max(spec.keySize, 8)) + roundUp8(spec.valueSize) * valueCpus + MAP_OBJECT_BYTES
  );
}

function perCpuType(type: number): boolean {
  return type === MapType.PERCPU_ARRAY || type === MapType.PERCPU_HASH || type === MapType.LRU_PERCPU_HASH;
}

/** Elements of a hash map: max_entries, rounded up to whole CPUs for a per-CPU LRU (as the kernel does). */
export function hashCapacity(spec: MapSpec, cpus: number): number {
  const lru = spec.type === MapType.LRU_HASH || spec.type === MapType.LRU_PERCPU_HASH;
  const perCpuLru = lru && (spec.flags & 2) !== 0; // BPF_F_NO_COMMON_LRU
  return perCpuLru ? Math.ceil(spec.maxEntries / cpus) * cpus : spec.maxEntries;
}

/**
 * Bytes a map of `spec` may come to take in a runtime of `cpus` CPUs, everything counted (see the file
 * comment). The spec must have passed the registry's creation checks.
 */
export function mapMemory(spec: MapSpec, cpus: number): number {
  const t = spec.type;
  const valueCpus = perCpuType(t) ? Math.max(1, cpus) : 1;
  const base = baseBytes(spec, valueCpus);
  const n = spec.maxEntries;
  const value = roundUp8(spec.valueSize);
  switch (t) {
    case MapType.ARRAY:
    case MapType.PERCPU_ARRAY:
      return base + value * valueCpus * n;
    case MapType.PROG_ARRAY:
    case MapType.ARRAY_OF_MAPS:
    case MapType.PERF_EVENT_ARRAY:
    case MapType.CGROUP_ARRAY:
      return base + roundUp8(4 * n); // one u32 reference per slot (perf buffers are charged as they open)
    case MapType.DEVMAP:
    case MapType.CPUMAP:
    case MapType.XSKMAP:
      return base + value * n + n; // values, and a byte per slot saying whether it is set
    case MapType.HASH:
    case MapType.PERCPU_HASH:
    case MapType.LRU_HASH:
    case MapType.LRU_PERCPU_HASH:
    case MapType.HASH_OF_MAPS:
    case MapType.DEVMAP_HASH: {
      const lru = t === MapType.LRU_HASH || t === MapType.LRU_PERCPU_HASH;
      const slots = hashCapacity(spec, Math.max(1, cpus));
      const entry = roundUp8(spec.keySize) + value * valueCpus;
      const perSlot = entry + ORDER_SLOT_BYTES + (lru ? 1.5 * LRU_NODE_BYTES : FREE_SLOT_BYTES);
      return base + slots * perSlot + INDEX_BUCKET_BYTES * indexBuckets(slots) + 8;
    }
    case MapType.LPM_TRIE:
      // A value slot and, with an intermediate node per element at worst, two trie nodes per element.
      return base + n * (value + FREE_SLOT_BYTES + 2 * (LPM_NODE_BYTES + roundUp8(spec.keySize - 4)));
    case MapType.QUEUE:
    case MapType.STACK:
      // max_entries + 1 slots, and the half-size ring it was copied from while it last doubled.
      return base + Math.ceil(1.5 * (n + 1) * spec.valueSize);
    case MapType.SOCKMAP:
    case MapType.SOCKHASH:
    case MapType.REUSEPORT_SOCKARRAY:
      return base; // always empty here
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      return base + 64 * (value + 64); // at most MAX_OWNERS values (./local-storage.ts)
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      // The one storage (./cgroup-storage.ts), a value per CPU for the per-CPU type.
      return base + value * (t === MapType.PERCPU_CGROUP_STORAGE ? Math.max(1, cpus) : 1);
    case MapType.BLOOM_FILTER: // its bit array (./bloom.ts)
      return base + bloomBits(spec) / 8;
    case MapType.STACK_TRACE:
      // A value per bucket (max_entries rounded up to a power of two) and its hash and depth.
      return base + 2 ** Math.ceil(Math.log2(n)) * (spec.valueSize + 8);
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      return base + 2 * n; // the data area and its mirror
    default:
      return base + (value + roundUp8(spec.keySize)) * n;
  }
}

/** Bytes a perf buffer of `bytes` capacity may take: its samples and the JS records holding them. */
export function perfBufferMemory(bytes: number): number {
  return bytes + Math.ceil(bytes / PERF_MIN_SAMPLE) * PERF_RECORD_BYTES;
}

/** `n` bytes for people: 512 B, 64.0 KiB, 1.5 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * Charge `bytes` for `what` against `space`'s map memory limit; throws MapError(ENOMEM) naming the map,
 * the size and the limit when it does not fit.
 */
export function chargeMapMemory(
  space: AddressSpace,
  spec: MapSpec,
  what: string,
  bytes: number,
  smaller = 'lower max_entries',
): void {
  const limit = space.mapMemoryLimit;
  const used = space.mapMemoryCharged;
  if (used + bytes <= limit) {
    space.mapMemoryCharged = used + bytes;
    return;
  }
  throw new MapError(
    Errno.ENOMEM,
    `map '${spec.name}': ${what} needs ${formatBytes(bytes)}, over the map memory limit of ` +
      `${formatBytes(limit)} (${formatBytes(used)} charged to other maps); raise ` +
      `RuntimeOptions.mapMemoryLimit (or AddressSpace.mapMemoryLimit), or ${smaller}`,
  );
}
