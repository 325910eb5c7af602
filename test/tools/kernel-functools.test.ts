// The kernel funccount and funclatency (src/kernel/func-tools.ts) against the kernel: a test-built C program
// calls tsbpf_probe_target N times under uprobe.multi probes; the count is N, the latency histogram holds N
// calls; a pattern names every matching function; --kfn on a kernel without kprobes is one clear error.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelFuncTool } from '../../src/kernel/func-tools.js';
import { LOG2_SLOTS } from '../../src/tools/histogram.js';
import { buildProbeTarget } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const dir = mkdtempSync(`${tmpdir()}/tsbpf-functools-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const N = 37;

describe.skipIf(!oracle)('kernel funccount / funclatency', () => {
  const bin = oracle ? buildProbeTarget(dir) : '';

  it('funccount: N calls of a user function are counted N; a function never called is listed with 0', () => {
    const t = new KernelFuncTool('funccount', [
      { kind: 'user', spec: `${bin}:tsbpf_probe_target` },
      { kind: 'user', spec: `${bin}:mai?` },
    ]);
    try {
      execFileSync(bin, [String(N)]);
      expect(t.counts()).toEqual({ [`${bin}:tsbpf_probe_target`]: N, [`${bin}:main`]: 1 });
    } finally {
      t.close();
    }
  });

  it('--pid: calls of other processes are not counted', () => {
    const t = new KernelFuncTool('funccount', [{ kind: 'user', spec: `${bin}:tsbpf_probe_target` }], {
      pid: process.pid,
    });
    try {
      execFileSync(bin, [String(N)]);
      expect(t.counts()).toEqual({ [`${bin}:tsbpf_probe_target`]: 0 });
    } finally {
      t.close();
    }
  });

  it('funclatency: the histogram holds every call, in the slots of nanosecond durations', () => {
    const t = new KernelFuncTool('funclatency', [{ kind: 'user', spec: `${bin}:tsbpf_probe_target` }]);
    try {
      execFileSync(bin, [String(N)]);
      const h = t.latency()[`${bin}:tsbpf_probe_target`]!;
      expect(h.counts.length).toBe(LOG2_SLOTS);
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(N);
      // a call takes more than 1 ns and less than 1 s
      expect(h.counts.slice(0, 1).every((c) => c === 0)).toBe(true);
      expect(h.counts.slice(31).every((c) => c === 0)).toBe(true);
    } finally {
      t.close();
    }
  });

  it('bad targets: one clear error each, nothing loaded', () => {
    expect(() => new KernelFuncTool('funccount', [{ kind: 'user', spec: 'nocolon' }])).toThrow(
      "--ufn 'nocolon': expected BINARY:SYMBOL",
    );
    expect(() => new KernelFuncTool('funccount', [{ kind: 'user', spec: `${bin}:no_such_fn` }])).toThrow(
      'no function no_such_fn',
    );
    if (!existsSync('/sys/bus/event_source/devices/kprobe')) {
      expect(() => new KernelFuncTool('funccount', [{ kind: 'kernel', pattern: 'vfs_*' }])).toThrow(
        '--kfn vfs_*: this kernel cannot trace kernel functions: it has no kprobes (CONFIG_KPROBES)',
      );
    }
  });
});
