// tsbpf — the package's main entry (`import { ... } from 'tsbpf'`): the life cycle of a BPF object, as the
// root package of cilium/ebpf is. Read an object into a spec (editable: globals, maps), load it as a
// collection on a back end, run its programs or attach them to hooks (each attachment a Link), read maps and
// event streams from JS; the errors all of that throws. Everything else is a subpath entry, one per
// concept folder (package.json `exports`): `tsbpf/asm`, `tsbpf/btf`, `tsbpf/cbpf`, `tsbpf/elf`, `tsbpf/isa`,
// `tsbpf/jit`, `tsbpf/maps`, `tsbpf/pcap`, `tsbpf/spec`, `tsbpf/tools`, `tsbpf/verifier`, `tsbpf/vm`, and the
// Node-only `tsbpf/node` and `tsbpf/kernel`. test/api/surface/ holds what each exports (npm run api-report).
//
// It runs anywhere JavaScript and WebAssembly run: nothing reachable from here imports a `node:` module
// (test/api/entry.test.ts checks the built graph, test/browser/ runs it in a context without
// require/process/Buffer). Under Node the `node` export condition loads dist/node/root.js instead, which
// re-exports this file and registers the kernel back end.
//
// Names are the folders' own, except where a name is too generic at package level (noted beside it).

// --- Specs: an object file read into plain, editable data; global variables set before load.

export type { BtfValue } from './btf/index.js';
export {
  type GlobalVariable,
  getGlobal,
  getGlobals,
  globalVariables,
  setGlobal,
} from './collection/globals.js';
export { type ReadOptions as ReadObjectOptions, readObject } from './elf/index.js';
export { MapFlag, type MapSpec, MapType, UpdateFlag } from './spec/maps.js';
export type { FuncInfo, LineInfo, MapSlot, ObjectSpec, ProgramSpec } from './spec/object.js';

// --- Collections: a spec loaded on a back end (user space here; the kernel under Node), its programs and
// maps, and the links that attach them.

export { type CollectionOptions, loadCollection } from './collection/load.js';
export type {
  BackendName,
  BpfMap,
  Collection,
  Link,
  LinkInfo,
  Program,
  RunOptions,
  RunResult,
} from './collection/types.js';
export {
  LoadedObject,
  LoadedProgram,
  type LoadOptions,
  loadObject,
  setTailCallTarget,
  type UserspaceRunOptions,
} from './collection/userspace.js';

// --- Typed maps: a map's keys and values as JS values, by BTF or by codecs.

export { btfCodec, btfCodecs, btfTypedMap } from './collection/typed.js';
export {
  bytesCodec,
  type Codec,
  defaultCodec,
  perCpuCodec,
  rawKeys,
  TypedMap,
  typedMap,
  u64Codec,
  uintCodec,
} from './maps/typed.js';

// --- Engines by name: a loaded program bound to the interpreter or the JIT.

export {
  createRunner,
  createRunnerAsync,
  ENGINES,
  type EngineName,
  parseEngine,
  type Runner,
  type RunnerOptions,
} from './engine/runner.js';

// --- Hooks: where programs run. XDP over packets (one at a time or in batches), socket filters, test runs,
// probes on JS functions, tracepoints, and event streams from ring and perf buffers.

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
export { SKB_MAX_PACKET, SkbHook, type SkbResult, type SkbRunOptions } from './hooks/skb.js';
export { type SkBuffFields, SocketFilterHook, type SocketFilterResult } from './hooks/socket-filter.js';
export { TestRunError, type TestRunOptions, type TestRunResult, testRun } from './hooks/test-run.js';
export type { InsnProgram, TraceProgramSource } from './hooks/trace-program.js';
export {
  attachTracepoint,
  type FieldType as TracepointFieldType, // `FieldType` alone could be any record's
  type Schema as TracepointSchema,
  Tracepoint,
  type TracepointLink,
  type TracepointOptions,
  tracepoint,
  tracepoints,
} from './hooks/tracepoint.js';
export { XDP_MAX_PACKET, XdpHook, type XdpResult, type XdpRunOptions } from './hooks/xdp.js';
export { XdpBatch } from './hooks/xdp-batch.js';
export { XdpAction, xdpActionName } from './spec/verdicts.js';

// --- Errors: every user mistake is a TsbpfError (or a subclass) with `where` and a short message. Errors
// only one tool throws are in its entry (AsmSyntaxError in tsbpf/asm, FilterSyntaxError in tsbpf/cbpf).

export {
  FormatError,
  InvalidBytecodeError,
  JitLimitError,
  MapError,
  RunLimitError,
  RuntimeFault,
  TsbpfError,
} from './errors.js';
export { OutOfMemoryError } from './memory/index.js';
export { Errno } from './spec/errno.js';
export { VerifierError } from './verifier/index.js';
