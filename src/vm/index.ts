// The virtual machine, the public face (the package's `tsbpf/vm` entry, for those who embed the engines):
// the address space, the runtime (plays the kernel: owns maps, runs helpers), program preparation, the
// reference interpreter, run limits, and the helper registry the runtime calls into. The JIT is `tsbpf/jit`.

export { HELPERS, helperById, helperByName } from '../helpers/registry.js';
// Timers: when their callbacks run in user space (the runtime's clock, on an explicit call).
export { armedTimers, runTimers, TimerFlag } from '../helpers/timer.js';
export type {
  ArgType as HelperArgType, // argument/return kinds of helper prototypes, named after what they type
  HelperDef,
  HelperEnv,
  HelperImpl,
  HelperProto,
  Invocation,
  RetType as HelperRetType,
} from '../helpers/types.js';
export {
  AddressSpace,
  DEFAULT_MAP_MEMORY_LIMIT,
  OutOfMemoryError,
  PAGE_SIZE,
  type Region,
  type RegionKind,
} from '../memory/address-space.js';
export { type InputMemory, loadInput, type MemoryRunResult, runWithMemory } from './input.js';
export {
  Interpreter,
  interpret,
  MAX_TAIL_CALLS,
  type RunOptions,
  type RunResult,
  type TraceEvent,
  type TraceHook,
} from './interpreter.js';
export { DEFAULT_BUDGET, DEFAULT_ITERATIONS, type RunLimits } from './limits.js';
export { type HelperLookup, type PreparedProgram, type PrepareOptions, prepareProgram } from './program.js';
export { type CallbackRunner, Runtime, type RuntimeOptions, type TaskInfo } from './runtime.js';
