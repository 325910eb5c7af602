// funclatency: a log2 histogram of each traced function's duration. One return-probe program: the probe
// context already carries the call's duration (no entry timestamp map needed, unlike kernel funclatency),
// so it computes the log2 slot and counts into a hash map keyed by { u32 probe id; u32 slot }.

import { ProgramBuilder, R0, R1, R2, R3, R4, R6, R7, R10 } from '../asm/index.js';
import type { ProbeLink, ProbeSite } from '../hooks/probe.js';
import { ProbeCtx } from '../hooks/probe-context.js';
import type { EngineName } from '../hooks/runner.js';
import { createMap } from '../maps/registry.js';
import { type BpfMap, MapType, UpdateFlag } from '../maps/types.js';
import { Runtime } from '../vm/runtime.js';
import { emitLog2Slot, type Log2Histogram, log2HistogramsByGroup } from './histogram.js';

function latencyProgram() {
  const b = new ProgramBuilder()
    .ldx('u64', R6, R1, ProbeCtx.duration)
    .ldx('u32', R2, R1, ProbeCtx.probeId)
    .stx('u32', R10, -8, R2); // key.group = probe id
  emitLog2Slot(b, R7, R6, R3);
  return b
    .stx('u32', R10, -4, R7) // key.slot = log2(duration)
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, -8)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'first')
    .mov64(R1, 1)
    .atomic('add', 'u64', R0, 0, R1)
    .ja('out')
    .label('first')
    .st('u64', R10, -16, 1)
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, -8)
    .mov64(R3, R10)
    .add64(R3, -16)
    .mov64(R4, UpdateFlag.NOEXIST)
    .call('map_update_elem')
    .label('out')
    .mov64(R0, 0)
    .exit()
    .build();
}

export class FuncLatency {
  readonly runtime: Runtime;
  readonly hist: BpfMap;
  private readonly links: ProbeLink[] = [];

  constructor(private readonly options: { engine?: EngineName; maxFunctions?: number } = {}) {
    this.runtime = new Runtime();
    this.hist = createMap(this.runtime.space, {
      name: 'hist',
      type: MapType.HASH,
      keySize: 8,
      valueSize: 8,
      maxEntries: (options.maxFunctions ?? 256) * 65,
      flags: 0,
    });
    this.runtime.registerMap(this.hist);
  }

  program(): { insns: ReturnType<typeof latencyProgram>; maps: BpfMap[]; runtime: Runtime } {
    return { insns: latencyProgram(), maps: [this.hist], runtime: this.runtime };
  }

  attach(site: ProbeSite): ProbeLink {
    const link = site.attach(this.program(), { on: 'return', engine: this.options.engine });
    this.links.push(link);
    return link;
  }

  /** Histograms of durations in ns, by probe id. */
  results(): Map<number, Log2Histogram> {
    return log2HistogramsByGroup(this.hist);
  }

  detach(): void {
    for (const l of this.links.splice(0)) l.detach();
  }
}
