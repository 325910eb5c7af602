// tcpdump as the oracle for the pcap-filter compiler: for every expression of the corpus and every packet
// of the fixture captures, the packets we match equal the packets tcpdump matches; tcpdump's own program
// (-ddd) run by our interpreter matches the same packets; our -d printer reproduces tcpdump -d exactly;
// every program we produce passes the kernel's classic BPF checks and translates to eBPF.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFilter, compileFilter, formatAsm, parseDecimal, runFilter } from '../../src/cbpf/index.js';
import { cbpfToEbpf } from '../../src/cbpf/translate.js';
import { checkProgram } from '../../src/isa/index.js';
import { LinkType, readCapture } from '../../src/net/pcap.js';
import { ETHER_CORPUS, RAW_CORPUS, SLL_CORPUS } from './corpus.js';
import { tcpdumpMatches, tcpdumpOracle, tcpdumpProgram } from './oracle.js';

const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;
const oracle = tcpdumpOracle();

const SUITES: { file: string; linkType: number; corpus: string[] }[] = [
  { file: 'crafted.pcap', linkType: LinkType.ETHERNET, corpus: ETHER_CORPUS },
  { file: 'real.pcap', linkType: LinkType.ETHERNET, corpus: ETHER_CORPUS },
  { file: 'crafted-raw.pcap', linkType: LinkType.RAW, corpus: RAW_CORPUS },
  { file: 'crafted-sll.pcap', linkType: LinkType.LINUX_SLL, corpus: SLL_CORPUS },
];

describe.skipIf(!oracle)('pcap-filter compiler against tcpdump', () => {
  it('corpus has at least 200 expressions', () => {
    expect(new Set(ETHER_CORPUS).size).toBeGreaterThanOrEqual(200);
  });

  for (const s of SUITES) {
    it(`matches tcpdump on ${s.file}`, () => {
      const packets = readCapture(new Uint8Array(readFileSync(DIR + s.file))).packets;
      const disagreements: string[] = [];
      const programDisagreements: string[] = [];
      let ours = 0;
      let theirs = 0;
      for (const expr of s.corpus) {
        const prog = compileFilter(expr, { linkType: s.linkType });
        checkFilter(prog);
        checkProgram(cbpfToEbpf(prog));
        const tdProg = parseDecimal(tcpdumpProgram(expr, s.linkType));
        ours += prog.length;
        theirs += tdProg.length;
        const want = tcpdumpMatches(DIR + s.file, expr);
        const run = (p: typeof prog) =>
          packets.flatMap((pk, i) => (runFilter(p, pk.data, { wireLen: pk.origLen }) !== 0 ? [i] : []));
        const got = run(prog);
        if (JSON.stringify(got) !== JSON.stringify(want))
          disagreements.push(`${expr}: want ${want} got ${got}`);
        const viaTheirs = run(tdProg);
        if (JSON.stringify(viaTheirs) !== JSON.stringify(got))
          programDisagreements.push(`${expr}: tcpdump's program ${viaTheirs}, ours ${got}`);
      }
      console.log(
        `[filter oracle] ${s.file}: ${s.corpus.length} expressions x ${packets.length} packets, ` +
          `${disagreements.length} disagreements with tcpdump, ${programDisagreements.length} with tcpdump's -ddd program ` +
          `on our interpreter; instructions ours ${ours} vs libpcap ${theirs}`,
      );
      expect(disagreements).toEqual([]);
      expect(programDisagreements).toEqual([]);
    }, 120_000);
  }

  it('our -d printer reproduces tcpdump -d for tcpdump programs', () => {
    for (const expr of ETHER_CORPUS.filter((_, i) => i % 3 === 0)) {
      const ddd = parseDecimal(tcpdumpProgram(expr, LinkType.ETHERNET));
      expect(formatAsm(ddd)).toBe(tcpdumpProgram(expr, LinkType.ETHERNET, '-d'));
    }
  }, 60_000);
});
