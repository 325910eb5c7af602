// bpf_loop with a constant callback, which the JIT emits as a wasm loop calling the callback directly:
// the same results, memory and faults as the interpreter (which calls the registry's helper), and no call
// of the helper at all.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { helperById } from '../../src/helpers/registry.js';
import type { HelperDef } from '../../src/helpers/types.js';
import { testRun } from '../../src/hooks/test-run.js';
import { Class, type Insn, insn, JmpOp, MAX_CALL_FRAMES, Mode, Size, Source } from '../../src/isa/index.js';
import { compile } from '../../src/jit/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { kernelOracle } from '../support/kernel.js';

const ALU64 = Class.ALU64;
const mov = (dst: number, imm: number) => insn(ALU64 | 0xb0, dst, 0, 0, imm);
const movr = (dst: number, src: number) => insn(ALU64 | 0xb0 | Source.X, dst, src);
const exit = insn(Class.JMP | JmpOp.EXIT);
const LOOP = 181;
/** lddw of a function pointer: the function at `rel` slots after the lddw's second half. */
const funcPointer = (dst: number, rel: number): Insn[] => [insn(0x18, dst, 4, 0, rel), insn(0, 0, 0, 0, 0)];

/**
 * main(nr_loops = r1, flags = r2): ctx = 0 on the stack; r0 = bpf_loop(nr_loops, cb, &ctx, flags);
 * returns ctx << 32 | (u32) r0. cb(i, ctx): *ctx += i + 1; stops (returns 1) at i == 40.
 */
const SUM: Insn[] = [
  insn(Class.ST | Mode.MEM | Size.DW, 10, 0, -8, 0),
  movr(6, 1),
  movr(7, 2),
  movr(1, 6),
  ...funcPointer(2, 10), // slot 4: a pointer to slot 4 + 1 + 10 = 15
  movr(3, 10),
  insn(ALU64 | 0x00, 3, 0, 0, -8),
  movr(4, 7),
  insn(Class.JMP | JmpOp.CALL, 0, 0, 0, LOOP),
  insn(Class.LDX | Mode.MEM | Size.DW, 6, 10, -8),
  insn(ALU64 | 0x60, 6, 0, 0, 32), // r6 <<= 32
  insn(Class.ALU | 0xb0 | Source.X, 0, 0), // w0 = w0
  insn(ALU64 | 0x40 | Source.X, 0, 6), // r0 |= r6
  exit,
  // slot 15: the callback
  insn(Class.LDX | Mode.MEM | Size.DW, 3, 2, 0),
  insn(ALU64 | 0x00 | Source.X, 3, 1),
  insn(ALU64 | 0x00, 3, 0, 0, 1),
  insn(Class.STX | Mode.MEM | Size.DW, 2, 3, 0),
  mov(0, 0),
  insn(Class.JMP | JmpOp.JNE, 1, 0, 1, 40),
  mov(0, 1),
  exit,
];

/** r0 = bpf_loop(r1, the function `rel` slots after the lddw's second half, ctx 0, flags 0): 5 slots. */
const loopCall = (rel: number): Insn[] => [
  ...funcPointer(2, rel),
  mov(3, 0),
  mov(4, 0),
  insn(Class.JMP | JmpOp.CALL, 0, 0, 0, LOOP),
];

/** main: bpf_loop(1, cb, 0, 0) where cb calls bpf_loop(1, cb, 0, 0) again: nesting without end. */
const RECURSIVE: Insn[] = [
  mov(1, 1),
  ...loopCall(5), // slot 1: a pointer to slot 1 + 1 + 5 = 7
  exit,
  // slot 7: cb
  mov(1, 1),
  ...loopCall(-2), // slot 8: a pointer to slot 8 + 1 - 2 = 7, itself
  exit,
];

