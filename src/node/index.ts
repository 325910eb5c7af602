// The Node.js entry (`tsbpf/node`): loading object files with a back end, and the user-space XDP data path
// for live interfaces. Node-only: it reads files and calls into libc through koffi.

import '../kernel/register.js';
import './core-target.js';
import './live/register.js';

export {
  type AttachTarget,
  type AutoAttachOptions,
  attachProgram,
  openPinnedLink,
} from '../kernel/links/index.js';
export {
  openPerfReader,
  type PerfBufferOptions,
  type PerfEventReader,
} from '../kernel/perf-buffer.js';
export { kernelCoreTarget, useCoreBtfFile } from './core-target.js';
export {
  completeChecksum,
  UserspaceXdp,
  type UserspaceXdpOptions,
  type UserspaceXdpStats,
} from './live/datapath.js';
export {
  type Backend,
  type KernelLoad,
  loadObject,
  type ObjectMaps,
  type RingReader,
  readObjectFile,
  ringBuffer,
  type UserspaceLoad,
} from './load.js';
