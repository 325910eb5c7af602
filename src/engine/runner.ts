// One way for hooks to run a prepared program on either engine. The interpreter is the reference; the JIT
// is the fast path. Checked mode (every access validated, instruction budget) is for programs the verifier
// has not accepted.

import { JitLimitError } from '../errors.js';
import type { Invocation } from '../helpers/types.js';
import { compile, compileAsync, type JitProgram } from '../jit/index.js';
import { Interpreter } from '../vm/interpreter.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';

/** An execution engine: the reference interpreter or the JIT to WebAssembly. */
export type EngineName = 'interp' | 'jit';
/** Every EngineName. */
export const ENGINES: readonly EngineName[] = ['interp', 'jit'];

/** Options of createRunner: the engine, checked mode and the run limits. */
export interface RunnerOptions {
  engine?: EngineName;
  /** Validate every memory access and enforce an instruction budget (default true). */
  checked?: boolean;
  /**
   * Checked runs: the most instructions a run may execute; verified runs: the most loop iterations
   * (backward jumps, callback calls, tail calls). Defaults and rules: src/vm/limits.ts.
   */
  budget?: number;
  /** performance.now() time (ms) after which runs stop with a RunLimitError. */
  deadline?: number;
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
  /**
   * Many runs, as run32: the u32 at `ctxs + 4i` (an address in the runtime's memory) is the context of
   * run i, the low 32 bits of its r0 go to the u32 at `out + 4i`. `before(i, ctx)` is called once run i's
   * invocation has begun (`runtime.invocation` is run i's) and before anything can observe it: hooks
   * point it at packet i there. Both engines begin a run's invocation only at its first helper call (the
   * JIT, unchecked, runs the whole batch in a wasm loop), so runs that call no helper get no `before`.
   */
  runBatch(ctxs: number, count: number, out: number, before?: (i: number, ctx: number) => void): void;
  /**
   * Have V8 compile what a first run would otherwise compile (the interpreter's loop; the JIT's entry and
   * the wasm code behind it), without running the program: test runs time the program alone.
   */
  warmUp(): void;
  /** The compiled form, when the engine is the JIT. */
  readonly jit?: JitProgram;
  /** Why this runner is on the interpreter though the JIT was asked for: the program exceeds its limits. */
  readonly fallback?: JitLimitError;
}

/**
 * Bind a prepared program to an engine (default the JIT; the interpreter for a program beyond the JIT's
 * limits), ready to run.
 */
export function createRunner(
  runtime: Runtime,
  program: PreparedProgram,
  options: RunnerOptions = {},
): Runner {
  const checked = options.checked ?? true;
  if ((options.engine ?? 'jit') === 'interp') return interpRunner(runtime, program, checked, options);
  let jit: JitProgram;
  try {
    jit = compile(program, runtime, { checked });
  } catch (e) {
    return interpInstead(e, runtime, program, checked, options);
  }
  return jitRunner(runtime, program, jit, options);
}

/**
 * createRunner without blocking on WebAssembly compilation (browsers refuse synchronous compiles of
 * more than 4 KB on the main thread).
 */
export async function createRunnerAsync(
  runtime: Runtime,
  program: PreparedProgram,
  options: RunnerOptions = {},
): Promise<Runner> {
  if ((options.engine ?? 'jit') !== 'jit') return createRunner(runtime, program, options);
  const checked = options.checked ?? true;
  let jit: JitProgram;
  try {
    jit = await compileAsync(program, runtime, { checked });
  } catch (e) {
    return interpInstead(e, runtime, program, checked, options);
  }
  return jitRunner(runtime, program, jit, options);
}

/** The interpreter in place of a JIT compile that failed on the JIT's limits; other errors are rethrown. */
function interpInstead(
  e: unknown,
  runtime: Runtime,
  program: PreparedProgram,
  checked: boolean,
  options: RunnerOptions,
): Runner {
  if (e instanceof JitLimitError) return interpRunner(runtime, program, checked, options, e);
  throw e;
}

function interpRunner(
  runtime: Runtime,
  program: PreparedProgram,
  checked: boolean,
  options: RunnerOptions,
  fallback?: JitLimitError,
): Runner {
  const interp = new Interpreter(runtime);
  const { budget, deadline } = options;
  const runner: Runner = {
    engine: 'interp',
    checked,
    program,
    runtime,
    compileTimeMs: 0,
    fallback,
    run: (ctx, invocation) => interp.run(program, { args: [ctx], checked, budget, deadline, invocation }).r0,
    run32: (ctx) => interp.run32(program, ctx, checked, budget, undefined, 0, deadline),
    runBatch: (ctxs, count, out, before) =>
      interp.runBatch(program, ctxs, count, out, checked, budget, before, deadline),
    warmUp: () => {
      interp.warmUp();
      emptyBatches(runner);
    },
  };
  return runner;
}

function jitRunner(
  runtime: Runtime,
  program: PreparedProgram,
  jit: JitProgram,
  options: RunnerOptions,
): Runner {
  const engine = 'jit';
  const checked = jit.checked;
  const { budget, deadline } = options;
  const limits = budget === undefined && deadline === undefined ? undefined : { budget, deadline };
  const runner: Runner = {
    engine,
    checked,
    program,
    runtime,
    compileTimeMs: jit.compileTimeMs,
    jit,
    run: (ctx, invocation) => jit.execute({ args: [ctx], budget, deadline, invocation }).r0,
    run32: limits ? (ctx) => jit.run32(ctx, limits) : (ctx) => jit.run32(ctx),
    warmUp: () => emptyBatches(runner),
    runBatch: (ctxs, count, out, before) => jit.runBatch(ctxs, count, out, before, limits),
  };
  return runner;
}

/** Batches of no runs: V8 compiles what a batch goes through (JS, and the JIT's wasm entry) on those calls. */
function emptyBatches(runner: Runner): void {
  for (let i = 0; i < 3; i++) runner.runBatch(0, 0, 0);
}

/** The EngineName `name` is; a RangeError naming the choices when it is none. */
export function parseEngine(name: string): EngineName {
  if ((ENGINES as readonly string[]).includes(name)) return name as EngineName;
  throw new RangeError(`unknown engine '${name}' (expected ${ENGINES.join(' or ')})`);
}
