// Program types as the kernel defines them (BPF_PROG_TYPE_*, lower-cased): the context each one receives,
// which context bytes it may read or write and what a read yields, the return values it may produce, and
// whether it may touch packet data directly. Kept as data: the verifier checks against it, hooks read the
// offsets (e.g. `xdp_md`) from it.

import { PROGRAM_ATTACH_TYPES } from './attach-types.js';

/**
 * What a context load yields to the verifier: a number, a packet pointer, a socket (`sock`: never NULL,
 * `sock_or_null`: check it first; `sock_common_or_null`: only the fields every socket has), a writable
 * tracepoint's buffer (`tp_buffer`), the flow dissector's `bpf_flow_keys`, or a pointer to a kernel struct
 * typed by BTF (`btf`, with CtxField.btfStruct naming the struct).
 */
export type CtxYield =
  | 'scalar'
  | 'packet'
  | 'packet_end'
  | 'packet_meta'
  | 'sock'
  | 'sock_or_null'
  | 'sock_common_or_null'
  | 'flow_keys'
  | 'tp_buffer'
  | 'btf';

/**
 * How a field may be accessed.
 * - `exact`: only a load/store of exactly `size` bytes at the field's offset (e.g. `xdp_md.data`).
 * - `narrow`: reads of 1, 2, 4 ... up to `size` bytes at any offset inside the field aligned to the access
 *   size (the kernel's narrow loads); writes must be `size` bytes.
 * - `any`: any access aligned to its size inside the field (arrays such as `cb[5]`, `pt_regs`).
 */
export type CtxAccess = 'exact' | 'narrow' | 'any';

/** A field of a program type's context: where it is and how programs may access it. */
export interface CtxField {
  name: string;
  offset: number;
  size: number;
  read: boolean;
  write: boolean;
  access: CtxAccess;
  /** What a read yields; scalar unless said otherwise. The pointer fields are 4-byte loads of a pointer. */
  yields?: CtxYield;
  /** With `yields: 'btf'`: the kernel struct the pointer points to (`sk_buff`, `nf_hook_state`). */
  btfStruct?: string;
  /** The read sizes allowed, when not the `access` rule's (e.g. `[2, 4]`: no byte loads). */
  readSizes?: readonly number[];
  /** The write sizes allowed, when not the field's size (e.g. `[4, 8]` on an IPv6 address array). */
  writeSizes?: readonly number[];
  /** Narrow reads only at the field's first byte (bpf_sock's family, type, protocol …). */
  startOnly?: boolean;
  /** Narrow reads only inside the first this many bytes (a 2-byte port in a 4-byte slot). */
  narrowBytes?: number;
}

/** A program type's context struct: its C name, size and fields. */
export interface CtxLayout {
  /** C name of the context struct, e.g. `xdp_md`. */
  struct: string;
  size: number;
  fields: readonly CtxField[];
  /** Accesses must begin below this offset (syscall's buffer: below 64 KiB), when not `size`. */
  startBelow?: number;
}

/** A program type: its kernel number, its context, the return values and packet access it allows. */
export interface ProgramType {
  /** BPF_PROG_TYPE_* lower-cased without the prefix. */
  name: string;
  /** The kernel's enum value. */
  kernel: number;
  ctx: CtxLayout;
  /** Allowed values of r0 at exit (inclusive, signed 64-bit), or undefined when any value is allowed. */
  ret?: { min: number; max: number };
  /** Loads through ctx->data/data_end may be dereferenced. */
  directPacketRead: boolean;
  /** Stores into packet data are allowed. */
  directPacketWrite: boolean;
  /** The expected attach type this view of the type is for (see programTypeFor), when it has one. */
  attachType?: string;
  /** `ret` is checked on the low 32 bits of r0 as a signed int (LSM hooks return int). */
  ret32?: boolean;
  /**
   * The context is the traced function's arguments as an array of u64, typed by the target's BTF (tracing,
   * lsm, struct_ops): the verifier needs the kernel's BTF to know them.
   */
  btfArgs?: boolean;
}

// ---- context layouts -------------------------------------------------------------------------------

const f = (
  name: string,
  offset: number,
  size: number,
  read: boolean,
  write: boolean,
  access: CtxAccess = 'exact',
  yields?: CtxYield,
): CtxField =>
  yields ? { name, offset, size, read, write, access, yields } : { name, offset, size, read, write, access };

/** `struct xdp_md`: all fields are read-only u32; data/data_end/data_meta yield packet pointers. */
export const XDP_MD: CtxLayout = {
  struct: 'xdp_md',
  size: 24,
  fields: [
    f('data', 0, 4, true, false, 'exact', 'packet'),
    f('data_end', 4, 4, true, false, 'exact', 'packet_end'),
    f('data_meta', 8, 4, true, false, 'exact', 'packet_meta'),
    f('ingress_ifindex', 12, 4, true, false),
    f('rx_queue_index', 16, 4, true, false),
    // Readable only by programs of expected attach type xdp_devmap (see programTypeFor).
    f('egress_ifindex', 20, 4, false, false),
  ],
};

