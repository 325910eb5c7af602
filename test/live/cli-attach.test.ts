// `tsbpf xdp attach` end to end, in both modes: the built CLI runs as a child process attached to a veth
// end in a private namespace, traffic is sent, SIGINT stops it, and the totals, the maps and the
// interface's state afterwards are checked. Then the errors: a typo'd interface, not root, a program the
// verifiers reject, conflicting options.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readableCopy } from '../cli/readable-copy.js';
import { createVethPair, useTapReceiver, type VethPair } from '../kernel/veth.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const root = new URL('../../', import.meta.url).pathname;
const UDP_DROP = join(root, 'examples/xdp/udp_drop.o');
/** A UDP receiver on port 5002 that says when it is bound, then prints what it receives (for at most 20 s). */
const UDP_SINK = `const s = require('node:dgram').createSocket('udp4');
s.on('listening', () => process.stderr.write('ready'));
s.on('message', (m) => process.stdout.write(m)); s.bind(5002); setTimeout(() => process.exit(0), 20000);`;

interface Running {
  proc: ChildProcess;
  lines: string[];
  /** Resolves when a stdout line satisfies `pred` (rejects after `ms`). */
  waitFor(pred: (line: string) => boolean, ms?: number): Promise<string>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function attach(args: string[]): Running {
  if (!existsSync(join(root, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const proc = spawn(process.execPath, [join(root, 'bin/tsbpf.js'), 'xdp', 'attach', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    const parts = stdout.split('\n');
    for (const line of parts.slice(lines.length, -1)) {
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) w.resolve(line);
    }
  });
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  exited.then(() => clearTimeout(killer));
  const waitFor = (pred: (l: string) => boolean, ms = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find(pred);
      if (seen) return resolve(seen);
      const t = setTimeout(() => reject(new Error(`timed out; stdout:\n${stdout}\nstderr:\n${stderr}`)), ms);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      exited.then(() => {
        clearTimeout(t);
        reject(new Error(`exited early (${proc.exitCode}); stdout:\n${stdout}\nstderr:\n${stderr}`));
      });
    });
  return { proc, lines, waitFor, exited };
}

/** Send `n` one-line UDP datagrams from the sending namespace to `port`. */
function send(net: VethPair, port: number, n: number): void {
  net.exec(net.nsA, 'bash', '-c', `for i in $(seq ${n}); do echo x > /dev/udp/${net.addrB}/${port}; done`);
}

function tsbpfSync(args: string[], options: { uid?: number; gid?: number; cwd?: string; bin?: string } = {}) {
  const { bin = join(root, 'bin/tsbpf.js'), ...spawnOptions } = options;
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    ...spawnOptions,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!oracle)('tsbpf xdp attach', () => {
  let net: VethPair;
  let tmp: string;
  beforeAll(() => {
    net = createVethPair(`tsbpf${process.pid}c`, 89);
    tmp = mkdtempSync(join(tmpdir(), 'tsbpf-attach-'));
  });
  afterAll(() => {
    net?.remove();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('--kernel --json: attaches, ticks, counts, and on SIGINT detaches with totals and maps', async () => {
    const run = attach([
      UDP_DROP,
      '--dev',
      'vb',
      '--netns',
      net.nsB,
      '--kernel',
      '--interval',
      '0.2',
      '--json',
    ]);
    const first = JSON.parse(await run.waitFor((l) => l.includes('"attached"')));
    expect(first).toMatchObject({ event: 'attached', program: 'xdp_udp_drop', dev: 'vb', backend: 'kernel' });
    const shown = net.ip('-n', net.nsB, 'link', 'show', 'dev', 'vb');
    // The id of our program: other tests may load programs of the same name at the same time.
    const progId = /prog\/xdp id (\d+)/.exec(shown)?.[1];
    expect(progId).toMatch(/^\d+$/);
    send(net, 5001, 5);
    send(net, 5002, 4);
    await run.waitFor((l) => /"drop":5,"pass":4/.test(l));
    run.proc.kill('SIGINT');
    const { code, stderr } = await run.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const last = JSON.parse(run.lines[run.lines.length - 1]!);
    expect(last.event).toBe('detached');
    expect(last.verdicts).toEqual({ aborted: 0, drop: 5, pass: 4, tx: 0, redirect: 0, other: 0 });
    expect(last.maps.drops).toEqual([
      {
        key: '89130000',
        value: expect.any(String),
        formatted: { key: 5001, value: { packets: 5, bytes: 5 * 44 } },
      },
    ]);
    expect(last.maps.tsbpf_verdicts).toBeUndefined();
    const ticks = run.lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'tick');
    expect(ticks.length).toBeGreaterThan(0);
    // nothing left on the interface, nothing pinned
    expect(net.ip('-n', net.nsB, 'link', 'show', 'dev', 'vb')).not.toMatch(/xdp/);
    const after = spawnSync('bpftool', ['prog', 'show', 'id', progId!], { encoding: 'utf8' });
    expect(after.status).not.toBe(0);
    expect(after.stdout).toBe('');
  });

  it('--userspace --tap: frames through the JIT, passed ones to the TAP; SIGTERM stops it the same way', async () => {
    const user = createVethPair(`tsbpf${process.pid}s`, 88);
    try {
      const tap = useTapReceiver(user);
      const run = attach([
        UDP_DROP,
        '--dev',
        'vb',
        '--netns',
        user.nsB,
        '--userspace',
        '--tap',
        tap,
        '--interval',
        '0.2',
      ]);
      expect(await run.waitFor((l) => l.startsWith('attached'))).toBe(
        `attached xdp_udp_drop to vb (netns ${user.nsB}) (userspace, passed frames to TAP tb); Ctrl-C to detach`,
      );
      // the 5002 datagrams reach a socket in the receiving namespace through the TAP
      const receiver = spawn('ip', ['netns', 'exec', user.nsB, process.execPath, '-e', UDP_SINK], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let received = '';
      receiver.stdout.on('data', (d) => {
        received += d;
      });
      await new Promise((resolve, reject) => {
        receiver.stderr.once('data', resolve);
        receiver.once('close', () => reject(new Error('the UDP receiver exited before binding')));
      });
      send(user, 5001, 5);
      send(user, 5002, 4);
      await run.waitFor((l) => /drop 5 {2}pass 4/.test(l));
      run.proc.kill('SIGTERM');
      const { code, stdout, stderr } = await run.exited;
      receiver.kill('SIGTERM');
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(
        /detached xdp_udp_drop from vb .* totals:\n {2}aborted {2}0\n {2}drop {5}5\n {2}pass {5}4\n/,
      );
      expect(stdout).toMatch(
        /received 9, forwarded 4, transmitted 0, returned 0, oversize 0, socketDrops 0, writeErrors 0/,
      );
      expect(stdout).toMatch(/map drops \(1 entry\):\n {2}5001: \{"packets":5,"bytes":220\}/);
      expect(received).toBe('x\n'.repeat(4));
      expect(user.ip('-n', user.nsB, 'link', 'show', 'dev', 'vb')).not.toMatch(/xdp/);
    } finally {
      user.remove();
    }
  });

  it('names the missing interface and namespace', () => {
    const r = tsbpfSync(['xdp', 'attach', UDP_DROP, '--dev', 'nope0', '--netns', net.nsB]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsbpf: --dev nope0: no such interface in network namespace ${net.nsB}\n`);
    const u = tsbpfSync([
      'xdp',
      'attach',
      UDP_DROP,
      '--dev',
      'vb',
      '--netns',
      net.nsB,
      '--userspace',
      '--tap',
      'nope1',
    ]);
    expect(u.stderr).toBe(`tsbpf: --tap nope1: no such interface in network namespace ${net.nsB}\n`);
    expect(
      tsbpfSync(['xdp', 'attach', UDP_DROP, '--dev', 'vb', '--netns', 'tsbpf-no-such-ns']).stderr,
    ).toMatch(/no network namespace tsbpf-no-such-ns/);
  });

  it('refuses conflicting options', () => {
    const r = tsbpfSync(['xdp', 'attach', UDP_DROP, '--dev', 'vb', '--kernel', '--userspace']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tsbpf: choose one of --kernel and --userspace\n');
    expect(tsbpfSync(['xdp', 'attach', UDP_DROP, '--dev', 'vb', '--tap', 'tb']).stderr).toMatch(
      /--tap and --tap-netns go with --userspace/,
    );
    expect(tsbpfSync(['xdp', 'attach', UDP_DROP, '--dev', 'vb', '--interval', '0']).code).toBe(2);
  });

  it('says what permission is missing when not root', () => {
    // The unprivileged user runs a readable copy: the checkout itself may be where only root can read.
    const copy = readableCopy(['examples/xdp/udp_drop.o']);
    try {
      const obj = join(copy.root, 'examples/xdp/udp_drop.o');
      const nobody = { uid: 65534, gid: 65534, cwd: copy.root, bin: join(copy.root, 'bin/tsbpf.js') };
      const kernel = tsbpfSync(['xdp', 'attach', obj, '--dev', 'lo'], nobody);
      expect(kernel.code, kernel.stderr).toBe(1);
      expect(kernel.stderr).toMatch(/operation not permitted \(EPERM; run as root or grant CAP_BPF\)/);
      const user = tsbpfSync(['xdp', 'attach', obj, '--dev', 'lo', '--userspace'], nobody);
      expect(user.code, user.stderr).toBe(1);
      expect(user.stderr).toMatch(/socket\(AF_PACKET\).*(EPERM|EACCES).*CAP_NET_RAW/);
    } finally {
      copy.remove();
    }
  });

  it('a rejected program: the kernel log and our verifier’s explanation (kernel), our log (userspace)', () => {
    const src = join(tmp, 'bad.s');
    const obj = join(tmp, 'bad.o');
    writeFileSync(src, 'r0 = *(u32 *)(r1 + 64)\nexit\n');
    expect(tsbpfSync(['asm', src, '-o', obj, '--name', 'bad_ctx']).code).toBe(0);
    const k = tsbpfSync(['xdp', 'attach', obj, '--dev', 'vb', '--netns', net.nsB]);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/kernel verifier rejected program bad_ctx/);
    expect(k.stderr).toMatch(/kernel verifier log:\n/);
    expect(k.stderr).toMatch(/tsbpf's verifier:\n/);
    expect(net.ip('-n', net.nsB, 'link', 'show', 'dev', 'vb')).not.toMatch(/xdp/);
    const u = tsbpfSync(['xdp', 'attach', obj, '--dev', 'vb', '--netns', net.nsB, '--userspace']);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/program bad_ctx rejected by tsbpf's verifier/);
  });
});
