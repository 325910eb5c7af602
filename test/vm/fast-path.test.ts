// The interpreter's fast paths keep the reference semantics: superinstructions (program.ts `fast`) give
// the results, counts, budget stops and traces of the plain instructions they stand for, and runs begin
// their invocation only when something can observe it.
import { describe, expect, it } from 'vitest';
import type { HelperDef } from '../../src/helpers/types.js';
import { type Insn, insn } from '../../src/isa/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { TIME_STEP } from '../../src/vm/limits.js';
import { Fused } from '../../src/vm/program.js';

const EXIT = insn(0x95);
const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const movReg = (dst: number, src: number) => insn(0xbf, dst, src);
const addImm = (dst: number, imm: number) => insn(0x07, dst, 0, 0, imm);

/** r1 = r2 + imm; if r1 <op> r3 goto +1; r0 = 1; exit (r0 = 0 when the jump is taken). */
function boundsCheck(op: number, r2: number, imm: number, r3: number): Insn[] {
  return [
    mov(0, 0),
    mov(2, r2),
    mov(3, r3),
    movReg(1, 2),
    addImm(1, imm),
    insn(op, 1, 3, 1),
    mov(0, 1),
    EXIT,
  ];
}

/** What the fast copy of the code tags at slot i, if anything. */
function fusedAt(rt: Runtime, insns: Insn[], i: number): number {
  const p = rt.prepare(insns);
  return p.fast[i * 4]! & 0xff;
}

