// The socket-buffer hook: a packet as the kernel's BPF_PROG_TEST_RUN builds an skb from data_in
// (net/bpf/test_run.c, bpf_prog_test_run_skb) — on the loopback device (ifindex 1), protocol and
// pkt_type from the Ethernet header as eth_type_trans gives them, no VLAN tag, hash, tc_index or
// classid — and its `struct __sk_buff` context in the runtime's memory. For sched_cls/sched_act the
// program's data starts at the Ethernet header; for the other types (socket_filter, cgroup_skb, lwt_*)
// at the network header, and the kernel hands the packet back with the Ethernet header's 14 bytes
// zeroed in front (`output`). The helpers that change the packet (src/helpers/skb.ts) move its start and
// end inside a region sized for the device's largest packet, so they never run out of room.
//
// The skb's socket (ctx->sk) is the test run's: the kernel hangs a fresh socket on the skb, of the
// packet's family with its addresses (TCP_CLOSE, no type, protocol or ports); its `struct bpf_sock`
// follows the context in the context's region (the run's own data, as the context is).
//
// Differences from the kernel: the headroom is 256 bytes (the kernel's 64 are reallocated when a helper
// needs more; programs cannot tell). Context stores are converted as the kernel's verifier converts them
// (tc_index and tc_classid kept to 16 bits, a queue_mapping of 0xffff or more left out) when the program
// is prepared (src/vm/ctx-stores.ts), so both engines run them so; an unverified program's are not.

