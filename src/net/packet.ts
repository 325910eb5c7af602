// Packet builders for tests and docs: one FrameSpec describes the stack (Ethernet, VLAN tags, IPv4 with
// options or IPv6 with extension headers, then UDP/TCP/ICMP/ICMPv6/SCTP or ARP) and buildFrame() lays it
// out with lengths and checksums filled in.

import { parseIpv4, parseIpv6, parseMac } from './addr.js';

/** EtherType numbers of the protocols the frame builder and the summaries know. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
} as const;
/** IP protocol numbers, IPv6 extension headers included. */
export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
} as const;
/** TCP header flags. */
export const TcpFlag = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;

/** The IPv4 header of a frame to build. */
export interface Ipv4Spec {
  src: string;
  dst: string;
  proto?: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** Don't-fragment and more-fragments flags. */
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Raw option bytes (padded to a multiple of 4 with end-of-options). */
  options?: Uint8Array;
}

/** An IPv6 extension header of a frame to build. */
export interface Ipv6Ext {
  /** Header type (0 hop-by-hop, 43 routing, 44 fragment, 60 destination options). */
  type: number;
  /** For a fragment header: offset in 8-byte units, more-fragments, identification. */
  fragOffset?: number;
  mf?: boolean;
  id?: number;
  /** For option/routing headers: body bytes after the 2-byte (next, length) prefix; padded to 8n+6. */
  body?: Uint8Array;
}

/** The IPv6 header of a frame to build. */
export interface Ipv6Spec {
  src: string;
  dst: string;
  nextHeader?: number;
  hopLimit?: number;
  flowLabel?: number;
  ext?: Ipv6Ext[];
}

/**
 * A frame to build (buildFrame): the link layer, VLAN tags, the network and transport headers, the payload.
 */
export interface FrameSpec {
  /** Link layer: Ethernet (default), raw IP (no link header) or Linux cooked (SLL). */
  link?: 'ethernet' | 'raw' | 'sll';
  eth?: { src?: string; dst?: string; type?: number };
  /** 802.1Q tags, outermost first: VLAN ids (or full TCI values with pcp). */
  vlans?: { id: number; pcp?: number; tpid?: number }[];
  /** SLL packet type (0 to us, 4 outgoing ...). */
  sllType?: number;
  ipv4?: Ipv4Spec;
  ipv6?: Ipv6Spec;
  arp?: { op: number; sha?: string; spa: string; tha?: string; tpa: string; rarp?: boolean };
  udp?: { sport: number; dport: number };
  tcp?: {
    sport: number;
    dport: number;
    flags?: number;
    seq?: number;
    ack?: number;
    win?: number;
    options?: Uint8Array;
  };
  icmp?: { type: number; code?: number; id?: number; seq?: number };
  icmp6?: { type: number; code?: number; id?: number; seq?: number };
  sctp?: { sport: number; dport: number; tag?: number };
  /** Payload bytes, or a length of patterned bytes. */
  payload?: Uint8Array | number;
  /** Cut the finished frame to this many bytes (a truncated capture). */
  truncate?: number;
}

