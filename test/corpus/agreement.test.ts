// The corpus run (issue 16), kernel as the oracle: every program of test/fixtures/corpus (our own programs in
// the shapes real projects have, and reject_*.c, which the kernel refuses for a real reason) loaded by libbpf
// (bpftool prog loadall) and by tsbpf (each program alone). What must hold, whatever tsbpf supports today:
//   - the corpus is what it says (reject_* rejected by the kernel, the rest accepted, or refused before
//     verification where this kernel lacks the machinery: fentry/lsm without BPF trampolines);
//   - tsbpf accepts no program the kernel rejects, and its kernel back end gets none of them past the kernel;
//   - every packet program both accept gives, over every frame of crafted.pcap, the kernel's return value,
//     packet and (skb programs) context out (bpftool prog run on libbpf's program) on both user-space engines,
//     from the same map entries (setup.ts), and leaves the same map contents, when tsbpf can test-run its
//     type — the types it cannot run yet are listed, not failed.
// Which programs tsbpf accepts is not written down here: the share grows as types and helpers land, and the
// figures print with each run (bench/corpus.js prints the whole table).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/engine/runner.js';
import { close as closeFd, objGet, progTestRun } from '../../src/kernel/index.js';
import { readCapture } from '../../src/net/index.js';
// tsbpf as a Node user gets it (the `node` condition of 'tsbpf'): the running kernel's BTF is the default
// CO-RE target and the kernel's types for tracing programs, as libbpf uses it.
import { type BpfMap, loadCollection, readObject } from '../../src/node/root.js';
import { kernelOracle } from '../support/kernel.js';
import {
  corpusObjects,
  kernelLoad,
  kernelMapDump,
  kernelMapUpdate,
  kernelRun,
  measureCorpus,
  PACKET_TYPES,
  type Row,
  SKB_TYPES,
  summarize,
  tsbpfLoad,
} from './measure.js';
import { COMPARED_MAP_TYPES, SETUP, SKB_CTX, SYSCALL_ARGS, UNREPRODUCIBLE_MAPS } from './setup.js';

const oracle = kernelOracle();
const lib = { readObject, loadCollection };
const FRAMES = readCapture(
  new Uint8Array(readFileSync(new URL('../fixtures/pcap/crafted.pcap', import.meta.url))),
).packets.map((p) => p.data);

