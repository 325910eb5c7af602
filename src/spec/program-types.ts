// Program types as the kernel defines them (BPF_PROG_TYPE_*, lower-cased): the context each one receives,
// which context bytes it may read or write and what a read yields, the return values it may produce, and
// whether it may touch packet data directly. Kept as data: the verifier checks against it, hooks read the
// offsets (e.g. `xdp_md`) from it.

/** What a context load yields to the verifier. */
export type CtxYield = 'scalar' | 'packet' | 'packet_end' | 'packet_meta' | 'sock_or_null';

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
}

/** A program type's context struct: its C name, size and fields. */
export interface CtxLayout {
  /** C name of the context struct, e.g. `xdp_md`. */
  struct: string;
  size: number;
  fields: readonly CtxField[];
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
    // Readable only by programs attached to a devmap (BPF_XDP_DEVMAP), which we do not model.
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
}

/** Build an `__sk_buff` view following the kernel's bpf_skb_is_valid_access and the per-type filters. */
function skb(rules: SkbRules): CtxLayout {
  const fields: CtxField[] = [];
  for (const [name, offset, size] of SKB_FIELDS) {
    if (rules.hidden.includes(name) || name === 'flow_keys' || name === 'tstamp_type') continue;
    const write = rules.writable.includes(name);
    if (name === 'cb') fields.push(f(name, offset, size, true, write, 'any'));
    else if (name === 'remote_ip6' || name === 'local_ip6') {
      for (let i = 0; i < 4; i++) fields.push(f(`${name}[${i}]`, offset + 4 * i, 4, true, write, 'narrow'));
    } else if (name === 'data' || name === 'data_end' || name === 'data_meta') {
      const yields: CtxYield =
        name === 'data' ? 'packet' : name === 'data_end' ? 'packet_end' : 'packet_meta';
      fields.push(f(name, offset, size, true, false, 'exact', rules.packet ? yields : 'scalar'));
    } else if (name === 'sk') fields.push(f(name, offset, size, true, false, 'exact', 'sock_or_null'));
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
const PT_REGS_NAMES = [
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

/** `struct bpf_sock` as seen by cgroup_sock programs. */
const BPF_SOCK: CtxLayout = {
  struct: 'bpf_sock',
  size: 80,
  fields: [
    f('bound_dev_if', 0, 4, true, true, 'narrow'),
    f('family', 4, 4, true, false, 'narrow'),
    f('type', 8, 4, true, false, 'narrow'),
    f('protocol', 12, 4, true, false, 'narrow'),
    f('mark', 16, 4, true, true, 'narrow'),
    f('priority', 20, 4, true, true, 'narrow'),
    f('src_ip4', 24, 4, true, false, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`src_ip6[${i}]`, 28 + 4 * i, 4, true, false, 'narrow')),
    f('src_port', 44, 4, true, false, 'narrow'),
    f('dst_port', 48, 4, true, false, 'narrow'),
    f('dst_ip4', 52, 4, true, false, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`dst_ip6[${i}]`, 56 + 4 * i, 4, true, false, 'narrow')),
    f('state', 72, 4, true, false, 'narrow'),
    f('rx_queue_mapping', 76, 4, true, false, 'narrow'),
  ],
};

/** `struct bpf_sock_addr` (cgroup_sock_addr). */
const BPF_SOCK_ADDR: CtxLayout = {
  struct: 'bpf_sock_addr',
  size: 72,
  fields: [
    f('user_family', 0, 4, true, false, 'narrow'),
    f('user_ip4', 4, 4, true, true, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`user_ip6[${i}]`, 8 + 4 * i, 4, true, true, 'narrow')),
    f('user_port', 24, 4, true, true, 'narrow'),
    f('family', 28, 4, true, false, 'narrow'),
    f('type', 32, 4, true, false, 'narrow'),
    f('protocol', 36, 4, true, false, 'narrow'),
    f('msg_src_ip4', 40, 4, true, true, 'narrow'),
    ...[0, 1, 2, 3].map((i) => f(`msg_src_ip6[${i}]`, 44 + 4 * i, 4, true, true, 'narrow')),
    f('sk', 64, 8, true, false, 'exact', 'sock_or_null'),
  ],
};

