// Attachments of packet and socket programs: tcx links on an interface (BPF_TCX_INGRESS/EGRESS), the
// sk_lookup hook of a network namespace, netfilter hooks, a socket filter on a socket the user owns
// (SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF), and sk_msg/sk_skb programs on a sockmap or sockhash (a
// link where the kernel has sockmap links, 6.10+; BPF_PROG_ATTACH otherwise). Interfaces, namespaces and
// hooks are resolved in the named network namespace when one is given, so tests use their own.

import { closeSync, openSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber, programAttachType } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { ifNameToIndex } from '../ffi.js';
import { withNetns } from '../netns.js';
import { BpfLink, HookLink, type KernelAttachment } from './link.js';
import { SO_ATTACH_BPF, SO_DETACH_BPF, SOL_SOCKET, setSockoptInt } from './native.js';
import { createLink, progAttach, progDetach } from './sys.js';
import type { AttachableProgram } from './types.js';

const EINVAL = 22;

function inNetns<T>(netns: string | undefined, fn: () => T): T {
  return netns ? withNetns(netns, fn) : fn();
}

function attachTypeOf(prog: AttachableProgram, allowed: readonly string[], fallback: string): number {
  const name = programAttachType(prog.spec) ?? fallback;
  if (!allowed.includes(name))
    throw new TsbpfError(
      `expected attach type ${name} does not attach here (wants ${allowed.join(' or ')})`,
      `program ${prog.name}`,
    );
  return attachTypeNumber(name)!;
}

/** Where a tcx program goes: an interface (in `netns`, else the current namespace) and a direction. */
export interface TcxOptions {
  iface: string | number;
  direction: 'ingress' | 'egress';
  /** `ip netns` name or path of the interface's network namespace. */
  netns?: string;
}

/** A sched_cls program on an interface's tcx hook, through a link. */
export function attachTcx(prog: AttachableProgram, o: TcxOptions): BpfLink {
  return inNetns(o.netns, () => {
    const ifindex = typeof o.iface === 'number' ? o.iface : ifNameToIndex(o.iface);
    const what = `tcx ${o.direction} of ${o.iface}, program ${prog.name}`;
    const fd = createLink(
      { progFd: prog.fd, target: ifindex, attachType: attachTypeNumber(`tcx_${o.direction}`)! },
      what,
    );
    return new BpfLink(fd, {
      kind: `tcx_${o.direction}`,
      program: prog.name,
      target: o.netns ? `${o.iface} (netns ${o.netns})` : String(o.iface),
      backend: 'kernel',
    });
  });
}

function openNetns(netns: string | undefined): number {
  const path =
    netns === undefined ? '/proc/thread-self/ns/net' : netns.includes('/') ? netns : `/run/netns/${netns}`;
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new KernelError('open', 2, `no network namespace ${netns} (${(e as Error).message})`);
  }
}

/**
 * A program on a network namespace's hook (the current namespace when none is named): sk_lookup (socket
 * lookup) or flow_dissector.
 */
export function attachNetns(
  prog: AttachableProgram,
  hook: 'sk_lookup' | 'flow_dissector',
  netns?: string,
): BpfLink {
  const nsfd = openNetns(netns);
  try {
    const fd = createLink(
      { progFd: prog.fd, target: nsfd, attachType: attachTypeNumber(hook)! },
      `${hook} of netns ${netns ?? '(current)'}, program ${prog.name}`,
    );
    return new BpfLink(fd, {
      kind: hook,
      program: prog.name,
      target: netns ?? 'current netns',
      backend: 'kernel',
    });
  } finally {
    closeSync(nsfd);
  }
}

/** An XDP program on an interface through a link ('skb': generic XDP; 'native': the driver's). */
export function attachXdpLink(
  prog: AttachableProgram,
  o: { iface: string | number; netns?: string; mode?: 'skb' | 'native' },
): BpfLink {
  return inNetns(o.netns, () => {
    const ifindex = typeof o.iface === 'number' ? o.iface : ifNameToIndex(o.iface);
    const flags = o.mode === 'skb' ? 2 : o.mode === 'native' ? 4 : 0; // XDP_FLAGS_SKB_MODE, _DRV_MODE
    const fd = createLink(
      { progFd: prog.fd, target: ifindex, attachType: attachTypeNumber('xdp')!, flags },
      `xdp on ${o.iface}, program ${prog.name}`,
    );
    return new BpfLink(fd, { kind: 'xdp', program: prog.name, target: String(o.iface), backend: 'kernel' });
  });
}

