// The kernel perf-buffer reader against the kernel's own counts. test/fixtures/inspect/perf_emit.o sends
// one sample per run (a sequence number) with bpf_perf_event_output and counts the sends the ring refused;
// BPF_PROG_TEST_RUN with `repeat N` runs it N times. With small rings most samples are lost, and the
// reader must account for every one: delivered + lost (from PERF_RECORD_LOST) = produced, lost = the
// program's own count of refused sends, and each lost record stands for exactly the gap in the sequence
// numbers before the next sample. Records run past the ring's end (48-byte records in 4 KiB), so the
// joining of wrapped records is checked by every sample's contents.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeLibc } from '../../../src/kernel/ffi.js';
import { loadKernelObject } from '../../../src/kernel/index.js';
import { KernelPerfReader, onlineCpus, openPerfReader } from '../../../src/kernel/perf-buffer.js';
import type { PerfRecord } from '../../../src/maps/perf.js';
import { kernelOracle } from '../../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = new URL('../../fixtures/inspect/perf_emit.o', import.meta.url).pathname;
const PIN = `/sys/fs/bpf/tsbpf-perf-${process.pid}`;
const PACKET_FILE = `/tmp/tsbpf-perf-${process.pid}.bin`;
const PACKET = new Uint8Array(64);
const MAGIC = 0xfeedbeef;
const openFds = () => readdirSync('/proc/self/fd').length;
/** The process's mappings of perf event rings (`anon_inode:[perf_event]` in /proc/self/maps). */
const perfMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('[perf_event]')).length;

