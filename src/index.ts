// tsbpf — the package's main entry (`import { ... } from 'tsbpf'`). It runs anywhere JavaScript and
// WebAssembly run: nothing reachable from here imports a `node:` module (test/api/entry.test.ts checks the
// built graph, test/browser/ runs it in a context without require/process/Buffer). The Linux back end is
// the separate entry `tsbpf/kernel`; the CLI and the Node-only trace preload are not part of the library.
//
// Each block re-exports one concept folder by name, so what is public is decided here, not by whatever a
// folder happens to export. Where a folder's name is too generic for a package-wide namespace, or two
// folders would clash, the name is changed here (noted beside it); the folders keep their own names.
// Data flows top to bottom: source → object → verifier → engine → hook → output.

// --- The instruction set: the vocabulary everything else speaks (`Insn[]`, one object per 8-byte slot).

export * from './isa/index.js';

// --- Errors: every user mistake is a TsbpfError (or a subclass) with `where` and a short message.

export {
  AsmSyntaxError,
  FormatError,
  InvalidBytecodeError,
  JitLimitError,
  RunLimitError,
  RuntimeFault,
  TsbpfError,
} from './errors.js';

// --- Assembler, disassembler and the TypeScript program builder.

export {
  type AsmOptions,
  type Assembled,
  type AtomicOpName,
  assemble,
  assembleWithLabels,
  BuilderError,
  type DisasmOptions,
  disassemble,
  formatInsn,
  helperIdByName,
  kernelHelperId,
  type LoadSize,
  type MemSize,
  type Operand,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  type Register,
  type RegNum,
  type Syntax as DisasmSyntax, // `Syntax` alone is too generic next to the filter language
  type Target,
  type WritableRegister,
} from './asm/index.js';

// --- ELF objects and BTF: bytes in, plain specs out (and back); BTF types name map keys, values and globals.

export {
  Btf,
  BtfBuilder,
  type BtfExt,
  type BtfType,
  type BtfValue,
  type DatasecVar as BtfDatasecVar,
  type EnumValue as BtfEnumValue,
  type ExtCoreRelo,
  type ExtFuncInfo,
  type ExtLineInfo,
  formatValue,
  IntEncoding as BtfIntEncoding, // BTF_INT_* bits; `IntEncoding` alone reads like a general integer codec
  Kind as BtfKind, // BTF_KIND_*; `Kind` alone says nothing at package level
  type Member as BtfMember,
  type Param as BtfParam,
  parseBtf,
  parseBtfExt,
  parseValue,
} from './btf/index.js';
export { type ReadOptions as ReadObjectOptions, readObject, writeObject } from './elf/index.js';

// --- Specs and loading: plain editable descriptions → live maps and programs in a runtime; typed maps and
// global variables from the object's BTF.

export {
  btfCodec,
  btfCodecs,
  btfTypedMap,
  type FuncInfo,
  findGlobal,
  type GlobalVariable,
  getGlobal,
  getGlobals,
  globalVariables,
  type LineInfo,
  type BackendName,
  type Collection,
  type CollectionOptions,
  type Link,
  type LinkInfo,
  LoadedObject,
  LoadedProgram,
  type LoadOptions,
  loadCollection,
  loadObject,
  type Program,
  type RunOptions,
  type RunResult,
  type MapSlot,
  type ObjectSpec,
  type ProgramSpec,
  programTypeForSection,
  readGlobal,
  type SectionProgramType,
  sectionForProgramType,
  setGlobal,
  setTailCallTarget,
  VerifierError,
  writeGlobal,
} from './collection/index.js';

// --- The verifier: accept, or a diagnostic that says why not (with the source line when known).

export {
  type Diagnostic,
  formatDiagnostic,
  type PathStep,
  type VerifiableProgram,
  type VerifyOptions,
  type VerifyResult,
  verify,
} from './verifier/index.js';

// --- The virtual machine: address space, runtime (plays the kernel), prepared programs, interpreter.

export {
  AddressSpace,
  DEFAULT_BUDGET,
  DEFAULT_ITERATIONS,
  type InputMemory,
  Interpreter,
  interpret,
  loadInput,
  MAX_TAIL_CALLS,
  type MemoryRunResult,
  OutOfMemoryError,
  PAGE_SIZE,
  type PreparedProgram,
  type PrepareOptions,
  prepareProgram,
  type Region,
  type RegionKind,
  type RunOptions as InterpreterRunOptions,
  type RunResult as InterpreterRunResult,
  Runtime,
  type RuntimeOptions,
  runWithMemory,
  type TaskInfo,
  type TraceEvent,
  type TraceHook,
} from './vm/index.js';

// --- The JIT to WebAssembly. Most users reach it through `createRunner(..., { engine: 'jit' })`.

export {
  type CompiledModule,
  compile as compileJit, // `compile` alone could be any compiler (C, assembler, filter expressions)
  compileAsync as compileJitAsync, // for browsers' main thread (no synchronous compile over 4 KB)
  type JitOptions,
  type JitProgram,
  runJitWithMemory,
} from './jit/index.js';

// --- Maps: one registry of map types; user-side API as bytes (BpfMap) or as a typed Map-like view.

