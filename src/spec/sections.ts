// Program type from an ELF section name, the way libbpf (1.x) infers it.
//
// A pattern ending in '+' matches the exact name or `name/extra`; one ending in '/' needs the `/extra`;
// any other pattern matches exactly. `attachTo` is the extra part (`kprobe/do_sys_open` →
// `do_sys_open`); `attachType` is the kernel's expected attach type (BPF_* lower-cased, no prefix) when
// the section fixes one.

/**
 * What a section name says of its programs, as libbpf reads it: the program type, the attach target and type.
 */
export interface SectionProgramType {
  /** BPF_PROG_TYPE_* lower-cased without prefix: `xdp`, `sched_cls`, `kprobe` ... */
  type: string;
  /** Target named by the section after the '/' (kprobe function, tracepoint `category/name` ...). */
  attachTo?: string;
  /** BPF_* attach type lower-cased without prefix (`cgroup_inet_ingress`, `xdp_devmap` ...). */
  attachType?: string;
  /** `xdp.frags` style: the program accepts multi-buffer packets (BPF_F_XDP_HAS_FRAGS). */
  frags?: boolean;
}

type Def = [pattern: string, type: string, attachType?: string];

// Order matters only where one pattern is a prefix of another; the first match wins, as in libbpf.
const DEFS: readonly Def[] = [
  ['socket+', 'socket_filter'],
  ['sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate'],
  ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select'],
  ['kprobe+', 'kprobe'],
  ['uprobe+', 'kprobe'],
  ['uprobe.s+', 'kprobe'],
  ['kretprobe+', 'kprobe'],
  ['uretprobe+', 'kprobe'],
  ['uretprobe.s+', 'kprobe'],
  ['kprobe.multi+', 'kprobe', 'trace_kprobe_multi'],
  ['kretprobe.multi+', 'kprobe', 'trace_kprobe_multi'],
  ['uprobe.multi+', 'kprobe', 'trace_uprobe_multi'],
  ['uretprobe.multi+', 'kprobe', 'trace_uprobe_multi'],
  ['uprobe.multi.s+', 'kprobe', 'trace_uprobe_multi'],
  ['uretprobe.multi.s+', 'kprobe', 'trace_uprobe_multi'],
  ['kprobe.session+', 'kprobe', 'trace_kprobe_session'],
  ['uprobe.session+', 'kprobe', 'trace_uprobe_session'],
  ['uprobe.session.s+', 'kprobe', 'trace_uprobe_session'],
  ['ksyscall+', 'kprobe'],
  ['kretsyscall+', 'kprobe'],
  ['usdt+', 'kprobe'],
  ['usdt.s+', 'kprobe'],
  ['tc/ingress', 'sched_cls', 'tcx_ingress'],
  ['tc/egress', 'sched_cls', 'tcx_egress'],
  ['tcx/ingress', 'sched_cls', 'tcx_ingress'],
  ['tcx/egress', 'sched_cls', 'tcx_egress'],
  ['tc', 'sched_cls'],
  ['classifier', 'sched_cls'],
  ['action', 'sched_act'],
  ['netkit/primary', 'sched_cls', 'netkit_primary'],
  ['netkit/peer', 'sched_cls', 'netkit_peer'],
  ['tracepoint+', 'tracepoint'],
  ['tp+', 'tracepoint'],
  ['raw_tracepoint+', 'raw_tracepoint'],
  ['raw_tp+', 'raw_tracepoint'],
  ['raw_tracepoint.w+', 'raw_tracepoint_writable'],
  ['raw_tp.w+', 'raw_tracepoint_writable'],
  ['tp_btf+', 'tracing', 'trace_raw_tp'],
  ['fentry+', 'tracing', 'trace_fentry'],
  ['fmod_ret+', 'tracing', 'modify_return'],
  ['fexit+', 'tracing', 'trace_fexit'],
  ['fentry.s+', 'tracing', 'trace_fentry'],
  ['fmod_ret.s+', 'tracing', 'modify_return'],
  ['fexit.s+', 'tracing', 'trace_fexit'],
  ['freplace+', 'ext'],
  ['lsm+', 'lsm', 'lsm_mac'],
  ['lsm.s+', 'lsm', 'lsm_mac'],
  ['lsm_cgroup+', 'lsm', 'lsm_cgroup'],
  ['iter+', 'tracing', 'trace_iter'],
  ['iter.s+', 'tracing', 'trace_iter'],
  ['syscall', 'syscall'],
  ['xdp.frags/devmap', 'xdp', 'xdp_devmap'],
  ['xdp/devmap', 'xdp', 'xdp_devmap'],
  ['xdp.frags/cpumap', 'xdp', 'xdp_cpumap'],
  ['xdp/cpumap', 'xdp', 'xdp_cpumap'],
  ['xdp.frags', 'xdp', 'xdp'],
  ['xdp', 'xdp', 'xdp'],
  ['perf_event', 'perf_event'],
  ['lwt_in', 'lwt_in'],
  ['lwt_out', 'lwt_out'],
  ['lwt_xmit', 'lwt_xmit'],
  ['lwt_seg6local', 'lwt_seg6local'],
  ['sockops', 'sock_ops', 'cgroup_sock_ops'],
  ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser'],
  ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict'],
  ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict'],
  ['sk_skb', 'sk_skb'],
  ['sk_msg', 'sk_msg', 'sk_msg_verdict'],
  ['lirc_mode2', 'lirc_mode2', 'lirc_mode2'],
  ['flow_dissector', 'flow_dissector', 'flow_dissector'],
  ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress'],
  ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress'],
  ['cgroup/skb', 'cgroup_skb'],
  ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release'],
  ['cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind'],
  ['cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind'],
  ['cgroup/bind4', 'cgroup_sock_addr', 'cgroup_inet4_bind'],
  ['cgroup/bind6', 'cgroup_sock_addr', 'cgroup_inet6_bind'],
  ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect'],
  ['cgroup/connect6', 'cgroup_sock_addr', 'cgroup_inet6_connect'],
  ['cgroup/connect_unix', 'cgroup_sock_addr', 'cgroup_unix_connect'],
  ['cgroup/sendmsg4', 'cgroup_sock_addr', 'cgroup_udp4_sendmsg'],
  ['cgroup/sendmsg6', 'cgroup_sock_addr', 'cgroup_udp6_sendmsg'],
  ['cgroup/sendmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_sendmsg'],
  ['cgroup/recvmsg4', 'cgroup_sock_addr', 'cgroup_udp4_recvmsg'],
  ['cgroup/recvmsg6', 'cgroup_sock_addr', 'cgroup_udp6_recvmsg'],
  ['cgroup/recvmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_recvmsg'],
  ['cgroup/getpeername4', 'cgroup_sock_addr', 'cgroup_inet4_getpeername'],
  ['cgroup/getpeername6', 'cgroup_sock_addr', 'cgroup_inet6_getpeername'],
  ['cgroup/getpeername_unix', 'cgroup_sock_addr', 'cgroup_unix_getpeername'],
  ['cgroup/getsockname4', 'cgroup_sock_addr', 'cgroup_inet4_getsockname'],
  ['cgroup/getsockname6', 'cgroup_sock_addr', 'cgroup_inet6_getsockname'],
  ['cgroup/getsockname_unix', 'cgroup_sock_addr', 'cgroup_unix_getsockname'],
  ['cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl'],
  ['cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt'],
  ['cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt'],
  ['cgroup/dev', 'cgroup_device', 'cgroup_device'],
  ['struct_ops+', 'struct_ops'],
  ['struct_ops.s+', 'struct_ops'],
  ['sk_lookup', 'sk_lookup', 'sk_lookup'],
  ['netfilter', 'netfilter', 'netfilter'],
];

