// One way for hooks to run a prepared program on either engine. The interpreter is the reference; the JIT
// is the fast path. Checked mode (every access validated, instruction budget) is for programs the verifier
// has not accepted.

import type { Invocation } from '../helpers/types.js';
import { compile, type JitProgram } from '../jit/index.js';
import { Interpreter } from '../vm/interpreter.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';

export type EngineName = 'interp' | 'jit';
export const ENGINES: readonly EngineName[] = ['interp', 'jit'];

export interface RunnerOptions {
  engine?: EngineName;
  /** Validate every memory access and enforce an instruction budget (default true). */
  checked?: boolean;
  /** Instruction budget in checked mode. */
  budget?: number;
}

/** A program bound to an engine. */
export interface Runner {
  readonly engine: EngineName;
  readonly checked: boolean;
  readonly program: PreparedProgram;
  readonly runtime: Runtime;
  /** Milliseconds spent compiling (0 for the interpreter). */
  readonly compileTimeMs: number;
  /** One run with r1 = ctx and the given invocation fields (packet …); r0 as unsigned 64-bit. */
  run(ctx: number, invocation?: Partial<Invocation>): bigint;
  /**
   * The hot path: one run with r1 = ctx, the invocation taken from `runtime.invocationDefaults`; the low
   * 32 bits of r0 (unsigned). No BigInt on the JIT.
   */
  run32(ctx: number): number;
  /** The compiled form, when the engine is the JIT. */
  readonly jit?: JitProgram;
}

export function createRunner(
  runtime: Runtime,
  program: PreparedProgram,
  options: RunnerOptions = {},
): Runner {
  const engine = options.engine ?? 'jit';
  const checked = options.checked ?? true;
  if (engine === 'interp') {
    const interp = new Interpreter(runtime);
    return {
      engine,
      checked,
      program,
      runtime,
      compileTimeMs: 0,
      run: (ctx, invocation) =>
        interp.run(program, { args: [ctx], checked, budget: options.budget, invocation }).r0,
      run32: (ctx) =>
        Number(interp.run(program, { args: [ctx], checked, budget: options.budget }).r0 & 0xffffffffn),
    };
  }
  const jit = compile(program, runtime, { checked });
  return {
    engine,
    checked,
    program,
    runtime,
    compileTimeMs: jit.compileTimeMs,
    jit,
    run: (ctx, invocation) => jit.execute({ args: [ctx], budget: options.budget, invocation }).r0,
    run32:
      options.budget === undefined
        ? (ctx) => jit.run32(ctx)
        : (ctx) => Number(jit.execute({ args: [ctx], budget: options.budget }).r0 & 0xffffffffn),
  };
}

export function parseEngine(name: string): EngineName {
  if ((ENGINES as readonly string[]).includes(name)) return name as EngineName;
  throw new RangeError(`unknown engine '${name}' (expected ${ENGINES.join(' or ')})`);
}