/**
 * Programs (object:program) and maps (object:map) whose user-space runs are known to differ from the
 * kernel's today, with why: their differences print but do not fail. When one runs as the kernel does, the run says so; take it off the list.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  // BPF_PROG_TEST_RUN refuses (EINVAL) XDP programs whose expected attach type is devmap or cpumap;
  // user space runs them as plain XDP.
  'xdp_devmap.o:xdp_egress_mac': 'the kernel does not test-run xdp/devmap programs',
  'xdp_cpumap.o:xdp_cpu_filter': 'the kernel does not test-run xdp/cpumap programs',
  // Keyed by bpf_get_hash_recalc: the kernel's flow hash puts crafted.pcap's frames in fewer flows (35)
  // than user space's (39) — some frames the kernel hashes alike, user space tells apart.
  'tc_edt.o:flows': 'flows counted by skb hash: user space and the kernel group the frames differently',
};

const CORPUS_URL = new URL('../fixtures/corpus/', import.meta.url);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A user-space map's entries as hex key → hex value, keys sorted (as kernelMapDump gives the kernel's). */
function dumpMap(map: BpfMap): Map<string, string> {
  const out: [string, string][] = [];
  // Bounded by the map's own size: nextKey walks each key once.
  for (let key = map.nextKey(undefined), n = 0; key && n <= map.spec.maxEntries; key = map.nextKey(key), n++)
    out.push([hex(key), hex(map.lookup(key)!)]);
  return new Map(out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

describe.skipIf(!oracle)('corpus: tsbpf against the kernel', () => {
  let rows: Row[] = [];
  beforeAll(() => {
    rows = measureCorpus(lib);
    const t = summarize(rows);
    console.log(
      `[corpus] ${t.programs} programs in ${t.objects} objects; kernel accepts ${t.kernelAccepted}, rejects ${t.kernelRejected}, ${t.kernelUndecided} without a verdict; tsbpf accepts ${t.bothAccept} of the kernel's ${t.kernelAccepted} (${(100 * t.acceptedShare).toFixed(1)}%) and rejects ${t.bothReject} of its ${t.kernelRejected} rejections (${t.earlyRejections.length} for a missing feature: ${t.earlyRejections.join(', ')})`,
    );
    for (const [reason, n] of t.refusals.slice(0, 10)) console.log(`[corpus]   ${n} × ${reason}`);
  }, 600_000);

  it('holds at least 40 programs, and the kernel judges them as the corpus says', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    const wrong = rows
      .filter((r) =>
        r.object.startsWith('reject_')
          ? r.kernel !== 'reject'
          : r.kernel !== 'accept' && !(r.kernel === 'unavailable' || r.kernel === 'unknown'),
      )
      .map((r) => `${r.object}:${r.program}: ${r.kernel} ${r.kernelReason ?? ''}`);
    expect(wrong).toEqual([]);
    // Undecided only where the kernel refused before verifying (no log): trampolines, not the program.
    const undecided = rows.filter((r) => r.kernel === 'unavailable');
    for (const r of undecided) expect(r.kernelReason).toMatch(/before verification/);
    expect(rows.filter((r) => r.kernel === 'accept').length).toBeGreaterThanOrEqual(40);
    expect(rows.filter((r) => r.kernel === 'reject').length).toBeGreaterThanOrEqual(10);
  });

  it('tsbpf accepts no program the kernel rejects', () => {
    const unsound = rows
      .filter((r) => r.kernel === 'reject' && r.tsbpf === 'accept')
      .map((r) => `${r.object}:${r.program} (kernel: ${r.kernelReason})`);
    expect(unsound).toEqual([]);
    // Every refusal, ours or the kernel's, carries its reason.
    for (const r of rows) {
      if (r.tsbpf === 'reject') expect(r.tsbpfReason, `${r.object}:${r.program}`).toBeTruthy();
      if (r.kernel === 'reject') expect(r.kernelReason, `${r.object}:${r.program}`).toBeTruthy();
    }
  });

  it("through tsbpf's kernel back end, the kernel accepts no program it rejects when libbpf loads it", () => {
    // tsbpf's loader (CO-RE, externs, maps, attach types) hands the kernel's verifier the program; a
    // program libbpf's load gets refused must not pass because tsbpf's loader changed it.
    const loaded: string[] = [];
    let accepted = 0;
    for (const file of corpusObjects()) {
      const t = tsbpfLoad(lib, file, 'kernel');
      for (const r of rows.filter((x) => x.object === file)) {
        const v = t.verdicts.get(r.program);
        if (v?.verdict !== 'accept') continue;
        if (r.kernel === 'accept') accepted++;
        if (r.kernel === 'reject') loaded.push(`${file}:${r.program} (libbpf's load: ${r.kernelReason})`);
      }
    }
    console.log(
      `[corpus] tsbpf's kernel back end loads ${accepted} of the ${rows.filter((r) => r.kernel === 'accept').length} programs libbpf loads`,
    );
    expect(loaded).toEqual([]);
  });

  it("syscall programs both accept give the kernel's return value and map contents on both engines", () => {
    // bpftool cannot run them (it always asks for a ctx_out and a repeat count, which the kernel refuses for
    // syscall programs): BPF_PROG_TEST_RUN through src/kernel on libbpf's pinned program, ctx only.
    const mismatches: string[] = [];
    let compared = 0;
    for (const file of Object.keys(SYSCALL_ARGS)) {
      const both = rows.filter(
        (r) => r.object === file && r.type === 'syscall' && r.kernel === 'accept' && r.tsbpf === 'accept',
      );
      if (both.length === 0) continue;
      const k = kernelLoad(file, { pinMaps: true });
      const spec = readObject(new Uint8Array(readFileSync(new URL(file, CORPUS_URL))), { file });
      const colls = ENGINES.map(() => loadCollection(spec, { programs: both.map((r) => r.program) }));
      try {
        for (const row of both) {
          const fd = objGet(k.verdicts.get(row.program)!.pin!);
          try {
            for (const args of SYSCALL_ARGS[file]!) {
              const want = progTestRun(fd, { ctx: args, ctxOutSize: 0, repeat: 0 }).retval;
              ENGINES.forEach((engine, i) => {
                const got = colls[i]!.program(row.program).run({
                  dataIn: new Uint8Array(0),
                  ctxIn: args,
                  engine,
                });
                if (got.retval !== want)
                  mismatches.push(
                    `${file}:${row.program} [${engine}] args ${hex(args)}: retval ${got.retval} (kernel ${want})`,
                  );
              });
            }
          } finally {
            closeFd(fd);
          }
          compared++;
        }
        for (const m of spec.maps) {
          if (!COMPARED_MAP_TYPES.has(m.type) || m.name.startsWith('.')) continue;
          const want = JSON.stringify([...kernelMapDump(join(k.mapPins!, m.name))]);
          ENGINES.forEach((engine, i) => {
            const got = JSON.stringify([...dumpMap(colls[i]!.map(m.name))]);
            if (got !== want)
              mismatches.push(`${file}:${m.name} [${engine}] after the runs: ${got} (kernel ${want})`);
          });
        }
      } finally {
        for (const coll of colls) coll.close();
        k.release();
      }
    }
    console.log(`[corpus] syscall runs: ${compared} programs compared with the kernel`);
    expect(mismatches).toEqual([]);
  });

  it("packet programs both accept give the kernel's return value, packet, context and maps on both engines", () => {
    const mismatches: string[] = [];
    const notRunnable = new Map<string, string>(); // program → why user space did not run it
    let compared = 0;
    let runs = 0;
    let refusedByBoth = 0;
    let mapsCompared = 0;
    // What the kernel did per program (its return values, packets it changed): the paths the runs reached.
    const outcomes = new Map<string, { retvals: Set<number>; changed: number }>();
    const runnableTypes = new Set<string>();
    for (const file of corpusObjects()) {
      const both = rows.filter(
        (r) =>
          r.object === file && r.kernel === 'accept' && r.tsbpf === 'accept' && PACKET_TYPES.has(r.type!),
      );
      if (both.length === 0) continue;
      const k = kernelLoad(file, { pinMaps: true });
      // Each engine gets a collection of its own, so each sees the same sequence of runs as the kernel's
      // program, and the maps can be compared at the end. A collection holds every program of the object
      // tsbpf accepts, as libbpf loads them all, so tail calls reach their targets on both sides.
      const spec = readObject(new Uint8Array(readFileSync(new URL(file, CORPUS_URL))), { file });
      const accepted = rows.filter((r) => r.object === file && r.tsbpf === 'accept').map((r) => r.program);
      const colls = ENGINES.map(() => loadCollection(spec, { programs: accepted }));
      try {
        for (const e of SETUP[file] ?? []) {
          kernelMapUpdate(join(k.mapPins!, e.map), e.key, e.value);
          for (const coll of colls) coll.map(e.map).update(e.key, e.value);
        }
        for (const row of both) {
          const key = `${file}:${row.program}`;
          const pin = k.verdicts.get(row.program)?.pin;
          if (!pin) throw new Error(`${key}: the kernel accepted it but left no pin`);
          // skb programs run with an empty __sk_buff so the context written back is compared too.
          const ctxIn = SKB_TYPES.has(row.type!) ? SKB_CTX : undefined;
          let stop = false;
          for (const frame of FRAMES) {
            // The kernel may refuse a run (EINVAL for a frame shorter than an Ethernet header): then
            // user space must refuse it too.
            const want = kernelRun(pin, frame, ctxIn);
            if (!('error' in want)) {
              const seen = outcomes.get(key) ?? { retvals: new Set<number>(), changed: 0 };
              seen.retvals.add(want.retval);
              if (hex(want.dataOut) !== hex(frame)) seen.changed++;
              outcomes.set(key, seen);
            }
            const at = `${key} frame ${hex(frame.subarray(0, 16))}… (${frame.length} B)`;
            ENGINES.forEach((engine, i) => {
              if (stop) return;
              let got: { retval: number; dataOut: Uint8Array; ctxOut?: Uint8Array };
              try {
                got = colls[i]!.program(row.program).run({ dataIn: frame, ctxIn, engine });
              } catch (e) {
                const msg = (e as Error).message.split('\n')[0]!;
                if (/not supported/.test(msg)) {
                  notRunnable.set(key, msg);
                  stop = true;
                } else if ('error' in want) refusedByBoth++;
                else mismatches.push(`${at} [${engine}]: threw ${msg} (kernel: retval ${want.retval})`);
                return;
              }
              runs++;
              runnableTypes.add(row.type!);
              if ('error' in want) {
                mismatches.push(
                  `${at} [${engine}]: ran (retval ${got.retval}), the kernel refused: ${want.error}`,
                );
                return;
              }
              const diffs: string[] = [];
              if (got.retval !== want.retval) diffs.push(`retval ${got.retval} (kernel ${want.retval})`);
              if (hex(got.dataOut) !== hex(want.dataOut))
                diffs.push(`packet ${hex(got.dataOut)} (kernel ${hex(want.dataOut)})`);
              if (want.ctxOut && hex(got.ctxOut ?? new Uint8Array(0)) !== hex(want.ctxOut))
                diffs.push(`ctx_out ${hex(got.ctxOut ?? new Uint8Array(0))} (kernel ${hex(want.ctxOut)})`);
              if (diffs.length) mismatches.push(`${at} [${engine}]: ${diffs.join(', ')}`);
            });
            if (stop) break;
          }
          if (!notRunnable.has(key)) compared++;
        }
        // What the runs left in the maps (counters, NAT state, policy hits): the same everywhere.
        for (const m of spec.maps) {
          if (!COMPARED_MAP_TYPES.has(m.type) || m.name.startsWith('.')) continue;
          const countOnly = `${file}:${m.name}` in UNREPRODUCIBLE_MAPS;
          const entries = (d: Map<string, string>) =>
            countOnly ? `${d.size} entries` : JSON.stringify([...d]);
          const want = entries(kernelMapDump(join(k.mapPins!, m.name)));
          ENGINES.forEach((engine, i) => {
            const got = entries(dumpMap(colls[i]!.map(m.name)));
            if (got !== want)
              mismatches.push(`${file}:${m.name} [${engine}] map after the runs: ${got} (kernel ${want})`);
          });
          mapsCompared++;
        }
      } finally {
        for (const coll of colls) coll.close();
        k.release();
      }
    }
    console.log(
      `[corpus] runs: ${compared} programs compared with the kernel over ${FRAMES.length} frames (${runs} user-space runs, ${refusedByBoth} refused by both; types ${[...runnableTypes].sort().join(', ')}); ${mapsCompared} maps compared after the runs`,
    );
    for (const [p, o] of outcomes)
      console.log(
        `[corpus]   ${p}: kernel returned ${[...o.retvals].join('/')}, changed ${o.changed} packets`,
      );
    for (const [p, why] of notRunnable) console.log(`[corpus]   not runnable in user space: ${p}: ${why}`);
    const known = (m: string) => Object.keys(KNOWN_DIFFERENCES).some((k) => m.startsWith(`${k} `));
    const unexpected = mismatches.filter((m) => !known(m));
    if (unexpected.length)
      console.log(`[corpus] ${unexpected.length} differences:\n${unexpected.slice(0, 40).join('\n')}`);
    for (const [program, why] of Object.entries(KNOWN_DIFFERENCES)) {
      const n = mismatches.filter((m) => m.startsWith(`${program} `)).length;
      console.log(
        n
          ? `[corpus]   known difference, ${n} runs: ${program}: ${why}`
          : `[corpus]   known difference gone: ${program} now runs as the kernel does (or was not run): take it off KNOWN_DIFFERENCES`,
      );
    }
    expect(unexpected).toEqual([]);
    // XDP test runs exist in user space: every XDP program both accept was compared.
    const xdp = rows.filter((r) => r.type === 'xdp' && r.kernel === 'accept' && r.tsbpf === 'accept');
    expect(xdp.length).toBeGreaterThan(0);
    for (const r of xdp) expect(notRunnable.has(`${r.object}:${r.program}`), r.program).toBe(false);
    expect(compared).toBeGreaterThanOrEqual(xdp.length);
  }, 600_000);
});
