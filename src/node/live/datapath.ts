// XDP in user space on a live interface: the program sees every frame that arrives on `dev` (read from a
// raw packet socket), runs on the JIT through the XDP hook, and what it passes is written to a TAP device
// that carries the receiving host's address; XDP_TX frames go back out of `dev`. Frames the kernel sends
// out of the TAP (replies) are sent out of `dev` unfiltered, as the XDP hook is ingress only.
//
// For the filter to be real, the kernel must not also deliver the frames arriving on `dev`: the setup
// (docs/live-demo.md) gives `dev` no address, no ARP and a MAC address other than the one senders use
// (the TAP's), so the kernel's IP layer discards those frames as addressed to another host
// (PACKET_OTHERHOST) after the packet socket has copied them. The stack sees only the TAP's frames.

import type { LoadedObject, LoadedProgram } from '../../collection/userspace.js';
import type { EngineName } from '../../engine/runner.js';
import { XDP_MAX_PACKET, XdpAction, XdpHook } from '../../hooks/xdp.js';
import { KernelError } from '../../kernel/errors.js';
import { withNetns } from '../../kernel/netns.js';
import { VERDICT_NAMES, type VerdictName } from '../../kernel/verdicts.js';
import { inetChecksum } from '../../net/packet.js';
import type { Link, LinkInfo } from '../../spec/link.js';
import * as sys from './sys.js';

/**
 * Options of the user-space XDP data path: the interface and its namespace, the TAP device passed frames go
 * to, the engine.
 */
export interface UserspaceXdpOptions {
  /** Interface frames are read from (a veth end, with no address: see above). */
  dev: string;
  /** Network namespace (`ip netns` name or path) of `dev`; default the current one. */
  netns?: string;
  /** Existing TAP device to write passed frames to; without it, verdicts are counted but not enforced. */
  tap?: string;
  /** Network namespace of the TAP; default `netns`. */
  tapNetns?: string;
  /** Program by function or section name; default the first. */
  program?: string;
  engine?: EngineName;
  /** Packet socket buffer, bytes (default 4 MiB): bursts wait here while the program runs. */
  bufferBytes?: number;
  /** Most frames handled per direction before yielding to the event loop (default 512). */
  budget?: number;
}

/** What the data path did, besides the verdicts. */
export interface UserspaceXdpStats {
  /** Frames read from `dev` and run through the program. */
  received: number;
  /** PASS frames written to the TAP. */
  forwarded: number;
  /** XDP_TX frames sent back out of `dev`. */
  transmitted: number;
  /** Frames read from the TAP and sent out of `dev` (the reverse path). */
  returned: number;
  /** Frames larger than an XDP frame, and GSO aggregates (TSO on the sender): not run, not forwarded. */
  oversize: number;
  /** Frames the packet socket dropped because its queue was full (PACKET_STATISTICS). */
  socketDrops: number;
  /** Writes or sends that failed (full TAP queue, interface down …). */
  writeErrors: number;
  /** Milliseconds spent handling frames (system calls included, waiting excluded). */
  busyMs: number;
}

/** A running user-space XDP data path, a Link; `close()` stops it and releases the sockets. */
export class UserspaceXdp implements Link {
  readonly ifindex: number;
  /** Settles when the data path has stopped and released everything (rejects if it failed). */
  readonly done: Promise<void>;
  private readonly hook: XdpHook;
  private readonly counts = new Float64Array(VERDICT_NAMES.length);
  private readonly s: UserspaceXdpStats = {
    received: 0,
    forwarded: 0,
    transmitted: 0,
    returned: 0,
    oversize: 0,
    socketDrops: 0,
    writeErrors: 0,
    busyMs: 0,
  };
  /** Received: virtio_net_hdr, then the frame. */
  private readonly buf = new Uint8Array(sys.VNET_HDR_LEN + 65536);
  /** To send: a zero virtio_net_hdr (nothing to offload), then the frame. */
  private readonly out = new Uint8Array(sys.VNET_HDR_LEN + 65536);
  private readonly runOptions: { ingressIfindex: number };
  private stopping = false;

  private constructor(
    readonly program: LoadedProgram,
    private readonly options: UserspaceXdpOptions,
    private readonly sock: number,
    ifindex: number,
    private readonly tap: number | undefined,
    private readonly waker: number,
    /** The object the program came from, when started from one. */
    readonly object?: LoadedObject,
  ) {
    this.ifindex = ifindex;
    this.runOptions = { ingressIfindex: ifindex };
    this.hook = new XdpHook(this.program.runner(options.engine ?? 'jit'));
    this.done = this.loop(options.budget ?? 512);
  }

  /** Open the packet socket (and the TAP) and start running `object`'s XDP program on `dev`'s frames. */
  static start(object: LoadedObject, options: UserspaceXdpOptions): UserspaceXdp {
    return UserspaceXdp.attach(object.program(options.program), options, object);
  }

  /** Open the packet socket (and the TAP) and start running `program` on `dev`'s frames. */
  static attach(program: LoadedProgram, options: UserspaceXdpOptions, object?: LoadedObject): UserspaceXdp {
    if (program.type !== 'xdp') {
      throw new KernelError('attach', 22, `program ${program.name} is ${program.type}, not xdp`);
    }
    const inNs = <T>(ns: string | undefined, f: () => T): T => (ns ? withNetns(ns, f) : f());
    const { fd, ifindex } = inNs(options.netns, () =>
      sys.openPacketSocket(options.dev, options.bufferBytes ?? 4 << 20),
    );
    let tap: number | undefined;
    let waker: number | undefined;
    try {
      if (options.tap) {
        const name = options.tap;
        tap = inNs(options.tapNetns ?? options.netns, () => sys.openTap(name));
      }
      waker = sys.openWaker();
      sys.packetStats(fd); // reset: count only what is lost from now on
      return new UserspaceXdp(program, options, fd, ifindex, tap, waker, object);
    } catch (e) {
      sys.closeFd(fd);
      if (tap !== undefined) sys.closeFd(tap);
      if (waker !== undefined) sys.closeFd(waker);
      throw e;
    }
  }

