// copy_from_user and copy_from_user_task against the kernel: test/fixtures/helpers/user.c, a syscall
// program (sleepable), loaded by libbpf (bpftool) and test-run by the kernel with a context naming an
// unmapped user address, and run on both engines with the same address (unmapped here too): the same
// results, the buffer zeroed on the fault.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { Errno } from '../../src/spec/errno.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/user.o');
/** An address in the first page: unmapped in the kernel's test-run caller and in the address space here. */
const USER_PTR = 0x1000n;

function ours(engine: (typeof ENGINES)[number]): number[] {
  const obj = loadObject(readObject(readFileSync(FIXTURE)));
  const ctx = obj.runtime.space.allocate(8, 'ctx', 'syscall args', false).start;
  obj.runtime.space.view.setBigUint64(ctx, USER_PTR, true);
  obj.program('ok_copy').runner(engine).run(ctx, { ctx, programType: 'syscall' });
  const out = obj.map('out');
  return [0, 1, 2, 3, 4].map((k) => {
    const v = out.lookup(new Uint8Array([k, 0, 0, 0]))!;
    return Number(new DataView(v.buffer, v.byteOffset).getBigInt64(0, true));
  });
}

describe('copy_from_user', () => {
  it.each(ENGINES)('%s', (engine) => {
    expect(ours(engine)).toEqual([-Errno.EFAULT, 0, 0, -Errno.EINVAL, -Errno.EFAULT]);
  });

  it.runIf(oracle)('the kernel gives the same results', async () => {
    const k = await import('../../src/kernel/index.js');
    const dir = `/sys/fs/bpf/tsbpf_user_${process.pid}`;
    const maps = `${dir}_maps`;
    execFileSync('bpftool', ['prog', 'loadall', FIXTURE, dir, 'pinmaps', maps], { stdio: 'pipe' });
    try {
      const fd = k.objGet(`${dir}/ok_copy`);
      const ctx = new Uint8Array(8);
      new DataView(ctx.buffer).setBigUint64(0, USER_PTR, true);
      try {
        // A syscall program's test run: the context in, nothing else (no ctx_out, no repeat).
        k.progTestRun(fd, { ctx, ctxOutSize: 0, repeat: 0 });
      } finally {
        k.close(fd);
      }
      const dump = JSON.parse(
        execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', `${maps}/out`], { stdio: 'pipe' }).toString(),
      ) as { value: number | string[] }[];
      // bpftool prints a value as its bytes (hex strings) or, with BTF, as a number.
      const num = (v: number | string[]) =>
        typeof v === 'number'
          ? v
          : Number(new DataView(Uint8Array.from(v.map((x) => Number(x))).buffer).getBigInt64(0, true));
      expect(ours('interp')).toEqual(dump.map((e) => num(e.value)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(maps, { recursive: true, force: true });
    }
  });
});
