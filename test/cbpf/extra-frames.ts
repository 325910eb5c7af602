// Frames the fixture captures lack, merged into the Ethernet oracle capture in memory: 802.2 LLC and SNAP
// frames (the `ether proto N <= 1500` SAP forms, IPX, AppleTalk, AARP), Novell raw 802.3, IP broadcast
// destinations, IPv4/IPv6 with an AH header (libpcap's protochain skips AH in its own way), TCP and UDP to
// the ports of service names registered for one protocol or both, and TCP segments cut after the source
// port (a test of the destination port then fails: which ports libpcap's optimiser tests first shows).

import { buildFrame } from '../../src/net/packet.js';
import { writePcap } from '../../src/net/pcap.js';

const MACS = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];

/** An 802.3 frame: length field, then the given LLC (and SNAP) bytes and a patterned payload. */
function dot3(llc: number[], payload = 30): Uint8Array {
  const body = [...llc, ...Array.from({ length: payload }, (_, i) => (i * 13) & 0xff)];
  return Uint8Array.from([...MACS, body.length >> 8, body.length & 0xff, ...body]);
}

/** A DIX frame with an EtherType and a patterned payload. */
const dix = (type: number, payload = 40) =>
  Uint8Array.from([...MACS, type >> 8, type & 0xff, ...Array.from({ length: payload }, (_, i) => i & 0xff)]);

/** Inserts an AH header (next header = the original protocol, 16 bytes) after the IP header. */
function withAh(frame: Uint8Array, v6: boolean): Uint8Array {
  const ipLen = v6 ? 40 : (frame[14]! & 0xf) * 4;
  const protoAt = v6 ? 14 + 6 : 14 + 9;
  const ah = Uint8Array.from([frame[protoAt]!, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7, 0xaa, 0xbb, 0xcc, 0xdd]);
  const out = new Uint8Array(frame.length + ah.length);
  out.set(frame.subarray(0, 14 + ipLen));
  out.set(ah, 14 + ipLen);
  out.set(frame.subarray(14 + ipLen), 14 + ipLen + ah.length);
  out[protoAt] = 51;
  return out;
}

const snap = (oui: number, type: number) => [
  0xaa,
  0xaa,
  0x03,
  oui >> 16,
  (oui >> 8) & 0xff,
  oui & 0xff,
  type >> 8,
  type & 0xff,
];

export function extraFrames(): Uint8Array[] {
  const udp4 = (dst: string) =>
    buildFrame({ ipv4: { src: '10.0.0.1', dst }, udp: { sport: 9, dport: 5001 }, payload: 8 });
  return [
    dot3([0x06, 0x06, 0x03]), // IP SAP
    dot3([0xfe, 0xfe, 0x03]), // ISO
    dot3([0xf0, 0xf0, 0x03]), // NetBEUI
    dot3([0xe0, 0xe0, 0x03]), // IPX SAP
    dot3([0xff, 0xff, 0x00, 0x30]), // Novell raw 802.3 (IPX checksum 0xffff)
    dot3(snap(0, 0x8137)), // IPX over SNAP
    dot3(snap(0x080007, 0x809b)), // AppleTalk over SNAP
    dot3(snap(0, 0x80f3)), // AARP over SNAP
    dot3([0x42, 0x42, 0x03]), // spanning tree
    dot3([0x64, 0x65, 0x03]), // DSAP 100
    dot3([0x06, 0x07, 0x03]), // DSAP 6 alone
    dix(0x8137),
    dix(0x809b),
    dix(0x80f3),
    udp4('255.255.255.255'),
    udp4('0.0.0.0'),
    udp4('10.0.0.255'),
    udp4('10.0.0.0'),
    withAh(udp4('10.0.0.2'), false),
    withAh(
      buildFrame({ ipv6: { src: 'fd00::1', dst: 'fd00::2' }, udp: { sport: 9, dport: 5001 }, payload: 8 }),
      true,
    ),
    withAh(buildFrame({ ipv6: { src: 'fd00::1', dst: 'fd00::2' }, tcp: { sport: 9, dport: 80 } }), true),
    ...[80, 123, 53].flatMap((port) =>
      (['tcp', 'udp'] as const).map((proto) =>
        buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, [proto]: { sport: 40000, dport: port } }),
      ),
    ),
    ...(['tcp', 'udp'] as const).map((proto) =>
      buildFrame({ ipv6: { src: 'fd00::1', dst: 'fd00::2' }, [proto]: { sport: 40001, dport: 80 } }),
    ),
    buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, tcp: { sport: 5002, dport: 9 } }).subarray(
      0,
      14 + 20 + 2,
    ),
    buildFrame({ ipv6: { src: 'fd00::1', dst: 'fd00::2' }, tcp: { sport: 5002, dport: 9 } }).subarray(
      0,
      14 + 40 + 2,
    ),
  ];
}

export const extraCapture = (): Uint8Array =>
  writePcap(extraFrames().map((data, i) => ({ data, tsNs: BigInt(i) * 1000n })));
