// XDP speed, ours beside the kernel's, in one run: the UDP-drop example (examples/xdp/udp_drop.o) over
// the bundled iperf capture and over synthetic 64-byte frames (to the blocked port: the drop path with a
// hash-map lookup and two atomic adds; to another port: the pass path, header parsing only).
//   single                per packet: the packet laid out in the hook's frame, then run32 (verdict only)
//   batch                 XdpBatch over 256-frame batches: packets laid out, one engine call a batch
//   program only          the batch's frames laid out once, the batch run again and again
//   test-run              testRun on one packet, repeat N: the loop `tsbpf prog run … repeat N` times
//   kernel                BPF_PROG_TEST_RUN of the same object on the same packet, repeat 10^7 (or per
//                         packet of the capture), the duration the kernel reports
// The kernel stops its clock while the test-run thread is scheduled out, so ours are measured in process
// CPU time (wall time beside it); each figure is the best of several rounds. Asserts nothing.
// `npm run build && node bench/xdp.js`
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadObject } from '../dist/collection/userspace.js';
import { readObject } from '../dist/elf/index.js';
import { testRun } from '../dist/hooks/test-run.js';
import { XdpHook } from '../dist/hooks/xdp.js';
import { XdpBatch } from '../dist/hooks/xdp-batch.js';
import { compile } from '../dist/jit/index.js';
import { buildFrame } from '../dist/net/index.js';
import { readCapture } from '../dist/net/pcap.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OBJECT = join(root, 'examples/xdp/udp_drop.o');
const spec = readObject(readFileSync(OBJECT));
const capture = readCapture(readFileSync(join(root, 'examples/xdp/iperf.pcap'))).packets.map((p) => p.data);
const udp = (dport) =>
  buildFrame({
    eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
    ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
    udp: { sport: 40000, dport },
    payload: 64 - 14 - 20 - 8,
  });
const drop = udp(5001);
const pass = udp(53);
if (drop.length !== 64) throw new Error(`synthetic frame is ${drop.length} bytes, not 64`);

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const ROUNDS = 5;

/** Best of ROUNDS: ns per item of fn(), which processes `items` items, in CPU time and wall time. */
function measure(items, fn) {
  fn(); // warm up
  let cpu = Number.POSITIVE_INFINITY;
  let wall = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuNs();
    const w0 = performance.now();
    fn();
    wall = Math.min(wall, ((performance.now() - w0) * 1e6) / items);
    cpu = Math.min(cpu, (cpuNs() - c0) / items);
  }
  return { cpu, wall };
}

/** A stream of `total` packets drawn cyclically from `packets`. */
function stream(packets, total) {
  return Array.from({ length: total }, (_, i) => packets[i % packets.length]);
}

/** Per-packet figures of one engine path over a packet stream. */
function hookFigures(engine, packets) {
  const obj = loadObject(spec, { engine });
  const runner = obj.program().runner(engine);
  const n = engine === 'interp' ? 20_000 : 100_000;
  const input = stream(packets, n);
  // Single: the packet laid out in one frame, then one run32 per packet.
  const hook = new XdpHook(runner);
  const slot = hook.frame;
  const rt = runner.runtime;
  rt.invocationDefaults = { packet: slot.frame, programType: 'xdp' };
  const single = measure(n, () => {
    for (const p of input) {
      slot.load(p);
      runner.run32(slot.ctx.start);
    }
  });
  rt.invocationDefaults = {};
  hook.close();
  const b = new XdpBatch(runner);
  const batch = measure(n, () => {
    for (let first = 0; first < input.length; ) first += b.run(input, first);
  });
  // The program alone: the batch's frames laid out once, then run again and again.
  const k = b.run(input);
  const reps = engine === 'interp' ? 40 : 400;
  const loaded = measure(k * reps, () => {
    for (let r = 0; r < reps; r++) b.runLoaded(k);
  });
  b.close();
  return { single, batch, loaded };
}

