// The one map-type registry: for each kernel map type, how to check a spec (the kernel's alloc_check
// rules and errnos, and the size limits its map_alloc enforces before allocating), how to create it, and
// what the verifier needs to know (helpers that may use it, what a lookup returns). `createMap` is the
// only constructor other modules call: it checks the spec, charges the map's memory at its largest
// (./cost.ts) against the address space's limit, and only then allocates.
//
// Creation limits of the kernel (6.18, x86-64, as root), checked against it in test/maps/limits.test.ts:
// hash maps at most 2^27 entries (E2BIG: the bucket array must stay under 4 GiB), key + value under
// KMALLOC_MAX_SIZE - 48; arrays a value size up to INT_MAX (E2BIG past it), per-CPU values up to 32 KiB;
// LPM values up to KMALLOC_MAX_SIZE - 280 (EINVAL); queue/stack values up to KMALLOC_MAX_SIZE (E2BIG);
// DEVMAP_HASH at most 2^31 entries (EINVAL); CPUMAP at most NR_CPUS (E2BIG). Beyond those the kernel
// allocates what was asked: an array of 0xffffffff values, a ring buffer of 2 GiB, a queue of 2^32 slots
// fail with ENOMEM when they exceed its memory, and so do they here past the map memory limit (which is
// never more than the address space, at most 4 GiB). The kernel's LPM tries and BPF_F_NO_PREALLOC hashes
// allocate per element, so it accepts any max_entries for them; here they are charged at their largest.

import { MapError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import { ArrayMap } from './array.js';
import { type MapBase, type MapOptions, roundUp8 } from './base.js';
import { BloomFilterMap } from './bloom.js';
import { CgroupStorageMap, checkCgroupStorage } from './cgroup-storage.js';
import { chargeMapMemory, hashCapacity, mapMemory } from './cost.js';
import { RedirectArrayMap } from './devmap.js';
import { FdArrayMap } from './fdarray.js';
import { HashMap } from './hash.js';
import { LocalStorageMap } from './local-storage.js';
import { LpmTrieMap } from './lpm.js';
import { PerfEventArrayMap } from './perf.js';
import { QueueStackMap } from './queue.js';
import { RingBufMap } from './ringbuf.js';
import { SocketMap } from './sockmap.js';
import { F_STACK_BUILD_ID, PERF_MAX_STACK, StackTraceMap } from './stack-trace.js';
import type { ArrayLayout, HashLayout, RuntimeMap } from './types.js';
import { UserRingBufMap } from './user-ringbuf.js';

// Creation flags (include/uapi/linux/bpf.h).
const F = {
  NO_PREALLOC: 0x1,
  NO_COMMON_LRU: 0x2,
  NUMA_NODE: 0x4,
  RDONLY: 0x8,
  WRONLY: 0x10,
  ZERO_SEED: 0x40,
  RDONLY_PROG: 0x80,
  WRONLY_PROG: 0x100,
  MMAPABLE: 0x400,
  PRESERVE_ELEMS: 0x800,
  INNER_MAP: 0x1000,
} as const;
const ACCESS_MASK = F.RDONLY | F.WRONLY | F.RDONLY_PROG | F.WRONLY_PROG;
const ARRAY_FLAGS = F.NUMA_NODE | F.MMAPABLE | ACCESS_MASK | F.PRESERVE_ELEMS | F.INNER_MAP;
const HASH_FLAGS = F.NO_PREALLOC | F.NO_COMMON_LRU | F.NUMA_NODE | ACCESS_MASK | F.ZERO_SEED;
const LPM_FLAGS = F.NO_PREALLOC | F.NUMA_NODE | ACCESS_MASK;
const QUEUE_FLAGS = F.NUMA_NODE | ACCESS_MASK;
const RINGBUF_FLAGS = F.NUMA_NODE;
/** The kernel's per-CPU allocation unit bounds a per-CPU value (PCPU_MIN_UNIT_SIZE). */
const PCPU_MIN_UNIT_SIZE = 32768;
/** KMALLOC_MAX_SIZE on x86-64 (4 KiB pages, MAX_PAGE_ORDER 10). */
const KMALLOC_MAX_SIZE = 4 * 1024 * 1024;
const HTAB_ELEM_SIZE = 48;
/** htab_map_alloc: n_buckets (max_entries rounded up to a power of two) * 16 bytes must fit a u32. */
const HTAB_MAX_ENTRIES = 2 ** 27;
/** array_map_alloc_check: values up to INT_MAX bytes. */
const ARRAY_VALUE_MAX = 0x7fffffff;
/** trie_alloc: a value must fit a node with the largest key (LPM_DATA_SIZE_MAX 256, node header 24). */
const LPM_VALUE_MAX = KMALLOC_MAX_SIZE - 256 - 24;
/** dev_map_init_map: a DEVMAP_HASH's entries (its bucket count must be a power of two in a u32). */
const DEVMAP_HASH_MAX_ENTRIES = 2 ** 31;

/** A failed creation check: errno (positive) and why. */
type Invalid = [errno: number, reason: string];

function accessOk(flags: number): boolean {
  return !((flags & F.RDONLY_PROG && flags & F.WRONLY_PROG) || (flags & F.RDONLY && flags & F.WRONLY));
}

function checkArray(s: MapSpec): Invalid | undefined {
  const percpu = s.type === MapType.PERCPU_ARRAY;
  if (s.maxEntries === 0) return [Errno.EINVAL, 'max_entries must be > 0'];
  if (s.keySize !== 4) return [Errno.EINVAL, `key size must be 4 for an array, got ${s.keySize}`];
  if (s.valueSize === 0) return [Errno.EINVAL, 'value size must be > 0'];
  if (s.flags & ~ARRAY_FLAGS || !accessOk(s.flags))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.type !== MapType.ARRAY && s.flags & (F.MMAPABLE | F.INNER_MAP)) {
    return [Errno.EINVAL, 'BPF_F_MMAPABLE and BPF_F_INNER_MAP only apply to BPF_MAP_TYPE_ARRAY'];
  }
  if (s.type !== MapType.PERF_EVENT_ARRAY && s.flags & F.PRESERVE_ELEMS) {
    return [Errno.EINVAL, 'BPF_F_PRESERVE_ELEMS only applies to perf event arrays'];
  }
  if (s.valueSize > ARRAY_VALUE_MAX) return [Errno.E2BIG, `value size above ${ARRAY_VALUE_MAX}`];
  if (percpu && roundUp8(s.valueSize) > PCPU_MIN_UNIT_SIZE)
    return [Errno.E2BIG, `per-CPU value size above ${PCPU_MIN_UNIT_SIZE}`];
  return undefined;
}

