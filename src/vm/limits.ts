// What bounds a run, on both engines. A checked run (unverified program) counts every instruction against
// its budget. A verified run is counted where it is cheap and where a run can repeat itself: each backward
// jump taken (by slot: the target is at or before the jump), each callback call (bpf_loop,
// for_each_map_elem …) and each tail call is one iteration, and a run may take `budget` of them. Both
// engines count the same events, so a run that ends on one ends on the other. A deadline (ms on the
// `performance.now()` clock) is checked each time a chunk of the budget is used up: a run stops within a
// chunk of it.

import { RunLimitError } from '../errors.js';

/** Instructions a checked run may execute unless told otherwise. */
export const DEFAULT_BUDGET = 100_000_000;
/**
 * Iterations (backward jumps, callback calls, tail calls) a verified run may take unless told otherwise:
 * 2^24, two of the longest loops the kernel's bpf_loop runs (2^23 calls), far beyond what a program that
 * handles a packet or an event needs. A runaway reaches it in well under a second on the JIT (a few seconds
 * when the interpreter calls callbacks).
 */
export const DEFAULT_ITERATIONS = 1 << 24;
/** With a deadline, the clock is read after at most this many iterations or instructions. */
export const TIME_STEP = 1 << 16;

/** What bounds the runs of one call into an engine (a run, or a batch of runs). */
export interface RunLimits {
  /** Checked runs: instructions (default DEFAULT_BUDGET); verified runs: iterations (DEFAULT_ITERATIONS). */
  budget?: number;
  /** performance.now() time (ms) at which runs stop with a RunLimitError. */
  deadline?: number;
}

/** The clock deadlines are on (ms). */
export function now(): number {
  return performance.now();
}

/**
 * The iteration budget of one verified run, handed to an engine in chunks: the engine counts a chunk down
 * and calls `more` when it runs out.
 */
export class IterationBudget {
  /** Iterations counted in the chunks before the current one. */
  private used = 0;
  private chunk = 0;

  constructor(
    readonly budget: number = DEFAULT_ITERATIONS,
    /** performance.now() time after which the run stops; Infinity for none. */
    public deadline = Number.POSITIVE_INFINITY,
  ) {
    if (!(budget > 0)) throw new RangeError(`budget must be positive, got ${budget}`);
  }

  /** A run begins: the size of its first chunk. */
  start(): number {
    this.used = 0;
    this.chunk = this.deadline === Number.POSITIVE_INFINITY ? this.budget : Math.min(this.budget, TIME_STEP);
    return this.chunk;
  }

  /**
   * The current chunk is used up and one more iteration was taken at `pc`: the count left in the next
   * chunk after it, or a RunLimitError when the budget or the time is used up.
   */
  more(pc: number): number {
    const used = this.used + this.chunk;
    if (used >= this.budget) {
      throw new RunLimitError(
        `budget of ${this.budget} loop iterations exhausted (backward jumps, callback calls and tail calls; raise it with --budget)`,
        pc,
        'budget',
      );
    }
    checkDeadline(this.deadline, pc);
    this.used = used;
    this.chunk = Math.min(
      this.budget - used,
      this.deadline === Number.POSITIVE_INFINITY ? this.budget : TIME_STEP,
    );
    return this.chunk - 1;
  }
}

/** Throw the timeout when `deadline` has passed. */
export function checkDeadline(deadline: number, pc: number): void {
  if (deadline !== Number.POSITIVE_INFINITY && now() > deadline) {
    throw new RunLimitError('time limit reached (raise it with --timeout)', pc, 'timeout');
  }
}
