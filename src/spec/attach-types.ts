// Expected attach types (the kernel's enum bpf_attach_type, BPF_* lower-cased without the prefix): the number
// a loader passes as expected_attach_type, and which of them each program type accepts. A program type's
// context rules and return range may depend on the attach type (see programTypeFor in ./program-types.ts).
// Numbers checked against /sys/kernel/btf/vmlinux of Linux 6.18 (enum bpf_attach_type).

import { programTypeForSection } from './sections.js';

const NAMES = [
  'cgroup_inet_ingress',
  'cgroup_inet_egress',
  'cgroup_inet_sock_create',
  'cgroup_sock_ops',
  'sk_skb_stream_parser',
  'sk_skb_stream_verdict',
  'cgroup_device',
  'sk_msg_verdict',
  'cgroup_inet4_bind',
  'cgroup_inet6_bind',
  'cgroup_inet4_connect',
  'cgroup_inet6_connect',
  'cgroup_inet4_post_bind',
  'cgroup_inet6_post_bind',
  'cgroup_udp4_sendmsg',
  'cgroup_udp6_sendmsg',
  'lirc_mode2',
  'flow_dissector',
  'cgroup_sysctl',
  'cgroup_udp4_recvmsg',
  'cgroup_udp6_recvmsg',
  'cgroup_getsockopt',
  'cgroup_setsockopt',
  'trace_raw_tp',
  'trace_fentry',
  'trace_fexit',
  'modify_return',
  'lsm_mac',
  'trace_iter',
  'cgroup_inet4_getpeername',
  'cgroup_inet6_getpeername',
  'cgroup_inet4_getsockname',
  'cgroup_inet6_getsockname',
  'xdp_devmap',
  'cgroup_inet_sock_release',
  'xdp_cpumap',
  'sk_lookup',
  'xdp',
  'sk_skb_verdict',
  'sk_reuseport_select',
  'sk_reuseport_select_or_migrate',
  'perf_event',
  'trace_kprobe_multi',
  'lsm_cgroup',
  'struct_ops',
  'netfilter',
  'tcx_ingress',
  'tcx_egress',
  'trace_uprobe_multi',
  'cgroup_unix_connect',
  'cgroup_unix_sendmsg',
  'cgroup_unix_recvmsg',
  'cgroup_unix_getpeername',
  'cgroup_unix_getsockname',
  'netkit_primary',
  'netkit_peer',
  'trace_kprobe_session',
  'trace_uprobe_session',
] as const;

/** An expected attach type's name: BPF_* lower-cased without the prefix (`cgroup_inet4_connect` …). */
export type AttachTypeName = (typeof NAMES)[number];

/** The kernel's number for each expected attach type (BPF_CGROUP_INET_INGRESS = 0 …). */
export const ATTACH_TYPES: ReadonlyMap<string, number> = new Map(NAMES.map((n, i) => [n, i]));

/** The kernel's number of an expected attach type, or undefined when the name is not one. */
export function attachTypeNumber(name: string): number | undefined {
  return ATTACH_TYPES.get(name);
}

/** The name of the expected attach type numbered `n`, or undefined. */
export function attachTypeName(n: number): string | undefined {
  return NAMES[n];
}

/**
 * Which expected attach types a program type accepts when it is loaded, and which one stands when none is
 * given (the kernel's `expected_attach_type` 0 or its fix-up); no `default` means one must be given. Types
 * not listed take any attach type and ignore it.
 */
export const PROGRAM_ATTACH_TYPES: Readonly<
  Record<
    string,
    {
      readonly allowed: readonly string[];
      readonly default?: string;
      /** None may be given (the type's plain form: a kprobe without multi or session). */
      readonly optional?: boolean;
    }
  >
> = {
  kprobe: {
    allowed: ['trace_kprobe_multi', 'trace_uprobe_multi', 'trace_kprobe_session', 'trace_uprobe_session'],
    optional: true,
  },
  xdp: { allowed: ['xdp', 'xdp_devmap', 'xdp_cpumap'], default: 'xdp' },
  cgroup_skb: { allowed: ['cgroup_inet_ingress', 'cgroup_inet_egress'], default: 'cgroup_inet_ingress' },
  cgroup_sock: {
    allowed: [
      'cgroup_inet_sock_create',
      'cgroup_inet_sock_release',
      'cgroup_inet4_post_bind',
      'cgroup_inet6_post_bind',
    ],
    default: 'cgroup_inet_sock_create',
  },
  cgroup_sock_addr: {
    allowed: [
      'cgroup_inet4_bind',
      'cgroup_inet6_bind',
      'cgroup_inet4_connect',
      'cgroup_inet6_connect',
      'cgroup_unix_connect',
      'cgroup_inet4_getpeername',
      'cgroup_inet6_getpeername',
      'cgroup_unix_getpeername',
      'cgroup_inet4_getsockname',
      'cgroup_inet6_getsockname',
      'cgroup_unix_getsockname',
      'cgroup_udp4_sendmsg',
      'cgroup_udp6_sendmsg',
      'cgroup_unix_sendmsg',
      'cgroup_udp4_recvmsg',
      'cgroup_udp6_recvmsg',
      'cgroup_unix_recvmsg',
    ],
  },
  cgroup_sockopt: { allowed: ['cgroup_getsockopt', 'cgroup_setsockopt'] },
  sk_lookup: { allowed: ['sk_lookup'] },
  netfilter: { allowed: ['netfilter'] },
  sk_reuseport: { allowed: ['sk_reuseport_select', 'sk_reuseport_select_or_migrate'] },
  tracing: { allowed: ['trace_raw_tp', 'trace_fentry', 'trace_fexit', 'modify_return', 'trace_iter'] },
  lsm: { allowed: ['lsm_mac', 'lsm_cgroup'] },
};

/**
 * The expected attach type of a program: its own (`attachType`), else the one its section name gives when
 * the section names the program's type (libbpf's rule); undefined when neither says.
 */
export function programAttachType(p: {
  type: string;
  section?: string;
  attachType?: string;
}): string | undefined {
  if (p.attachType !== undefined) return p.attachType;
  if (!p.section) return undefined;
  const s = programTypeForSection(p.section);
  return s && s.type === p.type ? s.attachType : undefined;
}

/**
 * Whether a program is loaded sleepable (BPF_F_SLEEPABLE), as libbpf decides: its section ends its type
 * part in `.s` (`fentry.s/…`, `lsm.s/…`, `uprobe.multi.s/…`), or it is a syscall program (always sleepable).
 */
export function programSleepable(p: { type: string; section?: string }): boolean {
  return p.type === 'syscall' || /^[a-z_.]*\.s(\/|$)/.test(p.section ?? '');
}
