// pcap and pcapng captures (src/net/pcap.ts): mutated captures are read whole, and streamed in random
// chunk sizes through ragged reads. Either way every outcome is packets or a FormatError — never another
// exception, a hang or a giant allocation — both ways give the same packets and the same error, no packet
// claims more bytes than the file has, and what was read is written again (pcapng, nanoseconds) and reads
// back the same.

import { readdirSync, readFileSync } from 'node:fs';
import { FormatError, TsbpfError } from '../../src/errors.js';
import {
  type CapturedPacket,
  openCapture,
  readCapture,
  streamCapture,
  writePcap,
  writePcapng,
} from '../../src/net/pcap.js';
import { check, describeThrown, firstDifference, fuzzTarget, saveInput } from './harness.js';
import { mutateCapture } from './mutators.js';

const DIR = 'test/fixtures/pcap/';
const frame = (n: number) => new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
const written = [
  { data: frame(60), tsNs: 1_500_000_000_123_456_789n },
  { data: frame(200), tsNs: 1n, origLen: 300 },
];
/** Small captures of every flavour: the fixtures and both writers in both byte orders. */
const SEEDS: { name: string; bytes: Uint8Array }[] = [
  ...readdirSync(DIR)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(DIR + f)) }))
    .filter((f) => f.bytes.length < 64 * 1024),
  { name: 'written.pcap', bytes: writePcap(written) },
  { name: 'written-be-ns.pcap', bytes: writePcap(written, { bigEndian: true, nanosecond: true }) },
  { name: 'written.pcapng', bytes: writePcapng(written) },
  { name: 'written-be.pcapng', bytes: writePcapng(written, { bigEndian: true, tsresolDigits: 6 }) },
];

const describePacket = (p: CapturedPacket) =>
  `${Buffer.from(p.data).toString('hex')}/${p.origLen}/${p.tsNs}/${p.interfaceId}`;

/** Packets, then the error message if reading stopped at one. */
function whole(bytes: Uint8Array): { packets: string[]; error?: string; all: CapturedPacket[] } {
  const packets: string[] = [];
  const all: CapturedPacket[] = [];
  try {
    for (const p of openCapture(bytes).packets()) {
      check(
        p.data.length <= bytes.length,
        `a packet of ${p.data.length} bytes from a file of ${bytes.length}`,
      );
      packets.push(describePacket(p));
      all.push(p);
    }
  } catch (e) {
    check(e instanceof FormatError, () => `openCapture threw ${describeThrown(e)}`);
    return { packets, error: e.message, all };
  }
  return { packets, all };
}

fuzzTarget(
  'pcap',
  {
    seconds: 4,
    after: (counts, n) => {
      check((counts.read ?? 0) > n / 20, `only ${counts.read} of ${n} mutants read to the end`);
      check((counts.rejected ?? 0) > n / 5, `only ${counts.rejected} of ${n} mutants rejected`);
    },
  },
  ({ r, index, verbose, count, size }) => {
    const seed = r.pick(SEEDS);
    const bytes = mutateCapture(seed.bytes, r);
    size(bytes.length);
    if (verbose) saveInput('pcap', index, seed.name, bytes);
    const want = whole(bytes);
    count(want.error === undefined ? 'read' : 'rejected');

    // Streamed: a chunk of 64 B .. 64 KiB, reads of 1 .. 600 bytes, batches of 1 .. 16 packets.
    const chunk = 64 << r.int(11);
    const per = 1 + r.int(16);
    const steps = Array.from({ length: 8 }, () => 1 + r.int(600));
    let off = 0;
    let calls = 0;
    const source = (into: Uint8Array) => {
      const n = Math.min(into.length, bytes.length - off, steps[calls++ % steps.length]!);
      into.set(bytes.subarray(off, off + n));
      off += n;
      return n;
    };
    const got: string[] = [];
    let error: string | undefined;
    try {
      const s = streamCapture(source, 'capture', chunk);
      for (let batch = s.read(per); batch.length > 0; batch = s.read(per))
        got.push(...batch.map(describePacket));
    } catch (e) {
      check(e instanceof FormatError, () => `streamCapture threw ${describeThrown(e)}`);
      error = e.message;
    }
    // A record too large to buffer is refused by the stream as such, where memory reads on to the end.
    if (error?.includes('implausibly large')) {
      count('too large to stream');
      return;
    }
    const [a, b] = [JSON.stringify([want.packets, want.error]), JSON.stringify([got, error])];
    check(a === b, () => `${seed.name}: streamed in chunks of ${chunk} differs ${firstDifference(a, b)}`);

    // What was read is written again and reads back the same (pcapng keeps nanoseconds and interfaces' 0).
    if (want.all.length === 0) return;
    let again: Uint8Array;
    try {
      again = writePcapng(want.all.map((p) => ({ ...p, data: p.data, interfaceId: 0 })));
    } catch (e) {
      check(e instanceof TsbpfError, () => `writePcapng threw ${describeThrown(e)}`);
      count('unwritable');
      return;
    }
    const back = readCapture(again).packets.map((p) =>
      describePacket({ ...p, data: p.data, tsNs: p.tsNs, interfaceId: 0 }),
    );
    const before = want.all.map((p) =>
      describePacket({ data: p.data, origLen: p.origLen, tsNs: p.tsNs, interfaceId: 0 }),
    );
    const [c, d] = [JSON.stringify(before), JSON.stringify(back)];
    check(c === d, () => `${seed.name}: changed through writePcapng ${firstDifference(c, d)}`);
    count('rewritten');
  },
);
