// Where a kernel program attaches, named in one place: `AttachTarget`, a union by `kind`, and
// `attachProgram(program, target)` that makes the attachment and returns its Link. `autoTarget` reads the
// target from a program's section name the way libbpf's auto-attach does (`tracepoint/syscalls/sys_enter_openat`,
// `raw_tp/sys_enter`, `uprobe/PATH:FUNCTION+OFFSET`, `kprobe/FUNCTION`, `tcx/ingress` …); what a section
// cannot say (an interface, a cgroup, a socket, a CPU) comes from AutoAttachOptions, and when it is missing
// the error names it.

import { TsbpfError } from '../../errors.js';
import { programAttachType } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { attachCgroup, CGROUP_PROGRAM_TYPES } from './cgroup.js';
import { attachIter, type IterOptions } from './iter.js';
import type { KernelAttachment } from './link.js';
import { attachKprobeMulti, attachUprobeMulti, type UprobeMultiOptions } from './multi.js';
import {
  attachNetfilter,
  attachNetns,
  attachSocket,
  attachSockmap,
  attachTcx,
  attachXdpLink,
  type NetfilterOptions,
  type TcxOptions,
} from './net.js';
import {
  attachKprobe,
  attachPerfEvent,
  attachTracepoint,
  attachUprobe,
  type PerfEventOptions,
  type UprobeOptions,
} from './perf-event.js';
import { attachClsact, type ClsactOptions } from './tc.js';
import { attachRawTracepoint, attachTracing } from './tracing.js';
import type { AttachableProgram } from './types.js';
import { attachUsdt, type UsdtOptions } from './usdt.js';

/**
 * Every attachment a kernel program can make, by `kind`:
 * - `tracepoint` — `category/name` of tracefs (tracepoint programs);
 * - `raw_tracepoint` — a raw tracepoint by name (raw_tracepoint programs);
 * - `kprobe` — a kernel function (+ offset), `retprobe` for a kretprobe (kprobe programs; needs kprobes);
 * - `uprobe` — a binary (path, library name or program in $PATH) and a symbol and/or file offset,
 *   `retprobe` for a uretprobe, `pid` for one process (kprobe programs);
 * - `usdt` — a USDT probe (PROVIDER:NAME of a binary's `.note.stapsdt`): a uprobe at each of its locations,
 *   its semaphore counted up while attached (kprobe programs; usdt.bpf.h's `__bpf_usdt_specs` filled for `bpf_usdt_arg`);
 * - `uprobe_multi` — several functions of one binary (names, a shell pattern, offsets) in one link;
 * - `kprobe_multi` — several kernel functions (names or a shell pattern; needs fprobe);
 * - `perf_event` — a sampling event on a CPU or all (perf_event programs);
 * - `tcx` — an interface's ingress or egress (sched_cls programs, kernels with tcx: 6.6+);
 * - `tc` — the same through a clsact qdisc and a cls_bpf filter (rtnetlink), what `tcx` falls back to
 *   on kernels without tcx;
 * - `xdp` — an interface (xdp programs);
 * - `cgroup` — a cgroup v2 directory; the attach type is the program's unless given (cgroup_* programs);
 * - `socket` — a socket's fd the caller owns (socket_filter, sk_reuseport programs);
 * - `sk_lookup` / `flow_dissector` — a network namespace (name, path; default the current one);
 * - `sockmap` — a sockmap or sockhash's fd (sk_msg, sk_skb programs);
 * - `netfilter` — a protocol family, hook and priority (netfilter programs);
 * - `tracing` — the function or hook the program's load named (fentry, fexit, fmod_ret, tp_btf, lsm; needs
 *   BPF trampolines);
 * - `iter` — a BPF iterator (`iter/task`, `iter/bpf_map` …; no trampoline needed): the link's `read()` walks
 *   it; a map for the map-element iterators, a task or cgroup to narrow the others.
 * `cookie` is what `bpf_get_attach_cookie()` returns in the program, where the attachment takes one.
 */
