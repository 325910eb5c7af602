// Cost of one bpf() call from Node.js through koffi: a raw syscall baseline (getpid), an array-map
// lookup and update, BPF_PROG_TEST_RUN with repeat=1, a program load, and the kernel's own per-run
// figure for a tiny XDP program (repeat 1e6). Needs root; prints why when it cannot run.
import { performance } from 'node:perf_hooks';

const kernel = await import('../dist/kernel/index.js');
if (process.getuid?.() !== 0 || !kernel.ffiAvailable()) {
  console.log('kernel benchmarks skipped: needs root on Linux with koffi');
  process.exit(0);
}

function time(label, n, f) {
  for (let i = 0; i < Math.min(n, 1000); i++) f(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  const ns = ((performance.now() - t0) * 1e6) / n;
  console.log(`${label.padEnd(44)} ${ns.toFixed(0).padStart(8)} ns/call`);
  return ns;
}

// Baseline: the cheapest syscall through the same FFI path.
const { createRequire } = await import('node:module');
const koffi = createRequire(import.meta.url)('koffi');
const getpid = koffi.load('libc.so.6').func('long syscall(long nr)');
time('syscall(getpid) via koffi', 200_000, () => getpid(39));

const key = new Uint8Array(4);
const value = new Uint8Array(8);
const map = kernel.mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 256, name: 'bench' });
time('BPF_MAP_LOOKUP_ELEM (array, 4 B key, 8 B value)', 200_000, (i) => {
  key[0] = i & 0xff;
  kernel.mapLookup(map, key, 8);
});
time('BPF_MAP_UPDATE_ELEM (array)', 200_000, (i) => {
  key[0] = i & 0xff;
  value[0] = i;
  kernel.mapUpdate(map, key, value);
});
kernel.close(map);

// r0 = XDP_PASS; exit
const insns = [
  { code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 },
  { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
];
time('BPF_PROG_LOAD (2 insns) + close', 2_000, () => {
  kernel.close(kernel.progLoad({ type: kernel.ProgType.XDP, insns, license: 'GPL' }).fd);
});
const { fd } = kernel.progLoad({ type: kernel.ProgType.XDP, insns, license: 'GPL', name: 'bench' });
const packet = new Uint8Array(64);
time('BPF_PROG_TEST_RUN repeat=1 (64 B packet)', 50_000, () => kernel.progTestRun(fd, { data: packet }));
const many = kernel.progTestRun(fd, { data: packet, repeat: 1_000_000 });
console.log(
  `${'kernel-measured run, repeat=1e6 (duration)'.padEnd(44)} ${String(many.duration).padStart(8)} ns/run`,
);
kernel.close(fd);
