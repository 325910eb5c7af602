// The linear memory every program, map and helper of a runtime shares: one WebAssembly.Memory, its
// allocator and its regions. The bottom of the house: maps, helpers and engines build on it.
export * from './address-space.js';
