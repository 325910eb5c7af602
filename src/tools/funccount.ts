// funccount: how often each traced function is called. One entry-probe program shared by every function;
// it counts into a hash map keyed by the probe id the context carries (the `ip` field), the way BCC's
// funccount keys its counts by the probed address.

import { ProgramBuilder, R1, R2, R10 } from '../asm/index.js';
import { ProbeCtx } from '../hooks/probe-context.js';
import type { Insn } from '../isa/index.js';
import { typedMap } from '../maps/typed.js';
import type { RuntimeMap } from '../maps/types.js';
import { emitCountAndExit, ProbeTool, type ProbeToolOptions } from './probe-tool.js';

/** u32 probe id -> u64 calls. */
function countProgram(): Insn[] {
  const b = new ProgramBuilder().ldx('u32', R2, R1, ProbeCtx.probeId).stx('u32', R10, -4, R2); // key = probe id
  return emitCountAndExit(b, -4).build();
}

/** The funccount tool: how often each probed JS function is called, counted by one probe program. */
export class FuncCount extends ProbeTool {
  /** u32 probe id -> u64 calls. */
  readonly counts: RuntimeMap;

  constructor(options: ProbeToolOptions = {}) {
    const maxEntries = options.maxFunctions ?? 1024;
    super('entry', options.engine, { name: 'counts', keySize: 4, maxEntries }, options.budget);
    this.counts = this.map;
  }

  protected insns(): Insn[] {
    return countProgram();
  }

  /** Calls by probe id. */
  results(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [id, n] of typedMap<number, bigint>(this.counts)) out.set(id, Number(n));
    return out;
  }
}
