// The Linux back end: the bpf() system call from Node.js (through koffi, loaded on first use), typed
// errors, objects loaded into the kernel with the same map API as the user-space runtime, XDP links, and
// network-namespace switching for attaching to private interfaces. `import { ... } from 'tsbpf/kernel'`.

// `loadCollection(spec, { backend: 'kernel' })` works once this entry is imported.
import './register.js';

export { AttachType, Cmd, ProgType, XdpFlags } from './attr.js';
export { errnoName, KernelError, VerifierRejectedError } from './errors.js';
export { ffiAvailable, ifNameToIndex } from './ffi.js';
export {
  KernelFuncTool,
  type KernelFuncToolOptions,
  type KernelFunctionTarget,
  resolveKernelFunctions,
  resolveUserFunctions,
} from './func-tools.js';
export {
  kernelBtf,
  type LinkDetails,
  linkDetails,
  type MapDetails,
  mapDetails,
  type ObjectKind,
  objectIds,
  openById,
  openPinned,
  type ProgDetails,
  progDetails,
} from './inspect.js';
export {
  ATTACH_TARGET_FORMS,
  type AttachableProgram,
  type AttachTarget,
  type AutoAttachOptions,
  attachAll,
  attachClsact,
  attachIter,
  attachKprobeMulti,
  attachProgram,
  attachUprobeMulti,
  autoTarget,
  BpfLink,
  type ClsactOptions,
  type ElfSymbol,
  HookLink,
  IterLink,
  type IterOptions,
  type KernelAttachment,
  KernelFeatureError,
  type LinkKernelInfo,
  linkInfo,
  matchingSymbols,
  type NetfilterOptions,
  openLinkById,
  openPinnedLink,
  type PerfEventOptions,
  parseAttachTarget,
  pmuType,
  resolveBinary,
  symbolOffset,
  type TcxOptions,
  tracefs,
  tracepointId,
  type UprobeMultiOptions,
  type UprobeOptions,
} from './links/index.js';
export {
  attachXdp,
  type LiveAttachment,
  type ServeOptions,
  serveAttached,
  XdpAttachment,
  type XdpAttachOptions,
} from './live.js';
export { isGlobalDataMap } from './mmap-globals.js';
export { withNetns } from './netns.js';
export {
  KernelLink,
  type KernelLoadOptions,
  KernelMap,
  KernelObject,
  KernelProgram,
  type KernelRunOptions,
  loadKernelObject,
  possibleCpus,
  relocate,
  type XdpLinkOptions,
} from './object.js';
export {
  KernelPerfReader,
  onlineCpus,
  openPerfReader,
  type PerfBufferOptions,
  type PerfEventReader,
} from './perf-buffer.js';
export {
  DEFAULT_PIN_ROOT,
  type MapShape,
  PIN_BY_NAME,
  pinPath,
  shapeDifference,
} from './pinning.js';
export { KernelRingBuf } from './ringbuf.js';
export { StructOpsLink } from './struct-ops.js';
export {
  formatFrame,
  parseKallsyms,
  readStack,
  type StackFrame,
  type SymbolizeOptions,
  Symbolizer,
  symbolize,
} from './symbolize.js';
export * from './syscall.js';
export { instrumentVerdicts, VERDICT_MAP, VERDICT_NAMES, type VerdictName } from './verdicts.js';
