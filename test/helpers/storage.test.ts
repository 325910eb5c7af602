// Task local storage against the kernel: test/fixtures/helpers/storage.c's raw tracepoints test-run by the
// kernel (BPF_PROG_TEST_RUN; the current task is this thread) and on both engines, in the same order:
// count (created from the value given), count again, peek, delete twice, peek: the same results. And the
// storage maps' creation rules, and what user space gets from them.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import type { MapError } from '../../src/errors.js';
import { checkMapSpec } from '../../src/maps/registry.js';
import { Errno } from '../../src/spec/errno.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/storage.o');
const STEPS = ['ok_count', 'ok_count', 'ok_peek', 'ok_delete', 'ok_delete', 'ok_peek', 'ok_count'];

const s32 = (x: number | bigint) => Number(BigInt.asIntN(32, BigInt(x)));

function ours(engine: (typeof ENGINES)[number]): number[] {
  const obj = loadObject(readObject(readFileSync(FIXTURE)), {
    programs: ['ok_count', 'ok_delete', 'ok_peek'],
  });
  const ctx = obj.runtime.space.allocate(16, 'ctx', 'raw_tp args', false).start;
  return STEPS.map((p) =>
    s32(obj.program(p).runner(engine).run(ctx, { ctx, programType: 'raw_tracepoint' })),
  );
}

describe('task storage', () => {
  it.each(ENGINES)('%s: create from the value given, count, delete, NULL without F_CREATE', (engine) => {
    // 100 + 1 calls, seed 7; again; peek 102; delete 0, then -ENOENT; peek -1 (none); a new counter.
    expect(ours(engine)).toEqual([1017, 1027, 102, 0, -Errno.ENOENT, -1, 1017]);
  });

  it.runIf(oracle)('the kernel gives the same results', async () => {
    // libbpf (bpftool) creates the storage map with the BTF it needs; the pinned programs run here.
    const k = await import('../../src/kernel/index.js');
    const dir = `/sys/fs/bpf/tsbpf_storage_${process.pid}`;
    execFileSync('bpftool', ['prog', 'loadall', FIXTURE, dir], { stdio: 'pipe' });
    const fds = new Map<string, number>();
    try {
      for (const p of new Set(STEPS)) fds.set(p, k.objGet(`${dir}/${p}`));
      // A raw tracepoint's test run: its arguments in; no ctx out, no repeat.
      const got = STEPS.map((p) =>
        s32(k.progTestRun(fds.get(p)!, { ctx: new Uint8Array(16), ctxOutSize: 0, repeat: 0 }).retval),
      );
      expect(got).toEqual(ours('interp'));
    } finally {
      for (const fd of fds.values()) k.close(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(oracle).each([
    ['storage_bad_number.o', 'a number for the task'],
    ['storage_bad_map.o', 'a hash map'],
  ])('%s (%s): refused by the kernel and by our verifier', (file) => {
    const path = join(__dirname, '../fixtures/helpers', file);
    expect(() =>
      execFileSync('bpftool', ['prog', 'loadall', path, `/sys/fs/bpf/tsbpf_bad_${process.pid}`], {
        stdio: 'pipe',
      }),
    ).toThrow();
    rmSync(`/sys/fs/bpf/tsbpf_bad_${process.pid}`, { recursive: true, force: true });
    expect(() => loadObject(readObject(readFileSync(path)))).toThrow(
      file.includes('number')
        ? /must be a pointer to a kernel task_struct/
        : /cannot be passed to task_storage_get/,
    );
  });

  it('creation rules (bpf_local_storage_map_alloc_check)', () => {
    const spec = (o: Partial<MapSpec>): MapSpec => ({
      name: 'st',
      type: MapType.TASK_STORAGE,
      keySize: 4,
      valueSize: 16,
      maxEntries: 0,
      flags: 1,
      btfKeyTypeId: 1,
      btfValueTypeId: 2,
      ...o,
    });
    const errno = (o: Partial<MapSpec>) => {
      try {
        checkMapSpec(spec(o));
        return 0;
      } catch (e) {
        return (e as MapError).errno;
      }
    };
    expect(errno({})).toBe(0);
    expect(errno({ flags: 0 })).toBe(Errno.EINVAL);
    expect(errno({ maxEntries: 1 })).toBe(Errno.EINVAL);
    expect(errno({ keySize: 8 })).toBe(Errno.EINVAL);
    expect(errno({ btfKeyTypeId: 0 })).toBe(Errno.EINVAL);
    expect(errno({ valueSize: 65408 })).toBe(Errno.E2BIG);
    expect(errno({ type: MapType.SK_STORAGE, flags: 0x201 })).toBe(0);
  });
});