function checkFdArray(s: MapSpec, _o: MapOptions): Invalid | undefined {
  if (s.valueSize !== 4) return [Errno.EINVAL, `value size must be 4 (a reference), got ${s.valueSize}`];
  if (s.flags & (F.RDONLY_PROG | F.WRONLY_PROG))
    return [Errno.EINVAL, 'BPF_F_RDONLY_PROG/WRONLY_PROG not allowed'];
  return checkArray(s) ?? checkInner(s);
}

function checkInner(s: MapSpec): Invalid | undefined {
  if (s.type !== MapType.ARRAY_OF_MAPS && s.type !== MapType.HASH_OF_MAPS) return undefined;
  if (!s.innerMap) return [Errno.EBADF, 'a map-in-map needs an inner map template (innerMap)'];
  const t = s.innerMap.type;
  if (t === MapType.PROG_ARRAY || t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS) {
    return [KernelErrno.ENOTSUPP, 'inner map type not supported'];
  }
  return undefined;
}

function checkHash(s: MapSpec, o: MapOptions): Invalid | undefined {
  const lru = s.type === MapType.LRU_HASH || s.type === MapType.LRU_PERCPU_HASH;
  const percpu = s.type === MapType.PERCPU_HASH || s.type === MapType.LRU_PERCPU_HASH;
  if (s.flags & ~HASH_FLAGS || !accessOk(s.flags))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (lru && s.flags & F.NO_PREALLOC)
    return [KernelErrno.ENOTSUPP, 'LRU maps must be preallocated (no BPF_F_NO_PREALLOC)'];
  if (!lru && s.flags & F.NO_COMMON_LRU)
    return [Errno.EINVAL, 'BPF_F_NO_COMMON_LRU only applies to LRU maps'];
  if (s.maxEntries === 0 || s.keySize === 0 || s.valueSize === 0) {
    return [Errno.EINVAL, 'max_entries, key size and value size must be > 0'];
  }
  if (s.keySize + s.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE)
    return [Errno.E2BIG, 'key + value size too large'];
  if (percpu && roundUp8(s.valueSize) > PCPU_MIN_UNIT_SIZE)
    return [Errno.E2BIG, `per-CPU value size above ${PCPU_MIN_UNIT_SIZE}`];
  if (s.type === MapType.HASH_OF_MAPS) {
    if (s.valueSize !== 4) return [Errno.EINVAL, `value size must be 4 (a reference), got ${s.valueSize}`];
    const bad = checkInner(s);
    if (bad) return bad;
  }
  // A per-CPU LRU first rounds max_entries to whole CPUs (down when rounding up would overflow a u32).
  let n = hashCapacity(s, Math.max(1, o.cpus));
  if (n > 0xffffffff) n = s.maxEntries - (s.maxEntries % Math.max(1, o.cpus));
  if (n > HTAB_MAX_ENTRIES) {
    return [
      Errno.E2BIG,
      `max_entries ${n} above the kernel's ${HTAB_MAX_ENTRIES} for hash maps (its bucket array must stay under 4 GiB)`,
    ];
  }
  return undefined;
}

