// Maps: the public face of src/maps.
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