/** Netfilter protocol families and hooks by name (NFPROTO_*, NF_INET_*). */
const FAMILIES: Readonly<Record<string, number>> = { ipv4: 2, ipv6: 10 };
const HOOKS: Readonly<Record<string, number>> = {
  prerouting: 0,
  input: 1,
  forward: 2,
  output: 3,
  postrouting: 4,
};

/** Where a netfilter program goes. */
export interface NetfilterOptions {
  family: 'ipv4' | 'ipv6';
  /** `prerouting`, `input`, `forward`, `output`, `postrouting`. */
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** Order among the hook's functions (lower first); the kernel refuses INT_MIN and INT_MAX. */
  priority: number;
  /** Reassemble IP fragments before the program (BPF_F_NETFILTER_IP_DEFRAG). */
  defrag?: boolean;
  /** `ip netns` name or path; default the current namespace. */
  netns?: string;
}

/** A netfilter program on a hook of a network namespace, through a link. */
export function attachNetfilter(prog: AttachableProgram, o: NetfilterOptions): BpfLink {
  const pf = FAMILIES[o.family];
  const hooknum = HOOKS[o.hook];
  if (pf === undefined || hooknum === undefined)
    throw new TsbpfError(
      `netfilter family ${o.family} / hook ${o.hook}: families ${Object.keys(FAMILIES).join(', ')}; hooks ${Object.keys(HOOKS).join(', ')}`,
      `program ${prog.name}`,
    );
  if (!Number.isInteger(o.priority))
    throw new TsbpfError(`netfilter priority ${o.priority} is not an integer`);
  return inNetns(o.netns, () => {
    const fd = createLink(
      {
        progFd: prog.fd,
        target: 0,
        attachType: attachTypeNumber('netfilter')!,
        netfilter: { pf, hooknum, priority: o.priority, flags: o.defrag ? 1 : 0 },
      },
      `netfilter ${o.family} ${o.hook} priority ${o.priority}, program ${prog.name}`,
    );
    return new BpfLink(fd, {
      kind: 'netfilter',
      program: prog.name,
      target: `${o.family} ${o.hook} ${o.priority}${o.netns ? ` (netns ${o.netns})` : ''}`,
      backend: 'kernel',
    });
  });
}

const SO_ATTACH_REUSEPORT_EBPF = 52;
const SO_DETACH_REUSEPORT_BPF = 68;

/**
 * A socket filter (or sk_reuseport program) on socket `fd`, which stays the caller's: closing the Link
 * detaches the program and leaves the socket open.
 */
export function attachSocket(prog: AttachableProgram, fd: number): HookLink {
  const reuseport = prog.spec.type === 'sk_reuseport';
  const [attach, detach] = reuseport
    ? [SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_REUSEPORT_BPF]
    : [SO_ATTACH_BPF, SO_DETACH_BPF];
  setSockoptInt(fd, SOL_SOCKET, attach, prog.fd, `attaching program ${prog.name} to socket fd ${fd}`);
  return new HookLink(
    {
      kind: reuseport ? 'sk_reuseport' : 'socket',
      program: prog.name,
      target: `socket fd ${fd}`,
      backend: 'kernel',
    },
    () => setSockoptInt(fd, SOL_SOCKET, detach, 0, `detaching program ${prog.name} from socket fd ${fd}`),
  );
}

const SOCKMAP_TYPES = ['sk_msg_verdict', 'sk_skb_stream_verdict', 'sk_skb_stream_parser', 'sk_skb_verdict'];

/**
 * An sk_msg or sk_skb program on a sockmap/sockhash (`mapFd`): a link where the kernel has sockmap links
 * (6.10+), BPF_PROG_ATTACH otherwise or when `progAttach` asks for it.
 */
export function attachSockmap(
  prog: AttachableProgram,
  mapFd: number,
  options: { mapName?: string; progAttach?: boolean } = {},
): KernelAttachment {
  const fallback = prog.spec.type === 'sk_msg' ? 'sk_msg_verdict' : 'sk_skb_verdict';
  const type = attachTypeOf(prog, SOCKMAP_TYPES, fallback);
  const what = {
    kind: 'sockmap',
    program: prog.name,
    target: options.mapName ?? `map fd ${mapFd}`,
    backend: 'kernel' as const,
  };
  if (!options.progAttach) {
    try {
      const fd = createLink(
        { progFd: prog.fd, target: mapFd, attachType: type },
        `sockmap ${what.target}, program ${prog.name}`,
      );
      return new BpfLink(fd, what);
    } catch (e) {
      if (!(e instanceof KernelError) || e.errno !== EINVAL) throw e;
    }
  }
  progAttach(mapFd, prog.fd, type);
  return new HookLink(what, () => progDetach(mapFd, prog.fd, type));
}
