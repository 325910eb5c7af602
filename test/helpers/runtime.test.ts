// Helpers and maps through the real runtime and interpreter: programs (assembled) call the shared helper
// registry and see map values by pointer, user space reads the results.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createMap, type FdArrayMap, MapType, type RingBufMap, typedMap } from '../../src/maps/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

function setup(cpus = 1) {
  const rt = new Runtime({ cpus, clock: () => 123_456_789n, task: { pid: 7, tgid: 7, comm: 'probe' } });
  const map = (
    name: string,
    type: number,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    flags = 0,
  ) => createMap(rt.space, { name, type, keySize, valueSize, maxEntries, flags }, { cpus });
  return { rt, map, vm: new Interpreter(rt) };
}

describe('helpers through the interpreter', () => {
  it('an array counter: lookup gives a value pointer, an atomic add updates it in place', () => {
    const { rt, map, vm } = setup();
    const counts = map('counts', MapType.ARRAY, 4, 8, 4);
    const prog = rt.prepare(
      assemble(`
        *(u32 *)(r10 - 4) = 2
        r2 = r10
        r2 += -4
        r1 = map_fd(0) ll
        call 1
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
      out:
        r0 = 0
        exit
      `),
      [counts],
    );
    for (let i = 0; i < 3; i++) vm.run(prog);
    expect(typedMap<number, bigint>(counts).get(2)).toBe(3n);
  });

  it('a hash map update with BPF_NOEXIST returns -EEXIST the second time', () => {
    const { rt, map, vm } = setup();
    const h = map('h', MapType.HASH, 4, 8, 16);
    const prog = rt.prepare(
      assemble(`
        *(u32 *)(r10 - 4) = 9
        *(u64 *)(r10 - 16) = 77
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        r1 = map_fd(0) ll
        call 2
        exit
      `),
      [h],
    );
    expect(vm.run(prog).r0).toBe(0n);
    expect(BigInt.asIntN(64, vm.run(prog).r0)).toBe(-17n);
    expect(typedMap<number, bigint>(h).get(9)).toBe(77n);
  });

  it('ringbuf_output delivers the bytes the program wrote; trace_printk and pid/comm reach JS', async () => {
    const { rt, map, vm } = setup();
    const rb = map('events', MapType.RINGBUF, 0, 0, 4096) as RingBufMap;
    const got: string[] = [];
    rb.reader().onRecord((d) => got.push(Buffer.from(d).toString('hex')));
    const prog = rt.prepare(
      assemble(`
        call 14
        *(u64 *)(r10 - 8) = r0
        r2 = r10
        r2 += -8
        r3 = 8
        r4 = 0
        r1 = map_fd(0) ll
        call 130
        r6 = r0
        *(u32 *)(r10 - 16) = 0x0a6425
        r1 = r10
        r1 += -16
        r2 = 4
        r3 = r6
        call 6
        r0 = r6
        exit
      `),
      [rb],
    );
    expect(vm.run(prog).r0).toBe(0n);
    await Promise.resolve();
    expect(got).toEqual(['0700000007000000']);
    expect(rt.traceLines).toEqual(['0']);
  });

  it('tail_call through a program array continues in the registered program', () => {
    const { rt, map, vm } = setup();
    const jt = map('jt', MapType.PROG_ARRAY, 4, 4, 4) as FdArrayMap;
    const target = rt.prepare(assemble('r0 = 42\nexit'));
    const id = rt.registerProgram(target);
    jt.update(new Uint8Array([3, 0, 0, 0]), new Uint8Array([id, 0, 0, 0]));
    const entry = rt.prepare(
      assemble(`
        r2 = map_fd(0) ll
        r3 = 3
        call 12
        r0 = 1
        exit
      `),
      [jt],
    );
    expect(vm.run(entry).r0).toBe(42n);
    jt.delete(new Uint8Array([3, 0, 0, 0]));
    expect(vm.run(entry).r0).toBe(1n);
  });

  it('per-CPU array: each simulated CPU increments its own value', () => {
    const { rt, map, vm } = setup(2);
    const pc = map('pc', MapType.PERCPU_ARRAY, 4, 4, 1);
    const prog = rt.prepare(
      assemble(`
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = map_fd(0) ll
        call 1
        if r0 == 0 goto out
        r1 = *(u32 *)(r0 + 0)
        r1 += 1
        *(u32 *)(r0 + 0) = r1
      out:
        r0 = 0
        exit
      `),
      [pc],
    );
    vm.run(prog, { cpu: 0 });
    vm.run(prog, { cpu: 1 });
    vm.run(prog, { cpu: 1 });
    expect(typedMap<number, number[]>(pc).get(0)).toEqual([1, 2]);
  });
});
