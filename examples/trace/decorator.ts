// The decorator form and a static tracepoint together: `@probed` counts calls of a method with a C-free
// program, and the method fires `shop:order`, to which a program attaches by name.
import { ProgramBuilder, R0, R1, R2, R6 } from '../../src/asm/index.js';
import { probed } from '../../src/hooks/probe.js';
import { attachTracepoint, tracepoint } from '../../src/hooks/tracepoint.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { Runtime } from '../../src/vm/runtime.js';

const runtime = new Runtime();
/** One 16-byte value: { u64 calls; u64 quantity }. */
export const totals = createMap(runtime.space, {
  name: 'totals',
  type: MapType.ARRAY,
  keySize: 4,
  valueSize: 16,
  maxEntries: 1,
  flags: 0,
});

const countCalls = new ProgramBuilder()
  .ldMapValue(R6, 0)
  .mov64(R2, 1)
  .atomic('add', 'u64', R6, 0, R2)
  .mov64(R0, 0)
  .exit()
  .build();
export const counted = probed({ insns: countCalls, maps: [totals], runtime });

const order = tracepoint('shop:order', { quantity: 'u32', item: 'char[16]' });
const sumQuantity = new ProgramBuilder()
  .ldMapValue(R6, 0)
  .ldx('u32', R2, R1, 8) // quantity: the first field after the 8 common bytes
  .atomic('add', 'u64', R6, 8, R2)
  .mov64(R0, 0)
  .exit()
  .build();
export const orderLink = attachTracepoint('shop:order', { insns: sumQuantity, maps: [totals], runtime });

export class Shop {
  @counted
  place(item: string, quantity: number): string {
    order.fire(quantity, item);
    return `${quantity} x ${item}`;
  }
}
