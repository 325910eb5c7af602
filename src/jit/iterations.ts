// Iteration counting of verified runs in compiled code (the rules: src/vm/limits.ts). What is left of the
// current chunk of the budget is an i32 in linear memory, one per runtime, so that a tail call into another
// module continues the caller's count; beside it, a serial number the entries bump at the start of each run
// (so the JS side, which keeps the rest of the budget, knows a new run began). Compiled code calls the
// `iterations` import when the count goes below zero: it refills it, or stops the run.

import { IterationBudget } from '../vm/limits.js';
import type { Runtime } from '../vm/runtime.js';
import type { Code } from './wasm/index.js';
import { Op } from './wasm/index.js';

/** The runtime's count: `addr` holds the i32 count, `addr + 4` the run serial. */
export interface IterationCounter {
  readonly addr: number;
  /** The budget of the run in progress (set by the entry that began it). */
  budget: IterationBudget;
  /** The serial of the run `budget` was started for. */
  serial: number;
}

const byRuntime = new WeakMap<Runtime, IterationCounter>();

/** The runtime's iteration counter (allocated on first use). */
export function iterationCounter(runtime: Runtime): IterationCounter {
  let c = byRuntime.get(runtime);
  if (!c) {
    const addr = runtime.space.allocate(8, 'scratch', 'iteration count', false).start;
    c = { addr, budget: new IterationBudget(), serial: 0 };
    byRuntime.set(runtime, c);
  }
  return c;
}

/** Use `budget` and `deadline` for the runs about to begin; returns the count each run starts with. */
export function configureIterations(c: IterationCounter, budget: number, deadline: number): number {
  if (c.budget.budget !== budget) c.budget = new IterationBudget(budget, deadline);
  else c.budget.deadline = deadline;
  return c.budget.start();
}

/** A run begins from JS (single entries): its count, and a new serial. */
export function beginIterations(runtime: Runtime, c: IterationCounter, chunk: number): void {
  const v = runtime.space.view;
  v.setInt32(c.addr, chunk, true);
  c.serial = (v.getInt32(c.addr + 4, true) + 1) | 0;
  v.setInt32(c.addr + 4, c.serial, true);
}

/** The count ran out at `pc` (the `iterations` import): refill it for the run in progress, or throw. */
export function moreIterations(runtime: Runtime, c: IterationCounter, pc: number): void {
  const v = runtime.space.view;
  const serial = v.getInt32(c.addr + 4, true);
  if (serial !== c.serial) {
    // A run the batch loop began: its budget starts afresh.
    c.budget.start();
    c.serial = serial;
  }
  v.setInt32(c.addr, c.budget.more(pc), true);
}

/** One iteration counted from JS (callbacks and tail calls that leave wasm). */
export function countIteration(runtime: Runtime, c: IterationCounter, pc: number): void {
  const v = runtime.space.view;
  const left = v.getInt32(c.addr, true) - 1;
  v.setInt32(c.addr, left, true);
  if (left < 0) moreIterations(runtime, c, pc);
}

/** Count one iteration at `pc` in compiled code: count -= 1, and the import when it falls below zero. */
export function emitCountIteration(code: Code, counter: number, pc: number, more: number): void {
  code.i32Const(0).i32Const(0).mem(Op.i32_load, 2, counter).i32Const(1).op(Op.i32_sub);
  code.mem(Op.i32_store, 2, counter);
  code.i32Const(0).mem(Op.i32_load, 2, counter).i32Const(0).op(Op.i32_lt_s).if();
  code.i32Const(pc).call(more);
  code.end();
}

/** The start of a run in a batch loop: count = the `perRun` global, serial + 1. */
export function emitBeginIterations(code: Code, counter: number, perRun: number): void {
  code.i32Const(0).globalGet(perRun).mem(Op.i32_store, 2, counter);
  code
    .i32Const(0)
    .i32Const(0)
    .mem(Op.i32_load, 2, counter + 4)
    .i32Const(1)
    .op(Op.i32_add);
  code.mem(Op.i32_store, 2, counter + 4);
}
