// Collections, the public face: plain specs (src/spec/object.ts) and what turns them into live maps and
// programs on either back end, plus the two ways an object's BTF makes its data readable from JS:
//   loadCollection(spec, { backend }) → Collection   maps and programs, user space or kernel: map(name),
//                                                 program(name).run(...), typedMap(name), globals()
//   loadObject(spec, options) → LoadedObject     the same in user space (kept as an alias for one release)
//   setGlobal(spec, name, value), getGlobal(...)  global variables on the spec, before load (.rodata)
//   btfTypedMap(map, btf), btfCodecs(btf, spec)   the typed views for maps outside an object
//   programTypeForSection(name)                   the program type libbpf infers from a section name

export * from '../spec/object.js';
export { programTypeForSection, type SectionProgramType, sectionForProgramType } from '../spec/sections.js';
export { VerifierError } from '../verifier/index.js';
export { CollectionBase, type Loaded, loadWith, type ProgramSelection } from './collection.js';
export {
  findGlobal,
  type GlobalVariable,
  getGlobal,
  getGlobals,
  globalVariables,
  readGlobal,
  setGlobal,
  writeGlobal,
} from './globals.js';
export { type CollectionLoader, type CollectionOptions, loadCollection, registerBackend } from './load.js';
export { btfCodec, btfCodecs, btfTypedMap } from './typed.js';
export type {
  Backend,
  BackendName,
  BpfMap,
  Collection,
  Link,
  LinkInfo,
  Program,
  RunOptions,
  RunResult,
} from './types.js';
export type { UserspaceRunOptions } from './userspace.js';
export { LoadedObject, LoadedProgram, type LoadOptions, loadObject, setTailCallTarget } from './userspace.js';
