// Probe a JavaScript function: a program built with the TypeScript builder runs on every call of
// `store.save(size)`, computes the log2 bucket of the size in the program and counts it in an array map;
// user space prints the map as a BCC-style histogram. Detaching restores the original function.
import { ProgramBuilder, R0, R1, R2, R3, R6, R10 } from '../../src/asm/index.js';
import { MapType, ProbeCtx, probe } from '../../src/index.js';
import { createMap } from '../../src/maps/index.js';
import { emitLog2Slot, LOG2_SLOTS, Log2Histogram } from '../../src/tools/index.js';
import { Runtime } from '../../src/vm/index.js';

export function main(sizes: readonly number[], print: (line: string) => void = console.log) {
  const store = {
    saved: 0,
    save(size: number) {
      this.saved += size;
      return this.saved;
    },
  };

  const runtime = new Runtime();
  const slots = createMap(runtime.space, {
    name: 'slots',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: LOG2_SLOTS,
    flags: 0,
  });
  const b = new ProgramBuilder().ldx('u64', R6, R1, ProbeCtx.arg1); // the first argument
  emitLog2Slot(b, R2, R6, R3); // r2 = log2 slot of r6
  const insns = b
    .stx('u32', R10, -4, R2) // key = slot
    .ldMap(R1, 0) // map 0 of the `maps` below
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

  // Verified against the probe context before it is attached; a rejection throws VerifierError.
  const link = probe(store, 'save', { insns, maps: [slots], runtime });
  for (const size of sizes) store.save(size);
  link.detach();
  store.save(1); // not counted: the original method is back

  const histogram = Log2Histogram.fromMap(slots);
  print(histogram.format('bytes'));
  print(`${link.runs} calls probed, ${store.saved} bytes saved`);
  return { histogram, runs: link.runs };
}