function matches(pattern: string, name: string): { extra?: string } | undefined {
  const last = pattern[pattern.length - 1];
  if (last === '/') return name.startsWith(pattern) ? { extra: name.slice(pattern.length) } : undefined;
  if (last === '+') {
    const stem = pattern.slice(0, -1);
    if (name === stem) return {};
    if (name.startsWith(`${stem}/`)) return { extra: name.slice(stem.length + 1) };
    return undefined;
  }
  return name === pattern ? {} : undefined;
}

/** The program type libbpf would give a program in section `name`, or undefined when it has none. */
export function programTypeForSection(name: string): SectionProgramType | undefined {
  for (const [pattern, type, attachType] of DEFS) {
    const m = matches(pattern, name);
    if (!m) continue;
    const out: SectionProgramType = { type };
    if (m.extra) out.attachTo = m.extra;
    if (attachType) out.attachType = attachType;
    if (name.startsWith('xdp.frags')) out.frags = true;
    return out;
  }
  return undefined;
}

const DEFAULT_SECTION: Readonly<Record<string, string>> = {
  socket_filter: 'socket',
  sched_cls: 'tc',
  sched_act: 'action',
  xdp: 'xdp',
  perf_event: 'perf_event',
  cgroup_skb: 'cgroup/skb',
  cgroup_sock: 'cgroup/sock',
  lwt_in: 'lwt_in',
  lwt_out: 'lwt_out',
  lwt_xmit: 'lwt_xmit',
  lwt_seg6local: 'lwt_seg6local',
  sock_ops: 'sockops',
  sk_skb: 'sk_skb',
  sk_msg: 'sk_msg',
  lirc_mode2: 'lirc_mode2',
  flow_dissector: 'flow_dissector',
  sk_reuseport: 'sk_reuseport',
  cgroup_sysctl: 'cgroup/sysctl',
  cgroup_device: 'cgroup/dev',
  sk_lookup: 'sk_lookup',
  syscall: 'syscall',
  kprobe: 'kprobe',
  tracepoint: 'tracepoint',
  raw_tracepoint: 'raw_tracepoint',
};

/**
 * A section name that gives a program of `type` back (for writing hand-built programs), or undefined when
 * no section name without a target expresses the type.
 */
export function sectionForProgramType(type: string, attachTo?: string): string | undefined {
  const base = DEFAULT_SECTION[type];
  if (base === undefined) return undefined;
  return attachTo ? `${base}/${attachTo}` : base;
}
