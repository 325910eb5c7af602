// Streamed captures (read in chunks) give exactly what reading the whole file gives: the same packets,
// timestamps and errors, in the same order, whatever the chunk size and however the source splits its
// reads; the incremental writer gives writePcap's bytes.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import {
  CaptureBatch,
  type CapturedPacket,
  CapturePacket,
  openCapture,
  PcapWriter,
  readCapture,
  streamCapture,
  writePcap,
  writePcapng,
} from '../../src/net/pcap.js';

const DIR = 'test/fixtures/pcap/';
const FIXTURES = readdirSync(DIR)
  .filter((f) => /\.pcap(ng)?$/.test(f))
  .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(DIR + f)) }));
FIXTURES.push({ name: 'iperf.pcap', bytes: new Uint8Array(readFileSync('examples/xdp/iperf.pcap')) });

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const describePacket = (p: CapturedPacket) => [hex(p.data), p.origLen, p.tsNs, p.interfaceId];

/** A source over `bytes` that hands out at most `step(n)` bytes per call (n: the call's number). */
function source(bytes: Uint8Array, step: (n: number) => number) {
  let off = 0;
  let calls = 0;
  return (into: Uint8Array) => {
    const n = Math.min(into.length, bytes.length - off, Math.max(1, step(calls++)));
    into.set(bytes.subarray(off, off + n));
    off += n;
    return n;
  };
}

/** Every packet and the error (if any) of a stream read `per` packets at a time, checked per batch. */
function drain(read: (max: number) => CapturedPacket[], per: number): unknown[] {
  const out: unknown[] = [];
  try {
    for (let batch = read(per); batch.length > 0; batch = read(per)) {
      // Views stay valid for the whole batch: described only after the batch is complete.
      out.push(...batch.map(describePacket));
    }
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    out.push((e as Error).message);
  }
  return out;
}

function wholeFile(bytes: Uint8Array): unknown[] {
  const out: unknown[] = [];
  try {
    for (const p of openCapture(bytes).packets()) out.push(describePacket(p));
  } catch (e) {
    out.push((e as Error).message);
  }
  return out;
}

describe('streamCapture', () => {
  for (const { name, bytes } of FIXTURES) {
    it(`${name}: the same header and packets with small chunks and ragged reads`, () => {
      const want = readCapture(bytes);
      expect(want.packets.length).toBeGreaterThan(20);
      for (const [chunk, step, per] of [
        [64, () => 7, 1],
        [200, (n: number) => 1 + ((n * 37) % 150), 3],
        [4096, () => 4096, 256],
        [1 << 20, () => 1 << 20, 256],
      ] as const) {
        const s = streamCapture(source(bytes, step), name, chunk);
        const { packets: _, ...header } = want;
        expect({ ...s.header }).toEqual(header);
        expect(drain((n) => s.read(n), per)).toEqual(want.packets.map(describePacket));
        expect(s.offset).toBe(bytes.length);
      }
    });
  }

  it('reports corruption after the packets before it, with the in-memory reader’s message', () => {
    let rng = 7;
    const rand = (n: number) => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      return rng % n;
    };
    const seeds = FIXTURES.filter((f) => f.bytes.length < 100_000).map((f) => f.bytes);
    let errors = 0;
    for (let i = 0; i < 600; i++) {
      const seed = seeds[i % seeds.length]!;
      let b = seed.slice();
      for (let m = 0; m <= rand(3); m++) {
        const at = 24 + rand(b.length - 24);
        if (rand(2) === 0) b = b.subarray(0, at);
        else b[at] = rand(256);
      }
      const want = wholeFile(b);
      if (typeof want.at(-1) === 'string') errors++;
      // Lengths the stream refuses to buffer are reported as such instead of as a truncation.
      if (
        want.some((x) => typeof x === 'string' && /of (\d+) bytes/.test(x) && Number(RegExp.$1) > 0x4010000)
      )
        continue;
      let got: unknown[];
      try {
        const s = streamCapture(
          source(b, (n) => 1 + ((n * 13) % 300)),
          'capture',
          256,
        );
        got = drain((n) => s.read(n), 5);
      } catch (e) {
        got = [(e as Error).message];
      }
      expect(got).toEqual(want);
    }
    expect(errors).toBeGreaterThan(100);
  });

  it('refuses a pcapng block it would have to buffer whole when it is implausibly large', () => {
    const ng = writePcapng([{ data: new Uint8Array(60), tsNs: 0n }]);
    const b = ng.slice();
    // The enhanced packet block follows the section header (28 bytes) and interface (32 bytes).
    new DataView(b.buffer).setUint32(60 + 4, 0x7ffffff0, true);
    const s = streamCapture(source(b, () => 1 << 16));
    expect(() => s.read()).toThrow(/block length 2147483632 is implausibly large/);
  });
});

