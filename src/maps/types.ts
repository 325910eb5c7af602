// What a live map is to the engines and helpers. Maps live in the runtime's linear memory: values are
// reached by pointer from programs; keys and values are plain bytes from JavaScript. One registry
// (./registry.ts) creates them by type. Their vocabulary (types, flags, MapSpec) is in src/spec/maps.ts.

import type { MapSpec } from '../spec/maps.js';

/**
 * A map as its user sees it, on either back end (a user-space runtime's or the kernel's): keys and values
 * as bytes in memory order. Typed views (src/maps/typed.ts) and loaders speak this.
 */
export interface BpfMap {
  readonly spec: MapSpec;
  /** The value (all CPUs concatenated for per-CPU maps: nCpus * round_up(valueSize, 8) bytes). */
  lookup(key: Uint8Array): Uint8Array | undefined;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): void;
  /** The key after `key` in the kernel's iteration order, the first key for undefined, undefined at the end. */
  nextKey(key: Uint8Array | undefined): Uint8Array | undefined;
  /** From now on user space may only read it (BPF_MAP_FREEZE); programs still write unless it is read-only to them. */
  freeze(): void;
  /** Release the map (its memory in user space, its file descriptor in the kernel). */
  close(): void;
}

/**
 * A map inside a user-space runtime: what a user does with it, and what programs and helpers do, on
 * addresses in the runtime's linear memory (the engine side; kernel maps have none).
 */
export interface RuntimeMap extends BpfMap {
  /** Address of the map handle in linear memory (what lddw gives a program). */
  readonly addr: number;
  /** Address of the value for the key at `keyAddr`, or 0. For per-CPU maps, the value of the current CPU. */
  lookupPtr(keyAddr: number, cpu: number): number;
  /** 0, or a negative errno. */
  updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  deletePtr(keyAddr: number): number;
}

/**
 * Where an ARRAY map keeps its values, so an engine can inline lookups:
 * value of index i (i < maxEntries) is at `valuesBase + i * valueStride`.
 */
export interface ArrayLayout {
  readonly valuesBase: number;
  readonly valueStride: number;
  readonly maxEntries: number;
}

/**
 * What compiled code needs to look a key up in a hash map's index (src/maps/hash-index.ts) without
 * leaving WebAssembly: the index header's address, the hash seed, the key size, and where the value
 * starts after an entry's key bytes.
 */
export interface HashLayout {
  readonly header: number;
  readonly seed: number;
  readonly keySize: number;
  readonly valueOffset: number;
}
