// The tracing helpers on a task model, on both engines: test/fixtures/helpers/trace.c's programs store what
// each call returned, and each value is what the kernel gives in the same situation (the model's cgroups,
// pid namespace and stacks; no signal delivered; no attach cookie; one NUMA node; strncmp's -1/0/1).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { Errno } from '../../src/spec/errno.js';

const FIXTURE = join(__dirname, '../fixtures/helpers/trace.o');
const KSTACK = [0xffffffff81001000n, 0xffffffff81002000n];

function run(name: string, engine: (typeof ENGINES)[number], cgroups?: [number, number]) {
  const obj = loadObject(readObject(readFileSync(FIXTURE)), {
    programs: [name],
    runtimeOptions: {
      cpus: 2,
      task: { pid: 300, tgid: 300, comm: 'tsbpf-test', cgroupPath: [1, 50, 77], kernelStack: KSTACK },
    },
  });
  if (cgroups) {
    const m = obj.map('cgroups');
    m.update(new Uint8Array([0, 0, 0, 0]), new Uint8Array(new Uint32Array([cgroups[0]]).buffer));
    m.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array(new Uint32Array([cgroups[1]]).buffer));
  }
  const ctx = obj.runtime.space.allocate(168, 'ctx', 'pt_regs', false).start;
  obj.program(name).runner(engine).run(ctx, { ctx, programType: 'kprobe' });
  const out: Record<number, bigint> = {};
  for (let k = 0; k < 24; k++) {
    const v = obj.map('out').lookup(new Uint8Array([k, 0, 0, 0]));
    if (v) out[k] = new DataView(v.buffer, v.byteOffset).getBigInt64(0, true);
  }
  return out;
}

describe.each(ENGINES)('tracing helpers on %s', (engine) => {
  it('the task and its cgroups', () => {
    const o = run('ok_task', engine, [50, 99]);
    expect(o[0]).toBe(1n); // a task_struct address
    expect(o[1]).toBe(1n); // under cgroup 50 (an ancestor)
    expect(o[2]).toBe(BigInt(-Errno.E2BIG)); // index 9 of 4
    expect(o[3]).toBe(77n);
    expect(o[4]).toBe(1n);
    expect(o[5]).toBe(0n); // no ancestor at level 100
    expect(run('ok_task', engine, [99, 98])[1]).toBe(0n);
    // An empty slot: -EAGAIN.
    expect(run('ok_task', engine)[1]).toBe(BigInt(-Errno.EAGAIN));
  });

  it('pid namespace and signals', () => {
    const o = run('ok_ns', engine);
    expect([o[6], o[7], o[8], o[9], o[10], o[11]]).toEqual([
      0n,
      300n,
      BigInt(-Errno.ENOENT),
      BigInt(-Errno.EINVAL),
      0n,
      BigInt(-Errno.EINVAL),
    ]);
  });

  it('numa, tai, strncmp, cookie, func ip, per-CPU lookups', () => {
    const o = run('ok_misc', engine);
    // comm 'tsbpf-test' against "tsbpf" over 5 bytes: equal.
    expect([o[12], o[13], o[14], o[15], o[16], o[17], o[18]]).toEqual([0n, 1n, 0n, 0n, 1n, 1n, 0n]);
  });
});
