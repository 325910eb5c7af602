// Filter benchmark: program size beside libpcap's (tcpdump -d | wc -l) and classic BPF interpreter
// throughput in packets per second over the recorded capture. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { compileFilter, runFilter } from '../dist/cbpf/index.js';
import { readCapture } from '../dist/net/pcap.js';

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
const cap = readCapture(
  new Uint8Array(readFileSync(new URL('../test/fixtures/pcap/real.pcap', import.meta.url))),
);
let ours = 0;
let theirs = 0;
for (const e of exprs) {
  const prog = compileFilter(e);
  let lib = NaN;
  try {
    lib = execFileSync('tcpdump', ['-y', 'EN10MB', '-d', ` ${e}`], { stdio: 'pipe' })
      .toString()
      .trim()
      .split('\n').length;
  } catch {}
  ours += prog.length;
  theirs += lib;
  const rounds = 200;
  const t0 = process.hrtime.bigint();
  let matched = 0;
  for (let r = 0; r < rounds; r++)
    for (const p of cap.packets) if (runFilter(prog, p.data, { wireLen: p.origLen })) matched++;
  const ns = Number(process.hrtime.bigint() - t0);
  const pps = (rounds * cap.packets.length) / (ns / 1e9);
  console.log(
    `${e.padEnd(48)} insns ${String(prog.length).padStart(3)} (libpcap ${lib})  cbpf ${(pps / 1e6).toFixed(2)} Mpps`,
  );
}
console.log(`total instructions: ours ${ours}, libpcap ${theirs}`);