/** `struct bpf_sock_ops` (sock_ops), the scalar fields up to `skb_tcp_flags`; pointers omitted. */
const BPF_SOCK_OPS: CtxLayout = {
  struct: 'bpf_sock_ops',
  size: 224,
  fields: [
    f('op', 0, 4, true, false, 'narrow'),
    f('args', 4, 16, true, true, 'any'),
    f('family', 20, 4, true, false, 'narrow'),
    f('remote_ip4', 24, 4, true, false, 'narrow'),
    f('local_ip4', 28, 4, true, false, 'narrow'),
    f('remote_ip6', 32, 16, true, false, 'any'),
    f('local_ip6', 48, 16, true, false, 'any'),
    f('remote_port', 64, 4, true, false, 'narrow'),
    f('local_port', 68, 4, true, false, 'narrow'),
    f('is_fullsock', 72, 4, true, false, 'narrow'),
    f('snd_cwnd', 76, 4, true, false, 'narrow'),
    f('srtt_us', 80, 4, true, false, 'narrow'),
    f('bpf_sock_ops_cb_flags', 84, 4, true, false, 'narrow'),
    f('state', 88, 4, true, false, 'narrow'),
    f('rtt_min', 92, 4, true, false, 'narrow'),
    f('snd_ssthresh', 96, 4, true, false, 'narrow'),
    f('rcv_nxt', 100, 4, true, false, 'narrow'),
    f('snd_nxt', 104, 4, true, false, 'narrow'),
    f('snd_una', 108, 4, true, false, 'narrow'),
    f('mss_cache', 112, 4, true, false, 'narrow'),
    f('ecn_flags', 116, 4, true, false, 'narrow'),
    f('rate_delivered', 120, 4, true, false, 'narrow'),
    f('rate_interval_us', 124, 4, true, false, 'narrow'),
    f('packets_out', 128, 4, true, false, 'narrow'),
    f('retrans_out', 132, 4, true, false, 'narrow'),
    f('total_retrans', 136, 4, true, false, 'narrow'),
    f('segs_in', 140, 4, true, false, 'narrow'),
    f('data_segs_in', 144, 4, true, false, 'narrow'),
    f('segs_out', 148, 4, true, false, 'narrow'),
    f('data_segs_out', 152, 4, true, false, 'narrow'),
    f('lost_out', 156, 4, true, false, 'narrow'),
    f('sacked_out', 160, 4, true, false, 'narrow'),
    f('sk_txhash', 164, 4, true, true, 'narrow'),
    f('bytes_received', 168, 8, true, false, 'exact'),
    f('bytes_acked', 176, 8, true, false, 'exact'),
  ],
};

/** `struct sk_msg_md` (sk_msg): data/data_end are 8-byte pointer fields. */
const SK_MSG_MD: CtxLayout = {
  struct: 'sk_msg_md',
  size: 72,
  fields: [
    f('data', 0, 8, true, false, 'exact', 'packet'),
    f('data_end', 8, 8, true, false, 'exact', 'packet_end'),
    f('family', 16, 4, true, false, 'narrow'),
    f('remote_ip4', 20, 4, true, false, 'narrow'),
    f('local_ip4', 24, 4, true, false, 'narrow'),
    f('remote_ip6', 28, 16, true, false, 'any'),
    f('local_ip6', 44, 16, true, false, 'any'),
    f('remote_port', 60, 4, true, false, 'narrow'),
    f('local_port', 64, 4, true, false, 'narrow'),
    f('size', 68, 4, true, false, 'narrow'),
  ],
};

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
      ctx: skb({ hidden: SOCK_FAMILY_TILL_LOCAL_PORT, writable: TC_WRITABLE, packet: true }),
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
    ctx: BPF_SOCK,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
  ...(['lwt_in', 'lwt_out', 'lwt_xmit'] as const).map(
    (name, i): ProgramType => ({
      name,
      kernel: 10 + i,
      ctx: skb({
        hidden: ['tc_classid', ...SOCK_FAMILY_TILL_LOCAL_PORT, 'data_meta', 'tstamp', 'wire_len', 'hwtstamp'],
        writable: name === 'lwt_xmit' ? ['mark', 'priority', 'cb'] : ['cb'],
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
      hidden: ['tc_classid', 'data_meta', 'tstamp', 'wire_len', 'hwtstamp'],
      writable: ['tc_index', 'priority', 'cb', 'mark'],
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
    name: 'cgroup_sock_addr',
    kernel: 18,
    ctx: BPF_SOCK_ADDR,
    ret: { min: 0, max: 1 },
    directPacketRead: false,
    directPacketWrite: false,
  },
];

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

/** Why a context access is not allowed, or the field it touches. */
export function ctxAccess(
  type: ProgramType,
  offset: number,
  size: number,
  write: boolean,
): { field: CtxField } | { error: string } {
  const layout = type.ctx;
  const what = `${write ? 'write' : 'read'} of ${size} bytes at offset ${offset} of ${layout.struct}`;
  if (offset < 0 || offset + size > layout.size)
    return { error: `${what} is outside the ${layout.size}-byte context` };
  if (offset % size !== 0) return { error: `${what} is not aligned to ${size} bytes` };
  const field = layout.fields.find((x) => offset >= x.offset && offset < x.offset + x.size);
  if (!field || offset + size > field.offset + field.size) {
    return { error: `${what} does not fall inside one field a ${type.name} program may access` };
  }
  if (write ? !field.write : !field.read) {
    return {
      error: `${what}: field ${field.name} is not ${write ? 'writable' : 'readable'} by ${type.name} programs`,
    };
  }
  const exact = offset === field.offset && size === field.size;
  if (field.access === 'exact' && !exact) {
    return {
      error: `${what}: field ${field.name} must be accessed as ${field.size} bytes at offset ${field.offset}`,
    };
  }
  if (field.access === 'narrow' && write && !exact) {
    return { error: `${what}: stores into ${field.name} must write all ${field.size} bytes` };
  }
  return { field };
}

/** Whether a helper (by its `programTypes`) may be called from programs of this type. */
export function helperAllowed(type: ProgramType, helper: { programTypes?: readonly string[] }): boolean {
  return helper.programTypes === undefined || helper.programTypes.includes(type.name);
}