function testRunFigure(engine, packet) {
  const obj = loadObject(spec, { engine });
  const runner = obj.program().runner(engine);
  const repeat = engine === 'interp' ? 200_000 : 2_000_000;
  let best = Number.POSITIVE_INFINITY;
  let retval = -1;
  for (let r = 0; r < ROUNDS; r++) {
    const res = testRun(runner, { dataIn: packet, repeat, clock: cpuNs });
    best = Math.min(best, res.durationNs);
    retval = res.retval;
  }
  return { ns: best, retval };
}

/** What `tsbpf prog run … repeat N --json` prints (a fresh process, as a user would run it). */
function cliFigure(packet, repeat) {
  const file = join(tmpdir(), `tsbpf-bench-${process.pid}.bin`);
  writeFileSync(file, packet);
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    const p = spawnSync(
      process.execPath,
      [
        join(root, 'bin/tsbpf.js'),
        'prog',
        'run',
        OBJECT,
        'data_in',
        file,
        'repeat',
        String(repeat),
        '--json',
      ],
      { encoding: 'utf8' },
    );
    if (p.status !== 0) return { error: (p.stderr || `exit ${p.status}`).trim() };
    best = Math.min(best, JSON.parse(p.stdout).duration);
  }
  return { ns: best };
}

async function kernelFigures() {
  if (process.getuid?.() !== 0) return { reason: 'not root' };
  let kernel;
  try {
    kernel = await import('../dist/kernel/index.js');
  } catch (e) {
    return { reason: `kernel back end unavailable: ${e.message}` };
  }
  if (!kernel.ffiAvailable()) return { reason: 'koffi (the FFI) is not installed' };
  let obj;
  try {
    obj = kernel.loadKernelObject(OBJECT);
  } catch (e) {
    return { reason: `load failed: ${e.message}` };
  }
  try {
    const prog = obj.program();
    const best = (packet, repeat, rounds = 3) => {
      let ns = Number.POSITIVE_INFINITY;
      let retval = -1;
      for (let r = 0; r < rounds; r++) {
        const res = prog.run({ dataIn: packet, repeat });
        ns = Math.min(ns, res.durationNs);
        retval = res.retval;
      }
      return { ns, retval };
    };
    // The capture: each packet run 10,000 times; the per-packet mean over the capture.
    let sum = 0;
    for (const p of capture) sum += best(p, 10_000, 1).ns;
    return { drop: best(drop, 10_000_000), pass: best(pass, 10_000_000), capture: sum / capture.length };
  } finally {
    obj.close?.();
  }
}

/** JIT compile time of the program: the first compile in this process (cold) and the best of 20 (warm). */
function compileTimes() {
  const obj = loadObject(spec, { engine: 'interp' });
  const prepared = obj.program().prepared;
  const times = [];
  for (let i = 0; i < 20; i++) times.push(compile(prepared, obj.runtime).compileTimeMs);
  return { slots: prepared.insns.length, cold: times[0], warm: Math.min(...times) };
}
const compiled = compileTimes();

const fmt = (x) => (x === undefined ? 'n/a' : `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ns`);
const cpuModel =
  readFileSync('/proc/cpuinfo', 'utf8')
    .match(/model name\s*:\s*(.*)/)?.[1]
    ?.trim() ?? 'unknown CPU';

const workloads = [
  [
    `iperf.pcap (${capture.length} packets, ${Math.round(capture.reduce((a, p) => a + p.length, 0) / capture.length)} B mean)`,
    capture,
  ],
  ['64 B UDP to 5001 (drop path)', [drop]],
  ['64 B UDP to 53 (pass path)', [pass]],
];
const rows = [];
for (const [name, packets] of workloads) {
  const interp = hookFigures('interp', packets);
  const jit = hookFigures('jit', packets);
  rows.push({ name, interp, jit });
}
const trDrop = { interp: testRunFigure('interp', drop), jit: testRunFigure('jit', drop) };
const trPass = { interp: testRunFigure('interp', pass), jit: testRunFigure('jit', pass) };
const cli = { drop: cliFigure(drop, 10_000_000), pass: cliFigure(pass, 10_000_000) };
const k = await kernelFigures();

