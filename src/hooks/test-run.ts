// The equivalent of the kernel's BPF_PROG_TEST_RUN: data in, (context in), repeat → return value, data
// out, average duration per run. As in the kernel, the repetitions run on the same buffer one after the
// other and the reported return value and data are those of the last run.

import { TsbpfError } from '../errors.js';
import type { Runner } from './runner.js';
import { XdpHook, type XdpRunOptions } from './xdp.js';

export interface TestRunOptions {
  dataIn: Uint8Array;
  /** Number of runs (default 1); the duration is averaged over them. */
  repeat?: number;
  /** XDP only: fields of the context (ingress_ifindex, rx_queue_index). */
  xdp?: XdpRunOptions;
}

export interface TestRunResult {
  retval: number;
  dataOut: Uint8Array;
  /** Average nanoseconds per run, measured around the repeat loop (as bpftool reports it). */
  durationNs: number;
  repeat: number;
}

const now = (): number => (globalThis as { performance: { now(): number } }).performance.now();

export function testRun(runner: Runner, options: TestRunOptions): TestRunResult {
  const repeat = Math.max(1, Math.floor(options.repeat ?? 1));
  const type = runner.program.type || 'xdp';
  if (type !== 'xdp') {
    throw new TsbpfError(`test run of ${type} programs is not supported yet (xdp is)`, runner.program.name);
  }
  const hook = new XdpHook(runner);
  try {
    const t0 = now();
    let result = hook.run(options.dataIn, options.xdp);
    for (let i = 1; i < repeat; i++) result = hook.rerun();
    const elapsed = (now() - t0) * 1e6;
    return { retval: result.verdict, dataOut: result.data, durationNs: elapsed / repeat, repeat };
  } finally {
    hook.close();
  }
}
