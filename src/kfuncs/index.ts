// Kfuncs: the registry (names, the kernel's flags, prototypes, program types) and their user-space semantics.

export {
  BPF_CPUMASK_BYTES,
  CPUMASK_BITS,
  liveKfuncObjects,
  MAX_KFUNC_OBJECTS,
  registerLocalTypes,
} from './impl.js';
export {
  KFUNC_ID_BASE,
  KFUNCS,
  kfuncAllowed,
  kfuncByName,
  kfuncHelper,
  kfuncHelperId,
} from './registry.js';
export { KF, type KfuncArg, type KfuncDef, type KfuncRet } from './types.js';
