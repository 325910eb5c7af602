// The interpreter's fast paths keep the reference semantics: superinstructions (program.ts `fast`) give
// the results, counts, budget stops and traces of the plain instructions they stand for, and runs begin
// their invocation only when something can observe it.
import { describe, expect, it } from 'vitest';
import type { HelperDef } from '../../src/helpers/types.js';
import { type Insn, insn } from '../../src/isa/index.js';
import { Fused, Interpreter, Runtime } from '../../src/vm/index.js';

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

  it('stops at the exact instruction when the budget ends inside a fused sequence', () => {
    const rt = new Runtime();
    const p = rt.prepare(boundsCheck(0x2d, 1, 2, 3));
    const vm = new Interpreter(rt);
    const all = vm.run(p, { checked: false }).instructions;
    for (let budget = 0; budget < all; budget++) {
      expect(() => vm.run(p, { checked: false, budget })).toThrow(
        new RegExp(`insn ${budget}: instruction budget of ${budget} exhausted`),
      );
    }
    expect(vm.run(p, { checked: false, budget: all }).instructions).toBe(all);
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
