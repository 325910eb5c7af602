// The system calls of the user-space XDP data path, through koffi (the same libc handle as the bpf()
// layer): a raw packet socket bound to one interface, a TAP device attached by name, non-blocking reads
// and writes of whole Ethernet frames, poll(2) on a libuv worker thread so the event loop never blocks,
// and an eventfd to wake that poll when the data path stops.

import { KernelError } from '../../kernel/errors.js';
import { ifNameToIndex, nativeLibc } from '../../kernel/ffi.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const ETH_P_ALL = 0x0003;
const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_PACKET = 263;
const PACKET_STATISTICS = 6;
/** Each frame read or sent is preceded by a struct virtio_net_hdr (checksum and GSO offload state). */
const PACKET_VNET_HDR = 15;
/** sizeof(struct virtio_net_hdr). */
export const VNET_HDR_LEN = 10;
/** Do not hand our own transmitted frames back to us (Linux 4.20+). */
const PACKET_IGNORE_OUTGOING = 23;
const MSG_DONTWAIT = 0x40;
const O_RDWR = 2;
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x80000;
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
const POLLIN = 1;
export const EAGAIN = 11;

type Fn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

interface Calls {
  errno: () => number;
  socket: Fn;
  bind: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  recv: Fn;
  send: Fn;
  open: Fn;
  ioctl: Fn;
  read: Fn;
  write: Fn;
  close: Fn;
  poll: Fn;
  eventfd: Fn;
}

let calls: Calls | undefined;

function c(): Calls {
  if (calls) return calls;
  const { koffi, libc } = nativeLibc();
  const f = (decl: string) => libc.func(decl) as unknown as Fn;
  calls = {
    errno: () => koffi.errno(),
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, const void *addr, uint32_t len)'),
    setsockopt: f('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    getsockopt: f('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *len)'),
    recv: f('long recv(int fd, void *buf, size_t len, int flags)'),
    send: f('long send(int fd, const void *buf, size_t len, int flags)'),
    open: f('int open(const char *path, int flags)'),
    // ioctl is variadic in C; with one pointer argument the fixed prototype passes it the same way.
    ioctl: f('int ioctl(int fd, unsigned long request, void *arg)'),
    read: f('long read(int fd, void *buf, size_t len)'),
    write: f('long write(int fd, const void *buf, size_t len)'),
    close: f('int close(int fd)'),
    poll: f('int poll(void *fds, unsigned long nfds, int timeout)'),
    eventfd: f('int eventfd(unsigned int initval, int flags)'),
  };
  return calls;
}

function check(what: string, r: number, detail: string): number {
  if (r < 0) throw new KernelError(what, c().errno(), detail);
  return r;
}

function setInt(fd: number, level: number, name: number, value: number): number {
  const v = new Int32Array([value]);
  return c().setsockopt(fd, level, name, v, 4);
}

/**
 * A raw packet socket bound to interface `dev` (in the calling thread's network namespace). Frames are
 * read and sent with a virtio_net_hdr in front (VNET_HDR_LEN bytes): a veth hands frames over with the
 * transport checksum still to be completed (the sender offloaded it), and the header says where.
 */
export function openPacketSocket(dev: string, bufferBytes: number): { fd: number; ifindex: number } {
  const ifindex = ifNameToIndex(dev);
  // Protocol 0 until bound: the socket receives nothing from other interfaces in between.
  const fd = check(
    'socket(AF_PACKET)',
    c().socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    'a packet socket needs CAP_NET_RAW (run as root)',
  );
  try {
    const addr = new Uint8Array(20); // struct sockaddr_ll
    const v = new DataView(addr.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL, false); // network byte order
    v.setInt32(4, ifindex, true);
    check('bind(AF_PACKET)', c().bind(fd, addr, addr.length), `interface ${dev}`);
    check('setsockopt(PACKET_VNET_HDR)', setInt(fd, SOL_PACKET, PACKET_VNET_HDR, 1), '');
    check(
      'setsockopt(PACKET_IGNORE_OUTGOING)',
      setInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1),
      'needs Linux 4.20 or later',
    );
    // Bursts queue here while the program runs; the *FORCE variants pass net.core.rmem_max (root).
    setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bufferBytes);
    setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bufferBytes);
    return { fd, ifindex };
  } catch (e) {
    c().close(fd);
    throw e;
  }
}