/** Offsets of `struct xdp_md` fields by name (what hooks fill in). */
export const XDP_MD_OFFSETS = Object.fromEntries(XDP_MD.fields.map((x) => [x.name, x.offset])) as Record<
  'data' | 'data_end' | 'data_meta' | 'ingress_ifindex' | 'rx_queue_index' | 'egress_ifindex',
  number
>;

/** The fields of `struct __sk_buff` with offsets and sizes; access rights are set per program type. */
const SKB_FIELDS: readonly [string, number, number][] = [
  ['len', 0, 4],
  ['pkt_type', 4, 4],
  ['mark', 8, 4],
  ['queue_mapping', 12, 4],
  ['protocol', 16, 4],
  ['vlan_present', 20, 4],
  ['vlan_tci', 24, 4],
  ['vlan_proto', 28, 4],
  ['priority', 32, 4],
  ['ingress_ifindex', 36, 4],
  ['ifindex', 40, 4],
  ['tc_index', 44, 4],
  ['cb', 48, 20],
  ['hash', 68, 4],
  ['tc_classid', 72, 4],
  ['data', 76, 4],
  ['data_end', 80, 4],
  ['napi_id', 84, 4],
  ['family', 88, 4],
  ['remote_ip4', 92, 4],
  ['local_ip4', 96, 4],
  ['remote_ip6', 100, 16],
  ['local_ip6', 116, 16],
  ['remote_port', 132, 4],
  ['local_port', 136, 4],
  ['data_meta', 140, 4],
  ['flow_keys', 144, 8],
  ['tstamp', 152, 8],
  ['wire_len', 160, 4],
  ['gso_segs', 164, 4],
  ['sk', 168, 8],
  ['gso_size', 176, 4],
  ['tstamp_type', 180, 1],
  ['hwtstamp', 184, 8],
];

interface SkbRules {
  /** Fields this type cannot touch at all. */
  hidden: readonly string[];
  /** Fields it may write (u32 stores; cb any aligned store). */
  writable: readonly string[];
  /** data/data_end/data_meta give packet pointers (direct packet access). */
  packet: boolean;
  /** The 1-byte `tstamp_type` is readable (tc). */
  tstampType?: boolean;
}

/** `__sk_buff` fields read only as whole u32s (no narrow loads), per element for the IPv6 arrays. */
const SKB_WHOLE_U32 = ['remote_ip4', 'local_ip4', 'remote_ip6', 'local_ip6'];

/** Build an `__sk_buff` view following the kernel's bpf_skb_is_valid_access and the per-type filters. */
function skb(rules: SkbRules): CtxLayout {
  const fields: CtxField[] = [];
  for (const [name, offset, size] of SKB_FIELDS) {
    if (rules.hidden.includes(name) || name === 'flow_keys') continue;
    if (name === 'tstamp_type') {
      if (rules.tstampType) fields.push(f(name, offset, size, true, false));
      continue;
    }
    const write = rules.writable.includes(name);
    const whole = SKB_WHOLE_U32.includes(name);
    if (name === 'cb') fields.push(f(name, offset, size, true, write, 'any'));
    else if (name === 'remote_ip6' || name === 'local_ip6') {
      for (let i = 0; i < 4; i++) fields.push(f(`${name}[${i}]`, offset + 4 * i, 4, true, write, 'exact'));
    } else if (whole) fields.push(f(name, offset, size, true, write, 'exact'));
    else if (name === 'data' || name === 'data_end' || name === 'data_meta') {
      const yields: CtxYield =
        name === 'data' ? 'packet' : name === 'data_end' ? 'packet_end' : 'packet_meta';
      fields.push(f(name, offset, size, true, false, 'exact', rules.packet ? yields : 'scalar'));
    } else if (name === 'sk') fields.push(f(name, offset, size, true, false, 'exact', 'sock_common_or_null'));
    else if (name === 'tstamp' || name === 'hwtstamp')
      fields.push(f(name, offset, size, true, write, 'exact'));
    else fields.push(f(name, offset, size, true, write, 'narrow'));
  }
  return { struct: '__sk_buff', size: 192, fields };
}

const SOCK_FAMILY_TILL_LOCAL_PORT = [
  'family',
  'remote_ip4',
  'local_ip4',
  'remote_ip6',
  'local_ip6',
  'remote_port',
  'local_port',
];

/** x86-64 `struct pt_regs` (kprobe, perf_event regs): 21 u64 registers, read-only. */
/** The socket's address fields, in uapi order, as bpf_sock_ops and sk_msg_md lay them out (4 bytes each). */
const SOCK_TUPLE = [
  'family',
  'remote_ip4',
  'local_ip4',
  'remote_ip6[0]',
  'remote_ip6[1]',
  'remote_ip6[2]',
  'remote_ip6[3]',
  'local_ip6[0]',
  'local_ip6[1]',
  'local_ip6[2]',
  'local_ip6[3]',
  'remote_port',
  'local_port',
];

