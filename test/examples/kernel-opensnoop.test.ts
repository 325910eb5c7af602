// examples/kernel/opensnoop: run the driver against the kernel for a known workload — a fresh file opened
// N times by this process — and check that exactly N events name that path, with this process's pid and
// command and the flags it passed; and that stopping leaves nothing in the kernel.
import { closeSync, constants, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { droppedEvents, type OpenEvent, opensnoop } from '../../examples/kernel/opensnoop.js';
import { progInfo } from '../../src/kernel/index.js';
import { ensureTracefs, exists } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/** Wait (ids are freed after an RCU grace period) until none of the programs exists. */
async function freed(ids: number[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (ids.some((id) => exists('prog', id)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(ids.filter((id) => exists('prog', id))).toEqual([]);
}

describe.skipIf(!oracle)('examples/kernel/opensnoop', () => {
  it('a file opened 25 times: 25 events with its path, our pid and comm, O_RDONLY then O_WRONLY', async () => {
    ensureTracefs();
    const path = `/tmp/tsbpf-opensnoop-${process.pid}-${Date.now()}`;
    writeFileSync(path, 'x');
    const seen: OpenEvent[] = [];
    const tool = opensnoop((e) => seen.push(e), { pid: process.pid });
    const progIds = [...tool.obj.programs.values()].map((p) => progInfo(p.fd).id);
    try {
      for (let i = 0; i < 20; i++) closeSync(openSync(path, 'r'));
      for (let i = 0; i < 5; i++) closeSync(openSync(path, constants.O_WRONLY | constants.O_APPEND));
      tool.poll();
      expect(droppedEvents(tool)).toBe(0n);
    } finally {
      tool.stop();
      rmSync(path, { force: true });
    }
    const ours = seen.filter((e) => e.path === path);
    expect(ours).toHaveLength(25);
    // The pid filter is in the program: nothing from another process arrives.
    expect(seen.every((e) => e.pid === process.pid)).toBe(true);
    expect(new Set(ours.map((e) => e.comm))).toEqual(
      new Set([readFileSync('/proc/self/comm', 'utf8').trim()]),
    );
    expect(ours.slice(0, 20).every((e) => (e.flags & 3) === constants.O_RDONLY)).toBe(true);
    expect(
      ours
        .slice(20)
        .every((e) => (e.flags & 3) === constants.O_WRONLY && (e.flags & constants.O_APPEND) !== 0),
    ).toBe(true);
    expect(ours.every((e) => e.uid === process.getuid!())).toBe(true);
    await freed(progIds);
  });
});
