// BTF, the public face:
//   parseBtf(bytes, where?) → Btf          types and strings of a `.BTF` section (Btf.type/resolve/sizeof/
//                                          byName/typeName)
//   parseBtfExt(bytes, btf, where?)        func_info, line_info, CO-RE records of `.BTF.ext`, per section
//   formatValue(btf, typeId, bytes)        map key/value bytes → plain JS value (u64 as bigint, see format.ts)
//   parseValue(btf, typeId, value)         and back to bytes
//   BtfBuilder                             build a `.BTF` section (used by the ELF writer), split BTF too
//   applyCoreRelocations(insns, relos, ctx) CO-RE: patch instructions for a target BTF (see core/)
export { BtfBuilder } from './builder.js';
export {
  applyCoreRelocations,
  CORE_POISON_HELPER,
  CoreContext,
  CoreKind,
  type CoreOutcome,
  type CoreRelocation,
  CoreRelocationError,
  type CoreTarget,
  type CoreTargetInput,
  coreTarget,
  describeRelocation,
  setDefaultCoreTarget,
} from './core/index.js';
export { type BtfExt, type ExtCoreRelo, type ExtFuncInfo, type ExtLineInfo, parseBtfExt } from './ext.js';
export { type BtfValue, formatValue, parseValue } from './format.js';
export { Btf, parseBtf } from './parse.js';
export * from './types.js';
