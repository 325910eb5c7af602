// What a helper is: an id, a name, a prototype the verifier checks calls against, and an implementation
// that the interpreter and the JIT call. One registry (./registry.ts) holds them all.

import type { RuntimeMap } from '../maps/types.js';
import type { AddressSpace } from '../memory/address-space.js';

/** Argument kinds of a helper prototype (the kernel's `enum bpf_arg_type`, the subset we need). */
export type ArgType =
  | 'anything' // any initialised value (scalar or pointer)
  | 'unchecked' // not checked, may be unset (the kernel's ARG_DONTCARE): trace_printk's optional arguments
  | 'scalar' // a scalar (no pointer)
  | 'const_map_ptr' // a map (from lddw)
  | 'map_key' // pointer to key_size readable bytes (stack, map value, packet)
  | 'map_value' // pointer to value_size readable bytes
  | 'uninit_map_value' // pointer to value_size writable bytes (pop/peek output)
  | 'mem' // pointer to readable memory whose size is the next argument
  | 'mem_or_null' // like mem, or NULL (with size 0)
  | 'uninit_mem' // pointer to writable memory whose size is the next argument (helper fills it)
  | 'const_size' // size of the previous mem argument, > 0
  | 'const_size_or_zero' // size of the previous mem argument, >= 0
  | 'const_alloc_size_or_zero' // a known constant size to allocate (ringbuf_reserve), >= 0
  | 'ctx' // the program's context pointer
  | 'const_str' // pointer to a NUL-terminated string in read-only map value
  | 'func' // callback: a function pointer (lddw src=4)
  | 'ptr_to_stack' // pointer to the stack (for callback ctx)
  | 'ptr_to_stack_or_null'
  | 'ringbuf_mem' // memory from ringbuf_reserve (released by submit/discard)
  | 'spin_lock' // pointer to a bpf_spin_lock inside a map value
  | 'long_ptr' // pointer to 8 writable bytes (strtol result)
  // ARG_PTR_TO_BTF_ID (a task_struct ...): a pointer to a kernel struct typed by BTF, of the proto's btfStruct
  | 'btf_id'
  | 'btf_id_or_null' // the same, or NULL (task_storage_get)
  | 'map_value_or_null' // pointer to value_size readable bytes, or NULL (local storage's initial value)
  | 'int_ptr' // pointer to 4 readable and writable bytes (check_mtu's length in, MTU out)
  | 'ctx_or_null' // the context pointer, or NULL (get_netns_cookie)
  | 'sock_common' // ARG_PTR_TO_BTF_ID_SOCK_COMMON: a socket from sk_lookup_* (checked against NULL)
  | 'sock_or_null' // ARG_PTR_TO_SOCKET_OR_NULL: a full socket, or NULL (sk_lookup's sk_assign)
  | 'sock_release' // the same, released by the call (sk_release: OBJ_RELEASE)
  // ARG_PTR_TO_FIXED_SIZE_MEM: readable memory of the size the proto's fixedSizes gives this argument
  // (tcp_raw_*_syncookie: the IP and TCP headers)
  | 'fixed_mem'
  | 'timer' // ARG_PTR_TO_TIMER: a pointer exactly at the struct bpf_timer of a map value
  | 'dynptr' // ARG_PTR_TO_DYNPTR: an initialised dynptr (on the stack, or one the kernel passes a callback)
  | 'dynptr_uninit' // the same with MEM_UNINIT: 16 bytes of stack the helper makes a dynptr in
  | 'dynptr_release'; // a ring-buffer dynptr on the stack, released by the call (submit/discard_dynptr)

/** Return kinds (the kernel's `enum bpf_return_type`, subset). */
export type RetType =
  | 'integer' // a scalar
  | 'void' // nothing meaningful (r0 is unreadable after the call)
  | 'map_value_or_null' // pointer to the map's value, or NULL
  | 'ringbuf_mem_or_null' // pointer to reserved ring buffer memory of the requested size, or NULL
  | 'sock_or_null' // RET_PTR_TO_SOCKET_OR_NULL: a referenced socket (released by sk_release), or NULL
  | 'sock_common_or_null' // RET_PTR_TO_SOCK_COMMON_OR_NULL (skc_lookup_tcp), referenced like a socket
  | 'sock_cast_or_null' // RET_PTR_TO_SOCKET_OR_NULL of a cast (sk_fullsock): R1's socket, its reference kept
  // RET_PTR_TO_BTF_ID_TRUSTED (get_current_task_btf): a pointer to the proto's btfStruct.
  | 'btf_id'
  // RET_PTR_TO_BTF_ID_OR_NULL (skc_to_tcp_sock, sock_from_file) and RET_PTR_TO_TCP_SOCK_OR_NULL (tcp_sock):
  // a typed pointer to retBtfStruct, or NULL; a cast of a socket keeps the argument's reference.
  | 'btf_id_or_null'
  // RET_PTR_TO_MAP_VALUE (get_local_storage): the map's value, never NULL.
  | 'map_value'
  // RET_PTR_TO_SOCKET_OR_NULL of get_listener_sock: a socket the kernel holds no reference on, or NULL.
  | 'sock_noref_or_null'
  // RET_PTR_TO_DYNPTR_MEM_OR_NULL (bpf_dynptr_data): R3 (a constant) bytes of the R1 dynptr's data, or NULL.
  | 'dynptr_mem_or_null';

