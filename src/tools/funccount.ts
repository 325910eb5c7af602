// funccount: how often each traced function is called. One entry-probe program shared by every function;
// it counts into a hash map keyed by the probe id the context carries (the `ip` field), the way BCC's
// funccount keys its counts by the probed address.

import { ProgramBuilder, R0, R1, R2, R3, R4, R10 } from '../asm/index.js';
import type { ProbeLink, ProbeSite } from '../hooks/probe.js';
import { ProbeCtx } from '../hooks/probe-context.js';
import type { EngineName } from '../hooks/runner.js';
import { createMap } from '../maps/registry.js';
import { typedMap } from '../maps/typed.js';
import { type BpfMap, MapType, UpdateFlag } from '../maps/types.js';
import { Runtime } from '../vm/runtime.js';

/** u32 probe id -> u64 calls. */
function countProgram() {
  return new ProgramBuilder()
    .ldx('u32', R2, R1, ProbeCtx.probeId)
    .stx('u32', R10, -4, R2) // key = probe id
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, -4)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'first')
    .mov64(R1, 1)
    .atomic('add', 'u64', R0, 0, R1) // existing counter: += 1
    .ja('out')
    .label('first')
    .st('u64', R10, -16, 1) // first call: insert 1
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, -4)
    .mov64(R3, R10)
    .add64(R3, -16)
    .mov64(R4, UpdateFlag.NOEXIST)
    .call('map_update_elem')
    .label('out')
    .mov64(R0, 0)
    .exit()
    .build();
}

export class FuncCount {
  readonly runtime: Runtime;
  readonly counts: BpfMap;
  private readonly links: ProbeLink[] = [];

  constructor(private readonly options: { engine?: EngineName; maxFunctions?: number } = {}) {
    this.runtime = new Runtime();
    this.counts = createMap(this.runtime.space, {
      name: 'counts',
      type: MapType.HASH,
      keySize: 4,
      valueSize: 8,
      maxEntries: options.maxFunctions ?? 1024,
      flags: 0,
    });
    this.runtime.registerMap(this.counts);
  }

  program(): { insns: ReturnType<typeof countProgram>; maps: BpfMap[]; runtime: Runtime } {
    return { insns: countProgram(), maps: [this.counts], runtime: this.runtime };
  }

  attach(site: ProbeSite): ProbeLink {
    const link = site.attach(this.program(), { on: 'entry', engine: this.options.engine });
    this.links.push(link);
    return link;
  }

  /** Calls by probe id. */
  results(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [id, n] of typedMap<number, bigint>(this.counts)) out.set(id, Number(n));
    return out;
  }

  detach(): void {
    for (const l of this.links.splice(0)) l.detach();
  }
}
