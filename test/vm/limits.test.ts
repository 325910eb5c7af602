// Run limits (src/vm/limits.ts) on both engines: verified runs count iterations — backward jumps, callback
// calls, tail calls — against their budget, checked runs count instructions, and a deadline stops either.
// Both engines count the same events, so a run ends the same way on each.

import { describe, expect, it } from 'vitest';
import { createRunner, ENGINES, type EngineName } from '../../src/engine/runner.js';
import { RunLimitError } from '../../src/errors.js';
import { Class, type Insn, insn, JmpOp } from '../../src/isa/index.js';
import { createMap } from '../../src/maps/index.js';
import { MapType } from '../../src/spec/maps.js';
import { verify } from '../../src/verifier/index.js';
import { DEFAULT_ITERATIONS, Runtime } from '../../src/vm/index.js';

const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const exit = insn(Class.JMP | JmpOp.EXIT);
const LOOP = 181;
/** lddw of a function pointer to slot `target`, placed at slot `at`. */
const funcPointer = (dst: number, at: number, target: number): Insn[] => [
  insn(0x18, dst, 4, 0, target - at - 1),
  insn(0, 0, 0, 0, 0),
];

/** r0 = bpf_loop(n, the function at `target`, ctx 0, flags 0), placed at slot `at` (6 slots). */
const loopCall = (at: number, n: number, target: number): Insn[] => [
  mov(1, n),
  ...funcPointer(2, at + 1, target),
  mov(3, 0),
  mov(4, 0),
  insn(Class.JMP | JmpOp.CALL, 0, 0, 0, LOOP),
];

/** bpf_loop(2^23) whose callback calls bpf_loop(2^23) with an empty callback: 2^46 callback calls. */
const NESTED: Insn[] = [
  ...loopCall(0, 1 << 23, 8), // 0-5
  mov(0, 2), // 6
  exit, // 7
  ...loopCall(8, 1 << 23, 16), // 8-13: the outer callback
  mov(0, 0), // 14
  exit, // 15
  mov(0, 0), // 16: the inner callback
  exit,
];

function runner(engine: EngineName, insns: Insn[], budget?: number, deadline?: number, checked = false) {
  const rt = new Runtime();
  const prog = rt.prepare({ name: 'p', section: 'xdp', type: 'xdp', insns, license: 'GPL' });
  return { rt, run: createRunner(rt, prog, { engine, checked, budget, deadline }) };
}

function limitOf(f: () => unknown): RunLimitError {
  try {
    f();
  } catch (e) {
    if (e instanceof RunLimitError) return e;
    throw e;
  }
  throw new Error('expected a RunLimitError');
}

/** A counted loop: r0 = 0; do r0 += 1 while r0 != n; exit. n backward jumps are taken for n... */
const counted = (n: number): Insn[] => [mov(0, 0), insn(0x07, 0, 0, 0, 1), insn(0x55, 0, 0, -2, n), exit];

