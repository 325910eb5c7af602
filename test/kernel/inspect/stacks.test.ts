// `tsbpf map dump (id N) [--pid P] [--json]` of a stack-trace map prints each stack symbolised: a uprobe on
// a test-built C program's tsbpf_stack_g keeps its user stack (g <- f <- main, named with --pid through the
// process's mappings), a raw tracepoint keeps this process's syscall kernel stacks (named through kallsyms).
// The CLI is the build in dist/ (npm run build).

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/index.js';
import { kernelOracle } from '../../support/kernel.js';
import { ensureTracefs } from '../attach/support.js';

const oracle = kernelOracle();
const STACKS = new URL('../../fixtures/kernel-tools/stacks.o', import.meta.url).pathname;
const TARGET_C = new URL('../../fixtures/kernel-tools/stack_target.c', import.meta.url).pathname;
const BIN = new URL('../../../bin/tsbpf.js', import.meta.url).pathname;

function tsbpf(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe.skipIf(!oracle)('map dump of a stack_trace map', () => {
  const dir = mkdtempSync(`${tmpdir()}/tsbpf-stacks-`);
  let obj: k.KernelObject;
  let links: k.KernelAttachment[] = [];
  let child: ChildProcess | undefined;
  let mapId = 0;
  let userStack = -1;
  let kernelStack = -1;

  beforeAll(async () => {
    ensureTracefs();
    const bin = `${dir}/stack_target`;
    execFileSync('cc', ['-O0', '-fno-omit-frame-pointer', '-g', '-o', bin, TARGET_C], { stdio: 'pipe' });
    obj = k.loadKernelObject(STACKS);
    obj.setGlobal('target_pid', process.pid);
    mapId = k.mapInfo(obj.map('stacks').fd).id;
    links = [
      obj.program('on_g').attach({ kind: 'uprobe', binary: bin, symbol: 'tsbpf_stack_g' }),
      obj.program('on_syscall').attach(),
    ];
    child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child!.on('error', reject);
      child!.stdout!.on('data', (d: Buffer) => d.toString().startsWith('ready') && resolve());
    });
    const deadline = Date.now() + 2000;
    while (Number(obj.getGlobal('kernel_stack')) < 0 && Date.now() < deadline) {
      execFileSync('true');
      await new Promise((r) => setTimeout(r, 10));
    }
    // No more stacks from here: the dumps below see a fixed map.
    for (const l of links) l.close();
    links = [];
    userStack = Number(obj.getGlobal('user_stack'));
    kernelStack = Number(obj.getGlobal('kernel_stack'));
  });
  afterAll(() => {
    child?.stdin?.end();
    for (const l of links) l.close();
    obj?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--json --pid: {key, value, frames}; the user stack is g <- f <- main, a kernel one has do_syscall_64', () => {
    expect(userStack).toBeGreaterThanOrEqual(0);
    expect(kernelStack).toBeGreaterThanOrEqual(0);
    const r = tsbpf(['map', 'dump', 'id', String(mapId), '--pid', String(child!.pid), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const entries = JSON.parse(r.stdout) as {
      key: string[];
      value: string[];
      frames: { address: string; frame: string }[];
    }[];
    const byId = new Map(
      entries.map((e) => [Number.parseInt(e.key.slice().reverse().join('').replace(/0x/g, ''), 16), e]),
    );
    const user = byId.get(userStack)!;
    expect(user.value).toHaveLength(127 * 8);
    expect(user.frames[0]!.frame).toMatch(/^tsbpf_stack_g \(\/.*stack_target\)$/);
    expect(user.frames[1]!.frame).toMatch(/^tsbpf_stack_f\+0x[0-9a-f]+ \(/);
    expect(user.frames[2]!.frame).toMatch(/^main\+0x[0-9a-f]+ \(/);
    // the address is the value's first u64
    const first = BigInt(
      `0x${user.value
        .slice(0, 8)
        .reverse()
        .map((b) => b.slice(2))
        .join('')}`,
    );
    expect(user.frames[0]!.address).toBe(`0x${first.toString(16)}`);
    const kern = byId.get(kernelStack)!;
    expect(kern.frames.map((f) => f.frame).some((f) => /^do_syscall_64\+0x/.test(f))).toBe(true);
  });

  it('text without --pid: kernel frames named, user frames left as addresses', () => {
    const r = tsbpf(['map', 'dump', 'id', String(mapId)]);
    expect(r.status).toBe(0);
    const blocks = r.stdout.split(/^stack /m).slice(1);
    const user = blocks.find((b) => b.startsWith(`${userStack}:`))!;
    const lines = user
      .split('\n')
      .filter((l) => l.startsWith('    '))
      .map((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^0x[0-9a-f]+$/);
    expect(blocks.find((b) => b.startsWith(`${kernelStack}:`))).toMatch(/\n {4}do_syscall_64\+0x/);
    expect(r.stdout).toMatch(new RegExp(`Found ${blocks.length} elements?\\n$`));
  });

  it('--pid on a map that is not a stack_trace map, or not a pid: one line, exit 2', () => {
    const bss = [...obj.maps.values()].find((m) => m.spec.name.endsWith('.bss'))!;
    const id = k.mapInfo(bss.fd).id;
    const r = tsbpf(['map', 'dump', 'id', String(id), '--pid', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      `tsbpf: map dump id ${id}: --pid is for stack_trace maps (this one is array)`,
    );
    const bad = tsbpf(['map', 'dump', 'id', String(mapId), '--pid', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--pid 'x' is not a process id/);
  });
});
