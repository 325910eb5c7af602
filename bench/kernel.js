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

// The user-space XDP data path (tsbpf xdp attach --userspace): udp_drop.o on the JIT over frames from a
// packet socket on a veth end, passed frames written to a TAP. Two private namespaces, removed after;
// iperf floods small datagrams at one port for 2 s and we count what the path handled.
const { execFileSync, spawn } = await import('node:child_process');
const live = await import('../dist/node/index.js');
const sys = await import('../dist/node/live/sys.js');
const haveTools = ['ip', 'iperf'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
});
if (!haveTools) {
  console.log('user-space data path benchmark skipped: needs ip and iperf');
  process.exit(0);
}
const tag = `tsbpfbench${process.pid}`;
const [nsA, nsB] = [`${tag}a`, `${tag}b`];
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' }).toString();
const setup = [
  `ip netns add ${nsA}`,
  `ip netns add ${nsB}`,
  ...[nsA, nsB].map(
    (ns) =>
      `ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`,
  ),
  `ip -n ${nsA} link add va type veth peer name vb netns ${nsB}`,
  `ip -n ${nsA} link set va address 02:00:00:00:00:0a`,
  `ip -n ${nsB} link set vb address 02:00:00:00:00:0c arp off`,
  `ip -n ${nsA} addr add 10.77.0.1/24 dev va`,
  `ip -n ${nsA} link set va up`,
  `ip -n ${nsB} link set vb up`,
  `ip -n ${nsA} neigh add 10.77.0.2 lladdr 02:00:00:00:00:0b dev va`,
  `ip -n ${nsB} tuntap add dev tb mode tap`,
  `ip -n ${nsB} link set tb address 02:00:00:00:00:0b`,
  `ip -n ${nsB} addr add 10.77.0.2/24 dev tb`,
  `ip -n ${nsB} link set tb up`,
  `ip -n ${nsB} neigh replace 10.77.0.1 lladdr 02:00:00:00:00:0a dev tb`,
];
try {
  for (const cmd of setup) sh(cmd);
  // the FFI cost of the hot path's calls, on an empty socket / a 64-byte frame into the TAP
  const probe = kernel.withNetns(nsB, () => sys.openPacketSocket('vb', 1 << 20));
  const buf = new Uint8Array(2048);
  time('recv() on an empty packet socket (EAGAIN)', 200_000, () => sys.recvFrame(probe.fd, buf));
  sys.closeFd(probe.fd);

  const obj = live.loadObject('examples/xdp/udp_drop.o');
  const path = live.UserspaceXdp.start(obj, { dev: 'vb', netns: nsB, tap: 'tb' });
  for (const port of [5001, 5002]) {
    const before = { ...path.stats() };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await new Promise((resolve) =>
      spawn(
        'ip',
        [
          'netns',
          'exec',
          nsA,
          'iperf',
          '-u',
          '-c',
          '10.77.0.2',
          '-p',
          String(port),
          '-l',
          '64',
          '-b',
          '1000M',
          '-t',
          '2',
        ],
        { stdio: 'ignore' },
      ).on('close', resolve),
    );
    await new Promise((r) => setTimeout(r, 200));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const s = path.stats();
    const handled = s.received - before.received;
    const lost = s.socketDrops - before.socketDrops;
    const ns = ((s.busyMs - before.busyMs) * 1e6) / handled;
    const cpuNs = ((cpu.user + cpu.system) * 1000) / handled;
    const what = port === 5001 ? 'dropped by the program' : 'passed, written to the TAP';
    console.log(
      `${`user-space path, 64 B datagrams ${what}`.padEnd(44)} ${Math.round(handled / seconds)
        .toLocaleString('en-US')
        .padStart(
          8,
        )} packets/s (${handled} run in ${seconds.toFixed(1)} s, ${lost} lost in the socket queue; per packet ${Math.round(ns)} ns busy, ${Math.round(cpuNs)} ns of CPU)`,
    );
  }
  await path.close();
} finally {
  for (const ns of [nsA, nsB]) {
    try {
      sh(`ip netns del ${ns}`);
    } catch {
      /* not created */
    }
  }
}
