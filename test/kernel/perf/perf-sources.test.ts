// The perf reader with a real event source and with both back ends. test/fixtures/inspect/perf_tp.o sends
// one event per getpid(2) from a tracepoint (attached through the kernel back end's link API) while
// another process calls getpid 200,000 times and the reader drains a 1-page ring on its timer: every event
// is delivered or counted lost (the program's own count of sends is the truth), and the other process's
// events arrive with its pid. Then `openPerfReader` over the same object on the user-space back end gives
// the same kind of records through the same interface.

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nativeLibc } from '../../../src/kernel/ffi.js';
import { loadKernelObject } from '../../../src/kernel/index.js';
import { onlineCpus, openPerfReader } from '../../../src/kernel/perf-buffer.js';
import type { PerfRecord } from '../../../src/maps/perf.js';
import { loadObject } from '../../../src/node/index.js';
import { kernelOracle } from '../../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = new URL('../../fixtures/inspect/perf_tp.o', import.meta.url).pathname;
const EMIT = new URL('../../fixtures/inspect/perf_emit.o', import.meta.url).pathname;
const PACKET = new Uint8Array(64);

function pinThread(cpus: readonly number[]): void {
  const set = nativeLibc().libc.func('int sched_setaffinity(int pid, unsigned long size, void *mask)') as (
    pid: number,
    size: number,
    mask: Uint8Array,
  ) => number;
  const mask = new Uint8Array(128);
  for (const c of cpus) mask[c >> 3]! |= 1 << (c & 7);
  if (set(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity(${cpus.join(',')}) failed`);
}

const u64 = (b: Uint8Array, at: number) =>
  Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

describe.skipIf(!oracle)('perf reader: a tracepoint source, and the same API on both back ends', () => {
  it('getpid x 200000 in another process through a 1-page ring: delivered + lost = sent, pids right', async () => {
    const cpus = onlineCpus();
    const obj = loadKernelObject(FIXTURE);
    const records: PerfRecord[] = [];
    const reader = openPerfReader(obj.map('events'), { pagesPerCpu: 1, pollIntervalMs: 1 });
    reader.onRecord((r) => records.push(r));
    try {
      const link = obj.program('on_getpid').attach();
      let child = 0;
      try {
        const code = await new Promise<number | null>((resolve, reject) => {
          const p = spawn('python3', ['-c', 'import os\nfor _ in range(200000): os.getpid()']);
          child = p.pid!;
          p.on('error', reject);
          p.on('exit', resolve);
        });
        expect(code).toBe(0);
      } finally {
        link.close();
      }
      await new Promise((r) => setTimeout(r, 50));
      // Detached: bring each CPU's pending loss out with one event sent there.
      for (const c of cpus) {
        pinThread([c]);
        obj.program('flush').run({ dataIn: PACKET });
      }
      pinThread(cpus);
      await new Promise((r) => setTimeout(r, 50));
      records.push(...reader.poll()); // whatever the timer has not handed over yet
      const counts = obj.map('counts');
      const sent = u64(counts.lookup(new Uint8Array([0, 0, 0, 0]))!, 0);
      const refused = u64(counts.lookup(new Uint8Array([1, 0, 0, 0]))!, 0);
      let delivered = 0;
      let lost = 0;
      let fromChild = 0;
      const seqs = new Set<number>();
      for (const r of records) {
        if (r.lost !== undefined) {
          lost += r.lost;
          continue;
        }
        delivered++;
        expect(r.data.length).toBe(20); // 16 bytes, padded by the kernel with the u32 size to 24
        seqs.add(u64(r.data, 0));
        if (u32(r.data, 8) === child && u32(r.data, 12) === 1) fromChild++;
      }
      expect(seqs.size).toBe(delivered);
      expect(sent).toBeGreaterThanOrEqual(200_000 + cpus.length);
      expect(delivered + lost).toBe(sent);
      expect(lost).toBe(refused);
      expect(reader.lost).toBe(lost);
      expect(fromChild).toBeGreaterThan(0);
      expect(fromChild).toBeLessThanOrEqual(200_000);
    } finally {
      pinThread(cpus);
      reader.close();
      obj.close();
    }
  });

  it('openPerfReader on a user-space map: the same records, poll/onRecord/lost, as on the kernel', async () => {
    const kernel = loadKernelObject(EMIT);
    const user = loadObject(EMIT, { runtimeOptions: { cpus: 1 } });
    const kr = openPerfReader(kernel.map('events'), { pagesPerCpu: 1, pollIntervalMs: 0 });
    const ur = openPerfReader(user.map('events'), { cpus: [0], pagesPerCpu: 1 });
    // One CPU, so the kernel's pending loss is reported on the ring the next sample goes to.
    const cpus = onlineCpus();
    pinThread([cpus[0]!]);
    try {
      for (const [obj, reader] of [
        [kernel, kr],
        [user, ur],
      ] as const) {
        const heard: PerfRecord[] = [];
        reader.onRecord((r) => heard.push(r));
        obj.program('emit').run({ dataIn: PACKET, repeat: 3 });
        const got = reader.poll();
        expect(got.length).toBe(3);
        for (const [i, r] of got.entries()) {
          expect(r.lost).toBeUndefined();
          expect(u64(r.data!, 0)).toBe(i);
          expect(u32(r.data!, 8)).toBe(0xfeedbeef);
          // The kernel's raw sample keeps its padding (36 bytes for 32); user space gives the 32.
          expect(r.data!.length).toBe(obj === kernel ? 36 : 32);
        }
        expect(reader.lost).toBe(0);
        // A full 4 KiB buffer loses the rest, and both say how many: exactly the sends refused.
        obj.program('emit').run({ dataIn: PACKET, repeat: 500 });
        // The kernel reports a loss with the next sample that fits; user space at once: both, in order.
        const during = reader.poll();
        obj.program('emit').run({ dataIn: PACKET, repeat: 1 });
        const after = reader.poll();
        const refused = Number(
          new DataView(obj.map('counts').lookup(new Uint8Array([1, 0, 0, 0]))!.buffer).getBigUint64(0, true),
        );
        expect(refused).toBeGreaterThan(0);
        expect(reader.lost).toBe(refused);
        expect([...during, ...after].filter((r) => r.lost !== undefined).length).toBe(1);
      }
    } finally {
      pinThread(cpus);
      kr.close();
      ur.close();
      kernel.close();
    }
  });
});
