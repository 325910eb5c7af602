// The native calls attaching needs beyond bpf(): perf_event_open(2), ioctl(2) on perf events, and
// setsockopt(2) for socket filters, through the same koffi handle as bpf(). Structures the kernel reads
// (struct perf_event_attr, path strings) are built in the bpf arena and passed as addresses: on the
// supported ABIs a pointer travels in an integer register, so the prototypes take plain integers.

import type * as Koffi from 'koffi';
import { KernelError } from '../errors.js';
import { arena, nativeLibc } from '../ffi.js';

/** Syscall number of perf_event_open by architecture. */
const PERF_EVENT_OPEN: Readonly<Record<string, number>> = { x64: 298, arm64: 241, ia32: 336, riscv64: 241 };

interface Calls {
  koffi: typeof Koffi;
  perfEventOpen: (nr: number, attr: bigint, pid: number, cpu: number, group: number, flags: number) => number;
  ioctl: (fd: number, request: number, arg: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: bigint, len: number) => number;
  socket: (domain: number, type: number, protocol: number) => number;
  send: (fd: number, buf: bigint, len: number, flags: number) => number;
  recv: (fd: number, buf: bigint, len: number, flags: number) => number;
}

let calls: Calls | undefined;

function load(): Calls {
  if (calls) return calls;
  const { koffi, libc } = nativeLibc();
  calls = {
    koffi,
    // syscall() is variadic; integer arguments travel the same way with this fixed prototype.
    perfEventOpen: libc.func(
      'long syscall(long nr, uint64_t attr, long pid, long cpu, long group, long flags)',
    ) as Calls['perfEventOpen'],
    ioctl: libc.func('int ioctl(int fd, unsigned long request, long arg)') as Calls['ioctl'],
    setsockopt: libc.func(
      'int setsockopt(int fd, int level, int name, uint64_t value, uint32_t len)',
    ) as Calls['setsockopt'],
    socket: libc.func('int socket(int domain, int type, int protocol)') as Calls['socket'],
    send: libc.func('long send(int fd, uint64_t buf, size_t len, int flags)') as Calls['send'],
    recv: libc.func('long recv(int fd, uint64_t buf, size_t len, int flags)') as Calls['recv'],
  };
  return calls;
}

/** enum perf_type_id, and the dynamic PMUs' types read from sysfs. */
export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4 } as const;

/** struct perf_event_attr up to sample_max_stack (PERF_ATTR_SIZE_VER5): the fields set here. */
const Attr = {
  type: 0,
  size: 4,
  config: 8,
  sample_period: 16, // or sample_freq with the `freq` bit
  sample_type: 24,
  flags: 40, // bit field: disabled 0, inherit 1, … freq 10
  wakeup_events: 48,
  config1: 56, // kprobe_func / uprobe_path
  config2: 64, // probe_offset
  SIZE: 112,
} as const;

const FLAG_DISABLED = 1n << 0n;
const FLAG_FREQ = 1n << 10n;
const PERF_FLAG_FD_CLOEXEC = 8;

/** What perf_event_open takes here. */
export interface PerfEventAttr {
  type: number;
  config: bigint;
  /** A string the kernel reads through config1 (the probed function or binary path). */
  config1String?: string;
  config2?: bigint;
  /** Sampling period, or frequency in Hz when `freq` is set. */
  sample?: number;
  freq?: boolean;
  /** Open disabled (enabled later with `perfEnable`), so nothing fires before the program is attached. */
  disabled?: boolean;
}

/**
 * perf_event_open(attr, pid, cpu, -1, CLOEXEC): returns the event's fd. `what` names the event in the error.
 */
