// Verification time of each example object: tsbpf's verifier (the first run, and the median of several
// warm runs) beside the kernel's own figure ("verification time N usec" from a BPF_PROG_LOAD with log level 4, when root).
// Then the pathological loops of test/verifier/complexity/ (loops bounded only by the packet length, which
// run into the complexity limits): our verdict, processed insns, states and time beside the kernel's.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const { readObject } = await import('../dist/elf/index.js');
const { verify } = await import('../dist/verifier/index.js');
const { assemble } = await import('../dist/asm/index.js');
const { programTypeByName } = await import('../dist/spec/program-types.js');
const kernel = await import('../dist/kernel/index.js').catch(() => undefined);
const kernelOk = kernel && process.getuid?.() === 0 && kernel.ffiAvailable();
if (!kernelOk) console.log('(kernel column skipped: needs root on Linux with koffi)');

const RUNS = 9;
const WARMUP = 20;
const dirs = ['examples/xdp', 'test/fixtures/elf'];
console.log(
  `${'program'.padEnd(44)} ${'verdict'.padEnd(9)} ${'insns'.padStart(6)} ${'states'.padStart(6)} ${'first ms'.padStart(9)} ${'tsbpf ms'.padStart(9)} ${'kernel ms'.padStart(10)} ${'k insns'.padStart(8)}`,
);
for (const dir of dirs) {
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.o'))
    .sort()) {
    const file = `${dir}/${f}`;
    const spec = readObject(readFileSync(file), { file });
    for (const p of spec.programs) {
      let r;
      const times = [];
      const t0 = performance.now();
      r = verify(p, { maps: spec.maps, logLevel: 0 });
      const first = performance.now() - t0;
      // Warm up (the first runs measure V8's compiler as much as the verifier), then take the median.
      for (let i = 0; i < WARMUP; i++) verify(p, { maps: spec.maps, logLevel: 0 });
      for (let i = 0; i < RUNS; i++) {
        const t1 = performance.now();
        r = verify(p, { maps: spec.maps, logLevel: 0 });
        times.push(performance.now() - t1);
      }
      times.sort((a, b) => a - b);
      let kms = '-';
      let kinsns = '-';
      if (kernelOk) {
        try {
          const obj = kernel.loadKernelObject(
            { ...spec, programs: [p] },
            { programs: [p.name], logLevel: 4 },
          );
          const log = obj.programs.get(p.name)?.log ?? '';
          obj.close();
          const t = /verification time (\d+) usec/.exec(log);
          const n = /processed (\d+) insns/.exec(log);
          if (t) kms = (Number(t[1]) / 1000).toFixed(3);
          if (n) kinsns = n[1];
        } catch {
          kms = 'rejected';
        }
      }
      const name = `${f}:${p.name}`.slice(0, 44);
      console.log(
        `${name.padEnd(44)} ${(r.accepted ? 'accepted' : r.diagnostics[0].kind).padEnd(9)} ${String(r.insnsProcessed).padStart(6)} ${String(r.states).padStart(6)} ${first.toFixed(3).padStart(9)} ${times[RUNS >> 1].toFixed(3).padStart(9)} ${kms.padStart(10)} ${kinsns.padStart(8)}`,
      );
    }
  }
}

// ---- the pathological loops: each runs to a complexity limit, so a few runs (CPU time, median of 3) ----
const SHAPES = 'test/verifier/complexity';
console.log(
  `\n${'complexity shape'.padEnd(22)} ${'verdict'.padEnd(44)} ${'insns'.padStart(8)} ${'states'.padStart(7)} ${'first ms'.padStart(9)} ${'cpu ms'.padStart(7)} ${'kernel ms'.padStart(10)} ${'k insns'.padStart(8)} ${'k states'.padStart(9)}`,
);
for (const f of readdirSync(SHAPES)
  .filter((x) => x.endsWith('.s'))
  .sort()) {
  const text = readFileSync(`${SHAPES}/${f}`, 'utf8');
  const type = /^# type: (\S+)/.exec(text)?.[1];
  const insns = assemble(text);
  // No time limit: the figure is how long the instruction limit takes.
  const once = () => verify({ insns, type }, { logLevel: 0, timeLimitMs: Number.POSITIVE_INFINITY });
  const t0 = performance.now();
  let r = once();
  const first = performance.now() - t0;
  const cpu = [];
  for (let i = 0; i < 3; i++) {
    const c = process.cpuUsage();
    r = once();
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  const d = r.diagnostics[0];
  const verdict = r.accepted
    ? 'accepted'
    : `${d.kind}: ${/\d+ (instructions processed|branches wait)/.exec(d.message)?.[0] ?? d.message}`;
  let kms = '-';
  let kinsns = '-';
  let kstates = '-';
  if (kernelOk) {
    let log = '';
    try {
      const p = kernel.progLoad({ type: programTypeByName(type).kernel, insns, license: 'GPL', logLevel: 4 });
      log = p.log;
      kernel.close(p.fd);
    } catch (e) {
      log = e.log ?? '';
    }
    kms = /verification time (\d+) usec/.exec(log)?.[1] ?? '-';
    if (kms !== '-') kms = (Number(kms) / 1000).toFixed(0);
    kinsns = /processed (\d+) insns/.exec(log)?.[1] ?? '-';
    kstates = /total_states (\d+)/.exec(log)?.[1] ?? '-';
  }
  console.log(
    `${f.slice(0, -2).padEnd(22)} ${verdict.padEnd(44)} ${String(r.insnsProcessed).padStart(8)} ${String(r.states).padStart(7)} ${first.toFixed(0).padStart(9)} ${cpu[1].toFixed(0).padStart(7)} ${kms.padStart(10)} ${kinsns.padStart(8)} ${kstates.padStart(9)}`,
  );
}