/** The registers of x86-64 `struct pt_regs`, in their order (8 bytes each): what kprobe and uprobe contexts hold. */
export const PT_REGS_NAMES: readonly string[] = [
  'r15',
  'r14',
  'r13',
  'r12',
  'bp',
  'bx',
  'r11',
  'r10',
  'r9',
  'r8',
  'ax',
  'cx',
  'dx',
  'si',
  'di',
  'orig_ax',
  'ip',
  'cs',
  'flags',
  'sp',
  'ss',
];
const PT_REGS: CtxLayout = { struct: 'pt_regs', size: 168, fields: [f('regs', 0, 168, true, false, 'any')] };

const PERF_EVENT_DATA: CtxLayout = {
  struct: 'bpf_perf_event_data',
  size: 184,
  fields: [
    ...PT_REGS_NAMES.map((n, i) => f(`regs.${n}`, 8 * i, 8, true, false, 'exact')),
    f('sample_period', 168, 8, true, false, 'narrow'),
    f('addr', 176, 8, true, false, 'narrow'),
  ],
};

/** Tracepoint context: the first 8 bytes (common fields) are not readable, then up to 2048 bytes of args. */
const TRACEPOINT_CTX: CtxLayout = {
  struct: 'tracepoint',
  size: 2048,
  fields: [f('args', 8, 2040, true, false, 'any')],
};

const RAW_TP_ARGS: CtxLayout = {
  struct: 'bpf_raw_tracepoint_args',
  size: 96,
  fields: [f('args', 0, 96, true, false, 'any')],
};

/** raw_tracepoint_writable: the first argument, read as 8 bytes, is the tracepoint's writable buffer. */
const RAW_TP_WRITABLE_ARGS: CtxLayout = {
  struct: 'bpf_raw_tracepoint_args',
  size: 96,
  // Read whole at offset 0 it is the buffer; its other bytes read as plain numbers (first match wins).
  fields: [
    f('args[0] bytes', 1, 7, true, false, 'any'),
    f('buffer', 0, 8, true, false, 'exact', 'tp_buffer'),
    f('args', 8, 88, true, false, 'any'),
  ],
};

/**
 * `struct bpf_sock` as seen by cgroup_sock programs of expected attach type `at` (the kernel's
 * bpf_sock_is_valid_access and its attach-type filter): bound_dev_if, mark and priority only at socket
 * creation and release (read and write, 4 bytes); the source address and port only after bind.
 */
function bpfSock(at: string): CtxLayout {
  const create = at === 'cgroup_inet_sock_create' || at === 'cgroup_inet_sock_release';
  const bind4 = at === 'cgroup_inet4_post_bind';
  const bind6 = at === 'cgroup_inet6_post_bind';
  const start = (name: string, offset: number, read = true): CtxField => ({
    ...f(name, offset, 4, read, false, 'narrow'),
    startOnly: true,
  });
  return {
    struct: 'bpf_sock',
    size: 80,
    fields: [
      f('bound_dev_if', 0, 4, create, create),
      start('family', 4),
      start('type', 8),
      start('protocol', 12),
      f('mark', 16, 4, create, create),
      f('priority', 20, 4, create, create),
      f('src_ip4', 24, 4, bind4, false, 'narrow'),
      ...[0, 1, 2, 3].map((i) => f(`src_ip6[${i}]`, 28 + 4 * i, 4, bind6, false, 'narrow')),
      start('src_port', 44, bind4 || bind6),
      // A 2-byte port and 2 bytes of zero padding: 4-byte loads of both are allowed for old programs.
      { ...f('dst_port', 48, 4, true, false, 'narrow'), narrowBytes: 2 },
      f('dst_ip4', 52, 4, true, false, 'narrow'),
      ...[0, 1, 2, 3].map((i) => f(`dst_ip6[${i}]`, 56 + 4 * i, 4, true, false, 'narrow')),
      start('state', 72),
      start('rx_queue_mapping', 76),
    ],
  };
}

/** `struct bpf_sock` read through a socket pointer: every field, read-only. */
const BPF_SOCK_READ: CtxLayout = {
  ...bpfSock('cgroup_inet_sock_create'),
  fields: bpfSock('cgroup_inet_sock_create').fields.map((x) => ({ ...x, read: true, write: false })),
};

/** Through a pointer to a socket's common part (sock_common): type, protocol, mark and priority are not there. */
const BPF_SOCK_COMMON_READ: CtxLayout = {
  ...BPF_SOCK_READ,
  fields: BPF_SOCK_READ.fields.filter((x) => !['type', 'protocol', 'mark', 'priority'].includes(x.name)),
};

/** Why a load of `size` bytes at `offset` through a socket pointer is refused, or the field it reads. */
export function sockAccess(
  common: boolean,
  offset: number,
  size: number,
  write: boolean,
): { field: CtxField } | { error: string } {
  const layout = common ? BPF_SOCK_COMMON_READ : BPF_SOCK_READ;
  return layoutAccess(
    layout,
    `programs through a ${common ? 'sock_common' : 'socket'} pointer`,
    offset,
    size,
    write,
  );
}

