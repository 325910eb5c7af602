// Probe and tracepoint overhead per call (ns), measured on dist/ (npm run build first):
//   - an unprobed call, a call with a detached probe (the original restored),
//   - a probed call running a small counting program on the interpreter and on the JIT (entry, return),
//   - a fired tracepoint with nothing attached and with a program attached (interpreter, JIT).
// Figures are medians of several rounds; they are printed, never asserted.
import { ProgramBuilder, R0, R1, R2, R6 } from '../dist/asm/index.js';
import { probe } from '../dist/hooks/probe.js';
import { ProbeCtx } from '../dist/hooks/probe-context.js';
import { tracepoint } from '../dist/hooks/tracepoint.js';
import { createMap } from '../dist/maps/registry.js';
import { MapType } from '../dist/spec/maps.js';
import { Runtime } from '../dist/vm/runtime.js';

const N = Number(process.env.TRACE_BENCH_CALLS ?? 300_000);
const ROUNDS = 5;

function counter() {
  const runtime = new Runtime();
  const map = createMap(runtime.space, {
    name: 'counter',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 16,
    maxEntries: 1,
    flags: 0,
  });
  return { runtime, map };
}

/** calls += 1; total += first argument (probe) / first field (tracepoint). */
function countingProgram(argOffset, size) {
  return new ProgramBuilder()
    .ldMapValue(R6, 0)
    .mov64(R2, 1)
    .atomic('add', 'u64', R6, 0, R2)
    .ldx(size, R2, R1, argOffset)
    .atomic('add', 'u64', R6, 8, R2)
    .mov64(R0, 0)
    .exit()
    .build();
}

const MEASURE = `
  for (let i = 0; i < N / 10; i++) fn(i); // warm up
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / N);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(ROUNDS / 2)];`;

/** Median ns per call of fn; a fresh copy of the loop per case keeps each call site monomorphic. */
function measure(fn) {
  return new Function('fn', 'N', 'ROUNDS', 'process', MEASURE)(fn, N, ROUNDS, process);
}

const rows = [];
const row = (name, ns) => {
  rows.push([name, ns]);
  console.log(`${name.padEnd(48)} ${ns.toFixed(1).padStart(9)} ns/call`);
};

// Each case gets its own target object so V8's feedback for one does not shape another.
const makeTarget = () => ({
  work(a, b) {
    return a + b;
  },
});

{
  const t = makeTarget();
  row(
    'unprobed call',
    measure((i) => t.work(i, 1)),
  );
}
{
  const t = makeTarget();
  const { runtime, map } = counter();
  probe(t, 'work', { insns: countingProgram(ProbeCtx.arg1, 'u64'), maps: [map], runtime }).detach();
  row(
    'detached probe (original restored)',
    measure((i) => t.work(i, 1)),
  );
}
for (const engine of ['interp', 'jit']) {
  for (const on of ['entry', 'return']) {
    const t = makeTarget();
    const { runtime, map } = counter();
    const prog = { insns: countingProgram(ProbeCtx.arg1, 'u64'), maps: [map], runtime };
    const link = probe(t, 'work', prog, { engine, on });
    row(
      `probed call, ${on} (${engine})`,
      measure((i) => t.work(i, 1)),
    );
    if (link.errors !== 0) throw new Error(`probe faulted: ${link.lastError}`);
    link.detach();
  }
}

const tp = tracepoint('bench:event', { value: 'u64', size: 'u32' });
row(
  'tracepoint fire, nothing attached',
  measure((i) => tp.fire(i, 8)),
);
for (const engine of ['interp', 'jit']) {
  const { runtime, map } = counter();
  const link = tp.attach({ insns: countingProgram(8, 'u64'), maps: [map], runtime }, { engine });
  row(
    `tracepoint fire, program attached (${engine})`,
    measure((i) => tp.fire(i, 8)),
  );
  link.detach();
}

// The probe context carries the time: entry probes read the clock once, return probes twice.
row(
  'clock read (performance.now, part of the above)',
  measure(() => performance.now()),
);

const base = rows[0][1];
console.log(`\noverhead over the unprobed call (${N} calls x ${ROUNDS} rounds, median):`);
for (const [name, ns] of rows.slice(1, -1)) console.log(`  ${name.padEnd(46)} +${(ns - base).toFixed(1)} ns`);
