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
import { Errno } from '../../src/spec/errno.js';
import { kernelOracle } from '../support/kernel.js';

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
