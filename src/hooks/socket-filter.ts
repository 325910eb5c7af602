// The socket-filter hook: a packet in a read-only region that the legacy LD_ABS/LD_IND loads read, and an
// `struct __sk_buff` context in the runtime's memory (offsets from the socket_filter program type). The
// program's return value is the number of bytes to keep, as for the kernel's socket filters
// (sk_filter_trim_cap): 0 drops the packet, a value below the length truncates it.

import type { Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import type { Invocation } from '../helpers/types.js';
import type { Region } from '../memory/address-space.js';
import { programTypeByName } from '../spec/program-types.js';
import type { Runtime } from '../vm/runtime.js';

const SOCKET_FILTER = programTypeByName('socket_filter')!;

/** Offsets of the `__sk_buff` fields a socket filter can see, by name. */
export const SK_BUFF_OFFSETS: Readonly<Record<string, number>> = Object.fromEntries(
  SOCKET_FILTER.ctx.fields.map((x) => [x.name, x.offset]),
);
export const SK_BUFF_SIZE = SOCKET_FILTER.ctx.size;

/** Metadata of the socket buffer a packet arrives in (fields of `__sk_buff`; all default to 0). */
export interface SkBuffFields {
  /** skb->len: the packet's length (default: the bytes given). Classic BPF's `len` reads it. */
  len?: number;
  /** PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2), PACKET_OTHERHOST (3), PACKET_OUTGOING (4). */
  pktType?: number;
  mark?: number;
  queueMapping?: number;
  /** The EtherType in host order (stored big-endian in the context, as the kernel's __be16). */
  protocol?: number;
  vlanPresent?: boolean;
  vlanTci?: number;
  /** The VLAN TPID in host order (stored big-endian, like protocol). */
  vlanProto?: number;
  priority?: number;
  ingressIfindex?: number;
  ifindex?: number;
  hash?: number;
}

/** What a socket filter decided for one packet. */
export interface SocketFilterResult {
  /** r0 as an unsigned 32-bit value. */
  retval: number;
  /** Bytes the socket would keep: min(retval, len); 0 means dropped. */
  keep: number;
}

/** Runs one socket-filter program over packets, reusing one packet region and one context. */
export class SocketFilterHook {
  private packet: Region;
  private readonly ctx: Region;
  readonly runtime: Runtime;
  /** What every run's invocation starts with (the packet region is updated in place). */
  private readonly invocation: Partial<Invocation>;

  constructor(
    readonly runner: Runner,
    initialCapacity = 2048,
  ) {
    const type = runner.program.type;
    if (type && type !== 'socket_filter') {
      throw new TsbpfError(`program '${runner.program.name}' is a ${type} program, not socket_filter`);
    }
    this.runtime = runner.runtime;
    this.packet = this.runtime.space.allocate(initialCapacity, 'packet', 'packet', false);
    this.ctx = this.runtime.space.allocate(SK_BUFF_SIZE, 'ctx', '__sk_buff context', false);
    this.invocation = { packet: this.packet, programType: 'socket_filter' };
  }

  /** Release the packet and context regions. */
  close(): void {
    this.runtime.space.release(this.packet);
    this.runtime.space.release(this.ctx);
  }

  run(packet: Uint8Array, fields: SkBuffFields = {}): SocketFilterResult {
    const space = this.runtime.space;
    if (packet.length > this.packet.capacity) {
      space.release(this.packet);
      this.packet = space.allocate(
        Math.max(packet.length, this.packet.capacity * 2),
        'packet',
        'packet',
        false,
      );
      this.invocation.packet = this.packet;
    }
    const p = this.packet;
    space.write(p.base, packet);
    p.start = p.base;
    p.end = p.base + packet.length;
    const len = this.writeContext(packet.length, fields);
    // The runner's i32 entry point (no BigInt on the JIT) takes the packet from the invocation defaults.
    let r0: number;
    this.runtime.invocationDefaults = this.invocation;
    try {
      r0 = this.runner.run32(this.ctx.start);
    } finally {
      this.runtime.invocationDefaults = {};
    }
    return { retval: r0, keep: Math.min(r0, len) };
  }

  private writeContext(bytes: number, s: SkBuffFields): number {
    const v = this.runtime.space.view;
    const at = this.ctx.start;
    const o = SK_BUFF_OFFSETS;
    const len = s.len ?? bytes;
    v.setUint32(at + o.len!, len, true);
    v.setUint32(at + o.pkt_type!, s.pktType ?? 0, true);
    v.setUint32(at + o.mark!, s.mark ?? 0, true);
    v.setUint32(at + o.queue_mapping!, s.queueMapping ?? 0, true);
    // __be16 fields: the bytes in network order, the upper half zero.
    v.setUint32(at + o.protocol!, 0, true);
    v.setUint16(at + o.protocol!, s.protocol ?? 0, false);
    v.setUint32(at + o.vlan_present!, s.vlanPresent ? 1 : 0, true);
    v.setUint32(at + o.vlan_tci!, s.vlanTci ?? 0, true);
    v.setUint32(at + o.vlan_proto!, 0, true);
    v.setUint16(at + o.vlan_proto!, s.vlanProto ?? 0, false);
    v.setUint32(at + o.priority!, s.priority ?? 0, true);
    v.setUint32(at + o.ingress_ifindex!, s.ingressIfindex ?? 0, true);
    v.setUint32(at + o.ifindex!, s.ifindex ?? 0, true);
    v.setUint32(at + o.hash!, s.hash ?? 0, true);
    return len;
  }
}
