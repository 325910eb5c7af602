// Maps as the kernel names them: types (`enum bpf_map_type`), creation and update flags, and MapSpec, the
// plain description of a map that an object file gives and a loader creates.

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
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** Update flags of map_update_elem. */
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

/** Map creation flags used here. */
export const MapFlag = { NO_PREALLOC: 1, RDONLY_PROG: 0x80, WRONLY_PROG: 0x100, MMAPABLE: 0x400 } as const;

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
  /**
   * The value's `__kptr` fields (BTF type tags on pointer members): where each is, the kernel struct it holds
   * and whether it holds a reference (`kptr`; `kptr_untrusted` holds none). bpf_kptr_xchg moves pointers in
   * and out of them.
   */
  kptrs?: MapKptr[];
  /** Offset of a `struct bpf_timer` in the value (from BTF): where bpf_timer_* helpers take it. */
  timerOffset?: number;
  /** STRUCT_OPS maps: the kernel struct the value implements and which programs its members name. */
  structOps?: StructOpsSpec;
}

/**
 * What a struct_ops map (a `.struct_ops` / `.struct_ops.link` variable) implements: the kernel struct, and
 * the object's struct member by member (`contents` holds its bytes, function pointers zero), so that a
 * loader can lay the value out as the running kernel's struct is (members matched by name).
 */
export interface StructOpsSpec {
  /** The kernel struct (`tcp_congestion_ops`): the object's type name without a `___flavour` suffix. */
  struct: string;
  /** The object's members in order: byte offset and size in the value, and for function pointers the program. */
  members: { name: string; offset: number; size: number; funcPtr: boolean; program?: string }[];
}

/** A `__kptr` field of a map value. */
export interface MapKptr {
  offset: number;
  /** The kernel struct pointed to (`task_struct`). */
  struct: string;
  referenced: boolean;
}