describe.each(ENGINES)('run limits (%s)', (engine) => {
  it('a verified program with nested bpf_loop(1 << 23) stops at its iteration budget', () => {
    const v = verify({ name: 'nested', section: 'xdp', type: 'xdp', insns: NESTED, license: 'GPL' }, {});
    expect(v.accepted, v.log).toBe(true);
    const { run } = runner(engine, NESTED, 100_000);
    const e = limitOf(() => run.run32(0));
    expect(e.limit).toBe('budget');
    expect(e.message).toMatch(/budget of 100000 loop iterations exhausted/);
    // With the default budget it stops too (2^46 calls would take days): on the JIT here, in well under a
    // second (the interpreter's callbacks take seconds for 2^24 calls: figures in bench/limits.js).
    if (engine !== 'jit') return;
    const t0 = performance.now();
    const d = limitOf(() => runner(engine, NESTED).run.run32(0));
    expect(d.message).toContain(`budget of ${DEFAULT_ITERATIONS} loop iterations`);
    console.log(`[limits] ${engine}: nested bpf_loop stopped after ${Math.round(performance.now() - t0)} ms`);
  });

  it('counts each backward jump: a loop of n iterations needs a budget of n - 1', () => {
    // The loop body runs n times; the jump back is taken n - 1 times.
    expect(runner(engine, counted(1000), 999).run.run32(0)).toBe(1000);
    expect(limitOf(() => runner(engine, counted(1000), 998).run.run32(0)).pc).toBe(2);
    // Through the batch entry too, each run with the whole budget.
    const { rt, run } = runner(engine, counted(1000), 999);
    const table = rt.space.allocate(16, 'scratch', 'ctxs');
    run.runBatch(table.start, 2, table.start + 8);
    expect(rt.space.view.getUint32(table.start + 8, true)).toBe(1000);
    expect(rt.space.view.getUint32(table.start + 12, true)).toBe(1000);
  });

  it('counts each callback call: bpf_loop(10) needs a budget of 10', () => {
    const prog = [...loopCall(0, 10, 8), mov(0, 2), exit, mov(0, 0), exit];
    expect(runner(engine, prog, 10).run.run32(0)).toBe(2);
    expect(limitOf(() => runner(engine, prog, 9).run.run32(0)).limit).toBe('budget');
  });

  it('counts each tail call: a program that tail-calls itself 33 times needs a budget of 33', () => {
    const build = (budget: number) => {
      const rt = new Runtime();
      const jt = createMap(
        rt.space,
        { name: 'jt', type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 },
        { cpus: 1 },
      );
      const insns: Insn[] = [
        insn(0x18, 2, 1, 0, 0), // r2 = map_fd(0)
        insn(0, 0, 0, 0, 0),
        mov(3, 0),
        insn(Class.JMP | JmpOp.CALL, 0, 0, 0, 12), // tail_call(ctx, jt, 0)
        mov(0, 7),
        exit,
      ];
      const prog = rt.prepare({ name: 'self', section: 'xdp', type: 'xdp', insns, license: 'GPL' }, [jt]);
      const id = rt.registerProgram(prog);
      jt.update(new Uint8Array(4), new Uint8Array(new Uint32Array([id]).buffer));
      return createRunner(rt, prog, { engine, checked: false, budget });
    };
    expect(build(33).run32(0)).toBe(7);
    expect(limitOf(() => build(32).run32(0)).limit).toBe('budget');
  });

  for (const checked of [false, true]) {
    it(`a deadline stops a runaway ${checked ? 'checked' : 'verified'} run`, () => {
      const forever = [mov(0, 0), insn(0x07, 0, 0, 0, 1), insn(0x05, 0, 0, -2, 0), exit];
      const t0 = performance.now();
      const { run } = runner(engine, forever, Number.MAX_SAFE_INTEGER, t0 + 50, checked);
      const e = limitOf(() => run.run32(0));
      expect(e.limit).toBe('timeout');
      expect(e.message).toMatch(/time limit reached/);
      expect(performance.now() - t0).toBeLessThan(5000);
    });
  }
});

describe('both engines end a run the same way', () => {
  // Random loops over registers only (no memory: they run unchecked): r0 or the pc and kind of the limit.
  function randomLoop(seed: number): Insn[] {
    let x = seed * 2654435761;
    const rnd = (n: number) => {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      return x % n;
    };
    const n = 8 + rnd(16);
    const insns: Insn[] = [mov(0, 0), mov(1, rnd(50)), mov(2, rnd(50))];
    while (insns.length < n) {
      const at = insns.length;
      const r = rnd(6);
      if (r < 3)
        insns.push(insn(0x07, rnd(3), 0, 0, rnd(7) - 3)); // rX += k
      else if (r < 4)
        insns.push(insn(0xbf, rnd(3), rnd(3), 0, 0)); // rX = rY
      else {
        // a conditional jump anywhere in the program, backward or forward
        const target = rnd(n);
        insns.push(insn([0x25, 0x35, 0xa5, 0x55][rnd(4)]!, rnd(3), 0, target - at - 1, rnd(40)));
      }
    }
    insns.push(exit);
    return insns;
  }
  const outcome = (engine: EngineName, insns: Insn[], budget: number): string => {
    try {
      return `r0 ${runner(engine, insns, budget).run.run32(0)}`;
    } catch (e) {
      if (e instanceof RunLimitError) return `limit at ${e.pc}`;
      throw e;
    }
  };
  it('on 300 random loops with small budgets', () => {
    let limited = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const insns = randomLoop(seed);
      const budget = 1 + (seed % 50);
      const want = outcome('interp', insns, budget);
      if (want.startsWith('limit')) limited++;
      expect(outcome('jit', insns, budget), `seed ${seed}`).toBe(want);
    }
    expect(limited).toBeGreaterThan(20);
  });
});
