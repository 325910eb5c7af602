// Filter benchmark: program size beside libpcap's (`tcpdump -d EXPR | wc -l`) and throughput in packets per
// second on each engine — the classic BPF interpreter ('cbpf'), and the eBPF translation run as a verified
// socket filter by the eBPF interpreter ('interp') and the JIT ('jit') — over the recorded capture.
// Totals over the whole test corpus follow. Run after `npm run build`; prints numbers, asserts nothing.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { compileFilter, createPacketFilter } from '../dist/cbpf/index.js';
import { readCapture } from '../dist/net/pcap.js';
import { Runtime } from '../dist/vm/runtime.js';

const exprs = [
  'ip',
  'tcp',
  'udp port 5001',
  'host 10.0.0.1',
  'net 10.0.0.0/8 and not port 22',
  'vlan 10 and udp',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn',
  'ip6 protochain 17',
  'portrange 5000-5002',
  'icmp or arp',
];
const ENGINES = ['cbpf', 'interp', 'jit'];
const cap = readCapture(
  new Uint8Array(readFileSync(new URL('../test/fixtures/pcap/real.pcap', import.meta.url))),
);
const packets = cap.packets;

function libpcapSize(expr, dlt = 'EN10MB') {
  try {
    return execFileSync('tcpdump', ['-y', dlt, '-d', ` ${expr}`], { stdio: 'pipe' })
      .toString()
      .trim()
      .split('\n').length;
  } catch {
    return Number.NaN;
  }
}

/**
 * Packets per second for one engine: the best of 7 trials of ~40 ms each (the machine is shared, so the
 * best trial is the least disturbed one).
 */
function throughput(filter) {
  const pass = () => {
    let m = 0;
    for (const p of packets) if (filter.run(p.data, p.origLen) !== 0) m++;
    return m;
  };
  pass(); // warm up (and JIT tier-up)
  let rounds = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) pass();
    if (Number(process.hrtime.bigint() - t0) > 40e6 || rounds > 1 << 16) break;
    rounds *= 2;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let t = 0; t < 7; t++) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) pass();
    best = Math.min(best, Number(process.hrtime.bigint() - t0));
  }
  return (rounds * packets.length) / (best / 1e9);
}

const runtime = new Runtime();
console.log(`${packets.length} packets of real.pcap per round; Mpps = million packets per second`);
console.log(`${'expression'.padEnd(46)} insns libpcap  ${ENGINES.map((e) => e.padStart(8)).join(' ')}`);
const sums = Object.fromEntries(ENGINES.map((e) => [e, 0]));
for (const e of exprs) {
  const prog = compileFilter(e);
  // The eBPF engines run the forward-only form (protochain unrolled), as `tsbpf filter` does: it verifies.
  const fwd = compileFilter(e, { forwardOnly: true });
  const rates = ENGINES.map((engine) => {
    const f = createPacketFilter(engine === 'cbpf' ? prog : fwd, { engine, runtime });
    if (!f.verified) console.log(`  (verifier rejected the translation of '${e}'; ${engine} runs checked)`);
    const pps = throughput(f);
    f.close();
    sums[engine] += Math.log(pps);
    return pps;
  });
  console.log(
    `${e.padEnd(46)} ${String(prog.length).padStart(5)} ${String(libpcapSize(e)).padStart(7)}  ` +
      rates.map((r) => `${(r / 1e6).toFixed(2).padStart(6)}M`).join('  '),
  );
}
console.log(
  `geometric mean: ${ENGINES.map((e) => `${e} ${(Math.exp(sums[e] / exprs.length) / 1e6).toFixed(2)} Mpps`).join(', ')}`,
);

// Sizes over the whole test corpus (the oracle test's expressions), beside libpcap's.
// The corpus lives in test/cbpf/corpus.ts (not built): its ETHER_CORPUS array is read as text.
const corpusText = readFileSync(new URL('../test/cbpf/corpus.ts', import.meta.url), 'utf8');
const block = /ETHER_CORPUS: string\[\] = \[([\s\S]*?)\n\];/.exec(corpusText)?.[1] ?? '';
const ETHER_CORPUS = [...block.matchAll(/^\s*(['"])(.*)\1,\s*$/gm)].map((m) => m[2].replace(/\\(.)/g, '$1'));
{
  let ours = 0;
  let theirs = 0;
  let smaller = 0;
  let larger = 0;
  for (const e of ETHER_CORPUS) {
    const n = compileFilter(e).length;
    const l = libpcapSize(e);
    ours += n;
    theirs += l;
    if (n < l) smaller++;
    if (n > l) larger++;
  }
  console.log(
    `corpus (${ETHER_CORPUS.length} Ethernet expressions): ours ${ours} instructions, libpcap ${theirs} ` +
      `(${(ours / theirs).toFixed(2)}x); ${smaller} smaller, ${larger} larger, ` +
      `${ETHER_CORPUS.length - smaller - larger} equal`,
  );
}
