// The eBPF instruction set: opcode vocabulary and the slot encoding. Everything else speaks `Insn[]`.
export * from './functions.js';
export * from './insn.js';
export * from './opcodes.js';