function checkLpm(s: MapSpec): Invalid | undefined {
  if (s.maxEntries === 0) return [Errno.EINVAL, 'max_entries must be > 0'];
  if (!(s.flags & F.NO_PREALLOC)) return [Errno.EINVAL, 'an LPM trie needs BPF_F_NO_PREALLOC'];
  if (s.flags & ~LPM_FLAGS || !accessOk(s.flags))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.keySize < 5 || s.keySize > 4 + 256)
    return [Errno.EINVAL, `key size must be 5..260 (u32 prefixlen + data), got ${s.keySize}`];
  if (s.valueSize < 1 || s.valueSize > LPM_VALUE_MAX)
    return [Errno.EINVAL, `value size must be 1..${LPM_VALUE_MAX}, got ${s.valueSize}`];
  return undefined;
}

function checkQueue(s: MapSpec): Invalid | undefined {
  if (s.keySize !== 0 || s.valueSize === 0 || s.maxEntries === 0) {
    return [Errno.EINVAL, 'queue/stack needs key size 0, value size > 0, max_entries > 0'];
  }
  if (s.flags & ~QUEUE_FLAGS || !accessOk(s.flags))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.valueSize > KMALLOC_MAX_SIZE) return [Errno.E2BIG, `value size above ${KMALLOC_MAX_SIZE}`];
  return undefined;
}

function checkRingbuf(s: MapSpec): Invalid | undefined {
  if (s.flags & ~RINGBUF_FLAGS) return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.keySize !== 0 || s.valueSize !== 0)
    return [Errno.EINVAL, 'ring buffer needs key size 0 and value size 0'];
  const n = s.maxEntries;
  if (n === 0 || (n & (n - 1)) !== 0 || n % 4096 !== 0) {
    return [
      Errno.EINVAL,
      `ring buffer size (max_entries) must be a power of 2 and a multiple of 4096, got ${n}`,
    ];
  }
  return undefined;
}

/** stack_map_alloc's checks: u32 ids, whole addresses (or build-id entries) up to perf's deepest stack. */
function checkStackTrace(s: MapSpec): Invalid | undefined {
  if (s.flags & ~(F.NUMA_NODE | F.RDONLY | F.WRONLY | F_STACK_BUILD_ID))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.maxEntries === 0 || s.keySize !== 4 || s.valueSize < 8 || s.valueSize % 8 !== 0) {
    return [Errno.EINVAL, 'needs key size 4, a value size that is a multiple of 8, max_entries > 0'];
  }
  const entry = s.flags & F_STACK_BUILD_ID ? 32 : 8;
  if (s.valueSize % entry !== 0 || s.valueSize / entry > PERF_MAX_STACK)
    return [Errno.EINVAL, `value size holds more than ${PERF_MAX_STACK} frames of ${entry} bytes`];
  // The bucket count, max_entries rounded up to a power of two, must stay within 2^31.
  if (s.maxEntries > 2 ** 31) return [Errno.E2BIG, `max_entries ${s.maxEntries} above 2^31`];
  return undefined;
}

