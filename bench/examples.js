// Every example XDP program over the bundled capture: ns per packet on the interpreter, the JIT (batch of
// the whole capture, the program alone: frames laid out once and run again as the last run left them,
// which is what the kernel's test-run repeat does) and the kernel's BPF_PROG_TEST_RUN (each packet
// repeated, the mean over the capture). Programs that call helpers show what a call out of wasm costs.
// CPU time, best of several rounds. Asserts nothing. `npm run build && node bench/examples.js`
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadObject, setTailCallTarget } from '../dist/collection/userspace.js';
import { readObject } from '../dist/elf/index.js';
import { XdpBatch } from '../dist/hooks/xdp-batch.js';
import { readCapture } from '../dist/net/pcap.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'examples/xdp');
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.o'))
  .map((f) => f.slice(0, -2))
  .sort();
const setup = JSON.parse(readFileSync(join(dir, 'setup.json'), 'utf8'));
const capture = readCapture(readFileSync(join(dir, 'iperf.pcap'))).packets.map((p) => p.data);
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

function applySetup(name, obj, fdOf) {
  for (const s of setup[name] ?? []) {
    const key = Buffer.from(s.key, 'hex');
    if (/^[0-9a-f]+$/.test(s.value)) obj.map(s.map).update(key, Buffer.from(s.value, 'hex'));
    else if (fdOf) {
      const value = Buffer.alloc(4);
      value.writeUInt32LE(fdOf(s.value));
      obj.map(s.map).update(key, value);
    } else setTailCallTarget(obj, s.map, key.readUInt32LE(0), s.value);
  }
}

/**
 * Best-of-5 CPU ns per packet of re-runs of the loaded capture, each round at least 20 ms, after 400 ms of
 * warm-up: V8 takes tens of milliseconds to optimise the interpreter's loop (again after each new program
 * brings new type feedback), and a short round would time the unoptimised code.
 */
function ours(name, engine) {
  const obj = loadObject(readObject(readFileSync(join(dir, `${name}.o`))), { engine });
  applySetup(name, obj);
  const batch = new XdpBatch(obj.program().runner(engine), capture.length);
  const n = batch.run(capture);
  let rounds = 1;
  const warmUntil = performance.now() + 400;
  while (performance.now() < warmUntil) {
    const t0 = performance.now();
    for (let k = 0; k < rounds; k++) batch.runLoaded(n);
    if (performance.now() - t0 < 20) rounds *= 2;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const t0 = cpuNs();
    for (let k = 0; k < rounds; k++) batch.runLoaded(n);
    best = Math.min(best, (cpuNs() - t0) / (rounds * n));
  }
  batch.close();
  return best;
}

async function kernelFigures() {
  if (process.getuid?.() !== 0) return { reason: 'not root' };
  try {
    const kernel = await import('../dist/kernel/index.js');
    if (!kernel.ffiAvailable()) return { reason: 'koffi (the FFI) is not installed' };
    const out = {};
    for (const name of names) {
      const obj = kernel.loadKernelObject(join(dir, `${name}.o`));
      try {
        applySetup(name, obj, (prog) => obj.program(prog).fd);
        const prog = obj.program();
        let sum = 0;
        for (const p of capture) sum += prog.run({ dataIn: p, repeat: 2000 }).durationNs;
        out[name] = sum / capture.length;
      } finally {
        obj.close?.();
      }
    }
    return out;
  } catch (e) {
    return { reason: e.message };
  }
}

const kernel = await kernelFigures();
const fmt = (x) => (x === undefined ? 'n/a' : `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ns`);
console.log(`iperf.pcap, ${capture.length} packets; CPU time per packet (the program alone)\n`);
console.log('| example | interpreter | JIT | kernel JIT (test run) | JIT / kernel |');
console.log('|---|---:|---:|---:|---:|');
for (const name of names) {
  const interp = ours(name, 'interp');
  const jit = ours(name, 'jit');
  const k = kernel.reason ? undefined : kernel[name];
  const ratio = k ? `${(jit / k).toFixed(2)}x` : 'n/a';
  console.log(`| ${name} | ${fmt(interp)} | ${fmt(jit)} | ${fmt(k)} | ${ratio} |`);
}
if (kernel.reason) console.log(`\nkernel: n/a (${kernel.reason})`);
