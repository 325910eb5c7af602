// `tsbpf trace funccount|funclatency --ufn/--kfn` (built CLI) against the kernel: a C program calling
// tsbpf_probe_target N times gives count N, in the --fn report's JSON shapes; --duration without a command;
// the command's exit code; --kfn on a kernel without kprobes and mixed --fn/--ufn as one-line errors.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { tsbpf } from '../cli/run-cli.js';
import { buildProbeTarget } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const dir = mkdtempSync(`${tmpdir()}/tsbpf-trace-cli-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const N = 23;

describe.skipIf(!oracle)('tsbpf trace --ufn/--kfn', () => {
  const bin = oracle ? buildProbeTarget(dir) : '';
  const fn = `${bin}:tsbpf_probe_target`;

  it('funccount --json: {"counts": {BINARY:SYMBOL: N}} as the only stdout', () => {
    const r = tsbpf(['trace', 'funccount', '--ufn', fn, '--json', '--', bin, String(N)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ counts: { [fn]: N } });
  });

  it('funclatency --json: the histogram of N calls, as --fn reports it', () => {
    const r = tsbpf([
      'trace',
      'funclatency',
      '--ufn',
      `${bin}:tsbpf_probe_*`,
      '--json',
      '--',
      bin,
      String(N),
    ]);
    expect(r.code).toBe(0);
    const { functions } = JSON.parse(r.stdout) as {
      functions: Record<
        string,
        { count: number; buckets: { low_ns: number; high_ns: number; count: number }[] }
      >;
    };
    expect(Object.keys(functions)).toEqual([fn]);
    expect(functions[fn]!.count).toBe(N);
    expect(functions[fn]!.buckets.reduce((a, b) => a + b.count, 0)).toBe(N);
  });

  it('funccount text: the FUNC/COUNT table; the command exit code is tsbpf’s', () => {
    const r = tsbpf(['trace', 'funccount', '--ufn', `${bin}:main`, '--', 'sh', '-c', `${bin} 2; exit 3`]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`^FUNC +COUNT\\n${bin}:main +1\\n$`));
  });

  it('--duration without a command reports after S seconds (nothing called: 0)', () => {
    const started = Date.now();
    const r = tsbpf(['trace', 'funccount', '--ufn', fn, '--duration', '1', '--json']);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(JSON.parse(r.stdout)).toEqual({ counts: { [fn]: 0 } });
  });

  it('errors: one line each (--kfn without kprobes: exit 1; mixing --fn and --ufn, --pid with --fn: exit 2)', () => {
    if (!existsSync('/sys/bus/event_source/devices/kprobe')) {
      const r = tsbpf(['trace', 'funccount', '--kfn', 'vfs_read', '--duration', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'tsbpf: --kfn vfs_read: this kernel cannot trace kernel functions: it has no kprobes (CONFIG_KPROBES) for kprobe.multi, and fentry needs BPF trampolines; trace user functions with --ufn BINARY:SYMBOL\n',
      );
    }
    const mixed = tsbpf(['trace', 'funccount', '--fn', 'x.js#f', '--ufn', fn]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr.trim().split('\n')).toHaveLength(1);
    const pid = tsbpf(['trace', 'funccount', '--fn', 'x.js#f', '--pid', '1', '--', 'node', 'x.js']);
    expect(pid.code).toBe(2);
    expect(pid.stderr).toContain('--duration and --pid go with --ufn/--kfn');
    const nofn = tsbpf(['trace', 'funccount', '--ufn', `${bin}:no_such_fn`, '--duration', '1']);
    expect(nofn.code).toBe(1);
    expect(nofn.stderr).toContain('no function no_such_fn');
  });
});