console.log(
  `machine: ${cpuModel}, ${cpus().length} cores, node ${process.version}, load average ${loadavg()[0].toFixed(1)}`,
);
console.log(
  'ours: process CPU time per packet, best of 5 (wall time in parentheses); kernel: BPF_PROG_TEST_RUN duration\n',
);
console.log(
  '| udp_drop.o, per packet | interpreter single | interpreter batch (256) | interpreter, program only | JIT single (run32) | JIT batch (256) | JIT batch, program only | kernel JIT (test run) |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
const kernelFor = [k.capture, k.drop?.ns, k.pass?.ns];
rows.forEach((r, i) => {
  const both = (m) => `${fmt(m.cpu)} (${fmt(m.wall)})`;
  const engine = (e) => `${both(e.single)} | ${both(e.batch)} | ${both(e.loaded)}`;
  console.log(
    `| ${r.name} | ${engine(r.interp)} | ${engine(r.jit)} | ${k.reason ? 'n/a' : fmt(kernelFor[i])} |`,
  );
});
console.log(
  '\n| test run, same packet repeated (`prog run … repeat N`) | interpreter | JIT | `tsbpf prog run` (CLI, JIT) | kernel |',
);
console.log('|---|---:|---:|---:|---:|');
for (const [name, tr, c, kk] of [
  ['64 B UDP to 5001 (drop)', trDrop, cli.drop, k.drop],
  ['64 B UDP to 53 (pass)', trPass, cli.pass, k.pass],
]) {
  console.log(
    `| ${name} | ${fmt(tr.interp.ns)} | ${fmt(tr.jit.ns)} | ${c.error ? `error: ${c.error}` : fmt(c.ns)} | ${k.reason ? 'n/a' : fmt(kk.ns)} |`,
  );
  if (!k.reason && kk.retval !== tr.jit.retval)
    console.log(`  (retval differs: kernel ${kk.retval}, ours ${tr.jit.retval})`);
}
if (k.reason) console.log(`\nkernel: n/a (${k.reason})`);
const ratio = (a, b) => (a / b).toFixed(1);
const perEntry = (key) =>
  rows
    .map((r, i) => `${['capture', 'drop', 'pass'][i]} ${ratio(r.interp[key].cpu, r.jit[key].cpu)}x`)
    .join(', ');
console.log(
  `\nratios (CPU time), interpreter/JIT through the same entry: single ${perEntry('single')}; batch ${perEntry('batch')}; program only ${perEntry('loaded')}; test run drop ${ratio(trDrop.interp.ns, trDrop.jit.ns)}x, pass ${ratio(trPass.interp.ns, trPass.jit.ns)}x`,
);
if (!k.reason) {
  console.log(
    `JIT test run / kernel: drop ${ratio(trDrop.jit.ns, k.drop.ns)}x, pass ${ratio(trPass.jit.ns, k.pass.ns)}x; JIT batch (program only) / kernel: capture ${ratio(rows[0].jit.loaded.cpu, k.capture)}x, drop ${ratio(rows[1].jit.loaded.cpu, k.drop.ns)}x, pass ${ratio(rows[2].jit.loaded.cpu, k.pass.ns)}x; with the packet layout: drop ${ratio(rows[1].jit.batch.cpu, k.drop.ns)}x, pass ${ratio(rows[2].jit.batch.cpu, k.pass.ns)}x`,
  );
}
console.log(
  `JIT compile of udp_drop.o (${compiled.slots} slots): cold ${compiled.cold.toFixed(2)} ms, warm ${compiled.warm.toFixed(3)} ms (10,000-instruction programs: bench/jit.js)`,
);
