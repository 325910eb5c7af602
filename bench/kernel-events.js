// Kernel event paths, for the issue-17 note (`npm run build` first; needs root, clang, cc, bpftool):
// 1. Per-event overhead of a uprobe and of a tracepoint: a C loop (bench/c/loop.c) times one call of the
//    probed function and one getpgid(2), bare and with the counting programs of bench/c/events.bpf.c
//    attached — loaded by tsbpf, then the same object loaded by bpftool (attached through its pins). The
//    kernel's own figure (run_time_ns / run_cnt with kernel.bpf_stats_enabled) is printed beside: the
//    program's cost is the kernel's, so both loaders should match within noise.
// 2. Readers' throughput: N records (16 bytes) produced into the ring buffer and into the perf buffer by
//    this process's getppid(2) calls, then drained — by tsbpf's KernelRingBuf.drain / KernelPerfReader.poll
//    and by libbpf's ring_buffer__consume / perf_buffer__consume (bench/c/consume.c, built against -lbpf).
//    Only the drain is timed. If the libbpf harness cannot be built, the reason is printed with ours alone.
// Usage: node bench/kernel-events.js [--events N (readers, default 500000)] [--calls N (loop, default 200000)]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name} wants a positive integer, got ${argv[i + 1]}`);
    process.exit(2);
  }
  return n;
};
const EVENTS = arg('--events', 500_000);
const CALLS = arg('--calls', 200_000);
const RUNS = 3; // median of 3 loop runs per setting

const kernel = await import('../dist/kernel/index.js');
const { readObject } = await import('../dist/index.js');
if (process.getuid?.() !== 0 || !kernel.ffiAvailable()) {
  console.log('kernel event benchmarks skipped: needs root on Linux with koffi');
  process.exit(0);
}

const SRC = new URL('./c/', import.meta.url).pathname;
// The uprobe section names this path (events.bpf.c): the loop binary is built here.
const DIR = '/tmp/tsbpf-kernel-events';
const PIN = `/sys/fs/bpf/tsbpf_bench_events_${process.pid}`;
mkdirSync(DIR, { recursive: true });

function build(what, cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${what}: ${cmd} not found (${r.error.message})`;
  if (r.status !== 0) return `${what}: ${cmd} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  return undefined;
}
const arch = execFileSync('uname', ['-m']).toString().trim();
const fatal = (why) => {
  console.log(`kernel event benchmarks cannot run: ${why}`);
  process.exit(1);
};
const OBJ = `${DIR}/events.bpf.o`;
const bpfErr = build('events.bpf.c', 'clang-19', [
  '-O2',
  '-g',
  '-target',
  'bpf',
  '-mcpu=v3',
  `-I/usr/include/${arch}-linux-gnu`,
  '-c',
  `${SRC}events.bpf.c`,
  '-o',
  OBJ,
]);
if (bpfErr) fatal(bpfErr);
const loopErr = build('loop.c', 'cc', ['-O2', '-o', `${DIR}/loop`, `${SRC}loop.c`]);
if (loopErr) fatal(loopErr);
const consumeErr = build('consume.c (libbpf harness)', 'cc', [
  '-O2',
  '-o',
  `${DIR}/consume`,
  `${SRC}consume.c`,
  '-lbpf',
]);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The loop's ns per call of the probed function and of getpgid (median of RUNS runs). */
function loop() {
  const up = [];
  const tp = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(`${DIR}/loop`, [String(CALLS)]).toString();
    up.push(Number(/uprobe_ns ([\d.]+)/.exec(out)[1]));
    tp.push(Number(/getpgid_ns ([\d.]+)/.exec(out)[1]));
  }
  return { uprobe: median(up), tracepoint: median(tp) };
}

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = readFileSync(STATS, 'utf8').trim();
writeFileSync(STATS, '1');

/** The kernel's mean ns per run of the program behind `fd` (bpf_stats). */
function kernelNs(fd) {
  const d = kernel.progDetails(fd);
  return d.runCount ? d.runTimeNs / d.runCount : Number.NaN;
}

const spec = readObject(new Uint8Array(readFileSync(OBJ)), { file: OBJ });
const specOf = (name) => spec.programs.find((p) => p.name === name);
const PROBES = ['on_fn', 'on_getpgid'];

/** Attach both counting programs (`progs`: AttachableProgram by name), run the loop, detach. */
function measureAttached(progs) {
  const links = PROBES.map((n) => kernel.attachProgram(progs[n], kernel.autoTarget(progs[n])));
  try {
    const t = loop();
    return {
      ...t,
      kernelUprobe: kernelNs(progs.on_fn.fd),
      kernelTracepoint: kernelNs(progs.on_getpgid.fd),
    };
  } finally {
    for (const l of links) l.close();
  }
}