/** Attach types of cgroup_sock_addr that see an IPv4 / IPv6 user address, and that see the message source. */
const SA_IP4 = [
  'cgroup_inet4_bind',
  'cgroup_inet4_connect',
  'cgroup_inet4_getpeername',
  'cgroup_inet4_getsockname',
  'cgroup_udp4_sendmsg',
  'cgroup_udp4_recvmsg',
];
const SA_IP6 = SA_IP4.map((x) => x.replace('4', '6'));

/**
 * `struct bpf_sock_addr` (cgroup_sock_addr) for expected attach type `at` (the kernel's
 * sock_addr_is_valid_access): user_ip4 only for IPv4 hooks, user_ip6 for IPv6 ones, msg_src_ip4/6 only in
 * sendmsg; the IPv6 arrays also take 8-byte loads and stores.
 */
function bpfSockAddr(at: string): CtxLayout {
  const ip4 = SA_IP4.includes(at);
  const ip6 = SA_IP6.includes(at);
  const src4 = at === 'cgroup_udp4_sendmsg';
  const src6 = at === 'cgroup_udp6_sendmsg';
  const wide = { readSizes: [1, 2, 4, 8], writeSizes: [4, 8] };
  return {
    struct: 'bpf_sock_addr',
    size: 72,
    fields: [
      f('user_family', 0, 4, true, false),
      f('user_ip4', 4, 4, ip4, ip4, 'narrow'),
      { ...f('user_ip6', 8, 16, ip6, ip6, 'narrow'), ...wide },
      f('user_port', 24, 4, true, true, 'narrow'),
      f('family', 28, 4, true, false),
      f('type', 32, 4, true, false),
      f('protocol', 36, 4, true, false),
      f('msg_src_ip4', 40, 4, src4, src4, 'narrow'),
      { ...f('msg_src_ip6', 44, 16, src6, src6, 'narrow'), ...wide },
      f('sk', 64, 8, true, false, 'exact', 'sock'),
    ],
  };
}

/**
 * `struct bpf_sock_ops` (sock_ops): u32 fields read whole (only skb_tcp_flags takes narrow loads), the u64
 * counters and pointers as 8 bytes; only `reply` (args[0]) and `sk_txhash` are written.
 */
const BPF_SOCK_OPS_U32 = [
  'op',
  'args[0]',
  'args[1]',
  'args[2]',
  'args[3]',
  ...SOCK_TUPLE,
  'is_fullsock',
  'snd_cwnd',
  'srtt_us',
  'bpf_sock_ops_cb_flags',
  'state',
  'rtt_min',
  'snd_ssthresh',
  'rcv_nxt',
  'snd_nxt',
  'snd_una',
  'mss_cache',
  'ecn_flags',
  'rate_delivered',
  'rate_interval_us',
  'packets_out',
  'retrans_out',
  'total_retrans',
  'segs_in',
  'data_segs_in',
  'segs_out',
  'data_segs_out',
  'lost_out',
  'sacked_out',
  'sk_txhash',
];
const BPF_SOCK_OPS: CtxLayout = {
  struct: 'bpf_sock_ops',
  size: 224,
  fields: [
    ...BPF_SOCK_OPS_U32.map((n, i) => f(n, 4 * i, 4, true, n === 'args[0]' || n === 'sk_txhash')),
    f('bytes_received', 168, 8, true, false),
    f('bytes_acked', 176, 8, true, false),
    f('sk', 184, 8, true, false, 'exact', 'sock_or_null'),
    f('skb_data', 192, 8, true, false, 'exact', 'packet'),
    f('skb_data_end', 200, 8, true, false, 'exact', 'packet_end'),
    f('skb_len', 208, 4, true, false),
    { ...f('skb_tcp_flags', 212, 4, true, false, 'narrow'), startOnly: true },
    f('skb_hwtstamp', 216, 8, true, false),
  ],
};

/** `struct sk_msg_md` (sk_msg): data/data_end are 8-byte pointer fields, the rest whole u32s, then `sk`. */
const SK_MSG_MD: CtxLayout = {
  struct: 'sk_msg_md',
  size: 80,
  fields: [
    f('data', 0, 8, true, false, 'exact', 'packet'),
    f('data_end', 8, 8, true, false, 'exact', 'packet_end'),
    ...[...SOCK_TUPLE, 'size'].map((n, i) => f(n, 16 + 4 * i, 4, true, false)),
    f('sk', 72, 8, true, false, 'exact', 'sock'),
  ],
};

/** `struct bpf_sysctl` (cgroup_sysctl): `write` read-only, `file_pos` read (narrow) and written as a u32. */
const BPF_SYSCTL: CtxLayout = {
  struct: 'bpf_sysctl',
  size: 8,
  fields: [f('write', 0, 4, true, false, 'narrow'), f('file_pos', 4, 4, true, true, 'narrow')],
};