export {
  BPF_F_CURRENT_CPU,
  type BpfMap,
  bytesCodec,
  type Codec,
  checkMapSpec,
  createMap,
  defaultCodec,
  Errno,
  MAP_TYPES,
  MapError,
  MapFlag,
  type MapOptions,
  type MapSpec,
  MapType,
  type MapTypeInfo,
  mapTypeByName,
  mapTypeInfo,
  PerfReader,
  type PerfRecord,
  perCpuCodec,
  RingBufReader,
  rawKeys,
  TypedMap,
  typedMap,
  UpdateFlag,
  u64Codec,
  uintCodec,
} from './maps/index.js';

// --- Helpers: one registry with prototypes (verifier) and implementations (both engines).

export { HELPERS, helperById, helperByName } from './helpers/registry.js';
export type {
  ArgType as HelperArgType, // argument/return kinds of helper prototypes, named after what they type
  HelperDef,
  HelperEnv,
  HelperImpl,
  HelperProto,
  Invocation,
  RetType as HelperRetType,
} from './helpers/types.js';

// --- Hooks: program types, engines, and where programs run: XDP (one packet or batches), test runs, socket
// filters, probes on JS functions, tracepoints, event streams from ring/perf buffers.

export {
  createRunner,
  createRunnerAsync,
  ENGINES,
  type EngineName,
  parseEngine,
  type Runner,
  type RunnerOptions,
} from './engine/runner.js';
export { type EventStream, type EventStreamOptions, events } from './hooks/events.js';
export {
  type ProbedDecorator,
  type ProbeLink,
  type ProbeOptions,
  type ProbePoint,
  ProbeSite,
  probe,
  probed,
  probeSite,
} from './hooks/probe.js';
export { PROBE_CTX_SIZE, ProbeCtx, ProbeFlag } from './hooks/probe-context.js';
export {
  SK_BUFF_OFFSETS,
  type SkBuffFields,
  SocketFilterHook,
  type SocketFilterResult,
} from './hooks/socket-filter.js';
export { type TestRunOptions, type TestRunResult, testRun } from './hooks/test-run.js';
export type { InsnProgram, TraceProgramSource } from './hooks/trace-program.js';
export {
  attachTracepoint,
  type FieldType as TracepointFieldType, // the field types of a tracepoint schema
  type Schema as TracepointSchema,
  Tracepoint,
  type TracepointLink,
  type TracepointOptions,
  tracepoint,
  tracepoints,
} from './hooks/tracepoint.js';
export {
  LOOPBACK_IFINDEX,
  XDP_ACTION_NAMES,
  XDP_FRAME_SIZE,
  XDP_HEADROOM,
  XDP_MAX_PACKET,
  XdpAction,
  XdpHook,
  type XdpResult,
  type XdpRunOptions,
  xdpActionName,
} from './hooks/xdp.js';
export { XDP_BATCH_SIZE, XdpBatch } from './hooks/xdp-batch.js';
export {
  type CtxField,
  type CtxLayout,
  PROGRAM_TYPES,
  type ProgramType,
  programTypeByName,
  programTypeByNumber,
  XDP_MD,
} from './spec/program-types.js';

// --- Packets and captures: pcap/pcapng read and write, frame builders, addresses, one-line summaries.

export {
  buildFrame,
  type Capture,
  CaptureBatch,
  type CapturedPacket,
  type CaptureHeader,
  CapturePacket,
  type CaptureReader,
  type CaptureSource,
  CaptureStream,
  EtherType,
  type FrameSpec,
  formatIpv4,
  formatIpv6,
  formatMac,
  IpProto,
  type Ipv4Spec,
  type Ipv6Ext,
  type Ipv6Spec,
  inetChecksum,
  LinkType,
  openCapture,
  type PcapngWriteOptions,
  PcapWriter,
  parseIpv4,
  parseIpv6,
  parseMac,
  readCapture,
  streamCapture,
  summarize as summarizePacket, // tcpdump-style one-liner of a frame; `summarize` alone is vague
  TcpFlag,
  type WriteOptions as PcapWriteOptions, // options of writePcap (writePcapng has PcapngWriteOptions)
  writePcap,
  writePcapng,
} from './net/index.js';

// --- Classic BPF and the pcap-filter language. The common entry points are flat; the full vocabulary
// (opcode constants `C`, `stmt`/`jump` builders, dump formats) is the `cbpf` namespace, whose short names
// (`C`, `size`, `mode`, `alu` ...) would collide with the eBPF ones at package level.

export * as cbpf from './cbpf/index.js';
export {
  cbpfToEbpf,
  checkFilter,
  compileFilter,
  createPacketFilter,
  decodeFilter,
  encodeFilter,
  FILTER_ENGINES,
  type FilterEngineName,
  type FilterOptions,
  FilterSyntaxError,
  type PacketFilter,
  type PacketFilterOptions,
  parseFilterEngine,
  runFilter,
  type SkbMeta,
  type SockFilter,
} from './cbpf/index.js';

// --- Tools: histograms as tracing tools keep and print them, and the funccount/funclatency tools.

export { FuncCount } from './tools/funccount.js';
export { FuncLatency } from './tools/funclatency.js';
export {
  type Bucket as HistogramBucket,
  emitLog2Slot,
  LinearHistogram,
  LOG2_SLOTS,
  Log2Histogram,
  log2Bounds,
  log2HistogramsByGroup,
  log2Slot,
} from './tools/histogram.js';
