// The bpf() commands attaching uses beyond what src/kernel/syscall.ts wraps: BPF_LINK_CREATE with the
// per-type tails (perf-event cookie, netfilter hook, tcx ordering), BPF_RAW_TRACEPOINT_OPEN, the pre-link
// BPF_PROG_ATTACH/DETACH (sockmaps), and what BPF_OBJ_GET_INFO_BY_FD says of a link. Offsets follow
// `union bpf_attr` of include/uapi/linux/bpf.h (6.18).

import { KernelError } from '../errors.js';
import { type Arena, arena } from '../ffi.js';

/** The bpf() commands used here (enum bpf_cmd). */
export const LinkCmd = {
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  OBJ_GET_INFO_BY_FD: 15,
  RAW_TRACEPOINT_OPEN: 17,
  LINK_CREATE: 28,
  LINK_GET_FD_BY_ID: 30,
} as const;

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(LinkCmd).map(([k, v]) => [v, `BPF_${k}`]),
);

function call(a: Arena, cmd: number, size: number, detail?: string): number {
  const r = a.call(cmd, size);
  if (r < 0) throw new KernelError(NAMES[cmd] ?? `bpf cmd ${cmd}`, -r, detail);
  return r;
}

/** BPF_LINK_CREATE: the common head and the type-specific tail at offset 16. */
const Create = {
  prog_fd: 0,
  target_fd: 4,
  attach_type: 8,
  flags: 12,
  perf_event_cookie: 16, // u64
  netfilter_pf: 16,
  netfilter_hooknum: 20,
  netfilter_priority: 24, // s32
  netfilter_flags: 28,
  tcx_relative_fd: 16,
  tcx_expected_revision: 24, // u64
  SIZE: 64,
} as const;

/** What BPF_LINK_CREATE takes here. */
export interface CreateLink {
  progFd: number;
  /** The target's fd (cgroup, netns, perf event) or interface index (XDP, tcx); 0 for none. */
  target: number;
  attachType: number;
  flags?: number;
  /** perf_event links: the value `bpf_get_attach_cookie()` returns. */
  cookie?: bigint;
  netfilter?: { pf: number; hooknum: number; priority: number; flags: number };
}

/** BPF_LINK_CREATE; returns the link's fd. `detail` names the attachment in the error. */
export function createLink(o: CreateLink, detail: string): number {
  const a = arena();
  a.begin(0);
  const v = a.view;
  v.setUint32(Create.prog_fd, o.progFd, true);
  v.setUint32(Create.target_fd, o.target, true);
  v.setUint32(Create.attach_type, o.attachType, true);
  v.setUint32(Create.flags, o.flags ?? 0, true);
  if (o.cookie !== undefined) v.setBigUint64(Create.perf_event_cookie, o.cookie, true);
  if (o.netfilter) {
    v.setUint32(Create.netfilter_pf, o.netfilter.pf, true);
    v.setUint32(Create.netfilter_hooknum, o.netfilter.hooknum, true);
    v.setInt32(Create.netfilter_priority, o.netfilter.priority, true);
    v.setUint32(Create.netfilter_flags, o.netfilter.flags, true);
  }
  return call(a, LinkCmd.LINK_CREATE, Create.SIZE, detail);
}

/** BPF_RAW_TRACEPOINT_OPEN: `name` null for tracing programs (fentry/fexit/tp_btf/lsm: the target is the load's). */
export function rawTracepointOpen(progFd: number, name: string | null, cookie?: bigint): number {
  const bytes = name === null ? undefined : new TextEncoder().encode(name);
  const a = arena();
  a.begin((bytes?.length ?? 0) + 16);
  if (bytes) {
    const at = a.reserve(bytes.length + 1);
    a.bytes.set(bytes, at);
    a.setPointer(0, at);
  }
  a.view.setUint32(8, progFd, true);
  if (cookie !== undefined) a.view.setBigUint64(16, cookie, true);
  return call(a, LinkCmd.RAW_TRACEPOINT_OPEN, 24, name === null ? undefined : `raw tracepoint ${name}`);
}

/** BPF_PROG_ATTACH / BPF_PROG_DETACH: target fd (a sockmap, a cgroup …), program fd, attach type. */
export function progAttach(targetFd: number, progFd: number, attachType: number, flags = 0): void {
  const a = arena();
  a.begin(0);
  a.view.setUint32(0, targetFd, true);
  a.view.setUint32(4, progFd, true);
  a.view.setUint32(8, attachType, true);
  a.view.setUint32(12, flags, true);
  call(a, LinkCmd.PROG_ATTACH, 32);
}

/** BPF_PROG_DETACH of `progFd` from `targetFd`. */
export function progDetach(targetFd: number, progFd: number, attachType: number): void {
  const a = arena();
  a.begin(0);
  a.view.setUint32(0, targetFd, true);
  a.view.setUint32(4, progFd, true);
  a.view.setUint32(8, attachType, true);
  call(a, LinkCmd.PROG_DETACH, 32);
}

/** What the kernel says of a link (struct bpf_link_info's head). */
export interface LinkKernelInfo {
  /** enum bpf_link_type: 1 raw tracepoint, 2 tracing, 3 cgroup, 5 netns, 6 xdp, 7 perf event … */
  type: number;
  id: number;
  progId: number;
}

/** BPF_OBJ_GET_INFO_BY_FD on a link. */
export function linkInfo(fd: number): LinkKernelInfo {
  const a = arena();
  a.begin(64);
  const info = a.reserve(64);
  a.view.setUint32(0, fd, true);
  a.view.setUint32(4, 64, true);
  a.setPointer(8, info);
  call(a, LinkCmd.OBJ_GET_INFO_BY_FD, 16, `link fd ${fd}`);
  return {
    type: a.view.getUint32(info, true),
    id: a.view.getUint32(info + 4, true),
    progId: a.view.getUint32(info + 8, true),
  };
}

/** BPF_LINK_GET_FD_BY_ID: a new fd for the link with this id. */
export function linkFdById(id: number): number {
  const a = arena();
  a.begin(0);
  a.view.setUint32(0, id, true);
  return call(a, LinkCmd.LINK_GET_FD_BY_ID, 12, `link id ${id}`);
}