export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, what: string): number {
  const c = load();
  const nr = PERF_EVENT_OPEN[process.arch];
  if (nr === undefined)
    throw new KernelError('perf_event_open', 38, `unknown syscall number on ${process.arch}`);
  const text = attr.config1String !== undefined ? new TextEncoder().encode(attr.config1String) : undefined;
  const a = arena();
  a.begin(Attr.SIZE + (text ? text.length + 1 : 0) + 16);
  const at = a.reserve(Attr.SIZE);
  const v = a.view;
  v.setUint32(at + Attr.type, attr.type, true);
  v.setUint32(at + Attr.size, Attr.SIZE, true);
  v.setBigUint64(at + Attr.config, attr.config, true);
  v.setBigUint64(at + Attr.sample_period, BigInt(attr.sample ?? 0), true);
  let flags = 0n;
  if (attr.disabled) flags |= FLAG_DISABLED;
  if (attr.freq) flags |= FLAG_FREQ;
  v.setBigUint64(at + Attr.flags, flags, true);
  if (text) {
    const s = a.reserve(text.length + 1);
    a.bytes.set(text, s);
    v.setBigUint64(at + Attr.config1, a.address(s), true);
  }
  v.setBigUint64(at + Attr.config2, attr.config2 ?? 0n, true);
  const fd = c.perfEventOpen(nr, a.address(at), pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) throw new KernelError('perf_event_open', c.koffi.errno(), what);
  return fd;
}

/** _IO('$', n) and _IOW('$', 8, u32): the perf event ioctls used here. */
const IOC_ENABLE = 0x2400;
const IOC_DISABLE = 0x2401;
const IOC_SET_BPF = 0x40042408;

function ioctl(fd: number, request: number, arg: number, what: string): void {
  const c = load();
  if (c.ioctl(fd, request, arg) < 0) throw new KernelError('ioctl', c.koffi.errno(), what);
}

/** PERF_EVENT_IOC_ENABLE. */
export function perfEnable(fd: number): void {
  ioctl(fd, IOC_ENABLE, 0, `enabling perf event fd ${fd}`);
}

/** PERF_EVENT_IOC_DISABLE. */
export function perfDisable(fd: number): void {
  ioctl(fd, IOC_DISABLE, 0, `disabling perf event fd ${fd}`);
}

/** PERF_EVENT_IOC_SET_BPF: the pre-link way of attaching a program to a perf event. */
export function perfSetBpf(fd: number, progFd: number): void {
  ioctl(fd, IOC_SET_BPF, progFd, `attaching a program to perf event fd ${fd}`);
}

export const SOL_SOCKET = 1;
export const SO_ATTACH_BPF = 50;
export const SO_DETACH_BPF = 27;

/** setsockopt(fd, level, name, &int, 4). */
export function setSockoptInt(fd: number, level: number, name: number, value: number, what: string): void {
  const c = load();
  const a = arena();
  a.begin(8);
  const at = a.reserve(4);
  a.view.setInt32(at, value, true);
  if (c.setsockopt(fd, level, name, a.address(at), 4) < 0)
    throw new KernelError('setsockopt', c.koffi.errno(), what);
}

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
/** Room for the kernel's answer to one request (an ack, or an error echoing the request). */
const ANSWER = 64 * 1024;

/** A rtnetlink socket in the calling thread's network namespace (it stays in that namespace). */
export function netlinkSocket(): number {
  const c = load();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new KernelError('socket', c.koffi.errno(), 'rtnetlink');
  return fd;
}

/**
 * Send one rtnetlink request (with NLM_F_ACK set by the caller) and wait for its acknowledgement; returns
 * 0 or minus the errno the kernel answered with.
 */
export function netlinkRequest(fd: number, message: Uint8Array, what: string): number {
  const c = load();
  const a = arena();
  a.begin(message.length + ANSWER);
  const out = a.put(message);
  if (c.send(fd, a.address(out), message.length, 0) < 0) throw new KernelError('send', c.koffi.errno(), what);
  const seq = new DataView(message.buffer, message.byteOffset).getUint32(8, true);
  const buf = a.reserve(ANSWER);
  // Answers to other requests (none are outstanding here) are skipped; a bounded number of reads.
  for (let reads = 0; reads < 16; reads++) {
    const n = c.recv(fd, a.address(buf), ANSWER, 0);
    if (n < 0) throw new KernelError('recv', c.koffi.errno(), what);
    for (let at = 0; at + 16 <= n; ) {
      const len = a.view.getUint32(buf + at, true);
      const type = a.view.getUint16(buf + at + 4, true);
      if (len < 16) break;
      if (type === NLMSG_ERROR && a.view.getUint32(buf + at + 8, true) === seq)
        return a.view.getInt32(buf + at + 16, true);
      at += (len + 3) & ~3;
    }
  }
  throw new KernelError('recv', 62, `${what}: no answer from rtnetlink`);
}
