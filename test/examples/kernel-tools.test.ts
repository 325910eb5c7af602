// examples/kernel/execsnoop and tcpconnect: each driver run against the kernel for a known workload —
// a copied binary executed 3 times by this process (3 events naming it, with this process as parent);
// 3 TCP connections to a listener of ours on 127.0.0.1 (3 events with our pid, addresses and the listener's
// port) — and nothing of theirs left in the kernel after stop.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type ExecEvent, execsnoop } from '../../examples/kernel/execsnoop.js';
import { type ConnectEvent, tcpconnect } from '../../examples/kernel/tcpconnect.js';
import type { Tool } from '../../examples/kernel/tool.js';
import { progInfo } from '../../src/kernel/index.js';
import { ensureTracefs, exists } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/** Stop the tool and wait (ids are freed after an RCU grace period) until its programs are gone. */
async function stopAndCheck(tool: Tool): Promise<void> {
  const ids = [...tool.obj.programs.values()].map((p) => progInfo(p.fd).id);
  tool.stop();
  const deadline = Date.now() + 5000;
  while (ids.some((id) => exists('prog', id)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(ids.filter((id) => exists('prog', id))).toEqual([]);
}

describe.skipIf(!oracle)('examples/kernel drivers', () => {
  it('execsnoop: a binary run 3 times gives 3 events naming it, with our pid as parent', async () => {
    ensureTracefs();
    const dir = mkdtempSync('/tmp/tsbpf-execsnoop-');
    const bin = `${dir}/tsbpf_true_${process.pid % 1000}`;
    copyFileSync('/bin/true', bin);
    spawnSync('chmod', ['+x', bin]);
    const seen: ExecEvent[] = [];
    const tool = execsnoop((e) => seen.push(e), { ppid: process.pid });
    const pids: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = spawnSync(bin, [], { stdio: 'ignore' });
        expect(r.status).toBe(0);
        pids.push(r.pid!);
      }
      tool.poll();
    } finally {
      await stopAndCheck(tool);
      rmSync(dir, { recursive: true, force: true });
    }
    const ours = seen.filter((e) => e.filename === bin);
    expect(ours.map((e) => e.pid)).toEqual(pids);
    expect(ours.every((e) => e.ppid === process.pid && e.uid === process.getuid!())).toBe(true);
    expect(ours.every((e) => e.comm === bin.split('/').pop()!.slice(0, 15))).toBe(true);
  });

  it('tcpconnect: 3 connections to our listener give 3 events with our pid, ports and addresses', async () => {
    ensureTracefs();
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const seen: ConnectEvent[] = [];
    const tool = tcpconnect((e) => seen.push(e), { pid: process.pid });
    let connections = 0;
    try {
      for (let i = 0; i < 3; i++) {
        const s: Socket = connect(port, '127.0.0.1');
        await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
        connections++;
        s.destroy();
      }
      tool.poll();
    } finally {
      await stopAndCheck(tool);
      server.close();
    }
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    expect(seen).toEqual(
      Array.from({ length: connections }, () => ({
        pid: process.pid,
        family: 'ipv4',
        saddr: '127.0.0.1',
        daddr: '127.0.0.1',
        // Moving to SYN_SENT comes before the kernel picks the local port (tcp_v4_connect): 0 here.
        sport: 0,
        dport: port,
        uid: process.getuid!(),
        comm,
      })),
    );
  });
});
