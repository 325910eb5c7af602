// A probe program written with the TypeScript builder: a linear histogram of a function's first argument
// (buckets of 10 from 0 to 90; larger values count in the last bucket), kept in an array map.
import { ProgramBuilder, R0, R1, R2, R10 } from '../../src/asm/index.js';
import { probe } from '../../src/hooks/probe.js';
import { ProbeCtx } from '../../src/hooks/probe-context.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { LinearHistogram } from '../../src/tools/histogram.js';
import { Runtime } from '../../src/vm/runtime.js';

export function argumentHistogram<T extends object>(target: T, method: keyof T & string) {
  const runtime = new Runtime();
  const buckets = createMap(runtime.space, {
    name: 'buckets',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 10,
    flags: 0,
  });
  const insns = new ProgramBuilder()
    .ldx('u64', R2, R1, ProbeCtx.arg1)
    .div64(R2, 10)
    .jle(R2, 9, 'store')
    .mov64(R2, 9)
    .label('store')
    .stx('u32', R10, -4, R2) // key = bucket
    .ldMap(R1, 0)
    .mov64(R2, R10)
    .add64(R2, -4)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'out')
    .mov64(R1, 1)
    .atomic('add', 'u64', R0, 0, R1)
    .label('out')
    .mov64(R0, 0)
    .exit()
    .build();
  const link = probe(target, method, { insns, maps: [buckets], runtime });
  return {
    link,
    histogram: () => new LinearHistogram(0, 10, 10).fill(buckets),
  };
}
