// Program type names as users spell them, resolved to the kernel's: wherever a type is given (`--type`),
// the kernel's own names (`sched_cls`, BPF_PROG_TYPE_SCHED_CLS), bpftool's (`classifier`, `socket`,
// `cgroup/skb`, `fentry` …) and libbpf's section names (`tc`, `xdp.frags`, `cgroup_skb/egress` …) all
// work. bpftool reads its type argument with libbpf's section rules, so ./sections.ts answers for both;
// the names only the kernel uses are listed here. An unknown name gets the close names back.

import { programTypeForSection } from './sections.js';

/** enum bpf_prog_type in order (BPF_PROG_TYPE_* lower-cased without the prefix; 0 is unspec). */
const KERNEL_TYPES = [
  'unspec',
  'socket_filter',
  'kprobe',
  'sched_cls',
  'sched_act',
  'tracepoint',
  'xdp',
  'perf_event',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'raw_tracepoint_writable',
  'cgroup_sockopt',
  'tracing',
  'struct_ops',
  'ext',
  'lsm',
  'sk_lookup',
  'syscall',
  'netfilter',
] as const;

/** bpftool's `prog load … type TYPE` words (`bpftool prog help`, Linux 6.18). */
const BPFTOOL_TYPES = [
  'socket',
  'kprobe',
  'kretprobe',
  'classifier',
  'action',
  'tracepoint',
  'raw_tracepoint',
  'xdp',
  'perf_event',
  'cgroup/skb',
  'cgroup/sock',
  'cgroup/dev',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sockops',
  'sk_skb',
  'sk_msg',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup/sysctl',
  'cgroup/bind4',
  'cgroup/bind6',
  'cgroup/post_bind4',
  'cgroup/post_bind6',
  'cgroup/connect4',
  'cgroup/connect6',
  'cgroup/getpeername4',
  'cgroup/getpeername6',
  'cgroup/getsockname4',
  'cgroup/getsockname6',
  'cgroup/sendmsg4',
  'cgroup/sendmsg6',
  'cgroup/recvmsg4',
  'cgroup/recvmsg6',
  'cgroup/getsockopt',
  'cgroup/setsockopt',
  'cgroup/sock_release',
  'struct_ops',
  'fentry',
  'fexit',
  'freplace',
  'sk_lookup',
] as const;

/** libbpf section names people also pass as a type (the ones without a target). */
const SECTION_WORDS = [
  'tc',
  'tcx/ingress',
  'tcx/egress',
  'xdp.frags',
  'xdp/devmap',
  'xdp/cpumap',
  'cgroup_skb/ingress',
  'cgroup_skb/egress',
  'cgroup/sock_create',
  'uprobe',
  'uretprobe',
  'usdt',
  'tp',
  'raw_tp',
  'tp_btf',
  'fmod_ret',
  'lsm',
  'iter',
  'syscall',
  'netfilter',
  'sk_skb/stream_parser',
  'sk_skb/stream_verdict',
] as const;

/** A program type name resolved: the kernel's type and, when the name fixes one, the attach type. */
export interface ResolvedProgramType {
  /** BPF_PROG_TYPE_* lower-cased without the prefix (`sched_cls`). */
  type: string;
  /** BPF_* attach type lower-cased without the prefix, when the name fixes one (`cgroup/bind4`). */
  attachType?: string;
}

/**
 * The program type a user means by `name`: a kernel name (`sched_cls`, `BPF_PROG_TYPE_SCHED_CLS`), a bpftool
 * name (`classifier`, `socket`, `cgroup/bind4`, `fentry`) or a libbpf section name (`tc`, `xdp.frags`,
 * `kprobe/do_sys_open`); undefined when it is none of them.
 */
export function resolveProgramType(name: string): ResolvedProgramType | undefined {
  const word = name.trim();
  const kernel = word.toLowerCase().replace(/^bpf_prog_type_/, '');
  if (kernel !== 'unspec' && (KERNEL_TYPES as readonly string[]).includes(kernel)) return { type: kernel };
  const s = programTypeForSection(word);
  if (!s) return undefined;
  return s.attachType === undefined ? { type: s.type } : { type: s.type, attachType: s.attachType };
}

/** Every name `resolveProgramType` takes without a target: kernel, bpftool and section words. */
export function programTypeNames(): string[] {
  return [...new Set([...KERNEL_TYPES.slice(1), ...BPFTOOL_TYPES, ...SECTION_WORDS])];
}

/** Edit distance between two short names (bounded: names are a few dozen characters). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to `max` known names close to `name`: a few edits away, or sharing a word with it. */
export function closeProgramTypeNames(name: string, max = 5): string[] {
  // Names longer than any known one are not compared letter by letter (a bound on the work).
  const word = name.trim().toLowerCase().slice(0, 64);
  const parts = word.split(/[/_.\-\s]+/).filter((p) => p.length >= 3);
  const scored: [string, number][] = [];
  for (const known of programTypeNames()) {
    const d = distance(word, known);
    const shared = parts.some((p) => known.includes(p));
    if (d <= Math.max(2, Math.floor(word.length / 3)) || shared) scored.push([known, shared ? d - 10 : d]);
  }
  return scored
    .sort((x, y) => x[1] - y[1])
    .slice(0, max)
    .map(([n]) => n);
}

/** The one-line message for a name `resolveProgramType` does not know. */
export function unknownProgramTypeMessage(name: string): string {
  const close = closeProgramTypeNames(name);
  const hint =
    close.length > 0 ? `did you mean ${close.join(', ')}?` : 'e.g. xdp, tc, socket, kprobe, cgroup/skb';
  return `unknown program type '${name}' (${hint})`;
}
