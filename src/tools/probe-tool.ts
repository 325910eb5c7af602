// What funccount and funclatency share: one runtime with one hash map of u64 counters, one program attached
// to any number of probe sites (at entry or at return), and the in-program `map[key] += 1`.

import { type ProgramBuilder, R0, R1, R2, R3, R4, R10 } from '../asm/index.js';
import type { EngineName } from '../engine/runner.js';
import type { ProbeLink, ProbeSite } from '../hooks/probe.js';
import type { Insn } from '../isa/index.js';
import { createMap } from '../maps/registry.js';
import type { RuntimeMap } from '../maps/types.js';
import { MapType, UpdateFlag } from '../spec/maps.js';
import { Runtime } from '../vm/runtime.js';

/** Options of the probe tools (FuncCount, FuncLatency). */
export interface ProbeToolOptions {
  engine?: EngineName;
  maxFunctions?: number;
  /** Loop iterations each probe run may take (src/vm/limits.ts). */
  budget?: number;
}

/**
 * Emit `map[key] += 1` for the u64-valued hash map at index 0 and the key at r10+keyOff: an atomic add to
 * an existing counter, else an insert of 1 (NOEXIST). Clobbers r0-r4 and the stack at r10-16..-9, so the
 * key must lie above r10-8. Uses the labels `first` and `out`; the program returns 0 after it.
 */
export function emitCountAndExit(b: ProgramBuilder, keyOff: number): ProgramBuilder {
  return b
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, keyOff)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'first')
    .mov64(R1, 1)
    .atomic('add', 'u64', R0, 0, R1) // existing counter: += 1
    .ja('out')
    .label('first')
    .st('u64', R10, -16, 1) // new key: insert 1
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, keyOff)
    .mov64(R3, R10)
    .add64(R3, -16)
    .mov64(R4, UpdateFlag.NOEXIST)
    .call('map_update_elem')
    .label('out')
    .mov64(R0, 0)
    .exit();
}

/** A tracing tool: its own runtime and counter map, one program attached to every probed function. */
export abstract class ProbeTool {
  readonly runtime = new Runtime();
  protected readonly map: RuntimeMap;
  private readonly links: ProbeLink[] = [];

  protected constructor(
    private readonly on: 'entry' | 'return',
    private readonly engine: EngineName | undefined,
    map: { name: string; keySize: number; maxEntries: number },
    private readonly budget?: number,
  ) {
    this.map = createMap(this.runtime.space, { ...map, type: MapType.HASH, valueSize: 8, flags: 0 });
    this.runtime.registerMap(this.map);
  }

  /** The program's instructions; its map index 0 is the tool's map. */
  protected abstract insns(): Insn[];

  program(): { insns: Insn[]; maps: RuntimeMap[]; runtime: Runtime } {
    return { insns: this.insns(), maps: [this.map], runtime: this.runtime };
  }

  attach(site: ProbeSite): ProbeLink {
    const link = site.attach(this.program(), { on: this.on, engine: this.engine, budget: this.budget });
    this.links.push(link);
    return link;
  }

  detach(): void {
    for (const l of this.links.splice(0)) l.detach();
  }
}
