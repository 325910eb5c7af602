// CO-RE ("compile once, run everywhere"), the public face:
//   applyCoreRelocations(insns, relos, ctx, where)   patch a program's instructions for a target BTF
//   CoreContext(local, target)                       candidates shared by one object's relocations
//   coreTarget(input) / setDefaultCoreTarget(fn)     the target BTF: given, or the host's default
//   CoreKind                                         the relocation kinds
//   parseSpec / matchSpec                            an access path in a BTF, and in a candidate type

export { CoreKind } from './kinds.js';
export {
  applyCoreRelocations,
  CORE_POISON_HELPER,
  CoreContext,
  type CoreOutcome,
  type CoreRelocation,
  CoreRelocationError,
  type CoreTarget,
  describeRelocation,
} from './relocate.js';
export { type AccessSpec, essentialName, matchSpec, parseSpec } from './spec.js';
export { type CoreTargetInput, coreTarget, setDefaultCoreTarget } from './target.js';
