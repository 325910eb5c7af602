// `tsbpf xdp` end to end on a large capture: each run is a fresh process (`node bin/tsbpf.js xdp
// examples/xdp/udp_drop.o -r big.pcap …`), so the figures include start-up, loading and verifying the
// object, reading the capture, laying out and running every packet, and writing the output capture.
// The capture is the bundled iperf capture repeated N times (default 400: 102,000 packets, ~100 MB),
// written to tmpdir. Per configuration, best of ROUNDS by wall time: packets/s over the whole process,
// wall / user / sys seconds and peak RSS; `loop` is the CLI's own packets/s (the run loop alone).
//   node bench/cli.js [N] [ROUNDS]      (`npm run build` first)
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const copies = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-cli-'));

try {
  // The capture: the global header once, then the records of iperf.pcap `copies` times. Written piece by
  // piece: a child's peak RSS starts from this process's (Linux keeps ru_maxrss across exec).
  const src = readFileSync(join(root, 'examples/xdp/iperf.pcap'));
  const capture = join(dir, `iperf-x${copies}.pcap`);
  const fd = openSync(capture, 'w');
  writeSync(fd, src);
  for (let i = 1; i < copies; i++) writeSync(fd, src, 24);
  closeSync(fd);
  const captureBytes = statSync(capture).size;

  // Resource usage of the child itself, written when it exits (whatever way it exits).
  const usageHook = join(dir, 'usage.mjs');
  writeFileSync(
    usageHook,
    `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const u = process.resourceUsage();
  writeFileSync(process.env.TSBPF_BENCH_USAGE, JSON.stringify({ user: u.userCPUTime, sys: u.systemCPUTime, rss: u.maxRSS }));
});
`,
  );
  const usageFile = join(dir, 'usage.json');

  console.log(
    `tsbpf xdp udp_drop.o over ${(captureBytes / 1e6).toFixed(1)} MB (iperf.pcap x${copies}); best of ${rounds} by wall time; load ${loadavg()[0].toFixed(2)}`,
  );
  const configs = [
    { engine: 'jit', write: false },
    { engine: 'jit', write: true },
    { engine: 'interp', write: false },
    { engine: 'interp', write: true },
  ];
  for (const { engine, write } of configs) {
    let best;
    for (let r = 0; r < rounds; r++) {
      const args = [
        'bin/tsbpf.js',
        'xdp',
        'examples/xdp/udp_drop.o',
        '-r',
        capture,
        '--engine',
        engine,
        '--json',
      ];
      if (write) args.push('-w', join(dir, 'passed.pcap'), '--dropped', join(dir, 'dropped.pcap'));
      const t0 = process.hrtime.bigint();
      const child = spawnSync(process.execPath, ['--import', `file://${usageHook}`, ...args], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, TSBPF_BENCH_USAGE: usageFile },
        maxBuffer: 1 << 26,
      });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (child.status !== 0) throw new Error(`tsbpf exited with ${child.status}: ${child.stderr}`);
      const out = JSON.parse(child.stdout);
      const usage = JSON.parse(readFileSync(usageFile, 'utf8'));
      const run = {
        packets: out.packets,
        loop: out.packets_per_second,
        wall,
        user: usage.user / 1e6,
        sys: usage.sys / 1e6,
        rss: usage.rss / 1024,
      };
      if (!best || run.wall < best.wall) best = run;
    }
    const label = `${engine.padEnd(6)} ${write ? '-w --dropped' : 'no output  '}`;
    console.log(
      `  ${label}  ${Math.round(best.packets / best.wall)
        .toLocaleString('en-US')
        .padStart(
          9,
        )} packets/s  wall ${best.wall.toFixed(2)} s  user ${best.user.toFixed(2)} s  sys ${best.sys.toFixed(2)} s  peak RSS ${best.rss.toFixed(0)} MB  (loop ${best.loop.toLocaleString('en-US')} packets/s, ${best.packets} packets)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