/** Frames the packet socket received and dropped (queue full) since the last call; resets the counts. */
export function packetStats(fd: number): { packets: number; drops: number } {
  const stats = new Uint32Array(2); // struct tpacket_stats
  const len = [8];
  check('getsockopt(PACKET_STATISTICS)', c().getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, stats, len), '');
  return { packets: stats[0]!, drops: stats[1]! };
}

/**
 * Attach to the existing TAP device `name` (in the calling thread's network namespace): frames written to
 * the returned fd are received by that interface; frames the kernel sends out of it are read from it.
 */
export function openTap(name: string): number {
  ifNameToIndex(name); // an unknown name would create a new, unconfigured TAP: refuse instead
  if (Buffer.byteLength(name) > 15) throw new KernelError('TUNSETIFF', 22, `interface name ${name} too long`);
  const fd = check(
    'open(/dev/net/tun)',
    c().open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC),
    'is the tun module loaded, and are we root?',
  );
  const ifr = new Uint8Array(40); // struct ifreq: name[16], short flags
  ifr.set(new TextEncoder().encode(name));
  new DataView(ifr.buffer).setInt16(16, IFF_TAP | IFF_NO_PI, true);
  const r = c().ioctl(fd, TUNSETIFF, ifr);
  if (r < 0) {
    const errno = c().errno();
    c().close(fd);
    throw new KernelError('TUNSETIFF', errno, `${name} is not a TAP device we can attach to`);
  }
  return fd;
}

/** An eventfd that wakes a poll when written. */
export function openWaker(): number {
  return check('eventfd', c().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), '');
}

export function wake(fd: number): void {
  const one = new BigUint64Array([1n]);
  c().write(fd, one, 8);
}

/** Non-blocking receive of one frame into `buf`: its length, or -errno (-EAGAIN when none is queued). */
export function recvFrame(fd: number, buf: Uint8Array): number {
  const n = c().recv(fd, buf, buf.length, MSG_DONTWAIT);
  return n < 0 ? -c().errno() : n;
}

/** Non-blocking read of one frame from a TAP fd: its length, or -errno. */
export function readFrame(fd: number, buf: Uint8Array): number {
  const n = c().read(fd, buf, buf.length);
  return n < 0 ? -c().errno() : n;
}

/** Send one frame on a packet socket: bytes sent, or -errno. */
export function sendFrame(fd: number, frame: Uint8Array): number {
  const n = c().send(fd, frame, frame.length, MSG_DONTWAIT);
  return n < 0 ? -c().errno() : n;
}

/** Write one frame to a TAP fd: bytes written, or -errno. */
export function writeFrame(fd: number, frame: Uint8Array): number {
  const n = c().write(fd, frame, frame.length);
  return n < 0 ? -c().errno() : n;
}

export function closeFd(fd: number): void {
  c().close(fd);
}

/** Wait (on a worker thread) until one of `fds` is readable or `timeoutMs` passes. */
export function pollReadable(fds: readonly number[], timeoutMs: number): Promise<void> {
  const table = new Uint8Array(8 * fds.length); // struct pollfd { int fd; short events, revents; }
  const v = new DataView(table.buffer);
  fds.forEach((fd, i) => {
    v.setInt32(8 * i, fd, true);
    v.setInt16(8 * i + 4, POLLIN, true);
  });
  return new Promise((resolve, reject) => {
    c().poll.async(table, fds.length, timeoutMs, (err: unknown, r: number) => {
      if (err) reject(err);
      // A failed poll is most often EINTR (a signal such as Ctrl-C landed on the worker thread; errno is
      // that thread's, not readable here): treat it as a wake-up, after a pause so no failure can spin.
      else if (r < 0) setTimeout(resolve, 10);
      else resolve();
    });
  });
}