  /** Verdict totals so far, with the same names as the kernel back end's counters. */
  verdicts(): Record<VerdictName, bigint> {
    const out = {} as Record<VerdictName, bigint>;
    VERDICT_NAMES.forEach((name, i) => {
      out[name] = BigInt(this.counts[i]!);
    });
    return out;
  }

  stats(): UserspaceXdpStats {
    if (!this.stopping) this.s.socketDrops += sys.packetStats(this.sock).drops;
    return { ...this.s };
  }

  /** As close(): the program stops seeing the interface's frames. */
  detach(): void {
    void this.close();
  }

  info(): LinkInfo {
    const ns = this.options.netns ? ` (netns ${this.options.netns})` : '';
    return {
      kind: 'xdp',
      program: this.program.name,
      target: `${this.options.dev}${ns}`,
      backend: 'userspace',
    };
  }

  /** Stop: the loop finishes its current turn, then closes the sockets (await `done` for that). */
  close(): Promise<void> {
    if (!this.stopping) {
      this.s.socketDrops += sys.packetStats(this.sock).drops;
      this.stopping = true;
      sys.wake(this.waker);
    }
    return this.done.catch(() => undefined);
  }

  private async loop(budget: number): Promise<void> {
    const fds = this.tap === undefined ? [this.sock, this.waker] : [this.sock, this.tap, this.waker];
    try {
      while (!this.stopping) {
        const t0 = performance.now();
        const busy = this.ingress(budget) + this.reverse(budget);
        if (busy > 0) this.s.busyMs += performance.now() - t0;
        if (this.stopping) break;
        // Work left over: give timers and signals a turn, then continue without sleeping.
        if (busy >= budget) await new Promise((r) => setImmediate(r));
        else await sys.pollReadable(fds, 1000);
      }
    } finally {
      this.stopping = true;
      this.hook.close();
      sys.closeFd(this.sock);
      if (this.tap !== undefined) sys.closeFd(this.tap);
      sys.closeFd(this.waker);
    }
  }

  /** Frames from `dev` through the program; returns how many were handled. */
  private ingress(budget: number): number {
    const buf = this.buf;
    const hdr = new DataView(buf.buffer, buf.byteOffset, sys.VNET_HDR_LEN);
    let n = 0;
    for (; n < budget; n++) {
      const len = sys.recvFrame(this.sock, buf);
      if (len < 0) {
        if (-len === sys.EAGAIN) break;
        throw new KernelError('recv', -len, 'reading frames from the packet socket');
      }
      this.s.received++;
      const frame = buf.subarray(sys.VNET_HDR_LEN, len);
      if (frame.length > XDP_MAX_PACKET || hdr.getUint8(1) !== 0 /* gso_type */) {
        this.s.oversize++;
        continue;
      }
      // The program (and the receiving stack) see the frame as a NIC would deliver it: checksum complete.
      if (hdr.getUint8(0) & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        completeChecksum(frame, hdr.getUint16(6, true), hdr.getUint16(8, true));
      const r = this.hook.run(frame, this.runOptions);
      this.counts[Math.min(r.verdict, 5)]!++;
      if (r.verdict === XdpAction.PASS) {
        if (this.tap === undefined) continue;
        if (sys.writeFrame(this.tap, r.data) < 0) this.s.writeErrors++;
        else this.s.forwarded++;
      } else if (r.verdict === XdpAction.TX) {
        this.out.set(r.data, sys.VNET_HDR_LEN);
        if (sys.sendFrame(this.sock, this.out.subarray(0, sys.VNET_HDR_LEN + r.data.length)) < 0)
          this.s.writeErrors++;
        else this.s.transmitted++;
      }
      // DROP, ABORTED, REDIRECT (no redirect targets in user space) and unknown verdicts: gone.
    }
    return n;
  }

  /** Frames the kernel sent out of the TAP (checksums complete), out of `dev`; returns how many. */
  private reverse(budget: number): number {
    if (this.tap === undefined) return 0;
    const frame = this.out.subarray(sys.VNET_HDR_LEN);
    let n = 0;
    for (; n < budget; n++) {
      const len = sys.readFrame(this.tap, frame);
      if (len < 0) {
        if (-len === sys.EAGAIN) break;
        throw new KernelError('read', -len, 'reading frames from the TAP device');
      }
      if (sys.sendFrame(this.sock, this.out.subarray(0, sys.VNET_HDR_LEN + len)) < 0) this.s.writeErrors++;
      else this.s.returned++;
    }
    return n;
  }
}

const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

/**
 * Finish an offloaded transport checksum: the field at start+offset holds the pseudo-header sum; the
 * checksum of everything from `start` on goes there (0 becomes 0xffff, as the kernel's software path).
 */
export function completeChecksum(frame: Uint8Array, start: number, offset: number): void {
  const at = start + offset;
  if (at + 2 > frame.length) return;
  const sum = inetChecksum(frame.subarray(start)) || 0xffff;
  frame[at] = sum >> 8;
  frame[at + 1] = sum & 0xff;
}
