// The crafted capture fixtures are generated from test/fixtures/pcap/crafted.ts by our own builders and
// writers; this test keeps the committed files in sync (REGEN_FIXTURES=1 rewrites them).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../src/net/packet.js';
import { LinkType, readCapture, writePcap, writePcapng } from '../../src/net/pcap.js';
import { CRAFTED } from '../fixtures/pcap/crafted.js';

const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;

function expectedFixtures(): Record<string, Uint8Array> {
  const ts = (i: number) => 1_700_000_000_000_000_000n + BigInt(i) * 1_000_123n;
  const eth = CRAFTED.map((s, i) => {
    const data = buildFrame(s);
    const full = buildFrame({ ...s, truncate: undefined });
    return { data, origLen: full.length, tsNs: ts(i) };
  });
  const ipOnly = CRAFTED.filter((s) => (s.ipv4 || s.ipv6) && !s.vlans);
  const raw = ipOnly.map((s, i) => ({
    data: buildFrame({ ...s, link: 'raw', truncate: undefined }),
    tsNs: ts(i),
  }));
  const sll = CRAFTED.filter((s) => !s.vlans && s.truncate === undefined).map((s, i) => ({
    data: buildFrame({ ...s, link: 'sll', sllType: i % 2 ? 4 : 0 }),
    tsNs: ts(i),
  }));
  return {
    'crafted.pcap': writePcap(eth, { snaplen: 65535 }),
    'crafted-raw.pcap': writePcap(raw, { linkType: LinkType.RAW, nanosecond: true, bigEndian: true }),
    'crafted-sll.pcap': writePcap(sll, { linkType: LinkType.LINUX_SLL }),
    'crafted.pcapng': writePcapng(eth),
  };
}

describe('capture fixtures', () => {
  const want = expectedFixtures();
  for (const [name, bytes] of Object.entries(want)) {
    it(`${name} matches what the builders produce`, () => {
      const path = DIR + name;
      if (process.env.REGEN_FIXTURES === '1' || !existsSync(path)) writeFileSync(path, bytes);
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes))).toBe(true);
      const cap = readCapture(bytes);
      expect(cap.packets.length).toBeGreaterThan(20);
    });
  }
  it('real.pcapng is the same packets as real.pcap', () => {
    const real = readCapture(new Uint8Array(readFileSync(`${DIR}real.pcap`)));
    const path = `${DIR}real.pcapng`;
    const ng = writePcapng(real.packets, { linkType: real.linkType, snaplen: real.snaplen });
    if (process.env.REGEN_FIXTURES === '1' || !existsSync(path)) writeFileSync(path, ng);
    const back = readCapture(new Uint8Array(readFileSync(path)));
    expect(back.format).toBe('pcapng');
    expect(back.packets.map((p) => [Buffer.from(p.data).toString('hex'), p.origLen, p.tsNs])).toEqual(
      real.packets.map((p) => [Buffer.from(p.data).toString('hex'), p.origLen, p.tsNs]),
    );
  });
});
