// Programs over the limits WebAssembly engines put on one function (7,654,321 bytes of code, 65,520
// br_table targets): the JIT says which function and why before V8 sees the module, and runners fall back
// to the interpreter with the same results.
import { describe, expect, it } from 'vitest';
import { createRunner, createRunnerAsync } from '../../src/engine/runner.js';
import { JitLimitError } from '../../src/errors.js';
import { compile } from '../../src/jit/index.js';
import { MAX_BR_TABLE_TARGETS, MAX_FUNCTION_BODY_BYTES } from '../../src/jit/wasm/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { irreducibleLoop, longProgram } from './big-programs.js';

function interpret(rt: Runtime, prog: ReturnType<Runtime['prepare']>, r1: number): bigint {
  return new Interpreter(rt).run(prog, { args: [r1], checked: false }).r0;
}

describe('JIT limits', () => {
  it('a function over the engines’ code size is a JitLimitError naming it; the runner interprets it', () => {
    const rt = new Runtime();
    // About 8 bytes of wasm per slot: 1,000,000 slots (the kernel's limit for a privileged program) exceed it.
    const prog = rt.prepare(longProgram(1_000_000));
    let error: unknown;
    try {
      compile(prog, rt);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JitLimitError);
    const limit = error as JitLimitError;
    expect(limit.slot).toBe(0);
    expect(limit.message).toMatch(/^function at insn 0: its code is \d+ bytes of WebAssembly/);
    expect(limit.message).toContain(String(MAX_FUNCTION_BODY_BYTES));
    expect(Number(/is (\d+) bytes/.exec(limit.message)![1])).toBeGreaterThan(MAX_FUNCTION_BODY_BYTES);

    const runner = createRunner(rt, prog, { engine: 'jit', checked: false });
    expect(runner.engine).toBe('interp');
    expect(runner.fallback).toBeInstanceOf(JitLimitError);
    expect(runner.jit).toBeUndefined();
    expect(runner.run(7)).toBe(interpret(rt, prog, 7));
    const adds = (prog.insns.length - 3) / 2; // the (+1, mask) pairs between the first two slots and exit
    expect(runner.run(7)).toBe(BigInt(7 * 3 + adds));
  }, 60_000);

  it('a program just under the size compiles and agrees with the interpreter', () => {
    const rt = new Runtime();
    const prog = rt.prepare(longProgram(400_000));
    const jit = compile(prog, rt);
    expect(jit.execute({ args: [5] }).r0).toBe(interpret(rt, prog, 5));
    expect(createRunner(rt, prog, { engine: 'jit', checked: false }).fallback).toBeUndefined();
  }, 60_000);

  it('an irreducible function with more blocks than a br_table takes is a JitLimitError; the runner interprets it', async () => {
    const rt = new Runtime();
    const small = rt.prepare(irreducibleLoop(1000));
    const jit = compile(small, rt);
    for (const r1 of [0, 3]) expect(jit.execute({ args: [r1] }).r0).toBe(interpret(rt, small, r1));
    expect([interpret(rt, small, 0), interpret(rt, small, 3)]).toEqual([11n, 10n]);

    const big = rt.prepare(irreducibleLoop(MAX_BR_TABLE_TARGETS + 10));
    expect(() => compile(big, rt)).toThrow(JitLimitError);
    expect(() => compile(big, rt)).toThrow(/irreducible and has \d+ basic blocks.*65520 br_table targets/);
    for (const checked of [false, true]) {
      const runner = createRunner(rt, big, { engine: 'jit', checked });
      expect(runner.engine).toBe('interp');
      expect(runner.fallback?.name).toBe('JitLimitError');
      expect([runner.run(0), runner.run(3)]).toEqual([11n, 10n]);
    }
    const viaAsync = await createRunnerAsync(rt, big, { engine: 'jit', checked: false });
    expect([viaAsync.engine, viaAsync.fallback?.slot, viaAsync.run(0)]).toEqual(['interp', 0, 11n]);
  }, 60_000);
});