/** sock_map_alloc / sock_hash_alloc: a u32 or u64 socket fd per entry; a map key up to the stack size. */
function checkSocketMap(s: MapSpec): Invalid | undefined {
  if (s.maxEntries === 0 || (s.valueSize !== 4 && s.valueSize !== 8))
    return [Errno.EINVAL, 'needs value size 4 or 8 (a socket fd) and max_entries > 0'];
  if (s.type === MapType.SOCKMAP ? s.keySize !== 4 : s.keySize === 0)
    return [Errno.EINVAL, s.type === MapType.SOCKMAP ? 'key size must be 4' : 'key size must be > 0'];
  if (s.flags & ~(F.NUMA_NODE | F.RDONLY | F.WRONLY))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if (s.keySize > 512) return [Errno.E2BIG, 'key size above 512 (the stack)'];
  return undefined;
}

/** bloom_map_alloc_check: values and no key, at most 15 hash functions (map_extra's low 4 bits). */
function checkBloom(s: MapSpec): Invalid | undefined {
  if (s.keySize !== 0 || s.valueSize === 0 || s.maxEntries === 0)
    return [Errno.EINVAL, 'needs key size 0, a value size and max_entries > 0'];
  if (s.flags & ~(F.NUMA_NODE | F.ZERO_SEED | ACCESS_MASK) || !accessOk(s.flags))
    return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  if ((s.mapExtra ?? 0n) & ~0xfn) return [Errno.EINVAL, 'map_extra holds only the hash count (0..15)'];
  return undefined;
}

/** bpf_local_storage_map_alloc_check: no preallocation, no entries, an int key, BTF for both sides. */
function checkLocalStorage(s: MapSpec): Invalid | undefined {
  const CLONE = 0x200;
  if (s.flags & ~(F.NO_PREALLOC | CLONE) || !(s.flags & F.NO_PREALLOC))
    return [Errno.EINVAL, 'flags must be BPF_F_NO_PREALLOC (and BPF_F_CLONE)'];
  if (s.maxEntries !== 0) return [Errno.EINVAL, 'max_entries must be 0 (one value per owner)'];
  if (s.keySize !== 4 || s.valueSize === 0) return [Errno.EINVAL, 'needs key size 4 (an fd) and a value'];
  if (!s.btfKeyTypeId || !s.btfValueTypeId) return [Errno.EINVAL, 'needs BTF key and value types'];
  // BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX less the 128-byte element header.
  if (s.valueSize > 65535 - 128) return [Errno.E2BIG, `value size above ${65535 - 128}`];
  return undefined;
}

/** NR_CPUS of a distribution kernel: the most entries a CPUMAP may have. */
const NR_CPUS = 8192;

function checkRedirect(s: MapSpec, o: MapOptions): Invalid | undefined {
  const values = s.type === MapType.XSKMAP ? [4] : [4, 8];
  if (s.maxEntries === 0 || s.keySize !== 4 || !values.includes(s.valueSize)) {
    return [Errno.EINVAL, `needs key size 4, value size ${values.join(' or ')}, max_entries > 0`];
  }
  const allowed = s.type === MapType.CPUMAP ? F.NUMA_NODE : F.NUMA_NODE | F.RDONLY | F.WRONLY;
  if (s.flags & ~allowed) return [Errno.EINVAL, `unsupported flags 0x${s.flags.toString(16)}`];
  const nrCpus = o.nrCpus ?? NR_CPUS;
  if (s.type === MapType.CPUMAP && s.maxEntries > nrCpus)
    return [Errno.E2BIG, `max_entries ${s.maxEntries} above NR_CPUS (${nrCpus})`];
  if (s.type === MapType.DEVMAP_HASH && s.maxEntries > DEVMAP_HASH_MAX_ENTRIES)
    return [Errno.EINVAL, `max_entries ${s.maxEntries} above ${DEVMAP_HASH_MAX_ENTRIES}`];
  return undefined;
}

/** What the verifier reads about a map type. */
export interface MapTypeInfo {
  readonly type: number;
  /** bpftool's name for it (`hash`, `lru_percpu_hash` ...). */
  readonly name: string;
  readonly perCpu: boolean;
  /** Helpers that may take a map of this type as their map argument. */
  readonly helpers: readonly string[];
  /** What map_lookup_elem returns: a pointer to value_size bytes, or the inner map (map-in-map). */
  readonly lookup: 'value' | 'inner_map' | 'none';
  /** The kernel's creation checks; undefined when the spec is acceptable. */
  check(spec: MapSpec, opts: MapOptions): [errno: number, reason: string] | undefined;
  create(space: AddressSpace, spec: MapSpec, opts: MapOptions): MapBase;
}