/**
 * A helper's prototype, as the verifier checks its calls: the kinds of its result and arguments, and its side
 * effects.
 */
export interface HelperProto {
  ret: RetType;
  args: readonly ArgType[];
  /** Helper may change packet data (adjust_head ...): the verifier invalidates packet pointers after it. */
  changesPacket?: boolean;
  /** For map_value_or_null returns from lookups: which arg holds the map (1-based register). */
  /** The kernel struct a 'btf_id' argument or result points to (`task_struct`). */
  btfStruct?: string;
  /** The struct a 'btf_id' result points to when it differs from the arguments' (`pt_regs`). */
  retBtfStruct?: string;
  /** Sizes of 'fixed_mem' arguments, by argument index (0-based; other entries unused). */
  fixedSizes?: readonly number[];
  /**
   * The arguments for a program type whose prototype of this helper is its own (the kernel's func_proto
   * by type: sk_assign is bpf_sk_lookup_assign for sk_lookup); `args` for the other types.
   */
  argsFor?: Readonly<Record<string, readonly ArgType[]>>;
}

/** Per-run state the runtime keeps for the program being executed and its helpers. */
export interface Invocation {
  /** Address of the context the program got in r1. */
  ctx: number;
  /** Program type of the running program (hooks/types.ts). */
  programType: string;
  /** XDP/skb: the packet region (its start/end move with adjust_head/adjust_tail). */
  packet?: import('../memory/address-space.js').Region;
  /** Set by tail_call; the engine jumps there after the helper returns 0. */
  tailCall?: number;
  /** Number of tail calls taken in this run (limit 33 as in the kernel). */
  tailCalls: number;
  /** Set by redirect/redirect_map. */
  redirect?: { ifindex: number; flags: number; map?: string; key?: number };
  /** An iterator program's output (bpf_seq_printf, bpf_seq_write), when a hook collects it. */
  seq?: string[];
  /** Ring buffers this run reserved samples in (released for it if it ends holding them). */
  rings?: { abandon(owner: object): void }[];
}

/** What helper implementations can reach: the memory, maps, the clock, output. */
export interface HelperEnv {
  readonly space: AddressSpace;
  /** The map whose handle lives at `addr`, if any. */
  mapAt(addr: number): RuntimeMap | undefined;
  readonly invocation: Invocation;
  /** Monotonic clock in nanoseconds: `BigInt(nowNsNumber())`, the same clock. */
  nowNs(): bigint;
  /** The monotonic clock as a number, a safe integer (time since boot stays far below 2^53 ns). */
  nowNsNumber(): number;
  /** A uniformly random 32-bit unsigned integer. */
  random32(): number;
  /** The simulated CPU the program runs on (per-CPU maps). */
  readonly cpu: number;
  /** How many CPUs the runtime simulates (nr_cpu_ids: cpumask kfuncs). */
  readonly cpus?: number;
  /** Output of bpf_trace_printk, one line per call. */
  trace(line: string): void;
  /** Call a callback (bpf_loop, for_each_map_elem): a subprogram at slot `target` with r1-r5. */
  callback(target: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint): bigint;
  /** The running engine's callback entry (what `callback` calls); kept by timers to run callbacks later. */
  readonly callbackRunner?: (
    target: number,
    r1: bigint,
    r2: bigint,
    r3: bigint,
    r4: bigint,
    r5: bigint,
  ) => bigint;
  /** Current process facts for get_current_* helpers. */
  readonly task: TaskModel;
  /** The network fib_lookup routes over (default: a fresh namespace, loopback only: ./route.ts). */
  readonly net?: NetModel;
}

/**
 * The current task as helpers see it. The optional parts have defaults (./trace.ts, ./stack.ts): the
 * cgroup path is the root alone (id 1), the stacks a fixed three-frame model.
 */
export interface TaskModel {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: string;
  /** Cgroup ids from the root (level 0) down to the task's own cgroup (get_current_cgroup_id ...). */
  cgroupPath?: readonly number[];
  /** Kernel call stack, innermost first (instruction addresses; get_stackid / get_stack). */
  kernelStack?: readonly bigint[];
  /** User call stack, innermost first (BPF_F_USER_STACK). */
  userStack?: readonly bigint[];
  /** The parent's pid (default 1) and name (default `init`), in the parent's task_struct. */
  ppid?: number;
  parentComm?: string;
  /** How get_current_task lays out task_struct and cred (default: x86-64 Linux 6.18's). */
  layout?: TaskLayout;
}

