// funclatency: a log2 histogram of each traced function's duration. One return-probe program: the probe
// context already carries the call's duration (no entry timestamp map needed, unlike kernel funclatency),
// so it computes the log2 slot and counts into a hash map keyed by { u32 probe id; u32 slot }.

import { ProgramBuilder, R1, R2, R3, R6, R7, R10 } from '../asm/index.js';
import { ProbeCtx } from '../hooks/probe-context.js';
import type { Insn } from '../isa/index.js';
import type { RuntimeMap } from '../maps/types.js';
import { emitLog2Slot, type Log2Histogram, log2HistogramsByGroup } from './histogram.js';
import { emitCountAndExit, ProbeTool, type ProbeToolOptions } from './probe-tool.js';

function latencyProgram(): Insn[] {
  const b = new ProgramBuilder()
    .ldx('u64', R6, R1, ProbeCtx.duration)
    .ldx('u32', R2, R1, ProbeCtx.probeId)
    .stx('u32', R10, -8, R2); // key.group = probe id
  emitLog2Slot(b, R7, R6, R3);
  b.stx('u32', R10, -4, R7); // key.slot = log2(duration)
  return emitCountAndExit(b, -8).build();
}

/** The funclatency tool: a log2 histogram of each probed JS function's duration. */
export class FuncLatency extends ProbeTool {
  /** { u32 probe id; u32 log2 slot } -> u64 count. */
  readonly hist: RuntimeMap;

  constructor(options: ProbeToolOptions = {}) {
    const maxEntries = (options.maxFunctions ?? 256) * 65;
    super('return', options.engine, { name: 'hist', keySize: 8, maxEntries }, options.budget);
    this.hist = this.map;
  }

  protected insns(): Insn[] {
    return latencyProgram();
  }

  /** Histograms of durations in ns, by probe id. */
  results(): Map<number, Log2Histogram> {
    return log2HistogramsByGroup(this.hist);
  }
}
