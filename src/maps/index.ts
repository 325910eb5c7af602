// Maps: the public face of src/maps.

// The vocabulary maps are made of (src/spec), so `tsbpf/maps` users need one import.
export { MapError } from '../errors.js';
export * from '../spec/errno.js';
export * from '../spec/maps.js';
export * from './array.js';
export * from './base.js';
export * from './cost.js';
export * from './devmap.js';
export * from './fdarray.js';
export * from './hash.js';
export * from './lpm.js';
export * from './lru.js';
export * from './perf.js';
export * from './queue.js';
export * from './reader.js';
export * from './registry.js';
export * from './ringbuf.js';
export * from './typed.js';
export * from './types.js';