export type AttachTarget =
  | {
      kind: 'tracepoint';
      category: string;
      name: string;
      cookie?: bigint;
      /** Attach with PERF_EVENT_IOC_SET_BPF (kernels before 5.15) rather than a link; cannot be pinned. */
      ioctl?: boolean;
    }
  | { kind: 'raw_tracepoint'; name: string; cookie?: bigint }
  | { kind: 'kprobe'; function: string; offset?: number; retprobe?: boolean; cookie?: bigint }
  | ({ kind: 'uprobe' } & UprobeOptions)
  | ({ kind: 'usdt' } & UsdtOptions)
  | ({ kind: 'uprobe_multi' } & UprobeMultiOptions)
  | {
      kind: 'kprobe_multi';
      functions: readonly string[] | string;
      retprobe?: boolean;
      cookies?: readonly bigint[];
    }
  | ({ kind: 'perf_event' } & PerfEventOptions)
  | ({ kind: 'tcx' } & TcxOptions)
  | ({ kind: 'tc' } & ClsactOptions)
  | { kind: 'xdp'; iface: string | number; netns?: string; mode?: 'skb' | 'native' }
  | {
      kind: 'cgroup';
      path: string;
      attachType?: string;
      /** Attach with BPF_PROG_ATTACH (multi mode), as before cgroup links (5.7); cannot be pinned. */
      progAttach?: boolean;
    }
  | { kind: 'socket'; fd: number }
  | { kind: 'sk_lookup' | 'flow_dissector'; netns?: string }
  | {
      kind: 'sockmap';
      map: number | { readonly fd: number; readonly spec?: { name: string } };
      progAttach?: boolean;
    }
  | ({ kind: 'netfilter' } & NetfilterOptions)
  | { kind: 'tracing' }
  | ({ kind: 'iter' } & IterOptions);

/** Attach `program` to `target`; the Link detaches it (close) and says what it is attached to (info). */
export function attachProgram(program: AttachableProgram, target: AttachTarget): KernelAttachment {
  switch (target.kind) {
    case 'tracepoint':
      return attachTracepoint(program, target.category, target.name, target.cookie, target.ioctl);
    case 'raw_tracepoint':
      return attachRawTracepoint(program, target.name, target.cookie);
    case 'kprobe':
      return attachKprobe(program, target.function, target);
    case 'uprobe':
      return attachUprobe(program, target);
    case 'usdt':
      return attachUsdt(program, target);
    case 'uprobe_multi':
      return attachUprobeMulti(program, target);
    case 'kprobe_multi':
      return attachKprobeMulti(program, target);
    case 'perf_event':
      return attachPerfEvent(program, target);
    case 'tcx':
      try {
        return attachTcx(program, target);
      } catch (e) {
        // Kernels before tcx (6.6) do not know the attach type: the clsact qdisc does the same job.
        if (!(e instanceof KernelError) || e.errno !== EINVAL || program.spec.type !== 'sched_cls') throw e;
        try {
          return attachClsact(program, target);
        } catch {
          throw e;
        }
      }
    case 'tc':
      return attachClsact(program, target);
    case 'xdp':
      return attachXdpLink(program, target);
    case 'cgroup':
      return attachCgroup(program, target.path, target.attachType, target.progAttach);
    case 'socket':
      return attachSocket(program, target.fd);
    case 'sk_lookup':
    case 'flow_dissector':
      return attachNetns(program, target.kind, target.netns);
    case 'sockmap': {
      const m = target.map;
      return typeof m === 'number'
        ? attachSockmap(program, m, { progAttach: target.progAttach })
        : attachSockmap(program, m.fd, { mapName: m.spec?.name, progAttach: target.progAttach });
    }
    case 'netfilter':
      return attachNetfilter(program, target);
    case 'tracing':
      return attachTracing(program);
    case 'iter':
      return attachIter(program, target);
    default:
      throw new TsbpfError(`unknown attach target kind ${(target as { kind: string }).kind}`);
  }
}

/** What a section name cannot say, for auto-attaching: each used only by the program types that need it. */
export interface AutoAttachOptions {
  /** Interface for xdp and tc/tcx programs (in `netns` when given). */
  iface?: string | number;
  /** Network namespace (`ip netns` name or path): of `iface`, and the hook of sk_lookup/netfilter programs. */
  netns?: string;
  /** XDP mode. */
  xdpMode?: 'skb' | 'native';
  /** cgroup v2 directory for cgroup programs. */
  cgroup?: string;
  /** Socket fd for socket filters. */
  socket?: number;
  /** Sockmap/sockhash (fd or map) for sk_msg/sk_skb programs. */
  map?: number | { readonly fd: number; readonly spec?: { name: string } };
  /** CPU for perf_event programs. */
  cpu?: number | 'all';
  /** perf_event programs: the event (default cpu-clock) and its frequency. */
  event?: PerfEventOptions['event'];
  frequency?: number;
  /** Only this process (uprobes, perf events). */
  pid?: number;
  /** Binary and function of a uprobe whose section names none (`SEC("uprobe")`). */
  binary?: string;
  symbol?: string;
  /** netfilter programs: where. */
  netfilter?: Omit<NetfilterOptions, 'netns'>;
  /** Direction of a tc program whose section names none (`SEC("tc")`). */
  direction?: 'ingress' | 'egress';
}

const EINVAL = 22;

const KSYSCALL_PREFIX: Readonly<Record<string, string>> = {
  x64: '__x64_sys_',
  arm64: '__arm64_sys_',
  ia32: '__ia32_sys_',
  riscv64: '__riscv_sys_',
};