import type { Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import {
  attachSkbState,
  CsumState,
  detachSkbState,
  SKB_CTX_SIZE,
  SKB_OFF,
  type SkbState,
} from '../helpers/skb.js';
import type { Invocation } from '../helpers/types.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import type { Link, LinkInfo } from '../spec/link.js';
import type { Runtime } from '../vm/runtime.js';
import { LOOPBACK_IFINDEX, sameBytes } from './xdp.js';

/** Headroom in front of the packet (helpers that push headers move the packet when they need more). */
export const SKB_HEADROOM = 256;
/**
 * Largest data_in the kernel's skb test run takes: one page less its headroom (NET_SKB_PAD, 64 on x86-64)
 * and the aligned skb_shared_info (320).
 */
export const SKB_MAX_PACKET = 4096 - 64 - 320;
/** The loopback device's limit for a packet's length: mtu 65536 plus hard_header_len 14. */
export const LOOPBACK_MAX_LEN = 65536 + 14;
const ETH_HLEN = 14;
/** The program types whose skb data starts at the MAC header in a test run (the kernel's is_l2). */
const L2_TYPES = new Set(['sched_cls', 'sched_act']);

/** pkt_type values (PACKET_*, include/uapi/linux/if_packet.h). */
const PACKET_HOST = 0;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;
const AF_INET = 2;
const AF_INET6 = 10;

/** `struct bpf_sock`: its size and the offsets of the fields the test run's socket sets. */
const BPF_SOCK = {
  size: 80,
  family: 4,
  srcIp4: 24,
  srcIp6: 28,
  dstIp4: 52,
  dstIp6: 56,
  state: 72,
  rxQueue: 76,
};
/** Offset of `__sk_buff.sk` (a pointer). */
const CTX_SK = 168;
/** TCP_CLOSE: the state sock_init_data gives a new socket. */
const TCP_CLOSE = 7;

/** The skb fields a test run's `struct __sk_buff` in may set (the rest must be 0, as the kernel checks). */
export interface SkbRunOptions {
  mark?: number;
  priority?: number;
  /** skb->skb_iif; the device itself is loopback (ifindex 1). */
  ingressIfindex?: number;
  /** The five words of cb[] (qdisc_skb_cb's data). */
  cb?: readonly number[];
  tstamp?: bigint;
  /** qdisc_skb_cb's pkt_len; 0 (the default) as when the kernel's test run has no context. */
  wireLen?: number;
  gsoSegs?: number;
  gsoSize?: number;
  hwtstamp?: bigint;
}

/** Whether a program type's skb data starts at the MAC header (sched_cls, sched_act). */
export function skbIsL2(type: string): boolean {
  return L2_TYPES.has(type);
}

/** One packet region and its `__sk_buff` context, reused from packet to packet. */
export class SkbSlot {
  readonly frame: Region;
  readonly ctx: Region;
  readonly state: SkbState;
  /** The packet last loaded. */
  input: Uint8Array = new Uint8Array(0);

  constructor(
    /** The address space the packet and context live in (a runtime's). */
    private readonly space: AddressSpace,
    /** Whether the program's data starts at the MAC header (tc) rather than the network header. */
    readonly l2: boolean,
  ) {
    this.frame = space.allocate(SKB_HEADROOM + LOOPBACK_MAX_LEN + 64, 'packet', 'packet', true, 64);
    this.ctx = space.allocate(SKB_CTX_SIZE + BPF_SOCK.size, 'ctx', '__sk_buff context and its socket', false);
    this.state = {
      packet: this.frame,
      mac: 0,
      net: 0,
      ipSummed: CsumState.NONE,
      csumLevel: 0,
      csum: 0,
      maxLen: LOOPBACK_MAX_LEN,
      encapsulated: false,
    };
    attachSkbState(space, this.ctx.start, this.state);
  }

  /** Release the packet region and the context (and forget the skb's state). */
  release(): void {
    detachSkbState(this.space, this.ctx.start);
    this.space.release(this.frame);
    this.space.release(this.ctx);
  }

  /** Lay out `packet` (from its Ethernet header) and build the skb's context, as the kernel's test run. */
  load(packet: Uint8Array, options: SkbRunOptions = {}): void {
    // Shorter than an Ethernet header only from a capture (test runs refuse it): its missing bytes read as
    // 0 for the protocol, and no helper reaches past its end.
    if (packet.length > LOOPBACK_MAX_LEN) {
      throw new TsbpfError(
        `packet of ${packet.length} bytes exceeds the loopback device's limit of ${LOOPBACK_MAX_LEN} bytes`,
      );
    }
    const space = this.space;
    const mac = this.frame.base + SKB_HEADROOM;
    space.bytes.set(packet, mac);
    const st = this.state;
    st.mac = mac;
    st.net = mac + ETH_HLEN;
    st.ipSummed = CsumState.NONE;
    st.csumLevel = 0;
    st.csum = 0;
    st.encapsulated = false;
    st.tunnel = undefined;
    this.frame.start = this.l2 ? mac : st.net;
    this.frame.end = mac + packet.length;
    this.input = packet;
    const len = this.frame.end - this.frame.start;
    const v = space.view;
    const at = this.ctx.start;
    // The context and the socket after it, cleared together.
    space.bytes.fill(0, at, at + SKB_CTX_SIZE + BPF_SOCK.size);
    v.setUint32(at + SKB_OFF.len, len, true);
    v.setUint32(at + SKB_OFF.pktType, pktType(packet), true);
    v.setUint32(at + SKB_OFF.mark, options.mark ?? 0, true);
    // skb->protocol is a __be16: its two bytes in network order, read as a u32 in memory order.
    const proto = ethProtocol(packet);
    v.setUint16(at + SKB_OFF.protocol, proto, false);
    v.setUint32(at + SKB_OFF.priority, options.priority ?? 0, true);
    v.setUint32(at + SKB_OFF.ingressIfindex, options.ingressIfindex ?? 0, true);
    v.setUint32(at + SKB_OFF.ifindex, LOOPBACK_IFINDEX, true);
    const cb = options.cb ?? [];
    for (let i = 0; i < 5; i++) v.setUint32(at + SKB_OFF.cb + 4 * i, cb[i] ?? 0, true);
    v.setUint32(at + SKB_OFF.data, this.frame.start, true);
    v.setUint32(at + SKB_OFF.dataEnd, this.frame.end, true);
    v.setUint32(at + SKB_OFF.dataMeta, this.frame.start, true);
    v.setBigUint64(at + SKB_OFF.tstamp, options.tstamp ?? 0n, true);
    v.setUint32(at + SKB_OFF.wireLen, options.wireLen ?? 0, true);
    v.setUint32(at + SKB_OFF.gsoSegs, options.gsoSegs ?? 0, true);
    v.setUint32(at + SKB_OFF.gsoSize, options.gsoSize ?? 0, true);
    v.setBigUint64(at + SKB_OFF.hwtstamp, options.hwtstamp ?? 0n, true);
    // The test run's socket takes its family and addresses from the IP header (the cgroup views read them
    // in the context; ctx->sk points at its bpf_sock).
    const sk = at + SKB_CTX_SIZE;
    v.setUint32(at + CTX_SK, sk, true); // a u64 whose high half the fill left 0
    v.setUint32(sk + BPF_SOCK.state, TCP_CLOSE, true);
    v.setInt32(sk + BPF_SOCK.rxQueue, -1, true);
    const b = space.bytes;
    const ip = ETH_HLEN;
    if (proto === 0x0800) {
      v.setUint32(at + SKB_OFF.family, AF_INET, true);
      v.setUint32(sk + BPF_SOCK.family, AF_INET, true);
      if (packet.length >= ip + 20) {
        copyBytes(packet, ip + 16, b, at + SKB_OFF.remoteIp4, 4);
        copyBytes(packet, ip + 12, b, at + SKB_OFF.localIp4, 4);
        copyBytes(packet, ip + 12, b, sk + BPF_SOCK.srcIp4, 4);
        copyBytes(packet, ip + 16, b, sk + BPF_SOCK.dstIp4, 4);
      }
    } else if (proto === 0x86dd) {
      v.setUint32(at + SKB_OFF.family, AF_INET6, true);
      v.setUint32(sk + BPF_SOCK.family, AF_INET6, true);
      if (packet.length >= ip + 40) {
        copyBytes(packet, ip + 24, b, at + SKB_OFF.remoteIp6, 16);
        copyBytes(packet, ip + 8, b, at + SKB_OFF.localIp6, 16);
        copyBytes(packet, ip + 8, b, sk + BPF_SOCK.srcIp6, 16);
        copyBytes(packet, ip + 24, b, sk + BPF_SOCK.dstIp6, 16);
      }
    }
  }

  /** The packet after a run, as the kernel's test run returns it (see the file's header for non-tc types). */
  output(): Uint8Array {
    const bytes = this.space.bytes;
    const data = bytes.subarray(this.frame.start, this.frame.end);
    if (this.l2) return data.slice();
    const out = new Uint8Array(ETH_HLEN + data.length);
    out.set(data, ETH_HLEN);
    return out;
  }

  /** The `__sk_buff` in memory (a view, valid until the memory grows). */
  context(): Uint8Array {
    return this.space.bytes.subarray(this.ctx.start, this.ctx.start + SKB_CTX_SIZE);
  }

  /** skb->len now. */
  get length(): number {
    return this.frame.end - this.frame.start;
  }
}

/** ETH_P_802_3_MIN: EtherType values from here on name a protocol; below, they are 802.3 lengths. */
const ETH_P_802_3_MIN = 0x0600;

/** skb->protocol as eth_type_trans sets it (host order). */
export function ethProtocol(packet: Uint8Array): number {
  const type = ((packet[12] ?? 0) << 8) | (packet[13] ?? 0);
  if (type >= ETH_P_802_3_MIN) return type;
  // A raw 802.3 frame (Novell) starts its payload with 0xffff; anything else is 802.2 LLC.
  if (packet.length >= 16 && packet[14] === 0xff && packet[15] === 0xff) return 0x0001;
  return 0x0004;
}

/** skb->pkt_type as eth_type_trans sets it on loopback (address and broadcast address all zero). */
function pktType(packet: Uint8Array): number {
  let zero = true;
  for (let i = 0; i < 6; i++) if (packet[i] !== 0) zero = false;
  if (zero) return PACKET_HOST;
  // Multicast, broadcast included: loopback's broadcast address is zero, so ff:ff:… is only multicast.
  return packet[0]! & 1 ? PACKET_MULTICAST : PACKET_OTHERHOST;
}

/** What one run of a tc program over a packet gives. */
export interface SkbResult {
  /** r0 as a signed 32-bit value (TC_ACT_UNSPEC is -1). */
  verdict: number;
  /** The packet after the run (from the MAC header). */
  data: Uint8Array;
  /** Whether the program changed the packet's bytes or length. */
  changed: boolean;
  /** Target of TC_ACT_REDIRECT (bpf_redirect). */
  redirect?: Invocation['redirect'];
}

/** Runs one tc (sched_cls/sched_act) program over packets, one at a time, reusing one skb. A Link. */
export class SkbHook implements Link {
  readonly slot: SkbSlot;
  private readonly invocation: Partial<Invocation>;
  readonly runtime: Runtime;
  private closed = false;

  constructor(readonly runner: Runner) {
    const type = runner.program.type || 'sched_cls';
    if (!L2_TYPES.has(type)) {
      throw new TsbpfError(
        `program '${runner.program.name}' is a ${type} program, not sched_cls or sched_act`,
      );
    }
    this.runtime = runner.runtime;
    this.slot = new SkbSlot(this.runtime.space, true);
    this.invocation = { packet: this.slot.frame, programType: type };
  }

  /** Release the packet region and context. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.release();
  }

  /** As close(): a hook runs only the packets it is given. */
  detach(): void {
    this.close();
  }

  info(): LinkInfo {
    return {
      kind: 'tc',
      program: this.runner.program.name,
      target: 'packets given to run()',
      backend: 'userspace',
    };
  }

  run(packet: Uint8Array, options: SkbRunOptions = {}): SkbResult {
    this.slot.load(packet, options);
    this.runtime.invocation.redirect = undefined;
    this.runtime.invocationDefaults = this.invocation;
    let r0: number;
    try {
      r0 = this.runner.run32(this.slot.ctx.start);
    } finally {
      this.runtime.invocationDefaults = {};
    }
    const f = this.slot.frame;
    const space = this.runtime.space;
    const changed =
      f.start !== this.slot.state.mac ||
      !sameBytes(space.bytes, space.words, f.start, packet, f.end - f.start);
    const result: SkbResult = { verdict: r0 | 0, data: changed ? this.slot.output() : packet, changed };
    const redirect = this.runtime.invocation.redirect;
    if (redirect) result.redirect = redirect;
    return result;
  }
}

/** Byte copies, no subarrays: a view per address cost more than the rest of the test run's socket. */
function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!;
}