const DATA = ['map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'for_each_map_elem'];
/** Per-CPU maps also give another CPU's value (map_lookup_percpu_elem). */
const PERCPU_DATA = [...DATA, 'map_lookup_percpu_elem'];

/** BPF_F_LINK, the one creation flag a struct_ops map takes here (registered through a link). */
const STRUCT_OPS_FLAGS = 0x2000;

function checkStructOps(s: MapSpec): Invalid | undefined {
  if (s.keySize !== 4 || s.maxEntries !== 1 || s.valueSize === 0 || s.flags & ~STRUCT_OPS_FLAGS)
    return [
      Errno.EINVAL,
      'a struct_ops map has a 4-byte key, one entry, a value, and no flag but BPF_F_LINK',
    ];
  return undefined;
}

function info(
  type: number,
  name: string,
  check: MapTypeInfo['check'],
  create: MapTypeInfo['create'],
  extra: Partial<Pick<MapTypeInfo, 'perCpu' | 'helpers' | 'lookup'>> = {},
): MapTypeInfo {
  return { type, name, check, create, perCpu: false, helpers: DATA, lookup: 'value', ...extra };
}

const array = (sp: AddressSpace, s: MapSpec, o: MapOptions) =>
  new ArrayMap(sp, s, o, s.type === MapType.PERCPU_ARRAY);
const hash = (sp: AddressSpace, s: MapSpec, o: MapOptions) => new HashMap(sp, s, o);
const fdArray = (sp: AddressSpace, s: MapSpec, o: MapOptions) => new FdArrayMap(sp, s, o);

/**
 * The map types implemented, by kernel number: name, spec checks, constructor, the helpers that take them.
 */
export const MAP_TYPES: ReadonlyMap<number, MapTypeInfo> = new Map(
  [
    info(MapType.HASH, 'hash', checkHash, hash),
    info(MapType.ARRAY, 'array', checkArray, array),
    info(MapType.PROG_ARRAY, 'prog_array', checkFdArray, fdArray, { helpers: ['tail_call'], lookup: 'none' }),
    info(
      MapType.PERF_EVENT_ARRAY,
      'perf_event_array',
      checkFdArray,
      (sp, s, o) => new PerfEventArrayMap(sp, s, o),
      {
        helpers: [
          'perf_event_output',
          'perf_event_read',
          'perf_event_read_value',
          'skb_output',
          'xdp_output',
        ],
        lookup: 'none',
      },
    ),
    info(MapType.PERCPU_HASH, 'percpu_hash', checkHash, hash, { perCpu: true, helpers: PERCPU_DATA }),
    info(MapType.PERCPU_ARRAY, 'percpu_array', checkArray, array, { perCpu: true, helpers: PERCPU_DATA }),
    info(MapType.STACK_TRACE, 'stack_trace', checkStackTrace, (sp, s, o) => new StackTraceMap(sp, s, o), {
      helpers: ['get_stackid'],
      lookup: 'none',
    }),
    // Slots hold cgroup ids here (the kernel's, the cgroups behind the fds user space stores).
    info(MapType.CGROUP_ARRAY, 'cgroup_array', checkFdArray, fdArray, {
      helpers: ['skb_under_cgroup', 'current_task_under_cgroup'],
      lookup: 'none',
    }),
    // Socket maps: verified as the kernel does, always empty here (no sockets in user space).
    info(MapType.SOCKMAP, 'sockmap', checkSocketMap, (sp, s, o) => new SocketMap(sp, s, o), {
      helpers: [
        'sk_redirect_map',
        'sock_map_update',
        'msg_redirect_map',
        'sk_select_reuseport',
        'map_lookup_elem',
        'map_update_elem',
        'map_delete_elem',
      ],
    }),
    // reuseport_array_alloc_check: an array of u32 or u64 socket fds.
    info(
      MapType.REUSEPORT_SOCKARRAY,
      'reuseport_sockarray',
      (s) =>
        s.valueSize !== 4 && s.valueSize !== 8 ? [Errno.EINVAL, 'value size must be 4 or 8'] : checkArray(s),
      (sp, s, o) => new SocketMap(sp, s, o),
      { helpers: ['sk_select_reuseport'], lookup: 'none' },
    ),
    info(MapType.SOCKHASH, 'sockhash', checkSocketMap, (sp, s, o) => new SocketMap(sp, s, o), {
      helpers: [
        'sk_redirect_hash',
        'sock_hash_update',
        'msg_redirect_hash',
        'sk_select_reuseport',
        'map_lookup_elem',
        'map_update_elem',
        'map_delete_elem',
      ],
    }),
    ...(
      [
        [MapType.SK_STORAGE, 'sk_storage', 'sk'],
        [MapType.INODE_STORAGE, 'inode_storage', 'inode'],
        [MapType.TASK_STORAGE, 'task_storage', 'task'],
        [MapType.CGRP_STORAGE, 'cgrp_storage', 'cgrp'],
      ] as const
    ).map(([type, name, owner]) =>
      info(type, name, checkLocalStorage, (sp, s, o) => new LocalStorageMap(sp, s, o), {
        helpers: [`${owner}_storage_get`, `${owner}_storage_delete`],
        lookup: 'none',
      }),
    ),
    // One value per attached cgroup, reached by bpf_get_local_storage (./cgroup-storage.ts).
    ...(
      [
        [MapType.CGROUP_STORAGE, 'cgroup_storage'],
        [MapType.PERCPU_CGROUP_STORAGE, 'percpu_cgroup_storage'],
      ] as const
    ).map(([type, name]) =>
      info(type, name, checkCgroupStorage, (sp, s, o) => new CgroupStorageMap(sp, s, o), {
        perCpu: type === MapType.PERCPU_CGROUP_STORAGE,
        helpers: ['get_local_storage'],
        lookup: 'none',
      }),
    ),
    info(MapType.BLOOM_FILTER, 'bloom_filter', checkBloom, (sp, s, o) => new BloomFilterMap(sp, s, o), {
      helpers: ['map_push_elem', 'map_peek_elem'],
      lookup: 'none',
    }),
    info(MapType.LRU_HASH, 'lru_hash', checkHash, hash),
    info(MapType.LRU_PERCPU_HASH, 'lru_percpu_hash', checkHash, hash, { perCpu: true, helpers: PERCPU_DATA }),
    info(MapType.LPM_TRIE, 'lpm_trie', checkLpm, (sp, s, o) => new LpmTrieMap(sp, s, o), {
      helpers: ['map_lookup_elem', 'map_update_elem', 'map_delete_elem'],
    }),
    info(MapType.ARRAY_OF_MAPS, 'array_of_maps', checkFdArray, fdArray, {
      helpers: ['map_lookup_elem'],
      lookup: 'inner_map',
    }),
    info(MapType.HASH_OF_MAPS, 'hash_of_maps', checkHash, hash, {
      helpers: ['map_lookup_elem'],
      lookup: 'inner_map',
    }),
    info(MapType.QUEUE, 'queue', checkQueue, (sp, s, o) => new QueueStackMap(sp, s, o), {
      helpers: ['map_push_elem', 'map_pop_elem', 'map_peek_elem'],
      lookup: 'none',
    }),
    info(MapType.STACK, 'stack', checkQueue, (sp, s, o) => new QueueStackMap(sp, s, o), {
      helpers: ['map_push_elem', 'map_pop_elem', 'map_peek_elem'],
      lookup: 'none',
    }),
    info(MapType.RINGBUF, 'ringbuf', checkRingbuf, (sp, s, o) => new RingBufMap(sp, s, o), {
      helpers: ['ringbuf_output', 'ringbuf_reserve', 'ringbuf_query', 'ringbuf_reserve_dynptr'],
      lookup: 'none',
    }),
    // Same creation rules as RINGBUF (the kernel's ringbuf_map_alloc serves both).
    info(MapType.USER_RINGBUF, 'user_ringbuf', checkRingbuf, (sp, s, o) => new UserRingBufMap(sp, s, o), {
      helpers: ['user_ringbuf_drain'],
      lookup: 'none',
    }),
    ...(
      [
        [MapType.DEVMAP, 'devmap'],
        [MapType.CPUMAP, 'cpumap'],
        [MapType.XSKMAP, 'xskmap'],
      ] as const
    ).map(([type, name]) =>
      info(type, name, checkRedirect, (sp, s, o) => new RedirectArrayMap(sp, s, o), {
        helpers: type === MapType.CPUMAP ? ['redirect_map'] : ['redirect_map', 'map_lookup_elem'],
      }),
    ),
    // struct_ops (src/elf/struct-ops.ts): the object's struct as one value, its function-pointer slots
    // holding the programs' ids once loaded; no helper takes it (bpf_struct_ops_map_alloc_check's rules).
    info(MapType.STRUCT_OPS, 'struct_ops', checkStructOps, array, { helpers: [], lookup: 'none' }),
    info(
      MapType.DEVMAP_HASH,
      'devmap_hash',
      (s, o) => (s.keySize === 0 ? [Errno.EINVAL, 'key size must be 4'] : checkRedirect(s, o)),
      hash,
      {
        helpers: ['redirect_map', 'map_lookup_elem'],
      },
    ),
  ].map((i) => [i.type, i]),
);

/** The implemented map type with kernel number `type`. */
export function mapTypeInfo(type: number): MapTypeInfo | undefined {
  return MAP_TYPES.get(type);
}

/** The implemented map type called `name` (`hash`, `array`, `ringbuf` ...). */
export function mapTypeByName(name: string): MapTypeInfo | undefined {
  for (const i of MAP_TYPES.values()) if (i.name === name) return i;
  return undefined;
}

/**
 * Check a spec as the kernel's BPF_MAP_CREATE would (`opts`: the runtime's CPUs, which per-CPU LRU
 * rounding depends on); throws MapError (EINVAL, E2BIG ...) naming the map.
 */
export function checkMapSpec(spec: MapSpec, opts: MapOptions = { cpus: 1 }): MapTypeInfo {
  const t = MAP_TYPES.get(spec.type);
  if (!t) throw new MapError(Errno.EINVAL, `map '${spec.name}': map type ${spec.type} is not supported`);
  for (const [field, v] of [
    ['key size', spec.keySize],
    ['value size', spec.valueSize],
    ['max_entries', spec.maxEntries],
    ['flags', spec.flags],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new MapError(Errno.EINVAL, `map '${spec.name}': ${field} must be a u32, got ${v}`);
    }
  }
  const bad = t.check(spec, opts);
  if (bad) throw new MapError(bad[0], `map '${spec.name}' (${t.name}): ${bad[1]}`);
  return t;
}

/**
 * Create a live map in `space`: values in linear memory, handle address = identity. Initial `contents`
 * of the spec are written with BPF_ANY. Throws MapError for a spec the kernel would refuse, and
 * MapError(ENOMEM) when the map's memory at its largest is over the space's `mapMemoryLimit` (checked
 * before anything is allocated) or the address space cannot hold it. `close()` gives the memory back.
 */
export function createMap(space: AddressSpace, spec: MapSpec, opts: MapOptions = { cpus: 1 }): MapBase {
  const t = checkMapSpec(spec, opts);
  const bytes = mapMemory(spec, Math.max(1, opts.cpus));
  chargeMapMemory(
    space,
    spec,
    `${/^[aeiou]/.test(t.name) ? 'an' : 'a'} ${t.name} of ${spec.maxEntries} entries`,
    bytes,
  );
  let map: MapBase;
  try {
    map = t.create(space, spec, opts);
  } catch (e) {
    space.mapMemoryCharged -= bytes;
    if (e instanceof MapError) throw e;
    throw new MapError(Errno.ENOMEM, `map '${spec.name}': cannot allocate: ${(e as Error).message}`);
  }
  map.memoryCharged = bytes;
  try {
    for (const { key, value } of spec.contents ?? []) map.update(key, value);
  } catch (e) {
    map.close();
    throw e;
  }
  return map;
}

/** Array layout for inlined lookups, for plain ARRAY maps only (undefined otherwise). */
export function arrayLayout(map: RuntimeMap): ArrayLayout | undefined {
  return map instanceof ArrayMap && map.spec.type === MapType.ARRAY ? map : undefined;
}

/**
 * Index layout for inlined lookups, for plain HASH maps only: per-CPU values need the CPU, LRU lookups
 * set a reference bit, and a map of maps returns the inner map, so those go through the map's code.
 */
export function hashLayout(map: RuntimeMap): HashLayout | undefined {
  if (!(map instanceof HashMap) || map.spec.type !== MapType.HASH) return undefined;
  const { index } = map;
  return {
    header: index.header.start,
    seed: index.seed,
    keySize: map.spec.keySize,
    valueOffset: map.keyStride,
  };
}
