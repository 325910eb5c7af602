// Tail calls without leaving WebAssembly. The compiled programs of a runtime that can be tail-call targets
// are installed in one funcref table that all the runtime's modules import, at their program id; a byte
// per id in linear memory says whether the slot is filled. The tail calls of the current run are counted
// in a u32 in linear memory, so compiled code and the JS path (first calls, checked programs) share the
// limit of 33.

import type { Runtime } from '../vm/runtime.js';

/** Program ids below this can be entered from the table; higher ids take the JS path. */
export const TAIL_TABLE_SIZE = 1024;

export interface TailCallSlots {
  readonly table: WebAssembly.Table;
  /** Address of TAIL_TABLE_SIZE bytes: 1 where table[id] holds the program's entry. */
  readonly ready: number;
  /** Address of the u32 count of tail calls taken in the current run. */
  readonly counter: number;
}

const byRuntime = new WeakMap<Runtime, TailCallSlots>();

/** The runtime's tail-call table and counters, created on first use. */
export function tailCallSlots(runtime: Runtime): TailCallSlots {
  let slots = byRuntime.get(runtime);
  if (!slots) {
    const space = runtime.space;
    const ready = space.allocate(TAIL_TABLE_SIZE, 'scratch', 'tail-call targets', false);
    const counter = space.allocate(4, 'scratch', 'tail-call count', false);
    slots = {
      table: new WebAssembly.Table({ element: 'anyfunc', initial: TAIL_TABLE_SIZE }),
      ready: ready.start,
      counter: counter.start,
    };
    byRuntime.set(runtime, slots);
  }
  return slots;
}

/** Make program `id`'s compiled entry (r1-r5, r10, depth) -> r0 the target of table tail calls. */
export function installTailTarget(runtime: Runtime, id: number, entry: unknown): void {
  if (id < 1 || id >= TAIL_TABLE_SIZE) return;
  const slots = tailCallSlots(runtime);
  slots.table.set(id, entry as (...args: unknown[]) => unknown);
  runtime.space.bytes[slots.ready + id] = 1;
}

/** Tail calls taken in the current run. */
export function tailCallCount(runtime: Runtime): number {
  return runtime.space.view.getUint32(tailCallSlots(runtime).counter, true);
}

export function setTailCallCount(runtime: Runtime, n: number): void {
  runtime.space.view.setUint32(tailCallSlots(runtime).counter, n, true);
}
