// Helpers and maps through the real runtime and interpreter: programs (assembled) call the shared helper
// registry and see map values by pointer, user space reads the results.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { insn, lddw } from '../../src/isa/index.js';
import { createMap, type FdArrayMap, MapType, type RingBufMap, typedMap } from '../../src/maps/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { arrayCounter } from '../support/programs.js';

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
    const prog = rt.prepare(assemble(arrayCounter(2, 0)), [counts]);
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

  it('bpf_loop and for_each_map_elem run the callback (a lddw function pointer) in the program', () => {
    const { rt, map, vm } = setup();
    const EXIT = insn(0x95);
    // loop(10, cb, NULL, 0) where cb(i) stops at i == 2: the helper returns 3.
    const loop = rt.prepare([
      insn(0xb7, 1, 0, 0, 10), // r1 = 10
      ...lddw(2, 5n, 4), // r2 = cb (slot 1 + 1 + 5 = 7)
      insn(0xb7, 3, 0, 0, 0),
      insn(0xb7, 4, 0, 0, 0),
      insn(0x85, 0, 0, 0, 181), // call bpf_loop
      EXIT,
      insn(0x15, 1, 0, 2, 2), // 7: if r1 == 2 goto +2
      insn(0xb7, 0, 0, 0, 0),
      EXIT,
      insn(0xb7, 0, 0, 0, 1),
      EXIT,
    ]);
    expect(vm.run(loop).r0).toBe(3n);
    // for_each over a 4-entry array: the callback adds each value into *ctx (a stack slot).
    const arr = map('a', MapType.ARRAY, 4, 8, 4);
    const t = typedMap<number, bigint>(arr);
    for (const [i, v] of [5n, 6n, 7n, 8n].entries()) t.set(i, v);
    const each = rt.prepare(
      [
        insn(0x7a, 10, 0, -8, 0), // *(u64 *)(r10 - 8) = 0
        ...lddw(1, 0n, 1), // r1 = map
        ...lddw(2, 9n, 4), // r2 = cb (slot 3 + 1 + 9 = 13)
        insn(0xbf, 3, 10), // r3 = r10
        insn(0x07, 3, 0, 0, -8), // r3 += -8
        insn(0xb7, 4, 0, 0, 0),
        insn(0x85, 0, 0, 0, 164), // call for_each_map_elem
        insn(0x79, 1, 10, -8), // r1 = *(u64 *)(r10 - 8)
        insn(0x27, 1, 0, 0, 100), // r1 *= 100
        insn(0x0f, 0, 1), // r0 += r1
        EXIT,
        insn(0x79, 1, 3, 0), // 13: r1 = *(u64 *)(r3 + 0)  (value)
        insn(0x79, 2, 4, 0), // r2 = *(u64 *)(r4 + 0)  (ctx sum)
        insn(0x0f, 2, 1), // r2 += r1
        insn(0x7b, 4, 2, 0), // *(u64 *)(r4 + 0) = r2
        insn(0xb7, 0, 0, 0, 0),
        EXIT,
      ],
      [arr],
    );
    expect(vm.run(each).r0).toBe(4n + 26n * 100n);
  });
});
