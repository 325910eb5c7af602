// Public face of src/cbpf: classic BPF encoding, checker, interpreter, eBPF translation, dump formats,
// and the pcap-filter language compiler.
export * from './check.js';
export * from './engine.js';
export * from './filter/index.js';
export * from './insn.js';
export * from './interp.js';
export * from './print.js';
export * from './translate.js';
