// The pathological inputs of the reliability run (issue 14), each in a process of its own: how long it takes
// and how much memory it peaks at before tsbpf answers, and what it answers. Before the fixes several ran
// for minutes or gigabytes; every one is bounded now. Figures from /usr/bin/time (wall seconds, max RSS).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const { writeObject } = await import('../dist/elf/index.js');
const { assemble } = await import('../dist/asm/index.js');

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-limits-bench-'));
const CAPTURE = join(root, 'examples/xdp/iperf.pcap');
const TSBPF = join(root, 'bin/tsbpf.js');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function object(name, insns, maps = []) {
  const file = join(dir, `${name}.o`);
  writeFileSync(
    file,
    writeObject({
      programs: [{ name, section: 'xdp', type: 'xdp', insns, license: 'GPL' }],
      maps,
      license: 'GPL',
    }),
  );
  return file;
}

/** Run a command; wall seconds and peak RSS from /usr/bin/time -f, the first line tsbpf printed. */
function measure(label, argv, input) {
  const args = TIME ? ['-f', '@@ %e %M', ...argv] : argv;
  const r = spawnSync(TIME ?? argv[0], TIME ? args : argv.slice(1), {
    input,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const timing = /@@ ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  const said =
    (r.stderr ?? '').split('\n').filter((l) => l && !l.startsWith('@@'))[0] ??
    (r.stdout ?? '').split('\n')[0];
  const seconds = timing ? Number(timing[1]).toFixed(2) : '?';
  const mb = timing ? (Number(timing[2]) / 1024).toFixed(0) : '?';
  console.log(
    `${label.padEnd(58)} exit ${String(r.status ?? r.signal).padStart(2)}  ${seconds.padStart(6)} s  ${mb.padStart(5)} MB  ${said.slice(0, 150)}`,
  );
}

const node = process.execPath;
const tsbpf = (...a) => [node, TSBPF, ...a];

// A 6 KB object with a hash map of max_entries 0xffffffff (the kernel: E2BIG at once).
const bigHash = object('big_hash', assemble('r0 = 2\nexit'), [
  { name: 'huge', type: 1, keySize: 4, valueSize: 8, maxEntries: 0xffffffff, flags: 0 },
]);
measure('hash map of 0xffffffff entries (tsbpf xdp)', tsbpf('xdp', bigHash, '-r', CAPTURE));

// A verified loop of 100,000 iterations per packet: within the default budget; over --budget 50000.
const loop = object('loop', assemble('r0 = 0\nl: r0 += 1\nif r0 < 100000 goto l\nr0 = 2\nexit'));
measure('verified loop of 10^5 per packet (tsbpf xdp)', tsbpf('xdp', loop, '-r', CAPTURE));
measure('the same, --budget 50000', tsbpf('xdp', loop, '-r', CAPTURE, '--budget', '50000'));

// A checked program that never ends: the instruction budget, or the timeout.
const forever = join(dir, 'forever.s');
writeFileSync(forever, 'r0 = 0\nl: r0 += 1\ngoto l\n');
measure('checked endless loop, default budget (tsbpf run)', tsbpf('run', forever));
measure(
  'checked endless loop, --timeout 1s (tsbpf run)',
  tsbpf('run', forever, '--budget', '9007199254740991', '--timeout', '1s'),
);

// Nested bpf_loop(1 << 23): 2^46 callback calls, in a verified program (library: the CLI writes no
// function pointers in assembler text).
const nested = join(dir, 'nested.mjs');
writeFileSync(
  nested,
  `import { createRunner } from ${JSON.stringify(join(root, 'dist/engine/runner.js'))};
import { insn } from ${JSON.stringify(join(root, 'dist/isa/index.js'))};
import { Runtime } from ${JSON.stringify(join(root, 'dist/vm/runtime.js'))};
const mov = (d, i) => insn(0xb7, d, 0, 0, i);
const fp = (at, t) => [insn(0x18, 2, 4, 0, t - at - 1), insn(0, 0, 0, 0, 0)];
const call = (at, n, t) => [mov(1, n), ...fp(at + 1, t), mov(3, 0), mov(4, 0), insn(0x85, 0, 0, 0, 181)];
const P = [...call(0, 1 << 23, 8), mov(0, 2), insn(0x95), ...call(8, 1 << 23, 16), mov(0, 0), insn(0x95), mov(0, 0), insn(0x95)];
const rt = new Runtime();
const prog = rt.prepare({ name: 'nested', section: 'xdp', type: 'xdp', insns: P, license: 'GPL' });
try { createRunner(rt, prog, { engine: process.argv[2], checked: false }).run32(0); } catch (e) { console.error('tsbpf: ' + e.message); process.exitCode = 3; }
`,
);
measure('nested bpf_loop(1 << 23), JIT, default budget', [node, nested, 'jit']);
measure('nested bpf_loop(1 << 23), interpreter, default budget', [node, nested, 'interp']);

// prog run repeat 1e99 (the kernel's repeat is a u32).
const pkt = join(dir, 'pkt.bin');
writeFileSync(pkt, readFileSync(CAPTURE).subarray(40, 40 + 64));
measure(
  'prog run … repeat 1e99',
  tsbpf('prog', 'run', join(root, 'examples/xdp/udp_drop.o'), 'data_in', pkt, 'repeat', '1e99'),
);

// The filter compiler: 200 `port N` terms; 5,000 nested parentheses.
const ports = Array.from({ length: 200 }, (_, i) => `port ${i + 1}`).join(' or ');
measure('filter: 200 port terms (-d)', tsbpf('filter', ports, '-d'));
const tcpdump = spawnSync('tcpdump', ['-d', ports], { encoding: 'utf8' });
if (tcpdump.status === 0)
  console.log(
    `${''.padEnd(58)} tcpdump -d: ${tcpdump.stdout.trim().split('\n').length} instructions; ours:`,
    spawnSync(node, [TSBPF, 'filter', ports, '-d'], { encoding: 'utf8' }).stdout.trim().split('\n').length,
  );
measure(
  'filter: 5,000 nested parentheses',
  tsbpf('filter', `${'('.repeat(5000)}udp${')'.repeat(5000)}`, '-d'),
);
measure('filter: ip[0] >> 40 = 0', tsbpf('filter', 'ip[0] >> 40 = 0', '-d'));

// The verifier on loops bounded by the packet length (test/verifier/complexity/).
for (const f of ['xdp-walk.s', 'xdp-walk-load.s', 'skb-len-counter.s']) {
  const src = join(root, 'test/verifier/complexity', f);
  if (!existsSync(src)) continue;
  const o = join(dir, f.replace(/\.s$/, '.o'));
  const section = f.startsWith('skb') ? 'socket' : 'xdp';
  spawnSync(node, [TSBPF, 'asm', src, '-o', o, '--section', section]);
  measure(`verify ${f}`, tsbpf('verify', o));
}

// Outputs: a full disk, an output that is the input.
const copy = join(dir, 'in.pcap');
writeFileSync(copy, readFileSync(CAPTURE));
measure(
  'xdp -w /dev/full',
  tsbpf('xdp', join(root, 'examples/xdp/udp_drop.o'), '-r', copy, '-w', '/dev/full'),
);
measure(
  'xdp -r in.pcap -w in.pcap',
  tsbpf('xdp', join(root, 'examples/xdp/udp_drop.o'), '-r', copy, '-w', copy),
);

// Checked mode: a store at data + 3776 (the next frame of the batch).
const neighbour = object(
  'escape',
  assemble('r2 = *(u32 *)(r1 + 0)\nr2 += 3776\nr3 = 255\n*(u8 *)(r2 + 0) = r3\nr0 = 2\nexit'),
);
measure(
  '--no-verify store into the next packet of the batch',
  tsbpf('xdp', neighbour, '-r', copy, '--no-verify'),
);

rmSync(dir, { recursive: true, force: true });