function outcome(f: () => bigint): string {
  try {
    return `0x${f().toString(16)}`;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** The interpreter with the registry's bpf_loop; the JIT with a bpf_loop that must never be called. */
function both(insns: Insn[], args: (number | bigint)[]) {
  const a = new Runtime();
  const interp = outcome(() => new Interpreter(a).run(a.prepare(insns), { args, checked: false }).r0);
  const b = new Runtime();
  const real = helperById(LOOP)!;
  const trap: HelperDef = {
    ...real,
    numbers: undefined,
    call: () => {
      throw new Error('the helper ran: bpf_loop was not emitted inline');
    },
  };
  const helpers = (id: number) => (id === LOOP ? trap : helperById(id));
  const prog = b.prepare(insns, [], { helpers });
  const jit = outcome(() => compile(prog, b).execute({ args }).r0);
  return { interp, jit };
}

const packed = (ctx: number, r0: number) => `0x${((BigInt(ctx) << 32n) | BigInt(r0 >>> 0)).toString(16)}`;
const sum = (n: number) => (n * (n + 1)) / 2;

describe('bpf_loop emitted inline', () => {
  it('runs the callback nr_loops times, stops when it returns 1, and checks flags and the bound', () => {
    const cases: [number | bigint, number, string][] = [
      [0, 0, packed(0, 0)],
      [5, 0, packed(sum(5), 5)],
      [41, 0, packed(sum(41), 41)], // the 41st call (i = 40) returns 1: r0 = 41 either way
      [100, 0, packed(sum(41), 41)],
      [5, 1, packed(0, -22)], // flags must be 0: -EINVAL
      [(1 << 23) + 1, 0, packed(0, -7)], // more than BPF_MAX_LOOPS: -E2BIG
      [2n ** 32n + 3n, 0, packed(0, -7)], // nr_loops compared as 64 bits, as the kernel's inlined bpf_loop does
      [1 << 23, 0, packed(sum(41), 41)],
    ];
    for (const [nr, flags, want] of cases) {
      const { interp, jit } = both(SUM, [nr, flags]);
      expect(interp, `nr_loops ${nr}, flags ${flags}`).toBe(want);
      expect(jit, `nr_loops ${nr}, flags ${flags}`).toBe(want);
    }
  });

  it("returns E2BIG as the kernel's inlined bpf_loop does: w0 = -7, zero-extended", () => {
    // r0 = bpf_loop(r1, cb, 0, 0) as it is; cb returns 0.
    const plain: Insn[] = [
      ...loopCall(5), // slot 0: a pointer to slot 0 + 1 + 5 = 6
      exit,
      mov(0, 0),
      exit,
    ];
    for (const [nr, want] of [
      [2n ** 32n + 3n, '0xfffffff9'],
      [7, '0x7'],
    ] as const) {
      const { interp, jit } = both(plain, [nr]);
      expect([interp, jit]).toEqual([want, want]);
    }
  });

  it('faults as the interpreter does when callbacks nest too deep', () => {
    const { interp, jit } = both(RECURSIVE, []);
    expect(jit).toBe(`RuntimeFault: insn 12: call nesting exceeds ${MAX_CALL_FRAMES} frames`);
    expect(jit).toBe(interp);
  });

  it('runs inside the batch loop of a small main program', () => {
    const rt = new Runtime();
    const jit = compile(rt.prepare(SUM), rt);
    expect(jit.inlineBatch).toBe(true);
    // r1 is the context address in a batch: every run gets nr_loops = that address (over 2^23: -E2BIG) —
    // so run the batch over contexts 0 and 3 instead, which are just numbers here.
    const table = rt.space.allocate(16, 'scratch', 'batch', true);
    const v = rt.space.view;
    v.setUint32(table.start, 0, true);
    v.setUint32(table.start + 4, 3, true);
    jit.runBatch(table.start, 2, table.start + 8);
    expect([v.getUint32(table.start + 8, true), v.getUint32(table.start + 12, true)]).toEqual([0, 3]);
    rt.space.release(table);
  });
});

describe('bpf_loop from C, against the kernel', () => {
  // test/fixtures/elf/loop64.c: nr_loops = (len & 1) << 32 | len >> 3, a callback that stops at index 5,
  // the result's high half times 1000 plus its low half returned.
  const FIXTURE = 'test/fixtures/elf/loop64.o';
  const spec = () => readObject(readFileSync(FIXTURE), { file: FIXTURE });
  const lengths = [40, 41, 64, 65, 200, 201];
  const E2BIG = 0xfffffff9; // w0 = -7: the high half is 0
  const expected = [5, E2BIG, 6, E2BIG, 6, E2BIG];
  const ours = (engine: 'interp' | 'jit') => {
    const obj = loadObject(spec());
    return lengths.map((n) => testRun(obj.program().runner(engine), { dataIn: new Uint8Array(n) }).retval);
  };

  it('returns what the kernel returns for these lengths, on both engines', () => {
    expect(ours('interp')).toEqual(expected);
    expect(ours('jit')).toEqual(expected);
  });

  it.skipIf(!kernelOracle())('and the kernel agrees', async () => {
    const kernel = await import('../../src/kernel/index.js');
    const kobj = kernel.loadKernelObject(spec(), { objectName: 'loop64' });
    try {
      const got = lengths.map((n) => kobj.program().run({ dataIn: new Uint8Array(n) }).retval);
      expect(got).toEqual(expected);
    } finally {
      kobj.close();
    }
  });
});
