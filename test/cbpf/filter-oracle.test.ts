// tcpdump as the oracle for the pcap-filter compiler: for every expression of the corpus and every packet
// of the fixture captures, the packets we match equal the packets tcpdump matches, on all three engines
// (the classic interpreter, and the eBPF translation run as a verified socket filter by the eBPF
// interpreter and by the JIT); tcpdump's own program (-ddd) run by our classic interpreter matches the same
// packets; our -d printer reproduces tcpdump -d exactly; every program we produce passes the kernel's
// classic BPF checks and its translation passes our verifier; and no program of ours is longer than
// libpcap's for the same expression.
//
// Speed: tcpdump's answers are gathered up front by a few concurrent processes, one `tcpdump -r` per
// expression over the captures of a link type merged into one file.

import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  C,
  checkFilter,
  compileFilter,
  createPacketFilter,
  type FilterEngineName,
  formatAsm,
  parseDecimal,
  runFilter,
  type SockFilter,
} from '../../src/cbpf/index.js';
import { LinkType } from '../../src/net/pcap.js';
import { Runtime } from '../../src/vm/runtime.js';
import { ETHER_CORPUS, RAW_CORPUS, SLL_CORPUS } from './corpus.js';
import { extraCapture } from './extra-frames.js';
import {
  type MergedCapture,
  mergeCaptures,
  pool,
  tcpdumpMatchesAsync,
  tcpdumpOracle,
  tcpdumpProgramAsync,
} from './oracle.js';

const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;
const oracle = tcpdumpOracle();
/** LLC/SNAP, broadcast and AH frames built in memory (./extra-frames.ts), merged after the Ethernet files. */
const EXTRA = 'extra frames';

const GROUPS: { name: string; linkType: number; files: string[]; corpus: string[] }[] = [
  {
    name: 'Ethernet',
    linkType: LinkType.ETHERNET,
    files: ['crafted.pcap', 'real.pcap'],
    corpus: ETHER_CORPUS,
  },
  { name: 'raw IP', linkType: LinkType.RAW, files: ['crafted-raw.pcap'], corpus: RAW_CORPUS },
  { name: 'Linux cooked', linkType: LinkType.LINUX_SLL, files: ['crafted-sll.pcap'], corpus: SLL_CORPUS },
];
/** Every third Ethernet expression also has its -d text compared with our printer's. */
const PRINTED = ETHER_CORPUS.filter((_, i) => i % 3 === 0);

interface Answers {
  merged: MergedCapture;
  matches: number[][];
  programs: string[];
}
const answers = new Map<string, Answers>();
const printed: string[] = [];
let tcpdumpSeconds = 0;