/**
 * `struct bpf_sockopt` (cgroup_sockopt) for expected attach type `at`: optval/optval_end are 8-byte packet
 * pointers; level and optname are writable in setsockopt, retval is there only in getsockopt.
 */
function bpfSockopt(at: string): CtxLayout {
  const get = at === 'cgroup_getsockopt';
  return {
    struct: 'bpf_sockopt',
    size: 40,
    fields: [
      f('sk', 0, 8, true, false, 'exact', 'sock'),
      f('optval', 8, 8, true, false, 'exact', 'packet'),
      f('optval_end', 16, 8, true, false, 'exact', 'packet_end'),
      f('level', 24, 4, true, !get),
      f('optname', 28, 4, true, !get),
      f('optlen', 32, 4, true, true),
      f('retval', 36, 4, get, get),
    ],
  };
}

/** `struct bpf_sk_lookup` (sk_lookup): read-only; `sk` (or `cookie`) is a socket that may be NULL. */
const BPF_SK_LOOKUP: CtxLayout = {
  struct: 'bpf_sk_lookup',
  size: 72,
  fields: [
    f('sk', 0, 8, true, false, 'exact', 'sock_or_null'),
    f('family', 8, 4, true, false, 'narrow'),
    f('protocol', 12, 4, true, false, 'narrow'),
    f('remote_ip4', 16, 4, true, false, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`remote_ip6[${i}]`, 20 + 4 * i, 4, true, false, 'narrow')),
    // A 2-byte port and 2 bytes of zero padding, readable together for old programs.
    f('remote_port', 36, 4, true, false, 'narrow'),
    f('local_ip4', 40, 4, true, false, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`local_ip6[${i}]`, 44 + 4 * i, 4, true, false, 'narrow')),
    f('local_port', 60, 4, true, false, 'narrow'),
    f('ingress_ifindex', 64, 4, true, false, 'narrow'),
  ],
};

/** `struct sk_reuseport_md` (sk_reuseport): read-only; data/data_end are 8-byte packet pointers. */
const SK_REUSEPORT_MD: CtxLayout = {
  struct: 'sk_reuseport_md',
  size: 56,
  fields: [
    f('data', 0, 8, true, false, 'exact', 'packet'),
    f('data_end', 8, 8, true, false, 'exact', 'packet_end'),
    f('len', 16, 4, true, false, 'narrow'),
    // Loaded from the skb's 2-byte protocol: no byte loads.
    { ...f('eth_protocol', 20, 4, true, false, 'narrow'), readSizes: [2, 4] },
    f('ip_protocol', 24, 4, true, false, 'narrow'),
    f('bind_inany', 28, 4, true, false, 'narrow'),
    f('hash', 32, 4, true, false),
    f('sk', 40, 8, true, false, 'exact', 'sock'),
    f('migrating_sk', 48, 8, true, false, 'exact', 'sock_common_or_null'),
  ],
};

/** `struct bpf_nf_ctx` (netfilter): two read-only pointers to kernel structs, typed by the kernel's BTF. */
const BPF_NF_CTX: CtxLayout = {
  struct: 'bpf_nf_ctx',
  size: 16,
  fields: [
    { ...f('state', 0, 8, true, false, 'exact', 'btf'), btfStruct: 'nf_hook_state' },
    { ...f('skb', 8, 8, true, false, 'exact', 'btf'), btfStruct: 'sk_buff' },
  ],
};

/**
 * syscall programs get the caller's buffer (`ctx_in` of a test run) as context: any aligned access below
 * 64 KiB, read or write; its real size is only known when the program runs.
 */
const SYSCALL_CTX: CtxLayout = {
  struct: 'syscall_ctx',
  size: 0x10000,
  startBelow: 0xffff,
  fields: [f('buf', 0, 0x10000, true, true, 'any')],
};

/** lirc_mode2: the context is one u32 sample, read as a whole. */
const LIRC_MODE2_CTX: CtxLayout = { struct: 'lirc_mode2', size: 4, fields: [f('sample', 0, 4, true, false)] };

/**
 * The traced function's arguments as u64 slots (tracing, lsm, struct_ops): what each one is comes from the
 * target's BTF, which the verifier reads; 12 slots at most (MAX_BPF_FUNC_ARGS), plus the return value of
 * fexit.
 */
const BTF_ARGS_CTX: CtxLayout = {
  struct: 'btf_args',
  size: 13 * 8,
  fields: [f('args', 0, 13 * 8, true, false, 'exact')],
};

/** flow_dissector's `__sk_buff`: only data/data_end (packet, read-only) and the `flow_keys` pointer. */
const FLOW_DISSECTOR_CTX: CtxLayout = {
  struct: '__sk_buff',
  size: 192,
  fields: [
    f('data', 76, 4, true, false, 'exact', 'packet'),
    f('data_end', 80, 4, true, false, 'exact', 'packet_end'),
    f('flow_keys', 144, 8, true, false, 'exact', 'flow_keys'),
  ],
};

