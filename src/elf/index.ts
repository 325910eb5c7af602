// ELF objects: read what clang/libbpf produce into an ObjectSpec, write an ObjectSpec back as ELF.
export { type ReadOptions, readObject } from './reader.js';
export { writeObject } from './writer.js';