describe.skipIf(!oracle)('pcap-filter compiler against tcpdump', () => {
  beforeAll(async () => {
    const t0 = performance.now();
    let runs = 0;
    const ask = <T>(jobs: (() => Promise<T>)[]) => {
      runs += jobs.length;
      return pool(jobs, 4);
    };
    for (const g of GROUPS) {
      const sources: { name: string; bytes: Uint8Array }[] = g.files.map((f) => ({
        name: f,
        bytes: new Uint8Array(readFileSync(DIR + f)),
      }));
      if (g.linkType === LinkType.ETHERNET) sources.push({ name: EXTRA, bytes: extraCapture() });
      const merged = mergeCaptures(g.linkType, sources);
      const matches = await ask(g.corpus.map((e) => () => tcpdumpMatchesAsync(merged, e)));
      const programs = await ask(g.corpus.map((e) => () => tcpdumpProgramAsync(e, g.linkType)));
      answers.set(g.name, { merged, matches, programs });
    }
    printed.push(...(await ask(PRINTED.map((e) => () => tcpdumpProgramAsync(e, LinkType.ETHERNET, '-d')))));
    tcpdumpSeconds = (performance.now() - t0) / 1000;
    console.log(`[filter oracle] ${runs} tcpdump runs in ${tcpdumpSeconds.toFixed(1)} s`);
  }, 240_000);

  afterAll(() => {
    for (const a of answers.values()) rmSync(dirname(a.merged.file), { recursive: true, force: true });
  });

  it('corpus has at least 200 expressions', () => {
    expect(new Set(ETHER_CORPUS).size).toBeGreaterThanOrEqual(200);
  });

  for (const g of GROUPS) {
    it(`matches tcpdump on ${g.files.join(' + ')} (${g.name}) with every engine`, () => {
      const { merged, matches, programs } = answers.get(g.name)!;
      const packets = merged.packets;
      const runtime = new Runtime();
      const disagreements: string[] = [];
      const programDisagreements: string[] = [];
      const unverified: string[] = [];
      let ours = 0;
      let theirs = 0;
      /** Expressions our program is longer for than libpcap's (the optimiser's promise: none). */
      const longer: string[] = [];
      let loopPrograms = 0;
      const indices = (run: (data: Uint8Array, wireLen: number) => number) =>
        packets.flatMap((pk, i) => (run(pk.data, pk.origLen) !== 0 ? [i] : []));
      for (const [e, expr] of g.corpus.entries()) {
        // As libpcap (protochain loops back: classic interpreter only, or eBPF run checked), and with forward
        // jumps only (what the kernel accepts; the eBPF engines run it verified).
        const prog = compileFilter(expr, { linkType: g.linkType });
        checkFilter(prog, { backwardJumps: true });
        const loops = prog.some((f) => f.code === (C.JMP | C.JA) && f.k >= 0x80000000);
        const fwd = loops ? compileFilter(expr, { linkType: g.linkType, forwardOnly: true }) : prog;
        checkFilter(fwd);
        if (loops) loopPrograms++;
        const tdProg = parseDecimal(programs[e]!);
        ours += prog.length;
        theirs += tdProg.length;
        if (prog.length > tdProg.length)
          longer.push(`${expr}: ours ${prog.length}, libpcap ${tdProg.length}`);
        const want = JSON.stringify(matches[e]);
        const runs: [string, SockFilter[], FilterEngineName][] = [
          ['cbpf', prog, 'cbpf'],
          ['interp', fwd, 'interp'],
          ['jit', fwd, 'jit'],
        ];
        if (loops)
          runs.push(['cbpf forward-only', fwd, 'cbpf'], ['interp with loop, checked', prog, 'interp']);
        for (const [label, p, engine] of runs) {
          const f = createPacketFilter(p, { engine, runtime });
          try {
            if (!f.verified && p === fwd) unverified.push(`${expr} (${label}): ${f.verifierLog}`);
            const got = JSON.stringify(indices((d, w) => f.run(d, w)));
            if (got !== want) disagreements.push(`${expr} [${label}]: tcpdump ${want}, ours ${got}`);
          } finally {
            f.close();
          }
        }
        const viaTheirs = JSON.stringify(
          indices((d, w) => runFilter(tdProg as SockFilter[], d, { wireLen: w })),
        );
        if (viaTheirs !== want)
          programDisagreements.push(`${expr}: tcpdump's program ${viaTheirs}, tcpdump ${want}`);
      }
      const perFile = [...merged.starts.keys()].map((f) => `${f} from #${merged.starts.get(f)}`).join(', ');
      console.log(
        `[filter oracle] ${g.name}: ${g.corpus.length} expressions x ${packets.length} packets (${perFile}) ` +
          `x 3 engines: ${disagreements.length} disagreements with tcpdump, ${programDisagreements.length} ` +
          `for tcpdump's -ddd program on our interpreter, ${unverified.length} forward-only translations the ` +
          `verifier rejected (${loopPrograms} protochain loops also run checked), ` +
          `instructions ours ${ours} vs libpcap ${theirs}`,
      );
      expect(disagreements).toEqual([]);
      expect(programDisagreements).toEqual([]);
      expect(unverified).toEqual([]);
      expect(longer).toEqual([]);
    }, 120_000);
  }

  it('our -d printer reproduces tcpdump -d for tcpdump programs', () => {
    const programs = answers.get('Ethernet')!.programs;
    PRINTED.forEach((expr, i) => {
      const ddd = parseDecimal(programs[ETHER_CORPUS.indexOf(expr)]!);
      expect(formatAsm(ddd), expr).toBe(printed[i]);
    });
  });
});
