// TC speed, ours beside the kernel's, in one run: tc fixtures (test/fixtures/tc) on one 64-byte UDP frame
// and over the bundled iperf capture.
//   test-run     testRun on one packet, repeat N (what `tsbpf prog run … repeat N` times); the kernel:
//                BPF_PROG_TEST_RUN of the same object on the same packet, repeat 10^6, its duration
//   hook         SkbHook.run per packet of the capture (the skb laid out, the program run, the packet
//                compared with the input): what `tsbpf tc` does per packet
// Programs: ctx_fields (direct packet access, context reads and writes, no helper), parse_load (five
// bpf_skb_load_bytes and a hash-map update per packet), nat (store_bytes, l3/l4_csum_replace, csum_diff:
// nine helper calls per packet). Ours in process CPU time, best of 5; asserts nothing.
// `npm run build && node bench/tc.js`
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadObject } from '../dist/collection/userspace.js';
import { readObject } from '../dist/elf/index.js';
import { SkbHook } from '../dist/hooks/skb.js';
import { testRun } from '../dist/hooks/test-run.js';
import { buildFrame } from '../dist/net/index.js';
import { readCapture } from '../dist/net/pcap.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PROGRAMS = ['ctx_fields', 'parse_load', 'nat'];
const file = (name) => join(root, `test/fixtures/tc/${name}.o`);
const capture = readCapture(readFileSync(join(root, 'examples/xdp/iperf.pcap'))).packets.map((p) => p.data);
const packet = buildFrame({
  eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
  ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
  udp: { sport: 40000, dport: 53 },
  payload: 64 - 14 - 20 - 8,
});
// ctx_fields writes its fields after the Ethernet header when the packet holds them (126 bytes).
const big = buildFrame({
  eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
  ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
  udp: { sport: 40000, dport: 53 },
  payload: 128 - 14 - 20 - 8,
});
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const ROUNDS = 5;

function load(name, engine) {
  const obj = loadObject(readObject(readFileSync(file(name))), { engine, programs: [name] });
  return obj.program(name).runner(engine);
}

function testRunFigure(name, engine, data) {
  const runner = load(name, engine);
  const repeat = engine === 'interp' ? 100_000 : 1_000_000;
  let ns = Number.POSITIVE_INFINITY;
  let retval = -1;
  for (let r = 0; r < ROUNDS; r++) {
    const res = testRun(runner, { dataIn: data, repeat, clock: cpuNs });
    ns = Math.min(ns, res.durationNs);
    retval = res.retval;
  }
  return { ns, retval };
}

function hookFigure(name, engine) {
  const hook = new SkbHook(load(name, engine));
  const n = engine === 'interp' ? 20_000 : 100_000;
  const run = () => {
    for (let i = 0; i < n; i++) hook.run(capture[i % capture.length]);
  };
  run();
  let ns = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuNs();
    run();
    ns = Math.min(ns, (cpuNs() - c0) / n);
  }
  hook.close();
  return ns;
}

async function kernelFigure(name, data) {
  if (process.getuid?.() !== 0) return { reason: 'not root' };
  const kernel = await import('../dist/kernel/index.js');
  if (!kernel.ffiAvailable()) return { reason: 'koffi (the FFI) is not installed' };
  const obj = kernel.loadKernelObject(readObject(readFileSync(file(name))), { programs: [name] });
  try {
    let ns = Number.POSITIVE_INFINITY;
    let retval = -1;
    for (let r = 0; r < 3; r++) {
      const res = obj.program(name).run({ dataIn: data, repeat: 1_000_000 });
      ns = Math.min(ns, res.durationNs);
      retval = res.retval;
    }
    return { ns, retval };
  } finally {
    obj.close();
  }
}

const fmt = (x) => (x === undefined ? 'n/a' : `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ns`);
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}, load average ${loadavg()[0].toFixed(1)}`,
);
console.log(
  'ours: process CPU time per run/packet, best of 5; kernel: BPF_PROG_TEST_RUN duration, repeat 10^6\n',
);
console.log(
  '| program | test run, interpreter | test run, JIT | kernel (test run) | JIT / kernel | hook over iperf.pcap, interpreter | hook, JIT |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const name of PROGRAMS) {
  const data = name === 'ctx_fields' ? big : packet;
  const interp = testRunFigure(name, 'interp', data);
  const jit = testRunFigure(name, 'jit', data);
  const k = await kernelFigure(name, data);
  const ratio = k.reason ? 'n/a' : `${(jit.ns / k.ns).toFixed(2)}x`;
  console.log(
    `| ${name} | ${fmt(interp.ns)} | ${fmt(jit.ns)} | ${k.reason ? `n/a (${k.reason})` : fmt(k.ns)} | ${ratio} | ${fmt(hookFigure(name, 'interp'))} | ${fmt(hookFigure(name, 'jit'))} |`,
  );
  if (!k.reason && (k.retval | 0) !== (jit.retval | 0))
    console.log(`  (retval differs: kernel ${k.retval}, ours ${jit.retval})`);
}
