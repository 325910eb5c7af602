// ELF objects, the public face:
//   readObject(bytes, { file? }) → ObjectSpec   parse what clang/libbpf produce (throws FormatError)
//   writeObject(spec) → Uint8Array               an object bpftool 7 / libbpf 1.x loads (throws TsbpfError)
// Core code: bytes in, plain objects out; reading and writing files is the caller's business.
export type { ExternValues } from './externs.js';
export { type ReadOptions, readObject } from './reader.js';
export { writeObject } from './writer.js';
