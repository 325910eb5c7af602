// The equivalent of the kernel's BPF_PROG_TEST_RUN: data in, (context in), repeat → return value, data
// out, average duration per run. As in the kernel, the repetitions run on the same buffer one after the
// other and the reported return value and data are those of the last run.
//
// Timing follows the kernel's: the packet is laid out once, then the clock runs around a loop that only
// runs the program on the same context (the engine's batch entry over a table whose entries all name that
// context: on the JIT, a wasm loop for programs without helper calls), so `durationNs` compares with
// what `bpftool prog run … repeat N` reports.

import { TsbpfError } from '../errors.js';
import type { Runner } from './runner.js';
import { XdpHook, type XdpRunOptions } from './xdp.js';

export interface TestRunOptions {
  dataIn: Uint8Array;
  /** Number of runs (default 1); the duration is averaged over them. */
  repeat?: number;
  /** XDP only: fields of the context (ingress_ifindex, rx_queue_index). */
  xdp?: XdpRunOptions;
  /**
   * Clock in nanoseconds (default: wall time from `performance.now()`). The kernel stops its clock while
   * the test-run thread is scheduled out; on a loaded machine a thread CPU-time clock comes closer.
   */
  clock?: () => number;
}

export interface TestRunResult {
  retval: number;
  dataOut: Uint8Array;
  /** Average nanoseconds per run, measured around the repeat loop (as bpftool reports it). */
  durationNs: number;
  repeat: number;
}

/** Runs per call of the engine's batch entry: the table of context addresses has this many entries. */
const CHUNK = 1024;

const wallClock = (): number => (globalThis as { performance: { now(): number } }).performance.now() * 1e6;

export function testRun(runner: Runner, options: TestRunOptions): TestRunResult {
  const repeat = Math.max(1, Math.floor(options.repeat ?? 1));
  const type = runner.program.type || 'xdp';
  if (type !== 'xdp') {
    throw new TsbpfError(`test run of ${type} programs is not supported yet (xdp is)`, runner.program.name);
  }
  const clock = options.clock ?? wallClock;
  const rt = runner.runtime;
  const space = rt.space;
  const hook = new XdpHook(runner);
  const chunk = Math.min(repeat, CHUNK);
  const table = space.allocate(4 * chunk, 'scratch', 'test-run contexts', false);
  const out = space.allocate(4 * chunk, 'scratch', 'test-run verdicts', false);
  try {
    const slot = hook.frame;
    slot.load(options.dataIn, options.xdp);
    for (let i = 0; i < chunk; i++) space.view.setUint32(table.start + 4 * i, slot.ctx.start, true);
    rt.invocationDefaults = { packet: slot.frame, programType: 'xdp' };
    let last = 0;
    const t0 = clock();
    for (let left = repeat; left > 0; left -= chunk) {
      last = Math.min(left, chunk);
      runner.runBatch(table.start, last, out.start);
    }
    const elapsed = clock() - t0;
    const retval = space.view.getUint32(out.start + 4 * (last - 1), true);
    const result = slot.result(retval, rt.invocation.redirect);
    return { retval, dataOut: result.data, durationNs: elapsed / repeat, repeat };
  } finally {
    rt.invocationDefaults = {};
    space.release(table);
    space.release(out);
    hook.close();
  }
}
