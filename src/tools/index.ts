// Tools, the public face (the package's `tsbpf/tools` entry): histograms as tracing tools keep and print
// them (log2 and linear, with the builder code that computes a log2 slot in a program), and the funccount
// and funclatency tools over probes on JS functions. The CLI's trace reports (trace-report.ts) are not here.
export { FuncCount } from './funccount.js';
export { FuncLatency } from './funclatency.js';
export {
  type Bucket,
  emitLog2Slot,
  LinearHistogram,
  LOG2_SLOTS,
  Log2Histogram,
  log2Bounds,
  log2HistogramsByGroup,
  log2Slot,
} from './histogram.js';
export type { ProbeToolOptions } from './probe-tool.js';
