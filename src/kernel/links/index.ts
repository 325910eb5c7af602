// Attaching kernel programs: every attach type, each returning a Link (see target.ts for the one list).

export { attachCgroup, CGROUP_PROGRAM_TYPES } from './cgroup.js';
export { type ElfSymbol, globToRegExp, matchingSymbols, resolveBinary, symbolOffset } from './elf-symbols.js';
export { KernelFeatureError } from './feature-error.js';
export { attachIter, IterLink, type IterOptions } from './iter.js';
export { BpfLink, HookLink, type KernelAttachment, openLinkById, openPinnedLink } from './link.js';
export { attachKprobeMulti, attachUprobeMulti, type UprobeMultiOptions } from './multi.js';
export {
  attachNetfilter,
  attachNetns,
  attachSocket,
  attachSockmap,
  attachTcx,
  attachXdpLink,
  type NetfilterOptions,
  type TcxOptions,
} from './net.js';
export { ATTACH_TARGET_FORMS, parseAttachTarget } from './parse.js';
export {
  attachKprobe,
  attachPerfEvent,
  attachToPerfEvent,
  attachTracepoint,
  attachUprobe,
  type PerfEventOptions,
  pmuType,
  tracefs,
  tracepointId,
  type UprobeOptions,
} from './perf-event.js';
export { type LinkKernelInfo, linkInfo } from './sys.js';
export { type AttachTarget, type AutoAttachOptions, attachAll, attachProgram, autoTarget } from './target.js';
export { attachClsact, type ClsactOptions } from './tc.js';
export { attachRawTracepoint, attachTracing } from './tracing.js';
export type { AttachableProgram } from './types.js';
