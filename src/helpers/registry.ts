// The one helper registry, read by the verifier (prototypes), the interpreter and the JIT (implementations).
// Helper groups live in their own files and are listed here.

import type { HelperDef } from './types.js';

const ALL: HelperDef[] = [];

/** Helpers by id. */
export const HELPERS: ReadonlyMap<number, HelperDef> = new Map(ALL.map((h) => [h.id, h]));

export function helperById(id: number): HelperDef | undefined {
  return HELPERS.get(id);
}

export function helperByName(name: string): HelperDef | undefined {
  for (const h of HELPERS.values()) if (h.name === name || `bpf_${h.name}` === name) return h;
  return undefined;
}
