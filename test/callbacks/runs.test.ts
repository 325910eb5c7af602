// Callbacks, timers, dynptrs and the user ring buffer at run time (issue 16), kernel as the oracle:
// test/fixtures/callbacks/ok_callbacks.o loaded by libbpf (bpftool prog loadall, maps pinned) and by tsbpf in
// user space on both engines; each tc program test-run on the same packets in the same order, with the same
// return value, and the maps the same afterwards (for_each_map_elem's writes and deletions, bpf_loop's
// result, timers that fired once per arming, dynptr helpers' results and errors). Then what the kernel
// cannot be driven to here: the user ring buffer fed from TypeScript and drained, timers fired by runTimers
// with the runtime's clock, each on both engines.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/engine/runner.js';
import { armedTimers, runTimers } from '../../src/helpers/timer.js';
import { UserRingBufMap } from '../../src/maps/user-ringbuf.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { kernelLoad, kernelMapDump, kernelRun } from '../corpus/measure.js';
import { clang, kernelOracle } from '../support/kernel.js';

const FIXTURE = '../callbacks/ok_callbacks.o'; // kernelLoad reads it relative to the corpus folder
const bytes = () =>
  new Uint8Array(readFileSync(new URL('../fixtures/callbacks/ok_callbacks.o', import.meta.url)));
