// Stack-trace maps symbolised against the kernel: a uprobe on a test-built C program's tsbpf_stack_g keeps
// its user stack, named through the process's mappings and the binary's symbols as g <- f <- main; a raw
// tracepoint keeps a syscall's kernel stack, named through /proc/kallsyms. The nearest-symbol lookup and
// kallsyms parsing are checked on text with known answers.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/index.js';
import { kernelOracle } from '../../support/kernel.js';
import { ensureTracefs } from '../attach/support.js';

const oracle = kernelOracle();
const STACKS = new URL('../../fixtures/kernel-tools/stacks.o', import.meta.url).pathname;
const TARGET_C = new URL('../../fixtures/kernel-tools/stack_target.c', import.meta.url).pathname;
const dir = mkdtempSync(`${tmpdir()}/tsbpf-symbolize-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the target until it says ready; the caller ends it by closing its stdin. */
function startTarget(path: string): Promise<ChildProcess> {
  const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().startsWith('ready')) resolve(child);
    });
  });
}

describe('kallsyms and nearest symbols', () => {
  const text = [
    '0000000000000000 T zero_is_skipped',
    'ffffffff81000000 T _stext',
    'ffffffff81000100 t helper',
    'ffffffff81000080 D some_data',
    'ffffffffc0000000 t mod_fn\t[my_mod]',
  ].join('\n');
  const s = new k.Symbolizer(() => text);

  it('names an address by the nearest text symbol before it, with the offset and module', () => {
    expect(s.kernel(0xffffffff81000010n)).toMatchObject({
      symbol: '_stext',
      offset: 0x10n,
      module: 'kernel',
    });
    expect(s.kernel(0xffffffff81000100n)).toMatchObject({ symbol: 'helper', offset: 0n });
    expect(s.kernel(0xffffffff810000f0n).symbol).toBe('_stext'); // data symbols are not functions
    expect(s.kernel(0xffffffffc0000004n)).toMatchObject({ symbol: 'mod_fn', module: 'my_mod' });
    expect(s.kernel(0xffffffff80000000n).symbol).toBeUndefined();
    expect(k.formatFrame(s.kernel(0xffffffffc0000004n))).toBe('mod_fn+0x4 (my_mod)');
    expect(k.formatFrame({ address: 0x1234n })).toBe('0x1234');
    expect(k.formatFrame({ address: 0x7f00n, module: '/lib/libc.so.6', offset: 0x2an })).toBe(
      '0x7f00 (/lib/libc.so.6+0x2a)',
    );
  });

  it('refuses kallsyms whose addresses are hidden', () => {
    expect(() => k.parseKallsyms('0000000000000000 T _stext\n')).toThrow(
      '/proc/kallsyms: no kernel symbol addresses (run as root, or lower kernel.kptr_restrict)',
    );
  });
});

describe.skipIf(!oracle)('stack-trace maps symbolised', () => {
  it('a uprobe on g: the user stack is g <- f <- main of the probed binary', async () => {
    const bin = `${dir}/stack_target`;
    execFileSync('cc', ['-O0', '-fno-omit-frame-pointer', '-g', '-o', bin, TARGET_C], { stdio: 'pipe' });
    const obj = k.loadKernelObject(STACKS, { programs: ['on_g'] });
    const link = obj.program('on_g').attach({ kind: 'uprobe', binary: bin, symbol: 'tsbpf_stack_g' });
    let child: ChildProcess | undefined;
    try {
      child = await startTarget(bin);
      const id = Number(obj.getGlobal('user_stack'));
      expect(id).toBeGreaterThanOrEqual(0);
      expect(obj.getGlobal('user_pid')).toBe(child.pid);
      const [frames] = k.symbolize(obj.map('stacks'), [id], { pid: child.pid! });
      const names = frames!.map((f) => f.symbol);
      expect(names.slice(0, 3)).toEqual(['tsbpf_stack_g', 'tsbpf_stack_f', 'main']);
      expect(frames![0]!.offset).toBe(0n); // the probe sits on g's first instruction
      expect(frames![1]!.offset).toBeGreaterThan(0n); // return addresses lie inside their callers
      expect(frames![0]!.module).toBe(bin);
      // every user frame lies in a mapped file (main's caller in libc)
      for (const f of frames!) expect(f.module, k.formatFrame(f)).toMatch(/^\//);
      expect(k.formatFrame(frames![1]!)).toMatch(new RegExp(`^tsbpf_stack_f\\+0x[0-9a-f]+ \\(${bin}\\)$`));
      // a failed bpf_get_stackid (negative) is an empty stack
      expect(k.symbolize(obj.map('stacks'), [-14])).toEqual([[]]);
    } finally {
      child?.stdin?.end();
      link.close();
      obj.close();
    }
  });

  it('a raw tracepoint on sys_enter: the kernel stack runs through do_syscall_64', async () => {
    ensureTracefs();
    const obj = k.loadKernelObject(STACKS, { programs: ['on_syscall'] });
    obj.setGlobal('target_pid', process.pid);
    const link = obj.program('on_syscall').attach();
    try {
      const deadline = Date.now() + 2000;
      while (Number(obj.getGlobal('kernel_stack')) < 0 && Date.now() < deadline) {
        execFileSync('true'); // syscalls of this process
        await new Promise((r) => setTimeout(r, 10));
      }
      const id = Number(obj.getGlobal('kernel_stack'));
      expect(id).toBeGreaterThanOrEqual(0);
      const [frames] = k.symbolize(obj.map('stacks'), [id]);
      expect(frames!.length).toBeGreaterThan(1);
      for (const f of frames!) expect(f.symbol, k.formatFrame(f)).toBeDefined();
      expect(frames!.map((f) => f.symbol)).toContain('do_syscall_64');
    } finally {
      link.close();
      obj.close();
    }
  });
});
