// Classic BPF, the public face (the package's `tsbpf/cbpf` entry): the sock_filter encoding and its opcode
// vocabulary, the kernel's checker, the interpreter, translation to eBPF, the dump formats of `tcpdump -d`
// / `-dd` / `-ddd`, the pcap-filter language compiler, and packet filters on any engine.
export { Ancillary, type CheckOptions, checkFilter } from './check.js';
export {
  createPacketFilter,
  FILTER_ENGINES,
  type FilterEngineName,
  type PacketFilter,
  type PacketFilterOptions,
  parseFilterEngine,
} from './engine.js';
export {
  compileFilter,
  FILTER_LIMITS,
  type FilterLimit,
  FilterLimitError,
  type FilterOptions,
  FilterSyntaxError,
} from './filter/index.js';
export {
  ALLOWED_CODES,
  C,
  cls,
  decodeFilter,
  encodeFilter,
  isCondJump,
  jump,
  MAXINSNS,
  MEMWORDS,
  mode,
  op,
  rval,
  SKF_AD_OFF,
  type SockFilter,
  size,
  src,
  stmt,
} from './insn.js';
export { type CbpfRunOptions, runFilter, type SkbMeta } from './interp.js';
export { formatAsm, formatC, formatDecimal, insnText, parseDecimal } from './print.js';
export { cbpfToEbpf, type TranslateOptions } from './translate.js';