const PROGRAMS = ['foreach_array', 'foreach_hash', 'loop_mix', 'arm_timer', 'dynptrs', 'drain'];
const LENGTHS = [14, 60, 61, 62, 63, 77, 100, 1500];
const packet = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Map contents as hex key -> hex value, keys sorted (kernelMapDump's shape). */
function dump(m: {
  nextKey(k?: Uint8Array): Uint8Array | undefined;
  lookup(k: Uint8Array): Uint8Array | undefined;
}) {
  const out: [string, string][] = [];
  for (let k = m.nextKey(undefined); k; k = m.nextKey(k)) out.push([hex(k), hex(m.lookup(k)!)]);
  return new Map(out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** A flow's value without its struct bpf_timer (16 opaque bytes the kernel never shows). */
const flowCounters = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [k, v.slice(32)]));

const oracle = kernelOracle();

describe.runIf(oracle)('ok_callbacks.o against BPF_PROG_TEST_RUN', () => {
  for (const engine of ENGINES) {
    it(`${engine}: same return values and map contents as the kernel`, async () => {
      // Fresh maps on both sides for each engine.
      const k = kernelLoad(FIXTURE, { pinMaps: true });
      const spec = readObject(bytes(), { file: 'ok_callbacks.o' });
      const coll = loadCollection(spec, { engine });
      try {
        for (const p of PROGRAMS) expect(k.verdicts.get(p)?.verdict, p).toBe('accept');
        let runs = 0;
        for (const n of LENGTHS) {
          for (const name of PROGRAMS) {
            const want = kernelRun(k.verdicts.get(name)!.pin!, packet(n));
            if ('error' in want)
              throw new Error(`${name} on ${n} bytes: the kernel's run failed: ${want.error}`);
            const got = coll.program(name).run({ dataIn: packet(n) });
            expect(got.retval, `${name} on ${n} bytes`).toBe(want.retval);
            if (name === 'arm_timer') {
              // The kernel's timer fires 1 us after the run; user space fires it through runTimers.
              expect(armedTimers(coll.runtime)).toHaveLength(1);
              expect(runTimers(coll.runtime, Number.MAX_SAFE_INTEGER)).toBe(1);
              runs++;
            }
          }
        }
        await new Promise((r) => setTimeout(r, 50));
        for (const m of ['counts', 'table', 'out', 'scratch']) {
          const want = kernelMapDump(join(k.mapPins!, m));
          expect(dump(coll.map(m)), m).toEqual(want);
        }
        const flows = flowCounters(dump(coll.map('flows')));
        expect(flows).toEqual(flowCounters(kernelMapDump(join(k.mapPins!, 'flows'))));
        // Every run armed its flow's timer once and it fired once: armed == fired, summed over the runs.
        let armed = 0n;
        for (const v of flows.values()) {
          const b = Buffer.from(v, 'hex');
          expect(b.readBigUInt64LE(0)).toBe(b.readBigUInt64LE(8));
          armed += b.readBigUInt64LE(0);
        }
        expect(armed).toBe(BigInt(runs));
      } finally {
        coll.close();
        k.release();
      }
    });
  }
});

/** libbpf's user-ring-buffer producer (tools/produce.c), built once per run: the kernel's drain gets samples. */
function producer(): string {
  const cc = clang();
  if (!cc) throw new Error('clang is needed to build test/fixtures/callbacks/tools/produce.c');
  const out = join(mkdtempSync(join(tmpdir(), 'tsbpf-produce-')), 'produce');
  const src = fileURLToPath(new URL('../fixtures/callbacks/tools/produce.c', import.meta.url));
  execFileSync(cc, ['-O2', src, '-lbpf', '-o', out], { stdio: 'pipe' });
  return out;
}

describe.runIf(oracle)('bpf_user_ringbuf_drain against the kernel', () => {
  for (const engine of ENGINES) {
    it(`${engine}: the same samples drained the same way (libbpf's producer in the kernel, submit() here)`, () => {
      const produce = producer();
      const k = kernelLoad(FIXTURE, { pinMaps: true });
      const coll = loadCollection(readObject(bytes()), { engine });
      try {
        const ring = coll.runtime.maps.find((m) => m instanceof UserRingBufMap) as UserRingBufMap;
        const pin = k.verdicts.get('drain')!.pin!;
        // Rounds of samples, each drained by one run: a stop at 0xffffffff leaves the rest for the next,
        // a discarded sample is skipped, a 2-byte sample makes dynptr_read fail (-E2BIG) and stops.
        const rounds = [
          ['05000000', '07000000', 'ffffffff', '0b000000', '-64000000'],
          [],
          ['0102', '09000000'],
        ];
        const drained = [3n, 1n, 1n];
        for (const [i, round] of rounds.entries()) {
          if (round.length)
            execFileSync(produce, [join(k.mapPins!, 'commands'), ...round], { stdio: 'pipe' });
          for (const hexSample of round) {
            const data = Buffer.from(hexSample.replace('-', ''), 'hex');
            expect(ring.submit(new Uint8Array(data), hexSample.startsWith('-'))).toBe(0);
          }
          const want = kernelRun(pin, packet(60));
          if ('error' in want) throw new Error(`the kernel's run failed: ${want.error}`);
          expect(coll.program('drain').run({ dataIn: packet(60) }).retval).toBe(want.retval);
          const kernelOut = kernelMapDump(join(k.mapPins!, 'out'));
          expect(dump(coll.map('out')), `after round ${JSON.stringify(round)}`).toEqual(kernelOut);
          // What the kernel drained (slot 13), so that the comparison is about samples, not empty rings.
          expect(Buffer.from(kernelOut.get('0d000000')!, 'hex').readBigInt64LE(0)).toBe(drained[i]);
        }
      } finally {
        coll.close();
        k.release();
      }
    });
  }
});

describe('the user ring buffer and timers in user space', () => {
  for (const engine of ENGINES) {
    it(`${engine}: drain hands each sample to the callback in order, and stops where the callback says`, () => {
      const coll = loadCollection(readObject(bytes()), { engine, programs: ['drain'] });
      const ring = coll.runtime.maps.find((m) => m instanceof UserRingBufMap) as UserRingBufMap;
      const u32 = (v: number) => Uint8Array.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]);
      for (const v of [5, 7, 0xffffffff, 11]) expect(ring.submit(u32(v))).toBe(0);
      ring.submit(u32(100), true); // discarded: skipped
      const out = coll.map('out');
      const slot = (i: number) => out.lookup(u32(i))!;
      const s64 = (b: Uint8Array) => Buffer.from(b).readBigInt64LE(0);
      coll.program('drain').run({ dataIn: packet(60) });
      // 0xffffffff stops the drain after it: three samples consumed.
      expect([s64(slot(13)), s64(slot(14)), s64(slot(15))]).toEqual([3n, 12n + 0xffffffffn, 3n]);
      coll.program('drain').run({ dataIn: packet(60) });
      expect([s64(slot(13)), s64(slot(14)), s64(slot(15))]).toEqual([1n, 11n, 1n]);
      // A sample shorter than 4 bytes: dynptr_read fails with -E2BIG and the callback stops.
      ring.submit(Uint8Array.of(1, 2));
      coll.program('drain').run({ dataIn: packet(60) });
      expect([s64(slot(13)), s64(slot(15))]).toEqual([1n, 0n]);
      expect(ring.pending).toBe(0);
      // A full ring refuses a sample; one larger than the ring never fits.
      while (ring.submit(new Uint8Array(1000)) === 0);
      expect(ring.submit(new Uint8Array(1000))).toBe(-28);
      expect(ring.submit(new Uint8Array(5000))).toBe(-7);
      coll.close();
    });

    it(`${engine}: a timer fires when the runtime's clock passes its expiry, once`, () => {
      let now = 1_000_000;
      const coll = loadCollection(readObject(bytes()), {
        engine,
        programs: ['arm_timer'],
        runtimeOptions: { clock: () => now },
      });
      const flows = coll.map('flows');
      const fired = () => Buffer.from(flows.lookup(Uint8Array.of(0, 0, 0, 0))!).readBigUInt64LE(24);
      coll.program('arm_timer').run({ dataIn: packet(64) }); // key 0, expires 1000 ns later
      expect(armedTimers(coll.runtime)).toEqual([{ addr: expect.any(Number), expires: 1_001_000 }]);
      expect(runTimers(coll.runtime)).toBe(0);
      now += 999;
      expect(runTimers(coll.runtime)).toBe(0);
      expect(fired()).toBe(0n);
      now += 1;
      expect(runTimers(coll.runtime)).toBe(1);
      expect(fired()).toBe(1n);
      expect(runTimers(coll.runtime)).toBe(0);
      // Deleting the value frees its timer: it never fires.
      coll.program('arm_timer').run({ dataIn: packet(64) });
      flows.delete(Uint8Array.of(0, 0, 0, 0));
      now += 10_000;
      expect(runTimers(coll.runtime)).toBe(0);
      coll.close();
    });
  }
});
