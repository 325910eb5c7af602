// The virtual machine: address space, runtime (plays the kernel), program preparation and the
// reference interpreter. The JIT and the hooks build on these.

export * from '../memory/address-space.js';
export * from './alu.js';
export * from './input.js';
export * from './interpreter.js';
export * from './limits.js';
export * from './program.js';
export * from './runtime.js';
