import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { buildFrame, inetChecksum } from '../../src/net/packet.js';
import { LinkType, readCapture, writePcap, writePcapng } from '../../src/net/pcap.js';
import { summarize } from '../../src/net/summary.js';

const pkts = [
  {
    data: buildFrame({
      ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
      udp: { sport: 5001, dport: 40000 },
      payload: 1470,
    }),
    tsNs: 1_500_000_000_123_456_789n,
  },
  {
    data: buildFrame({ ipv6: { src: 'fd00::1', dst: 'fd00::2' }, icmp6: { type: 128 } }),
    tsNs: 1_500_000_001_000_000_000n,
    origLen: 200,
  },
];

describe('pcap and pcapng', () => {
  for (const bigEndian of [false, true])
    for (const nanosecond of [false, true])
      it(`round-trips pcap (bigEndian ${bigEndian}, ns ${nanosecond})`, () => {
        const cap = readCapture(
          writePcap(pkts, { bigEndian, nanosecond, linkType: LinkType.RAW, snaplen: 9000 }),
        );
        expect([cap.format, cap.linkType, cap.snaplen, cap.bigEndian, cap.nanosecond]).toEqual([
          'pcap',
          101,
          9000,
          bigEndian,
          nanosecond,
        ]);
        expect(cap.packets[0]?.tsNs).toBe(nanosecond ? pkts[0]?.tsNs : 1_500_000_000_123_456_000n);
        expect(cap.packets[1]?.origLen).toBe(200);
        expect(Buffer.from(cap.packets[0]?.data ?? []).equals(Buffer.from(pkts[0]?.data ?? []))).toBe(true);
      });
  for (const bigEndian of [false, true])
    it(`round-trips pcapng (bigEndian ${bigEndian}, microsecond tsresol)`, () => {
      const cap = readCapture(writePcapng(pkts, { bigEndian, tsresolDigits: 6 }));
      expect(cap.format).toBe('pcapng');
      expect(cap.packets.map((p) => p.tsNs)).toEqual([
        1_500_000_000_123_456_000n,
        1_500_000_001_000_000_000n,
      ]);
    });
  it('reports truncation with the packet index and byte offset', () => {
    const bytes = writePcap(pkts);
    const cut = bytes.subarray(0, bytes.length - 10);
    expect(() => readCapture(cut)).toThrow(/packet 1: truncated packet data/);
    const ng = writePcapng(pkts);
    expect(() => readCapture(ng.subarray(0, ng.length - 3))).toThrow(FormatError);
    expect(() => readCapture(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/unknown capture magic/);
  });
});

describe('packet builders and summaries', () => {
  it('fills IPv4 and UDP checksums that verify to zero', () => {
    const f = buildFrame({
      ipv4: { src: '10.0.0.1', dst: '10.0.0.2', options: Uint8Array.from([1, 1, 1, 0]) },
      udp: { sport: 1, dport: 2 },
      payload: 5,
    });
    expect(inetChecksum(f.subarray(14, 38))).toBe(0);
    const pseudo = Uint8Array.from([10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 13]);
    expect(inetChecksum(pseudo, f.subarray(38))).toBe(0);
  });
  it('prints tcpdump-style one-liners', () => {
    expect(summarize(pkts[0]?.data as Uint8Array, LinkType.ETHERNET)).toBe(
      'IP 10.0.0.1.5001 > 10.0.0.2.40000: UDP, length 1470',
    );
    const arp = buildFrame({ arp: { op: 1, spa: '10.0.0.1', tpa: '10.0.0.2' } });
    expect(summarize(arp, LinkType.ETHERNET)).toBe('ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28');
  });
});
