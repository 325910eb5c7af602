// Which program types may call a helper, in the kernel's groups (its `*_func_proto` per program type). A
// helper without a list is in the kernel's base set, which every program type reaches as root. Types are
// named as `enum bpf_prog_type` without its prefix, lower case (`raw_tracepoint_writable`, `sk_lookup` ...).
// The lists are what Linux 6.18 answers (test/helpers/prototypes.test.ts asks it for every type it can load
// here); tracing and lsm, which this machine cannot load, follow the kernel's tracing_prog_func_proto.

/** Types whose context is a probe's: kprobe, tracepoints, perf events, and the BTF-typed tracing programs. */
export const PROBE_TYPES: readonly string[] = [
  'kprobe',
  'tracepoint',
  'perf_event',
  'raw_tracepoint',
  'raw_tracepoint_writable',
  'tracing',
  'lsm',
];

/** PROBE_TYPES and syscall programs (bpf_tracing_func_proto's callers): stacks, probe reads, func ip. */
export const TRACING_TYPES: readonly string[] = [...PROBE_TYPES, 'syscall'];

/** Programs attached through a BPF trampoline (fentry/fexit/fmod_ret, lsm): the traced function's args. */
export const TRAMPOLINE_TYPES: readonly string[] = ['tracing', 'lsm'];

/** Socket lookups (bpf_sk_lookup_tcp/udp, bpf_skc_lookup_tcp): TC, XDP, cgroup skb/sock_addr, sk_skb. */
export const SOCK_LOOKUP_TYPES: readonly string[] = [
  'sched_cls',
  'sched_act',
  'xdp',
  'cgroup_skb',
  'sk_skb',
  'cgroup_sock_addr',
];

/** TC and XDP: fib_lookup, tcp_check_syncookie. */
export const TC_XDP_TYPES: readonly string[] = ['sched_cls', 'sched_act', 'xdp'];

/** Programs that may compute checksum differences (csum_diff): TC, XDP and the lightweight tunnels. */
export const CSUM_TYPES: readonly string[] = [
  'sched_cls',
  'sched_act',
  'xdp',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
];

/** Programs with a perf_event_output: every type but sk_reuseport, flow_dissector and netfilter. */
export const PERF_OUTPUT_TYPES: readonly string[] = [
  ...PROBE_TYPES,
  'syscall',
  'socket_filter',
  'sched_cls',
  'sched_act',
  'xdp',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'cgroup_sock_addr',
  'cgroup_sysctl',
  'cgroup_sockopt',
  'sk_lookup',
];

/** Networking programs: the kernel's bpf_sk_base_func_proto users, which alone get ktime_get_coarse_ns. */
export const COARSE_CLOCK_TYPES: readonly string[] = [
  'socket_filter',
  'sched_cls',
  'sched_act',
  'xdp',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sock_ops',
  'sk_skb',
  'sk_msg',
  'cgroup_sock_addr',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'sk_lookup',
];

/**
 * The skc_to_*_sock casts: networking programs with a socket to cast (not cgroup_sock, cgroup_device,
 * sk_reuseport, cgroup_sysctl, cgroup_sockopt, netfilter) and the BTF-typed programs.
 */
export const SOCK_CAST_TYPES: readonly string[] = [
  'socket_filter',
  'sched_cls',
  'sched_act',
  'xdp',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'sk_msg',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'flow_dissector',
  'sk_lookup',
  'syscall',
  'tracing',
  'lsm',
];