/** Size of `struct bpf_flow_keys`, which a flow dissector reads and writes through ctx->flow_keys. */
export const FLOW_KEYS_SIZE = 56;

// ---- the program types -----------------------------------------------------------------------------

const TC_WRITABLE = ['mark', 'tc_index', 'priority', 'tc_classid', 'cb', 'tstamp', 'queue_mapping'];

const TYPES: ProgramType[] = [
  {
    name: 'socket_filter',
    kernel: 1,
    ctx: skb({
      hidden: [
        'tc_classid',
        'data',
        'data_meta',
        'data_end',
        ...SOCK_FAMILY_TILL_LOCAL_PORT,
        'tstamp',
        'wire_len',
        'hwtstamp',
      ],
      writable: ['cb'],
      packet: false,
    }),
    directPacketRead: false,
    directPacketWrite: false,
  },
  { name: 'kprobe', kernel: 2, ctx: PT_REGS, directPacketRead: false, directPacketWrite: false },
  ...(['sched_cls', 'sched_act'] as const).map(
    (name, i): ProgramType => ({
      name,
      kernel: 3 + i,
      ctx: skb({
        hidden: SOCK_FAMILY_TILL_LOCAL_PORT,
        writable: TC_WRITABLE,
        packet: true,
        tstampType: true,
      }),
      directPacketRead: true,
      directPacketWrite: true,
    }),
  ),
  { name: 'tracepoint', kernel: 5, ctx: TRACEPOINT_CTX, directPacketRead: false, directPacketWrite: false },
  { name: 'xdp', kernel: 6, ctx: XDP_MD, directPacketRead: true, directPacketWrite: true },
  { name: 'perf_event', kernel: 7, ctx: PERF_EVENT_DATA, directPacketRead: false, directPacketWrite: false },
  {
    name: 'cgroup_skb',
    kernel: 8,
    ctx: skb({
      hidden: ['tc_classid', 'data_meta', 'wire_len'],
      writable: ['mark', 'priority', 'cb', 'tstamp'],
      packet: true,
    }),
    ret: { min: 0, max: 1 },
    directPacketRead: true,
    directPacketWrite: false,
  },
  {
    name: 'cgroup_sock',
    kernel: 9,
    ctx: bpfSock('cgroup_inet_sock_create'),
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  ...(['lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local'] as const).map(
    (name, i): ProgramType => ({
      name,
      kernel: i < 3 ? 10 + i : 19,
      ctx: skb({
        hidden: ['tc_classid', ...SOCK_FAMILY_TILL_LOCAL_PORT, 'data_meta', 'tstamp', 'wire_len', 'hwtstamp'],
        writable: ['mark', 'priority', 'cb'],
        packet: true,
      }),
      directPacketRead: true,
      directPacketWrite: name === 'lwt_xmit',
    }),
  ),
  {
    name: 'sock_ops',
    kernel: 13,
    ctx: BPF_SOCK_OPS,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'sk_skb',
    kernel: 14,
    ctx: skb({
      hidden: ['mark', 'tc_classid', 'data_meta', 'tstamp', 'wire_len', 'hwtstamp'],
      writable: ['tc_index', 'priority'],
      packet: true,
    }),
    directPacketRead: true,
    directPacketWrite: true,
  },
  {
    name: 'cgroup_device',
    kernel: 15,
    ctx: {
      struct: 'bpf_cgroup_dev_ctx',
      size: 12,
      fields: [
        f('access_type', 0, 4, true, false, 'narrow'),
        f('major', 4, 4, true, false),
        f('minor', 8, 4, true, false),
      ],
    },
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  { name: 'sk_msg', kernel: 16, ctx: SK_MSG_MD, directPacketRead: true, directPacketWrite: true },
  { name: 'raw_tracepoint', kernel: 17, ctx: RAW_TP_ARGS, directPacketRead: false, directPacketWrite: false },
  {
    name: 'raw_tracepoint_writable',
    kernel: 24,
    ctx: RAW_TP_WRITABLE_ARGS,
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'cgroup_sock_addr',
    kernel: 18,
    ctx: bpfSockAddr(''),
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  { name: 'lirc_mode2', kernel: 20, ctx: LIRC_MODE2_CTX, directPacketRead: false, directPacketWrite: false },
  {
    name: 'sk_reuseport',
    kernel: 21,
    ctx: SK_REUSEPORT_MD,
    directPacketRead: true,
    directPacketWrite: false,
  },
  {
    name: 'flow_dissector',
    kernel: 22,
    ctx: FLOW_DISSECTOR_CTX,
    directPacketRead: true,
    directPacketWrite: false,
  },
  {
    name: 'cgroup_sysctl',
    kernel: 23,
    ctx: BPF_SYSCTL,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'cgroup_sockopt',
    kernel: 25,
    ctx: bpfSockopt('cgroup_getsockopt'),
    ret: { min: 0, max: 1 },
    // optval..optval_end is the option's buffer, read and written like packet data.
    directPacketRead: true,
    directPacketWrite: true,
  },
  {
    name: 'tracing',
    kernel: 26,
    ctx: BTF_ARGS_CTX,
    btfArgs: true,
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'struct_ops',
    kernel: 27,
    ctx: BTF_ARGS_CTX,
    btfArgs: true,
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'lsm',
    kernel: 29,
    ctx: BTF_ARGS_CTX,
    btfArgs: true,
    ret: { min: -4095, max: 0 },
    ret32: true,
    directPacketRead: false,
    directPacketWrite: false,
  },
  {
    name: 'sk_lookup',
    kernel: 30,
    ctx: BPF_SK_LOOKUP,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  { name: 'syscall', kernel: 31, ctx: SYSCALL_CTX, directPacketRead: false, directPacketWrite: false },
  {
    name: 'netfilter',
    kernel: 32,
    ctx: BPF_NF_CTX,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
];

/** Program types whose BPF_PROG_TEST_RUN builds a socket buffer from data_in (bpf_prog_test_run_skb). */
export const SKB_TEST_RUN_TYPES: ReadonlySet<string> = new Set([
  'socket_filter',
  'sched_cls',
  'sched_act',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
]);

/** The program types known, by name. */
export const PROGRAM_TYPES: ReadonlyMap<string, ProgramType> = new Map(TYPES.map((t) => [t.name, t]));

/** The program type called `name` (`xdp`, `socket_filter`, `kprobe` ...). */
export function programTypeByName(name: string): ProgramType | undefined {
  return PROGRAM_TYPES.get(name);
}

/** The program type with kernel number `kernel` (BPF_PROG_TYPE_*). */
export function programTypeByNumber(kernel: number): ProgramType | undefined {
  for (const t of PROGRAM_TYPES.values()) if (t.kernel === kernel) return t;
  return undefined;
}

/** Return ranges of cgroup_sock_addr hooks that differ from [0, 1]. */
const SOCK_ADDR_RET: Readonly<Record<string, { min: number; max: number }>> = {
  // bind may also ask to skip the port check (bit 1).
  cgroup_inet4_bind: { min: 0, max: 3 },
  cgroup_inet6_bind: { min: 0, max: 3 },
  // Hooks that only rewrite an address the kernel already has cannot refuse.
  ...Object.fromEntries(
    [
      'cgroup_udp4_recvmsg',
      'cgroup_udp6_recvmsg',
      'cgroup_unix_recvmsg',
      'cgroup_inet4_getpeername',
      'cgroup_inet6_getpeername',
      'cgroup_unix_getpeername',
      'cgroup_inet4_getsockname',
      'cgroup_inet6_getsockname',
      'cgroup_unix_getsockname',
    ].map((x) => [x, { min: 1, max: 1 }]),
  ),
};

/** Return ranges of tracing programs by attach type (absent: any value). */
const TRACING_RET: Readonly<Record<string, { min: number; max: number }>> = {
  trace_fentry: { min: 0, max: 0 },
  trace_fexit: { min: 0, max: 0 },
  trace_iter: { min: 0, max: 1 },
};

/** The view of a program type for one expected attach type (its context and return range). */
function view(t: ProgramType, at: string): ProgramType {
  const v: ProgramType = { ...t, attachType: at };
  switch (t.name) {
    case 'xdp':
      if (at === 'xdp_devmap') {
        v.ctx = {
          ...t.ctx,
          fields: t.ctx.fields.map((x) => (x.name === 'egress_ifindex' ? { ...x, read: true } : x)),
        };
      }
      break;
    case 'cgroup_skb':
      if (at === 'cgroup_inet_egress') v.ret = { min: 0, max: 3 }; // bit 1: congestion notification
      break;
    case 'cgroup_sock':
      v.ctx = bpfSock(at);
      break;
    case 'cgroup_sock_addr':
      v.ctx = bpfSockAddr(at);
      v.ret = SOCK_ADDR_RET[at] ?? { min: 0, max: 1 };
      break;
    case 'cgroup_sockopt':
      v.ctx = bpfSockopt(at);
      break;
    case 'tracing': {
      const r = TRACING_RET[at];
      if (r) v.ret = r;
      else delete v.ret;
      break;
    }
    case 'kprobe':
      // A session program's return value says whether its return probe runs.
      if (at === 'trace_kprobe_session' || at === 'trace_uprobe_session') v.ret = { min: 0, max: 1 };
      break;
    case 'lsm':
      if (at === 'lsm_cgroup') {
        v.ret = { min: 0, max: 1 };
        delete v.ret32;
      }
      break;
  }
  return v;
}

const VIEWS = new Map<string, ProgramType>();

/**
 * The program type `name` as a program of expected attach type `attachType` sees it (the context fields it
 * may touch and the return values it may give depend on it: `xdp_devmap` may read `egress_ifindex`,
 * `cgroup_inet4_bind` may return 0..3 …). Without an attach type, the one the kernel assumes; undefined for
 * an unknown type. Check `attachTypeError` first: it says when the attach type does not fit.
 */
export function programTypeFor(name: string, attachType?: string): ProgramType | undefined {
  const t = PROGRAM_TYPES.get(name);
  if (!t) return undefined;
  const rule = PROGRAM_ATTACH_TYPES[name];
  const at =
    rule && attachType !== undefined && rule.allowed.includes(attachType) ? attachType : rule?.default;
  if (at === undefined) return t;
  const key = `${name}/${at}`;
  let v = VIEWS.get(key);
  if (!v) {
    v = view(t, at);
    VIEWS.set(key, v);
  }
  return v;
}

/**
 * Why a program of type `name` cannot be loaded with expected attach type `attachType` (undefined: none
 * given), as the kernel refuses it; undefined when it can.
 */
export function attachTypeError(name: string, attachType?: string): string | undefined {
  const rule = PROGRAM_ATTACH_TYPES[name];
  if (!rule) return undefined;
  if (attachType === undefined) {
    if (rule.default !== undefined || rule.optional) return undefined;
    return `${name} programs need an expected attach type (one of ${rule.allowed.join(', ')}); the section name gives it, e.g. ${sectionExample(name)}`;
  }
  if (rule.allowed.includes(attachType)) return undefined;
  return `${name} programs cannot have expected attach type '${attachType}' (one of ${rule.allowed.join(', ')})`;
}

const SECTION_EXAMPLES: Readonly<Record<string, string>> = {
  cgroup_sock_addr: 'cgroup/connect4',
  cgroup_sockopt: 'cgroup/getsockopt',
  sk_lookup: 'sk_lookup',
  netfilter: 'netfilter',
  sk_reuseport: 'sk_reuseport',
  tracing: 'fentry/do_unlinkat',
  lsm: 'lsm/file_open',
};
const sectionExample = (name: string): string => `'${SECTION_EXAMPLES[name] ?? name}'`;

/** Why a context access is not allowed, or the field it touches. */
export function ctxAccess(
  type: ProgramType,
  offset: number,
  size: number,
  write: boolean,
): { field: CtxField } | { error: string } {
  return layoutAccess(type.ctx, `${type.name} programs`, offset, size, write);
}

/** The rules of a layout's fields; `who` names the accessor in messages (`xdp programs`). */
function layoutAccess(
  layout: CtxLayout,
  who: string,
  offset: number,
  size: number,
  write: boolean,
): { field: CtxField } | { error: string } {
  const what = `${write ? 'write' : 'read'} of ${size} bytes at offset ${offset} of ${layout.struct}`;
  if (offset < 0 || offset + size > layout.size || offset >= (layout.startBelow ?? layout.size))
    return { error: `${what} is outside the ${layout.startBelow ?? layout.size}-byte context` };
  if (offset % size !== 0) return { error: `${what} is not aligned to ${size} bytes` };
  const field = layout.fields.find((x) => offset >= x.offset && offset < x.offset + x.size);
  if (!field || offset + size > field.offset + field.size) {
    return { error: `${what} does not fall inside one field ${who} may access` };
  }
  if (write ? !field.write : !field.read) {
    return {
      error: `${what}: field ${field.name} is not ${write ? 'writable' : 'readable'} by ${who}`,
    };
  }
  const exact = offset === field.offset && size === field.size;
  const sizes = write ? field.writeSizes : field.readSizes;
  if (sizes) {
    if (!sizes.includes(size))
      return {
        error: `${what}: field ${field.name} takes ${write ? 'stores' : 'loads'} of ${sizes.join(', ')} bytes`,
      };
    return { field };
  }
  if (field.access === 'exact' && !exact) {
    return {
      error: `${what}: field ${field.name} must be accessed as ${field.size} bytes at offset ${field.offset}`,
    };
  }
  if (field.access === 'narrow' && write && !exact) {
    return { error: `${what}: stores into ${field.name} must write all ${field.size} bytes` };
  }
  if (field.startOnly && offset !== field.offset) {
    return {
      error: `${what}: field ${field.name} must be read from its first byte (offset ${field.offset})`,
    };
  }
  if (field.narrowBytes !== undefined && !exact && offset + size > field.offset + field.narrowBytes) {
    return {
      error: `${what}: only the first ${field.narrowBytes} bytes of ${field.name} may be read in parts`,
    };
  }
  return { field };
}

/** Whether a helper (by its `programTypes`) may be called from programs of this type. */
export function helperAllowed(
  type: ProgramType,
  helper: { programTypes?: readonly string[]; attachTypes?: readonly string[] },
): boolean {
  if (helper.programTypes !== undefined && !helper.programTypes.includes(type.name)) return false;
  // Some helpers the kernel gives by expected attach type too (bind: connect4/connect6 only).
  return helper.attachTypes === undefined || helper.attachTypes.includes(type.attachType ?? '');
}
