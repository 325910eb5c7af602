// Counter reads and trace_vprintk against the kernel: test/fixtures/helpers/perf.c test-run by the kernel
// and on both engines stores the same results (no counter in the array: -ENOENT after the index and flag
// checks; the value zeroed; trace_vprintk's printed length, and -EINVAL for a partial argument).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import type { BpfMap } from '../../src/collection/types.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import '../../src/kernel/register.js';
import { helperByName } from '../../src/helpers/registry.js';
import { Errno } from '../../src/spec/errno.js';
import { kernelOracle } from '../support/kernel.js';
import { FakeEnv } from './env.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/perf.o');
const PACKET = new Uint8Array(64);

const values = (m: BpfMap) =>
  Array.from({ length: 9 }, (_, k) => {
    const v = m.lookup(new Uint8Array([k, 0, 0, 0]))!;
    return Number(new DataView(v.buffer, v.byteOffset).getBigInt64(0, true));
  });

function ours(engine: (typeof ENGINES)[number]) {
  const obj = loadObject(readObject(readFileSync(FIXTURE)));
  testRun(obj.program('ok_perf').runner(engine), { dataIn: PACKET });
  return { values: values(obj.map('out')), lines: obj.runtime.traceLines };
}

describe('perf counters and trace_vprintk', () => {
  it.each(ENGINES)('%s', (engine) => {
    const o = ours(engine);
    const text = `x=-5 y=abcdef s=7\n`;
    expect(o.values).toEqual([
      -Errno.ENOENT,
      -Errno.ENOENT,
      -Errno.E2BIG,
      -Errno.EINVAL,
      -Errno.ENOENT,
      0,
      -Errno.EINVAL,
      text.length,
      -Errno.EINVAL,
    ]);
    expect(o.lines).toEqual(['x=-5 y=abcdef s=7']);
  });

  it.runIf(oracle)('the kernel stores the same results', () => {
    const k = loadCollection(readObject(readFileSync(FIXTURE)), { backend: 'kernel' });
    try {
      k.program('ok_perf').run({ dataIn: PACKET });
      expect(ours('interp').values).toEqual(values(k.map('out')));
    } finally {
      k.close();
    }
  });
});

describe('iterator output', () => {
  it('seq_printf and seq_write append to the run output, and stop the run without one', () => {
    const env = new FakeEnv();
    const fmt = env.str('task %d: %s\n');
    const name = env.str('init');
    const args = env.buf(new Uint8Array(new BigUint64Array([1n, BigInt(name)]).buffer));
    const call = (h: string, ...a: number[]) => {
      const r = [0, 1, 2, 3, 4].map((i) => BigInt(a[i] ?? 0));
      return helperByName(h)!.call(env, r[0]!, r[1]!, r[2]!, r[3]!, r[4]!);
    };
    expect(() => call('seq_printf', 8, fmt, 14, args, 16)).toThrow(/no iterator output here/);
    env.invocation = { ...env.invocation, seq: [] };
    expect(call('seq_printf', 8, fmt, 14, args, 16)).toBe(0n);
    expect(call('seq_printf', 8, fmt, 14, args, 12)).toBe(BigInt(-Errno.EINVAL));
    expect(call('seq_write', 8, name, 4)).toBe(0n);
    expect(env.invocation.seq).toEqual(['task 1: init\n', 'init']);
  });
});