/** `FUNCTION+OFFSET` (offset decimal or 0x hex) or a bare address `0x…`. */
function splitOffset(text: string): { symbol?: string; offset?: number } {
  const m = /^([^+]*?)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(text);
  if (!m) return { symbol: text };
  const [, name, off] = m;
  if (name !== '' && /^(0x[0-9a-fA-F]+|\d+)$/.test(name!) && off === undefined)
    return { offset: Number(name) };
  return { symbol: name || undefined, offset: off === undefined ? undefined : Number(off) };
}

/**
 * The target a program's section names, completed from `options` (libbpf's auto-attach rules). Throws a
 * TsbpfError naming the program, its section and what is missing when neither says where.
 */
export function autoTarget(program: AttachableProgram, options: AutoAttachOptions = {}): AttachTarget {
  const section = program.spec.section;
  const where = `program ${program.name} (section ${section || '(none)'})`;
  const missing = (what: string): never => {
    throw new TsbpfError(`cannot attach automatically: needs ${what}`, where);
  };
  const slash = section.indexOf('/');
  const head = slash < 0 ? section : section.slice(0, slash);
  const rest = slash < 0 ? '' : section.slice(slash + 1);
  const type = program.spec.type;
  switch (head) {
    case 'tracepoint':
    case 'tp': {
      const parts = rest.split('/');
      if (parts.length !== 2 || !parts[0] || !parts[1])
        return missing('a tracepoint in the section: tracepoint/CATEGORY/NAME');
      return { kind: 'tracepoint', category: parts[0], name: parts[1] };
    }
    case 'raw_tracepoint':
    case 'raw_tp':
    case 'raw_tracepoint.w':
    case 'raw_tp.w':
      return rest
        ? { kind: 'raw_tracepoint', name: rest }
        : missing('a tracepoint name in the section: raw_tp/NAME');
    case 'kprobe':
    case 'kretprobe': {
      if (!rest) return missing(`a kernel function in the section: ${head}/FUNCTION[+OFFSET]`);
      const { symbol, offset } = splitOffset(rest);
      if (!symbol) return missing(`a kernel function in the section: ${head}/FUNCTION[+OFFSET]`);
      return { kind: 'kprobe', function: symbol, offset, retprobe: head === 'kretprobe' };
    }
    case 'ksyscall':
    case 'kretsyscall': {
      const prefix = KSYSCALL_PREFIX[process.arch];
      if (!rest) return missing(`a system call in the section: ${head}/NAME`);
      if (!prefix) throw new TsbpfError(`no syscall wrapper prefix known for ${process.arch}`, where);
      return { kind: 'kprobe', function: `${prefix}${rest}`, retprobe: head === 'kretsyscall' };
    }
    case 'uprobe':
    case 'uretprobe':
    case 'uprobe.s':
    case 'uretprobe.s': {
      const retprobe = head.startsWith('uretprobe');
      if (!rest) {
        if (!options.binary || options.symbol === undefined)
          return missing(`a binary and a function: section ${head}/PATH:FUNCTION, or { binary, symbol }`);
        return { kind: 'uprobe', binary: options.binary, symbol: options.symbol, retprobe, pid: options.pid };
      }
      const colon = rest.lastIndexOf(':');
      if (colon <= 0 || colon === rest.length - 1)
        return missing(`a binary and a function in the section: ${head}/PATH:FUNCTION[+OFFSET]`);
      const { symbol, offset } = splitOffset(rest.slice(colon + 1));
      return { kind: 'uprobe', binary: rest.slice(0, colon), symbol, offset, retprobe, pid: options.pid };
    }
    case 'uprobe.multi':
    case 'uretprobe.multi':
    case 'uprobe.multi.s':
    case 'uretprobe.multi.s': {
      const retprobe = head.startsWith('uretprobe');
      if (!rest) {
        if (!options.binary || options.symbol === undefined)
          return missing(`a binary and functions: section ${head}/PATH:PATTERN, or { binary, symbol }`);
        return {
          kind: 'uprobe_multi',
          binary: options.binary,
          symbols: options.symbol,
          retprobe,
          pid: options.pid,
        };
      }
      const colon = rest.lastIndexOf(':');
      if (colon <= 0 || colon === rest.length - 1)
        return missing(`a binary and functions in the section: ${head}/PATH:PATTERN`);
      return {
        kind: 'uprobe_multi',
        binary: rest.slice(0, colon),
        symbols: rest.slice(colon + 1),
        retprobe,
        pid: options.pid,
      };
    }
    case 'kprobe.multi':
    case 'kretprobe.multi':
      if (!rest) return missing(`kernel functions in the section: ${head}/PATTERN`);
      return { kind: 'kprobe_multi', functions: rest, retprobe: head === 'kretprobe.multi' };
    case 'perf_event':
      if (options.cpu === undefined) return missing('a CPU to sample on: { cpu } (a number or "all")');
      return {
        kind: 'perf_event',
        cpu: options.cpu,
        event: options.event,
        frequency: options.frequency,
        pid: options.pid,
      };
    case 'tc':
    case 'tcx':
    case 'classifier': {
      const direction = rest === 'ingress' || rest === 'egress' ? rest : options.direction;
      if (!direction) return missing('a direction: section tcx/ingress or tcx/egress, or { direction }');
      if (options.iface === undefined) return missing(`an interface for tcx ${direction}: { iface, netns? }`);
      return { kind: 'tcx', iface: options.iface, direction, netns: options.netns };
    }
    case 'xdp':
    case 'xdp.frags':
      if (rest) return missing(`a device or CPU map: ${section} programs run from a devmap/cpumap entry`);
      if (options.iface === undefined) return missing('an interface: { iface, netns? }');
      return { kind: 'xdp', iface: options.iface, netns: options.netns, mode: options.xdpMode };
    case 'fentry':
    case 'fexit':
    case 'fmod_ret':
    case 'fentry.s':
    case 'fexit.s':
    case 'fmod_ret.s':
    case 'tp_btf':
    case 'lsm':
    case 'lsm.s':
      return { kind: 'tracing' };
    case 'iter':
    case 'iter.s': {
      // The map-element iterators walk one map: it must be given. Task iterators narrow to `pid` if given.
      if (/^(bpf_map_elem|bpf_sk_storage_map|sockmap)$/.test(rest) && options.map === undefined)
        return missing(`a map for iter/${rest}: { map }`);
      if (/^(bpf_map_elem|bpf_sk_storage_map|sockmap)$/.test(rest)) return { kind: 'iter', map: options.map };
      return /^task/.test(rest) ? { kind: 'iter', pid: options.pid } : { kind: 'iter' };
    }
    case 'lsm_cgroup':
      if (options.cgroup === undefined) return missing('a cgroup v2 directory for lsm_cgroup: { cgroup }');
      return { kind: 'cgroup', path: options.cgroup, attachType: 'lsm_cgroup' };
    case 'usdt':
    case 'usdt.s': {
      // usdt/BINARY:PROVIDER:NAME (the binary may hold ':' itself: the last two fields are the probe).
      const parts = rest.split(':');
      if (parts.length < 3 || parts.some((p) => !p))
        return missing('a probe in the section: usdt/BINARY:PROVIDER:NAME');
      const name = parts.pop()!;
      const provider = parts.pop()!;
      return { kind: 'usdt', binary: parts.join(':'), provider, name, pid: options.pid };
    }
  }
  if (CGROUP_PROGRAM_TYPES.has(type) && type !== 'lsm') {
    if (options.cgroup === undefined)
      return missing(`a cgroup v2 directory for ${programAttachType(program.spec) ?? type}: { cgroup }`);
    return { kind: 'cgroup', path: options.cgroup };
  }
  switch (type) {
    case 'socket_filter':
    case 'sk_reuseport':
      return options.socket === undefined
        ? missing('a socket: { socket: fd }')
        : { kind: 'socket', fd: options.socket };
    case 'sk_lookup':
    case 'flow_dissector':
      return options.netns === undefined
        ? missing(`a network namespace: { netns } (a name, or /proc/self/ns/net for this one)`)
        : { kind: type, netns: options.netns };
    case 'sk_msg':
    case 'sk_skb':
      return options.map === undefined
        ? missing('a sockmap or sockhash: { map }')
        : { kind: 'sockmap', map: options.map };
    case 'netfilter':
      return options.netfilter === undefined
        ? missing('a netfilter hook: { netfilter: { family, hook, priority } }')
        : { kind: 'netfilter', ...options.netfilter, netns: options.netns };
  }
  throw new TsbpfError(`${type} programs do not auto-attach (no attach point for this section)`, where);
}

/**
 * Attach every program of `programs` by its section (libbpf's skeleton attach). All or nothing: when one
 * cannot attach, the ones already attached are detached and the error names the program and why.
 */
export function attachAll(
  programs: Iterable<AttachableProgram>,
  options: AutoAttachOptions = {},
): KernelAttachment[] {
  const links: KernelAttachment[] = [];
  try {
    for (const p of programs) links.push(attachProgram(p, autoTarget(p, options)));
    return links;
  } catch (e) {
    for (const l of links.reverse()) {
      try {
        void l.close();
      } catch {
        /* the first error is the one to report */
      }
    }
    throw e;
  }
}