/** Run the calling thread on `cpus` only (sched_setaffinity(0, …)): test runs then produce there. */
function pinThread(cpus: readonly number[]): void {
  const { libc } = nativeLibc();
  const set = libc.func('int sched_setaffinity(int pid, unsigned long size, void *mask)') as (
    pid: number,
    size: number,
    mask: Uint8Array,
  ) => number;
  const mask = new Uint8Array(128);
  for (const c of cpus) mask[c >> 3]! |= 1 << (c & 7);
  if (set(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity(${cpus.join(',')}) failed`);
}

/** The counts map: [produced, refused by the ring] as the program saw them. */
function counts(obj: ReturnType<typeof loadKernelObject>): [number, number] {
  const m = obj.map('counts');
  const at = (k: number) => {
    const v = m.lookup(new Uint8Array([k, 0, 0, 0]))!;
    return Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
  };
  return [at(0), at(1)];
}

/** Check every record: samples whole (magic, CPU, seq), and per CPU each lost count = the gap it covers. */
function audit(records: readonly PerfRecord[], gapsExact: boolean): { delivered: number; lost: number } {
  const seen = new Set<number>();
  const last = new Map<number, number>();
  const pendingLost = new Map<number, number>();
  let delivered = 0;
  let lost = 0;
  for (const r of records) {
    if (r.lost !== undefined) {
      lost += r.lost;
      pendingLost.set(r.cpu, (pendingLost.get(r.cpu) ?? 0) + r.lost);
      continue;
    }
    delivered++;
    expect(r.data.length).toBe(36);
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    const seq = Number(v.getBigUint64(0, true));
    expect(v.getUint32(8, true)).toBe(MAGIC);
    expect(v.getUint32(12, true)).toBe(r.cpu);
    expect(seen.has(seq)).toBe(false);
    seen.add(seq);
    const prev = last.get(r.cpu) ?? -1;
    if (gapsExact) expect(seq - prev - 1).toBe(pendingLost.get(r.cpu) ?? 0);
    else expect(seq).toBeGreaterThan(prev);
    pendingLost.delete(r.cpu);
    last.set(r.cpu, seq);
  }
  return { delivered, lost };
}

describe.skipIf(!oracle)('kernel perf buffer reader', () => {
  const cpus = oracle ? onlineCpus() : [];

  afterAll(() => {
    pinThread(cpus);
    rmSync(PIN, { force: true });
    rmSync(PACKET_FILE, { force: true });
  });

  it('1M events through a 1-page ring, drained between runs: delivered + lost = produced, gaps exact', () => {
    const before = openFds();
    const obj = loadKernelObject(FIXTURE);
    const reader = new KernelPerfReader(obj.map('events'), { pagesPerCpu: 1, pollIntervalMs: 0 });
    const records: PerfRecord[] = [];
    try {
      expect([...reader.fds.keys()]).toEqual(cpus);
      expect(perfMappings()).toBe(cpus.length);
      // One CPU for the whole run, so each ring's lost record covers exactly the gap on that ring.
      pinThread([cpus[0]!]);
      const prog = obj.program('emit');
      // 1M in runs of varied length (some fit the ring, most overflow it), draining after each.
      let produced = 0;
      for (let i = 0; produced < 1_000_000; i++) {
        const n = Math.min([5000, 37, 85, 86, 20000][i % 5]!, 1_000_000 - produced);
        prog.run({ dataIn: PACKET, repeat: n });
        produced += n;
        records.push(...reader.poll());
      }
      // The kernel reports a loss with the next sample that fits: one more run brings the last one out.
      prog.run({ dataIn: PACKET, repeat: 1 });
      records.push(...reader.poll());
      const [made, refused] = counts(obj);
      expect(made).toBe(1_000_001);
      const { delivered, lost } = audit(records, true);
      expect(delivered + lost).toBe(made);
      expect(lost).toBe(refused);
      expect(reader.lost).toBe(lost);
      expect(reader.received).toBe(delivered);
      // A 4 KiB ring holds 85 of these 48-byte records: most of the million were lost, many delivered.
      expect(lost).toBeGreaterThan(500_000);
      expect(delivered).toBeGreaterThan(10_000);
    } finally {
      pinThread(cpus);
      reader.close();
      obj.close();
    }
    // The events, their mappings and the objects are gone.
    expect(openFds()).toBe(before);
    expect(perfMappings()).toBe(0);
  });

  it('1M events from another process while the reader polls on a timer: every one accounted for', async () => {
    const obj = loadKernelObject(FIXTURE);
    writeFileSync(PACKET_FILE, PACKET);
    obj.program('emit').pin(PIN);
    const records: PerfRecord[] = [];
    const reader = openPerfReader(obj.map('events'), { pagesPerCpu: 8, pollIntervalMs: 1 });
    reader.onRecord((r) => records.push(r));
    try {
      // bpftool runs the program 1M times in its own process; the callbacks run meanwhile, so Node's event
      // loop is not held by the reader.
      const ticks = { n: 0 };
      const tick = setInterval(() => ticks.n++, 5);
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn('bpftool', [
          'prog',
          'run',
          'pinned',
          PIN,
          'data_in',
          PACKET_FILE,
          'repeat',
          '1000000',
        ]);
        child.on('error', reject);
        child.on('exit', resolve);
      });
      clearInterval(tick);
      expect(code).toBe(0);
      expect(ticks.n).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 20));
      // Bring each CPU's pending loss out with one more sample there.
      for (const c of cpus) {
        pinThread([c]);
        obj.program('emit').run({ dataIn: PACKET, repeat: 1 });
      }
      pinThread(cpus);
      await new Promise((r) => setTimeout(r, 20));
      const [made, refused] = counts(obj);
      expect(made).toBe(1_000_000 + cpus.length);
      const { delivered, lost } = audit(records, false);
      expect(delivered + lost).toBe(made);
      expect(lost).toBe(refused);
      expect(delivered).toBeGreaterThan(0);
    } finally {
      pinThread(cpus);
      reader.close();
      rmSync(PIN, { force: true });
      obj.close();
    }
  }, 300_000); // bpftool's million runs share two cores with the rest of the machine

  it('for await ends after close; close takes the rings out of the map', async () => {
    const obj = loadKernelObject(FIXTURE);
    const reader = new KernelPerfReader(obj.map('events'), { pollIntervalMs: 1 });
    try {
      const got: PerfRecord[] = [];
      const loop = (async () => {
        for await (const r of reader) got.push(r);
      })();
      obj.program('emit').run({ dataIn: PACKET, repeat: 10 });
      await new Promise((r) => setTimeout(r, 30));
      reader.close();
      await loop;
      expect(got.length).toBe(10);
      // No ring in the map now: the program's sends fail (ENOENT), counted as refused.
      obj.program('emit').run({ dataIn: PACKET, repeat: 3 });
      expect(counts(obj)).toEqual([13, 3]);
    } finally {
      reader.close();
      obj.close();
    }
  });

  it('refuses a map that is not a perf event array, and a ring size that is not a power of two', () => {
    const obj = loadKernelObject(FIXTURE);
    try {
      expect(() => new KernelPerfReader(obj.map('counts'))).toThrow(/not a perf event array/);
      expect(() => new KernelPerfReader(obj.map('events'), { pagesPerCpu: 3 })).toThrow(/power of two/);
      expect(() => new KernelPerfReader(obj.map('events'), { cpus: [4096] })).toThrow(/cpu 4096/);
    } finally {
      obj.close();
    }
  });
});
