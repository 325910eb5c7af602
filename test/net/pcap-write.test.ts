// Writers refuse what a capture file cannot hold, rather than writing it wrapped: pcap seconds are a u32,
// pcapng timestamps a u64 count of the interface's units.
import { describe, expect, it } from 'vitest';
import { TsbpfError } from '../../src/errors.js';
import { PcapWriter, readCapture, writePcap, writePcapng } from '../../src/net/pcap.js';

const data = new Uint8Array(20);

describe('capture writers and timestamps', () => {
  it('pcap: a timestamp past 2106 (5e18 ns) is an error, not 705032704 s', () => {
    expect(() => writePcap([{ data, tsNs: 5_000_000_000_000_000_000n }])).toThrow(TsbpfError);
    expect(() => writePcap([{ data, tsNs: 5_000_000_000_000_000_000n }])).toThrow(
      /timestamp of 5000000000 s \(0\.\.4294967295\) does not fit a pcap record/,
    );
    expect(() => writePcap([{ data, tsNs: -1n }])).toThrow(/negative/);
    expect(() => new PcapWriter(() => {}).write(data, 20, 1.5, 0)).toThrow(/timestamp of 1.5 s/);
    expect(() => new PcapWriter(() => {}).write(data, 20, 1, 1e9)).toThrow(/fraction/);
  });

  it('pcap: the largest timestamp it can hold reads back exactly', () => {
    const tsNs = 4294967295n * 1_000_000_000n + 999_999_999n;
    const back = readCapture(writePcap([{ data, tsNs }], { nanosecond: true })).packets[0]!;
    expect(back.tsNs).toBe(tsNs);
  });

  it('pcapng: a timestamp over 2^64 units is an error, not wrapped to 5', () => {
    expect(() => writePcapng([{ data, tsNs: (1n << 64n) + 5n }])).toThrow(/does not fit a pcapng record/);
    const max = (1n << 64n) - 1n;
    expect(readCapture(writePcapng([{ data, tsNs: max }])).packets[0]!.tsNs).toBe(max);
  });
});