/** Internet checksum (RFC 1071) over the concatenation of parts. */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const b = p[i] as number;
      if (odd === undefined) odd = b;
      else {
        sum += (odd << 8) | b;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const cat = (...parts: (Uint8Array | number[])[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

function ip4(s: string): Uint8Array {
  const a = parseIpv4(s);
  if (!a) throw new Error(`bad IPv4 address '${s}'`);
  return a;
}
function ip6(s: string): Uint8Array {
  const a = parseIpv6(s);
  if (!a) throw new Error(`bad IPv6 address '${s}'`);
  return a;
}

function payloadBytes(p: FrameSpec['payload']): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'number') return Uint8Array.from({ length: p }, (_, i) => (i * 7 + 3) & 0xff);
  return p;
}

/** CRC32c (Castagnoli), the SCTP checksum. */
function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

/** Builds the transport header + payload; `pseudo` is the IP pseudo-header for the checksum. */
function transport(
  spec: FrameSpec,
  pseudo: (proto: number, len: number) => Uint8Array,
): { proto: number; bytes: Uint8Array } {
  const data = payloadBytes(spec.payload);
  if (spec.udp) {
    const len = 8 + data.length;
    const seg = cat([...u16(spec.udp.sport), ...u16(spec.udp.dport), ...u16(len), 0, 0], data);
    const c = inetChecksum(pseudo(IpProto.UDP, len), seg) || 0xffff;
    seg.set(u16(c), 6);
    return { proto: IpProto.UDP, bytes: seg };
  }
  if (spec.tcp) {
    const t = spec.tcp;
    const opts = t.options ?? new Uint8Array(0);
    const optLen = (opts.length + 3) & ~3;
    const hlen = 20 + optLen;
    const seg = cat(
      [
        ...u16(t.sport),
        ...u16(t.dport),
        ...u32(t.seq ?? 1000),
        ...u32(t.ack ?? 0),
        (hlen / 4) << 4,
        t.flags ?? TcpFlag.ACK,
      ],
      [...u16(t.win ?? 65535), 0, 0, 0, 0],
      opts,
      new Uint8Array(optLen - opts.length),
      data,
    );
    const c = inetChecksum(pseudo(IpProto.TCP, seg.length), seg);
    seg.set(u16(c), 16);
    return { proto: IpProto.TCP, bytes: seg };
  }
  const echo = spec.icmp ?? spec.icmp6;
  if (echo) {
    // ICMP and ICMPv6 share the echo layout; only ICMPv6 sums a pseudo-header.
    const seg = cat([echo.type, echo.code ?? 0, 0, 0, ...u16(echo.id ?? 0), ...u16(echo.seq ?? 0)], data);
    const proto = spec.icmp ? IpProto.ICMP : IpProto.ICMPV6;
    const c = spec.icmp ? inetChecksum(seg) : inetChecksum(pseudo(proto, seg.length), seg);
    seg.set(u16(c), 2);
    return { proto, bytes: seg };
  }
  if (spec.sctp) {
    const s = spec.sctp;
    // Common header followed by one DATA-less chunk carrying the payload as an unknown chunk type 0 body.
    const chunk = cat([0, 3, ...u16(4 + data.length)], data, new Uint8Array((4 - (data.length % 4)) % 4));
    const seg = cat([...u16(s.sport), ...u16(s.dport), ...u32(s.tag ?? 1), 0, 0, 0, 0], chunk);
    const c = crc32c(seg);
    // The CRC32c is stored little-endian.
    seg.set([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24], 8);
    return { proto: IpProto.SCTP, bytes: seg };
  }
  return { proto: IpProto.NONE, bytes: data };
}

function ipv4Packet(spec: FrameSpec, h: Ipv4Spec): Uint8Array {
  const src = ip4(h.src);
  const dst = ip4(h.dst);
  const l4 = transport(spec, (proto, len) => cat(src, dst, [0, proto, ...u16(len)]));
  const opts = h.options ?? new Uint8Array(0);
  const optLen = (opts.length + 3) & ~3;
  const hlen = 20 + optLen;
  const total = hlen + l4.bytes.length;
  const frag = ((h.df ? 0x4000 : 0) | (h.mf ? 0x2000 : 0) | (h.fragOffset ?? 0)) & 0xffff;
  const hdr = cat(
    [0x40 | (hlen / 4), h.tos ?? 0, ...u16(total), ...u16(h.id ?? 1), ...u16(frag), h.ttl ?? 64],
    [h.proto ?? (spec.udp || spec.tcp || spec.icmp || spec.sctp ? l4.proto : IpProto.UDP), 0, 0],
    src,
    dst,
    opts,
    new Uint8Array(optLen - opts.length),
  );
  const c = inetChecksum(hdr);
  hdr.set(u16(c), 10);
  return cat(hdr, l4.bytes);
}

function ipv6Packet(spec: FrameSpec, h: Ipv6Spec): Uint8Array {
  const src = ip6(h.src);
  const dst = ip6(h.dst);
  const l4 = transport(spec, (proto, len) => cat(src, dst, u32(len), [0, 0, 0, proto]));
  const exts = h.ext ?? [];
  const upper = h.nextHeader ?? l4.proto;
  const chain: Uint8Array[] = exts.map((e, i) => {
    const next = i + 1 < exts.length ? (exts[i + 1] as Ipv6Ext).type : upper;
    if (e.type === IpProto.FRAGMENT) {
      const fo = ((e.fragOffset ?? 0) << 3) | (e.mf ? 1 : 0);
      return Uint8Array.from([next, 0, ...u16(fo), ...u32(e.id ?? 1)]);
    }
    const body = e.body ?? new Uint8Array(0);
    const len = Math.ceil((body.length + 2) / 8) * 8;
    const out = new Uint8Array(len);
    out[0] = next;
    out[1] = len / 8 - 1;
    out.set(body, 2);
    if (e.type === IpProto.ROUTING && body.length === 0) out[2] = 0; // routing type 0, segments left 0
    if (body.length === 0 && e.type !== IpProto.ROUTING) out.set([1, len - 4], 2); // PadN
    return out;
  });
  const payload = cat(...chain, l4.bytes);
  const first = exts.length ? (exts[0] as Ipv6Ext).type : upper;
  const fl = h.flowLabel ?? 0;
  return cat(
    [0x60 | ((fl >> 16) & 0x0f), (fl >> 8) & 0xff, fl & 0xff, 0],
    u16(payload.length),
    [first, h.hopLimit ?? 64],
    src,
    dst,
    payload,
  );
}

function arpPacket(a: NonNullable<FrameSpec['arp']>): Uint8Array {
  const sha = parseMac(a.sha ?? '02:00:00:00:00:01');
  const tha = parseMac(a.tha ?? '00:00:00:00:00:00');
  return cat([0, 1, 8, 0, 6, 4, ...u16(a.op)], sha, ip4(a.spa), tha, ip4(a.tpa));
}

/** Builds a complete frame for the link type in spec.link. */
export function buildFrame(spec: FrameSpec): Uint8Array {
  let l3: Uint8Array;
  let type: number;
  if (spec.ipv4) {
    l3 = ipv4Packet(spec, spec.ipv4);
    type = EtherType.IPV4;
  } else if (spec.ipv6) {
    l3 = ipv6Packet(spec, spec.ipv6);
    type = EtherType.IPV6;
  } else if (spec.arp) {
    l3 = arpPacket(spec.arp);
    type = spec.arp.rarp ? EtherType.RARP : EtherType.ARP;
  } else {
    l3 = payloadBytes(spec.payload);
    type = spec.eth?.type ?? 0x88b5;
  }
  if (spec.eth?.type !== undefined) type = spec.eth.type;
  const link = spec.link ?? 'ethernet';
  let frame: Uint8Array;
  if (link === 'raw') frame = l3;
  else {
    let inner = type;
    const tags: number[] = [];
    for (const v of [...(spec.vlans ?? [])].reverse()) {
      tags.unshift(...u16(((v.pcp ?? 0) << 13) | (v.id & 0xfff)), ...u16(inner));
      inner = v.tpid ?? EtherType.VLAN;
    }
    // Tags were accumulated innermost-last: each tag is TCI followed by the next type.
    if (link === 'sll') {
      const src = parseMac(spec.eth?.src ?? '02:00:00:00:00:01');
      frame = cat([...u16(spec.sllType ?? 0), 0, 1, 0, 6], src, [0, 0], u16(inner), tags, l3);
    } else {
      const dst = parseMac(spec.eth?.dst ?? '02:00:00:00:00:02');
      const src = parseMac(spec.eth?.src ?? '02:00:00:00:00:01');
      frame = cat(dst, src, u16(inner), tags, l3);
    }
  }
  return spec.truncate !== undefined ? frame.slice(0, spec.truncate) : frame;
}