/** An interface of the modelled network. */
export interface InterfaceModel {
  ifindex: number;
  name?: string;
  /** Its MAC address (`aa:bb:cc:dd:ee:ff`), the source MAC of what it sends. */
  mac?: string;
  mtu: number;
  /** net.ipv4.conf.<dev>.forwarding: fib_lookup refuses lookups from an interface without it. */
  forwarding: boolean;
  /** Link-layer header bytes the MTU does not count (default 14, Ethernet and loopback). */
  hardHeaderLen?: number;
}

/** A route: prefix (`10.0.0.0/8`, `fd00::/64`), out interface, gateway, and the neighbour's MAC. */
export interface RouteModel {
  prefix: string;
  ifindex: number;
  gateway?: string;
  /** The preferred source address (BPF_FIB_LOOKUP_SRC). */
  src?: string;
  metric?: number;
  /** The route's locked MTU (`mtu lock N`: forwarding uses it; default the interface's). */
  mtu?: number;
  /** The next hop's MAC (a resolved neighbour); none: BPF_FIB_LKUP_RET_NO_NEIGH. */
  dmac?: string;
  /** Source MAC (default the interface's). */
  smac?: string;
  /** unicast (default); local, broadcast ...: not forwarded; blackhole, unreachable, prohibit. */
  type?: 'unicast' | 'local' | 'blackhole' | 'unreachable' | 'prohibit';
}

/** The network fib_lookup sees: interfaces and one routing table. */
export interface NetModel {
  interfaces: readonly InterfaceModel[];
  routes: readonly RouteModel[];
  /** The namespace's cookie (get_netns_cookie; default 1) and the test-run socket's (default 1). */
  netnsCookie?: number;
  socketCookie?: number;
}

/** A field of a modelled kernel struct: byte offset and size. */
export interface FieldAt {
  offset: number;
  size: number;
}

/** task_struct fields the task model fills (./task-model.ts). */
export const TASK_FIELD_NAMES = [
  'pid',
  'tgid',
  'comm',
  'real_parent',
  'parent',
  'group_leader',
  'real_cred',
  'cred',
] as const;
/** cred fields the task model fills (kuid_t/kgid_t: a u32 each). */
export const CRED_FIELD_NAMES = ['uid', 'gid', 'euid', 'egid', 'suid', 'sgid', 'fsuid', 'fsgid'] as const;

/** Where the modelled fields lie in task_struct and cred, and the structs' sizes (from a BTF: taskLayout). */
export interface TaskLayout {
  taskSize: number;
  credSize: number;
  task: Partial<Record<(typeof TASK_FIELD_NAMES)[number], FieldAt>>;
  cred: Partial<Record<(typeof CRED_FIELD_NAMES)[number], FieldAt>>;
}

/** A helper's implementation: the environment and r1 to r5 in, r0 out. */
export type HelperImpl = (
  env: HelperEnv,
  r1: bigint,
  r2: bigint,
  r3: bigint,
  r4: bigint,
  r5: bigint,
) => bigint;

/**
 * How a helper's number form receives an argument: `u32` / `s32` the low 32 bits as a C `u32` / `int`;
 * `word` the 64-bit register as a signed number, exact within ±2^53 and the nearest double beyond, so
 * only for pointers, sizes and flags, where a value that large is invalid either way.
 */
export type NumberArg = 'u32' | 's32' | 'word';

/**
 * A helper on plain numbers, for engines that keep registers out of BigInt (the JIT's imports, the
 * interpreter's Int32 halves). The result is r0 as a safe integer.
 */
export interface NumberHelper {
  readonly args: readonly NumberArg[];
  readonly call: (env: HelperEnv, a: number, b: number, c: number, d: number, e: number) => number;
}

/**
 * A helper: its kernel id and name, its prototype for the verifier and its implementation for both engines.
 */
export interface HelperDef {
  readonly id: number;
  readonly name: string;
  readonly proto: HelperProto;
  readonly call: HelperImpl;
  /** The same helper on numbers (hot helpers have one; `call` is then derived from it). */
  readonly numbers?: NumberHelper;
  /** Program types that may call it; undefined means all. */
  readonly programTypes?: readonly string[];
  /**
   * Expected attach types that may call it, when the kernel decides by attach type too (bind: only
   * connect4/connect6 programs); undefined means every attach type of the allowed program types.
   */
  readonly attachTypes?: readonly string[];
  /**
   * fentry/fexit/fmod_ret programs may call it only when attached to one of these kernel functions (the
   * kernel's allow list: d_path's); iterators always may.
   */
  readonly attachTargets?: readonly string[];
}
