// Objects, the public face: plain specs (src/spec/object.ts) and what turns them into live maps and
// programs, plus the two ways an object's BTF makes its data readable from JS:
//   loadObject(spec, options) → LoadedObject     maps and programs in a runtime; obj.typedMap(name),
//                                                 obj.globals() / getGlobal / setGlobal
//   setGlobal(spec, name, value), getGlobal(...)  global variables on the spec, before load (.rodata)
//   btfTypedMap(map, btf), btfCodecs(btf, spec)   the typed views for maps outside an object
//   programTypeForSection(name)                   the program type libbpf infers from a section name

export * from '../spec/object.js';
export { programTypeForSection, type SectionProgramType, sectionForProgramType } from '../spec/sections.js';
export { VerifierError } from '../verifier/index.js';
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
export { btfCodec, btfCodecs, btfTypedMap } from './typed.js';
export { LoadedObject, LoadedProgram, type LoadOptions, loadObject, setTailCallTarget } from './userspace.js';