describe('superinstructions', () => {
  it('tags mov+add and mov+add+unsigned register compare, and nothing else', () => {
    const rt = new Runtime();
    expect(fusedAt(rt, boundsCheck(0x2d, 1, 2, 3), 3)).toBe(Fused.MOV_ADD_JCMP);
    expect(fusedAt(rt, [movReg(1, 2), addImm(1, 4), EXIT], 0)).toBe(Fused.MOV_ADD);
    // add to another register, movsx (off 8), signed compare: not fused
    expect(fusedAt(rt, [movReg(1, 2), addImm(3, 4), EXIT], 0)).toBe(0xbf);
    expect(fusedAt(rt, [insn(0xbf, 1, 2, 8), addImm(1, 4), EXIT], 0)).toBe(0xbf);
    expect(fusedAt(rt, [movReg(1, 2), addImm(1, 4), insn(0x6d, 1, 3, 0), EXIT], 0)).toBe(Fused.MOV_ADD);
    // the plain code keeps the real opcodes
    expect(rt.prepare(boundsCheck(0x2d, 1, 2, 3)).code[12]! & 0xff).toBe(0xbf);
  });

  it('agree with the plain instructions on 64-bit carries and every unsigned compare', () => {
    const rt = new Runtime();
    const vm = new Interpreter(rt);
    const cases: [number, number, number][] = [
      [-1, 1, 0], // low half wraps: carry into the high half, r1 = 2^64 -> 0
      [0x7fffffff, 1, 0x7fffffff],
      [-2, -1, -3],
      [5, -10, -5],
      [100, 14, 114],
      [100, 14, 113],
      [0, 0, 0],
    ];
    for (const op of [0x2d, 0x3d, 0xad, 0xbd]) {
      for (const [a, imm, b] of cases) {
        const p = rt.prepare(boundsCheck(op, a, imm, b));
        const fast = vm.run(p, { checked: false });
        // checked mode dispatches on the plain code: the reference
        const plain = vm.run(p, { checked: true });
        expect([fast.r0, fast.instructions], `op ${op.toString(16)} ${a}+${imm} vs ${b}`).toEqual([
          plain.r0,
          plain.instructions,
        ]);
        expect(vm.reg(1)).toBe(BigInt.asUintN(64, BigInt(a) + BigInt(imm)));
      }
    }
  });

  it('a jump into the middle of a fused sequence runs the rest of it', () => {
    const rt = new Runtime();
    // r1 = 7; goto +1 (to the add); r1 = r2 (fused mov+add, skipped); r1 += 3; r0 = r1
    const p = rt.prepare([mov(1, 7), insn(0x05, 0, 0, 1), movReg(1, 2), addImm(1, 3), movReg(0, 1), EXIT]);
    expect(p.fast[8]! & 0xff).toBe(Fused.MOV_ADD);
    const r = new Interpreter(rt).run(p, { checked: false });
    expect(r.r0).toBe(10n);
    expect(r.instructions).toBe(5);
  });

  it('counts the same instructions when its counting chunks end inside fused sequences', () => {
    // With a deadline the interpreter counts in chunks of TIME_STEP instructions (limits.ts); a loop of
    // fused sequences crosses many chunk ends, each at a different place in a sequence.
    const rt = new Runtime();
    const loop = [
      mov(0, 0),
      mov(2, 1),
      mov(3, 1 << 30),
      movReg(1, 2), // fused mov+add+jcmp: r1 = r2 + 3; if r1 > r3 goto exit
      addImm(1, 3),
      insn(0x2d, 1, 3, 3),
      addImm(0, 1),
      addImm(2, 1),
      insn(0x55, 0, 0, -6, 40_000), // if r0 != 40000 goto the fused sequence
      EXIT,
    ];
    const p = rt.prepare(loop);
    expect(p.fast[3 * 4]! & 0xff).toBe(Fused.MOV_ADD_JCMP);
    const vm = new Interpreter(rt);
    const plain = vm.run(p, { checked: false });
    const chunked = vm.run(p, { checked: false, deadline: performance.now() + 60_000 });
    expect(plain.instructions).toBeGreaterThan(3 * TIME_STEP);
    expect([chunked.r0, chunked.instructions]).toEqual([plain.r0, plain.instructions]);
    expect(vm.run(p, { checked: true }).instructions).toBe(plain.instructions);
  });

  it('checked runs stop at the exact instruction their budget ends on', () => {
    const rt = new Runtime();
    const p = rt.prepare(boundsCheck(0x2d, 1, 2, 3));
    const vm = new Interpreter(rt);
    const all = vm.run(p, { checked: true }).instructions;
    for (let budget = 1; budget < all; budget++) {
      expect(() => vm.run(p, { checked: true, budget })).toThrow(
        new RegExp(`insn ${budget}: instruction budget of ${budget} exhausted`),
      );
    }
    expect(vm.run(p, { checked: true, budget: all }).instructions).toBe(all);
  });

  it('traces each instruction of a fused sequence', () => {
    const rt = new Runtime();
    const p = rt.prepare(boundsCheck(0x2d, 1, 2, 3));
    const pcs: number[] = [];
    new Interpreter(rt).run(p, { checked: false, trace: (e) => pcs.push(e.pc) });
    expect(pcs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // 1 + 2 > 3 is false: no jump
  });
});

describe('deferred invocation', () => {
  const probe = (seen: { ctx: number; runner: boolean }[]): HelperDef => ({
    id: 1001,
    name: 'probe',
    proto: { ret: 'integer', args: [] },
    call: (env) => {
      seen.push({ ctx: env.invocation.ctx, runner: (env as Runtime).callbackRunner !== undefined });
      return 0n;
    },
  });

  it('a run without helper calls leaves the runtime invocation and callback runner alone', () => {
    const rt = new Runtime();
    const vm = new Interpreter(rt);
    const before = rt.invocation;
    expect(vm.run32(rt.prepare([mov(0, 3), EXIT]), 0x1234, false)).toBe(3);
    expect(rt.invocation).toBe(before);
    expect(rt.callbackRunner).toBeUndefined();
  });

  it('begins the invocation at the first helper call, with the context and before(i)', () => {
    const rt = new Runtime();
    const seen: { ctx: number; runner: boolean }[] = [];
    const p = rt.prepare([mov(0, 1), insn(0x85, 0, 0, 0, 1001), insn(0x85, 0, 0, 0, 1001), EXIT], [], {
      helpers: (id) => (id === 1001 ? probe(seen) : undefined),
    });
    const calls: [number, number][] = [];
    new Interpreter(rt).run32(p, 0x4242, false, undefined, (i, ctx) => calls.push([i, ctx]), 7);
    expect(seen).toEqual([
      { ctx: 0x4242, runner: true },
      { ctx: 0x4242, runner: true },
    ]);
    expect(calls).toEqual([[7, 0x4242]]);
    expect(rt.invocation.programType).toBe('');
    expect(rt.callbackRunner).toBeUndefined();
  });
});

describe('shared register file', () => {
  it('a helper that runs another interpreter leaves the caller its registers', () => {
    const rt = new Runtime();
    const inner = new Interpreter(rt);
    const innerProg = rt.prepare([mov(6, 99), mov(7, 98), mov(0, 5), EXIT]);
    const nested: HelperDef = {
      id: 1002,
      name: 'nested',
      proto: { ret: 'integer', args: [] },
      call: () => BigInt(inner.run32(innerProg, 0, false)),
    };
    // r6 = 11; r7 = 12; r0 = nested(); r0 += r6 + r7
    const outerProg = rt.prepare(
      [mov(6, 11), mov(7, 12), insn(0x85, 0, 0, 0, 1002), insn(0x0f, 0, 6), insn(0x0f, 0, 7), EXIT],
      [],
      { helpers: (id) => (id === 1002 ? nested : undefined) },
    );
    const outer = new Interpreter(rt);
    expect(outer.run(outerProg, { checked: false }).r0).toBe(28n);
    // each keeps the registers of its own last run
    expect([outer.reg(6), outer.reg(7), inner.reg(6), inner.reg(0)]).toEqual([11n, 12n, 99n, 5n]);
    inner.run32(innerProg, 0, false);
    expect([outer.reg(0), outer.reg(7), inner.reg(7)]).toEqual([28n, 12n, 98n]);
  });
});

describe('unchecked batch', () => {
  // Each run: r0 = ctx + r6 (r6 must start at 0: a register of the previous run must not leak), then a
  // bpf-to-bpf call that adds 1, and for odd contexts a helper call returning 0 (the run's invocation
  // begins there).
  const source = (rt: Runtime, seen: number[]) =>
    rt.prepare(
      [
        movReg(0, 1),
        insn(0x0f, 0, 6), // r0 += r6
        mov(6, 1000),
        insn(0x85, 0, 1, 0, 4), // call +4 (the function at slot 8)
        insn(0x57, 1, 0, 0, 1), // r1 &= 1
        insn(0x15, 1, 0, 1, 0), // if r1 == 0 goto +1
        insn(0x85, 0, 0, 0, 1003),
        EXIT,
        addImm(0, 1),
        EXIT,
      ],
      [],
      {
        helpers: (id) =>
          id === 1003
            ? {
                id,
                name: 'seen',
                proto: { ret: 'integer', args: [] },
                call: (env) => {
                  seen.push(env.invocation.ctx);
                  return 0n;
                },
              }
            : undefined,
      },
    );

  it('gives each run the results, invocation and callback runner of a run of its own', () => {
    const rt = new Runtime();
    const seenBatch: number[] = [];
    const prog = source(rt, seenBatch);
    const n = 9;
    const ctxs = rt.space.allocate(4 * n, 'scratch', 'ctxs');
    const out = rt.space.allocate(4 * n, 'scratch', 'out');
    for (let i = 0; i < n; i++) rt.space.view.setUint32(ctxs.start + 4 * i, 100 + i, true);
    const before: [number, number][] = [];
    const vm = new Interpreter(rt);
    vm.runBatch(prog, ctxs.start, n, out.start, false, undefined, (i, ctx) => before.push([i, ctx]));
    const batched = Array.from({ length: n }, (_, i) => rt.space.view.getUint32(out.start + 4 * i, true));

    const seenSingle: number[] = [];
    const single = source(rt, seenSingle);
    const one = Array.from({ length: n }, (_, i) => new Interpreter(rt).run32(single, 100 + i, false));
    expect(batched).toEqual(one);
    // odd contexts end with the helper's 0 in r0
    expect(batched).toEqual(Array.from({ length: n }, (_, i) => (i % 2 ? 0 : 101 + i)));
    expect(seenBatch).toEqual(seenSingle);
    expect(seenBatch).toEqual([101, 103, 105, 107]);
    expect(before).toEqual([
      [1, 101],
      [3, 103],
      [5, 105],
      [7, 107],
    ]);
    expect(rt.callbackRunner).toBeUndefined();
    // After a batch, single runs count and return as before.
    expect(vm.run(prog, { args: [4], checked: false })).toEqual({ r0: 5n, instructions: 9 });
    expect(vm.run(prog, { args: [5], checked: false })).toEqual({ r0: 0n, instructions: 10 });
  });

  it('a fault stops the batch at the faulting run and the next batch starts clean', () => {
    const rt = new Runtime();
    // r0 = *(u8 *)(r1 + 0): contexts 0 and 1 are mapped, 0xffffffff is not.
    const prog = rt.prepare([insn(0x71, 0, 1, 0, 0), EXIT]);
    const mem = rt.space.allocate(8, 'scratch', 'bytes');
    rt.space.bytes.set([7, 9], mem.start);
    const ctxs = rt.space.allocate(12, 'scratch', 'ctxs');
    const out = rt.space.allocate(12, 'scratch', 'out');
    const v = rt.space.view;
    for (const [i, c] of [mem.start, 0xffff_fff0, mem.start + 1].entries())
      v.setUint32(ctxs.start + 4 * i, c, true);
    const vm = new Interpreter(rt);
    expect(() => vm.runBatch(prog, ctxs.start, 3, out.start, false)).toThrow(/outside the address space/);
    expect(v.getUint32(out.start, true)).toBe(7);
    v.setUint32(ctxs.start + 4, mem.start + 1, true);
    vm.runBatch(prog, ctxs.start, 3, out.start, false);
    expect([0, 1, 2].map((i) => v.getUint32(out.start + 4 * i, true))).toEqual([7, 9, 9]);
  });
});