const rows = [];
try {
  const bare = loop();

  const obj = kernel.loadKernelObject(OBJ, { programs: PROBES });
  let ours;
  try {
    ours = measureAttached({ on_fn: obj.program('on_fn'), on_getpgid: obj.program('on_getpgid') });
  } finally {
    obj.close();
  }

  let theirs;
  let bpftoolWhy;
  rmSync(PIN, { recursive: true, force: true });
  const r = spawnSync('bpftool', ['prog', 'loadall', OBJ, PIN], { encoding: 'utf8' });
  if (r.status !== 0) bpftoolWhy = `bpftool prog loadall failed: ${(r.stderr || '').trim().split('\n')[0]}`;
  else {
    const fds = [];
    try {
      const progs = {};
      for (const n of PROBES) {
        const { fd } = kernel.openPinned(`${PIN}/${n}`);
        fds.push(fd);
        progs[n] = { fd, name: n, spec: specOf(n) };
      }
      theirs = measureAttached(progs);
    } finally {
      for (const fd of fds) kernel.close(fd);
      rmSync(PIN, { recursive: true, force: true });
    }
  }

  console.log(`Per-event overhead (${CALLS} calls a run, median of ${RUNS} runs; ns per call)`);
  console.log(
    `${'event'.padEnd(12)}${'bare'.padStart(9)}${'tsbpf'.padStart(9)}${'+tsbpf'.padStart(9)}${'bpftool'.padStart(9)}${'+bpftool'.padStart(10)}   kernel run_time/run_cnt: tsbpf / bpftool`,
  );
  for (const [label, key, k] of [
    ['uprobe', 'uprobe', 'kernelUprobe'],
    ['tracepoint', 'tracepoint', 'kernelTracepoint'],
  ]) {
    const b = bare[key];
    const o = ours[key];
    const t = theirs?.[key];
    rows.push({ label, bare: b, ours: o, bpftool: t });
    console.log(
      `${label.padEnd(12)}${b.toFixed(1).padStart(9)}${o.toFixed(1).padStart(9)}${(o - b).toFixed(1).padStart(9)}${(t === undefined ? '-' : t.toFixed(1)).padStart(9)}${(t === undefined ? '-' : (t - b).toFixed(1)).padStart(10)}   ${ours[k].toFixed(1)} / ${theirs ? theirs[k].toFixed(1) : '-'}`,
    );
  }
  if (bpftoolWhy) console.log(`(bpftool column missing: ${bpftoolWhy})`);
} finally {
  writeFileSync(STATS, statsBefore);
}

// ---------------------------------------------------------------------------------------- readers

const koffi = createRequire(import.meta.url)('koffi');
const syscall = koffi.load('libc.so.6').func('long syscall(long nr)');
const SYS_getppid = { x86_64: 110, aarch64: 173 }[arch];
if (SYS_getppid === undefined) fatal(`no getppid syscall number known for ${arch}`);

const PAGES = 8192; // per CPU: 32 MiB, room for every record of one run without loss
const obj = kernel.loadKernelObject(OBJ, { programs: ['on_getppid'] });
const ours = {};
try {
  const link = obj.program('on_getppid').attach();
  const config = obj.map('config');
  const setMode = (mode) => {
    const v = new Uint8Array(8);
    new DataView(v.buffer).setUint32(0, process.pid, true);
    new DataView(v.buffer).setUint32(4, mode, true);
    config.update(new Uint8Array(4), v);
  };
  const produce = () => {
    for (let i = 0; i < EVENTS; i++) syscall(SYS_getppid);
  };
  try {
    const rb = new kernel.KernelRingBuf(obj.map('rb'));
    setMode(1);
    produce();
    setMode(0);
    let seen = 0;
    let t0 = performance.now();
    rb.drain(() => {
      seen++;
    });
    ours.ringbuf = { seen, ns: (performance.now() - t0) * 1e6 };
    rb.close();

    const pb = new kernel.KernelPerfReader(obj.map('pb'), { pagesPerCpu: PAGES, pollIntervalMs: 0 });
    setMode(2);
    produce();
    setMode(0);
    t0 = performance.now();
    seen = pb.poll().filter((r) => r.data).length;
    ours.perf = { seen, ns: (performance.now() - t0) * 1e6, lost: pb.lost };
    pb.close();
  } finally {
    link.close();
  }
} finally {
  obj.close();
}

let libbpf;
let libbpfWhy = consumeErr;
if (!libbpfWhy) {
  const r = spawnSync(`${DIR}/consume`, [OBJ, String(EVENTS), String(PAGES)], { encoding: 'utf8' });
  if (r.status !== 0) libbpfWhy = `libbpf harness failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  else {
    const rb = /ringbuf (\d+) (\d+)/.exec(r.stdout);
    const pf = /perf (\d+) (\d+) (\d+)/.exec(r.stdout);
    libbpf = {
      ringbuf: { seen: Number(rb[1]), ns: Number(rb[2]) },
      perf: { seen: Number(pf[1]), ns: Number(pf[2]), lost: Number(pf[3]) },
    };
  }
}

const rate = (x) =>
  `${((x.seen / x.ns) * 1e3).toFixed(2)}M events/s (${x.seen} in ${(x.ns / 1e6).toFixed(2)} ms)`;
console.log(`\nReaders' throughput (${EVENTS} records of 16 bytes produced, then drained; drain timed)`);
console.log(`ring buffer  tsbpf KernelRingBuf.drain     ${rate(ours.ringbuf)}`);
if (libbpf) console.log(`ring buffer  libbpf ring_buffer__consume  ${rate(libbpf.ringbuf)}`);
console.log(`perf buffer  tsbpf KernelPerfReader.poll   ${rate(ours.perf)}, lost ${ours.perf.lost}`);
if (libbpf)
  console.log(`perf buffer  libbpf perf_buffer__consume  ${rate(libbpf.perf)}, lost ${libbpf.perf.lost}`);
if (libbpfWhy) console.log(`(libbpf figures missing: ${libbpfWhy})`);
