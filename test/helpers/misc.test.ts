// get_branch_snapshot and task_pt_regs against the kernel: test/fixtures/helpers/misc.c test-run by the
// kernel and on both engines (no last-branch records: -ENOENT, -EINVAL for flags; a task's registers
// exist).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import '../../src/kernel/register.js';
import type { KernelProgram } from '../../src/kernel/index.js';
import { Errno } from '../../src/spec/errno.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/misc.o');
const PACKET = new Uint8Array(64);
const word = (v: Uint8Array) => Number(new DataView(v.buffer, v.byteOffset).getBigInt64(0, true));

function ours(engine: (typeof ENGINES)[number]) {
  const obj = loadObject(readObject(readFileSync(FIXTURE)));
  testRun(obj.program('ok_branches').runner(engine), { dataIn: PACKET });
  const ctx = obj.runtime.space.allocate(16, 'ctx', 'raw_tp args', false).start;
  const regs = obj.program('ok_pt_regs').runner(engine).run(ctx, { ctx, programType: 'raw_tracepoint' });
  const out = obj.map('out');
  return [
    word(out.lookup(new Uint8Array(4))!),
    word(out.lookup(new Uint8Array([1, 0, 0, 0]))!),
    Number(regs),
  ];
}

describe('branch snapshots and task registers', () => {
  it.each(ENGINES)('%s', (engine) => {
    expect(ours(engine)).toEqual([-Errno.ENOENT, -Errno.EINVAL, 1]);
  });

  it.runIf(oracle)('the kernel answers the same', () => {
    const k = loadCollection(readObject(readFileSync(FIXTURE)), { backend: 'kernel' });
    try {
      k.program('ok_branches').run({ dataIn: PACKET });
      const regs = (k.program('ok_pt_regs') as KernelProgram).run({
        dataIn: new Uint8Array(0),
        ctxIn: new Uint8Array(16),
        ctxOutSize: 0,
        repeat: 0,
      }).retval;
      const out = k.map('out');
      expect(ours('interp')).toEqual([
        word(out.lookup(new Uint8Array(4))!),
        word(out.lookup(new Uint8Array([1, 0, 0, 0]))!),
        regs,
      ]);
    } finally {
      k.close();
    }
  });
});
