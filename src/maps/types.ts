// What a map is to the rest of the system. Maps live in the runtime's linear memory: values are reached by
// pointer from programs; keys and values are plain bytes from JavaScript. One registry (./registry.ts)
// creates them by type.

import { TsbpfError } from '../errors.js';

/** Map type numbers, as in the kernel's `enum bpf_map_type`. */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  QUEUE: 22,
  STACK: 23,
  DEVMAP_HASH: 25,
  RINGBUF: 27,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** Update flags of map_update_elem. */
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

/** Map creation flags used here. */
export const MapFlag = { NO_PREALLOC: 1, RDONLY_PROG: 0x80, WRONLY_PROG: 0x100, MMAPABLE: 0x400 } as const;

/** Negative errno values returned to programs and thrown (as MapError) to JS. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOTSUP: 95,
} as const;

/** Plain description of a map, parsed from an object file or written by hand; editable before load. */
export interface MapSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** For map-in-map types: the spec all inner maps must match. */
  innerMap?: MapSpec;
  /** LIBBPF_PIN_BY_NAME = 1. */
  pinning?: number;
  /** NUMA node to allocate on (BTF `numa_node`, legacy 28-byte `numa_node`); with BPF_F_NUMA_NODE. */
  numaNode?: number;
  /** BTF `map_extra` (bloom filter hash count ...). */
  mapExtra?: bigint;
  /** Initial contents (global data sections, `--map-set`, BTF `values`). Key/value bytes in memory order. */
  contents?: { key: Uint8Array; value: Uint8Array }[];
  /** BTF type ids of key and value when known (for pretty-printing). */
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Map is `.rodata`/`.kconfig`: frozen for programs after load. */
  readonly?: boolean;
  /** Offset of a `struct bpf_spin_lock` in the value (from BTF); enables the BPF_F_LOCK update flag. */
  spinLockOffset?: number;
}

/** Thrown to JavaScript callers when a map operation fails; `errno` is positive (ENOENT ...). */
export class MapError extends TsbpfError {
  override name = 'MapError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/** A live map inside a runtime. */
export interface BpfMap {
  readonly spec: MapSpec;
  /** Address of the map handle in linear memory (what lddw gives a program). */
  readonly addr: number;

  // --- program side: addresses in linear memory; return values as the helpers return them ---
  /** Address of the value for the key at `keyAddr`, or 0. For per-CPU maps, the value of the current CPU. */
  lookupPtr(keyAddr: number, cpu: number): number;
  /** 0, or a negative errno. */
  updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  deletePtr(keyAddr: number): number;

  // --- user side: bytes in memory order ---
  /** The value (all CPUs concatenated for per-CPU maps: nCpus * round_up(valueSize, 8) bytes). */
  lookup(key: Uint8Array): Uint8Array | undefined;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): void;
  /** The key after `key` in the kernel's iteration order, the first key for undefined, undefined at the end. */
  nextKey(key: Uint8Array | undefined): Uint8Array | undefined;
}

/** Kernel-internal errno values the bpf() syscall can return for maps (not in libc's errno.h). */
export const KernelErrno = {
  /** ENOTSUPP: operation not supported by this map type (e.g. lookup on a ring buffer). */
  ENOTSUPP: 524,
  EACCES: 13,
  EOPNOTSUPP: 95,
} as const;

/**
 * Where an ARRAY map keeps its values, so an engine can inline lookups:
 * value of index i (i < maxEntries) is at `valuesBase + i * valueStride`.
 */
export interface ArrayLayout {
  readonly valuesBase: number;
  readonly valueStride: number;
  readonly maxEntries: number;
}

/**
 * What compiled code needs to look a key up in a hash map's index (src/maps/hash-index.ts) without
 * leaving WebAssembly: the index header's address, the hash seed, the key size, and where the value
 * starts after an entry's key bytes.
 */
export interface HashLayout {
  readonly header: number;
  readonly seed: number;
  readonly keySize: number;
  readonly valueOffset: number;
}