describe('CaptureBatch and CapturePacket', () => {
  it('readBatch gives the packets as parallel arrays; packet(i) is what read gives', () => {
    const bytes = FIXTURES.find((f) => f.name === 'real.pcapng')!.bytes;
    const want = readCapture(bytes).packets;
    const s = openCapture(bytes);
    const batch = new CaptureBatch(16);
    const got: unknown[] = [];
    for (s.readBatch(100, batch); batch.count > 0; s.readBatch(100, batch)) {
      expect(batch.count).toBeLessThanOrEqual(16);
      for (let i = 0; i < batch.count; i++) {
        expect(hex(batch.data(i))).toBe(
          hex(batch.bytes.subarray(batch.offset[i]!, batch.offset[i]! + batch.length[i]!)),
        );
        got.push(describePacket(batch.packet(i)));
      }
    }
    expect(got).toEqual(want.map(describePacket));
  });

  it('packets() starts over on a capture in memory', () => {
    const bytes = FIXTURES.find((f) => f.name === 'crafted.pcapng')!.bytes;
    const r = openCapture(bytes);
    const first = [...r.packets()].map(describePacket);
    expect([...r.packets()].map(describePacket)).toEqual(first);
    expect(first.length).toBeGreaterThan(20);
  });

  it('computes pcapng timestamps without BigInt exactly as with it, for every resolution', () => {
    let rng = 3;
    const u32 = () => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      return (rng ^ (rng >>> 13) ^ Math.imul(rng, 2654435761)) >>> 0;
    };
    const base = writePcapng([{ data: new Uint8Array(20), tsNs: 0n }]);
    let numeric = 0;
    // if_tsresol's value byte (section header 28 bytes, interface body at 36, option value at 48); the
    // packet's timestamp words at 72 and 76.
    for (const resol of [0, 1, 3, 6, 9, 10, 12, 0x80, 0x80 | 10, 0x80 | 30]) {
      const e = BigInt(resol & 0x7f);
      const [num, den] = resol & 0x80 ? [1_000_000_000n, 1n << e] : [1_000_000_000n, 10n ** e];
      for (let k = 0; k < 200; k++) {
        const hi = k < 3 ? [0, 0xffffffff, 0x17f8a5c0][k]! : u32() >>> (k % 32);
        const lo = k === 1 ? 0xffffffff : u32();
        const b = base.slice();
        const dv = new DataView(b.buffer);
        b[48] = resol;
        dv.setUint32(72, hi, true);
        dv.setUint32(76, lo, true);
        const p = readCapture(b).packets[0] as CapturePacket;
        const units = (BigInt(hi) << 32n) | BigInt(lo);
        expect(p.tsNs).toBe((units * num) / den);
        if (p.tsExact === undefined) {
          numeric++;
          expect(BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsNsec)).toBe(p.tsNs);
          expect(p.tsNsec).toBeLessThan(1e9);
        }
      }
    }
    // Decimal resolutions up to nanoseconds take the number path unless the seconds exceed 2^53.
    expect(numeric).toBeGreaterThan(800);
  });

  it('keeps tsNs settable and timestamps through copies of read packets', () => {
    const p = new CapturePacket(new Uint8Array([1, 2]), 2, 5, 7, 0);
    expect(p.tsNs).toBe(5_000_000_007n);
    p.tsNs = 12_000_000_345n;
    expect([p.tsNs, p.tsSec, p.tsNsec]).toEqual([12_000_000_345n, 12, 345]);
    const read = readCapture(writePcap([{ data: new Uint8Array(30), tsNs: 1_700_000_000_123_456_000n }]))
      .packets[0]!;
    // A spread copies fields, not the getter: writers take the numbers then.
    const copy = { ...read, data: new Uint8Array(31) };
    expect(readCapture(writePcap([copy])).packets[0]!.tsNs).toBe(1_700_000_000_123_456_000n);
    expect(readCapture(writePcapng([copy])).packets[0]!.tsNs).toBe(1_700_000_000_123_456_000n);
    // A copy with tsNs given takes that one.
    const moved = { ...read, tsNs: 42_000n };
    expect(readCapture(writePcap([moved])).packets[0]!.tsNs).toBe(42_000n);
  });
});

describe('PcapWriter', () => {
  it('writes writePcap’s bytes in chunks of any size, records larger than a chunk included', () => {
    const packets = readCapture(FIXTURES.find((f) => f.name === 'iperf.pcap')!.bytes).packets;
    for (const opts of [{}, { nanosecond: true, bigEndian: true }, { snaplen: 100 }]) {
      const want = writePcap(packets, opts);
      for (const chunk of [24, 100, 1500, 1 << 20]) {
        const parts: Uint8Array[] = [];
        const w = new PcapWriter((c) => parts.push(c.slice()), opts, chunk);
        for (const p of packets) w.writePacket(p);
        w.flush();
        expect(w.count).toBe(packets.length);
        expect(hex(Buffer.concat(parts))).toBe(hex(want));
      }
    }
  });
});
