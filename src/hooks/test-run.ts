// The equivalent of the kernel's BPF_PROG_TEST_RUN: data in, (context in), repeat → return value, data
// out, context out, average duration per run. As in the kernel, the repetitions run on the same buffer one
// after the other and the reported return value and data are those of the last run. XDP programs run on
// an XDP frame (./xdp.ts); the __sk_buff types (sched_cls, sched_act, socket_filter, cgroup_skb, lwt_*)
// on the skb the kernel's bpf_prog_test_run_skb builds (./skb.ts): tc programs see the packet from its
// Ethernet header, the others from the network header, and get it back with 14 zero bytes in front.
//
// Timing follows the kernel's: the packet is laid out once, then the clock runs around a loop that only
// runs the program on the same context (the engine's batch entry over a table whose entries all name that
// context: on the JIT, a wasm loop for programs without helper calls), so `durationNs` compares with
// what `bpftool prog run … repeat N` reports. One difference: with N > 1 the first run is not timed, since
// it pays for V8 compiling the code it reaches (the kernel's JIT compiled everything at load).
//
// What the kernel refuses, this refuses with the same errno (a TestRunError), as Linux 6.18 answers with
// bpftool: data_in shorter than an Ethernet header — 0 to 13 bytes, for XDP (after any metadata) and for
// the __sk_buff program types — a bad xdp_md context in, and a repeat count that does not fit bpf_attr's
// u32; for skb runs, data_in over a page's room (3712 bytes), an IPv4/IPv6 packet shorter than its fixed
// header (EINVAL), a `struct __sk_buff` in longer than the struct with non-zero bytes after it (E2BIG),
// naming a device other than loopback (ENODEV: user space has no other), or setting a field the kernel
// does not take (EINVAL). A repeat of 0 is one run, as in the kernel. Flow dissectors run as the kernel's
// bpf_prog_test_run_flow_dissector (./flow-dissector.ts): data_out is the flow keys.

import type { Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import { SKB_CTX_SIZE, SKB_OFF } from '../helpers/skb.js';
import type { Region } from '../memory/address-space.js';
import { Errno, errnoName, errnoText } from '../spec/errno.js';
import { programTypeByName, SKB_TEST_RUN_TYPES, XDP_MD, XDP_MD_OFFSETS } from '../spec/program-types.js';
import { checkDeadline } from '../vm/limits.js';
import { testRunFlowDissector } from './flow-dissector.js';
import { testRunSkLookup } from './sk-lookup.js';
import { ethProtocol, SKB_MAX_PACKET, type SkbRunOptions, SkbSlot, skbIsL2 } from './skb.js';
import { ARGS_TYPES, testRunArgs } from './test-run-args.js';
import { LOOPBACK_IFINDEX, XdpHook, type XdpRunOptions } from './xdp.js';

/** Shortest data_in the kernel's test runs take (ETH_HLEN): XDP and the __sk_buff program types. */
export const TEST_RUN_MIN_DATA = 14;
/** Largest repeat count: `test.repeat` is a u32 in bpf_attr. */
export const TEST_RUN_MAX_REPEAT = 0xffff_ffff;

/** Program types whose kernel test run builds a packet from data_in (bpf_prog_test_run_skb / _xdp / flow dissector). */
const PACKET_TYPES: ReadonlySet<string> = new Set(['xdp', 'flow_dissector', ...SKB_TEST_RUN_TYPES]);

/** A test run the kernel refuses: the errno BPF_PROG_TEST_RUN returns and why. */
export class TestRunError extends TsbpfError {
  override name = 'TestRunError';
  /** The errno's name (EINVAL for most refusals; ENODEV, E2BIG for some contexts). */
  readonly code: string;
  constructor(
    /** What is wrong with the arguments. */
    readonly reason: string,
    /** The program's name. */
    program: string,
    /** The errno's number (default EINVAL, 22). */
    readonly errno: number = Errno.EINVAL,
  ) {
    // The first words are bpftool's for the same failure (strerror's, capitalised: `Invalid argument`).
    const words = errnoText(errno);
    const said = `${words[0]!.toUpperCase()}${words.slice(1)} (${errnoName(errno)})`;
    super(`failed to run program: ${said}: ${reason}`, program);
    this.code = errnoName(errno);
  }
}

/** What testRun takes, as the kernel's BPF_PROG_TEST_RUN does: the packet, the context, a repeat count. */
export interface TestRunOptions {
  /** The packet (XDP: metadata first when `ctxIn` says so); at least 14 bytes, as the kernel requires. */
  dataIn: Uint8Array;
  /**
   * XDP: a `struct xdp_md` in (up to 24 bytes), as the kernel takes it: `data` is the length of metadata at
   * the start of `dataIn`, `data_end` must equal `dataIn.length`, `data_meta` and `egress_ifindex` must be 0;
   * `ingress_ifindex` and `rx_queue_index` are passed to the program. skb types: a `struct __sk_buff` in
   * (up to 192 bytes): mark, priority, ingress_ifindex, ifindex (0 or 1), cb, tstamp, wire_len, gso_segs,
   * gso_size and hwtstamp may be set, the rest must be 0; without one, the program reads wire_len 0.
   * flow_dissector: a `struct bpf_flow_keys` (56 bytes) in which only `flags` may be set. sk_lookup: a
   * `struct bpf_sk_lookup` (72 bytes, required; see hooks/sk-lookup.ts), and no data in.
   */
  ctxIn?: Uint8Array;
  /** Number of runs, 0 to 2^32-1 (default 1; 0 is one run, as in the kernel); the duration is averaged. */
  repeat?: number;
  /** XDP only: fields of the context (ingress_ifindex, rx_queue_index). */
  xdp?: XdpRunOptions;
  /**
   * Clock in nanoseconds (default: wall time from `performance.now()`). The kernel stops its clock while
   * the test-run thread is scheduled out; on a loaded machine a thread CPU-time clock comes closer.
   */
  clock?: () => number;
  /**
   * performance.now() time (ms) after which the repeats stop with a RunLimitError (checked between
   * batches of runs; the runner's own limits bound each run).
   */
  deadline?: number;
}

/**
 * What testRun gives, as BPF_PROG_TEST_RUN does: the return value, the packet and context after the run, the
 * time per run.
 */
export interface TestRunResult {
  retval: number;
  /**
   * The packet after the last run, from data_meta (metadata first, as the kernel returns it) to data_end;
   * for a flow dissector the `struct bpf_flow_keys` it left (56 bytes).
   */
  dataOut: Uint8Array;
  /**
   * XDP: `struct xdp_md` out: data = metadata length, data_end = data_out length (as the kernel). skb
   * types: the `struct __sk_buff` in with the fields the kernel copies back as the run left them.
   * flow_dissector: the `struct bpf_flow_keys` in, unchanged (zeros without one).
   */
  ctxOut: Uint8Array;
  /** Average nanoseconds per run, measured around the repeat loop (as bpftool reports it; the first of
   * several runs is left out: it pays for V8 compiling what it reaches). */
  durationNs: number;
  repeat: number;
}

/** Runs per call of the engine's batch entry: the table of context addresses has this many entries. */
const CHUNK = 1024;

const wallClock = (): number => (globalThis as { performance: { now(): number } }).performance.now() * 1e6;

/** Run a program the way the kernel's BPF_PROG_TEST_RUN does: on a copy of the packet, `repeat` times. */
export function testRun(runner: Runner, options: TestRunOptions): TestRunResult {
  const name = runner.program.name;
  if (ARGS_TYPES.has(runner.program.type))
    return testRunArgs(runner, options, runner.program.type, (why) => new TestRunError(why, name));
  const repeat = repeatCount(options.repeat, name);
  const type = runner.program.type || 'xdp';
  // The length check comes first, as in the kernel.
  if (PACKET_TYPES.has(type) && options.dataIn.length < TEST_RUN_MIN_DATA)
    throw tooShort(options.dataIn.length, name);
  if (SKB_TEST_RUN_TYPES.has(type)) return testRunSkb(runner, options, repeat, type);
  if (type === 'sk_lookup')
    return testRunSkLookup(runner, options, repeat, (why, errno) => new TestRunError(why, name, errno));
  if (type === 'flow_dissector') {
    const refuse = (why: string, errno?: number) => new TestRunError(why, name, errno);
    const { dataIn, ctxIn, clock = wallClock, deadline } = options;
    return { ...testRunFlowDissector(runner, dataIn, ctxIn, repeat, clock, deadline, refuse), repeat };
  }
  // The kernel test-runs only bpf_dummy_ops' struct_ops programs (EOPNOTSUPP for the rest): a struct_ops
  // program runs when the kernel calls its struct's member, once the map is registered.
  if (type === 'struct_ops')
    throw new TestRunError(
      'struct_ops programs cannot be test-run (the kernel answers EOPNOTSUPP too): they run when the kernel calls the member they implement, once their map is registered (KernelObject.attachStructOps)',
      name,
      Errno.EOPNOTSUPP,
    );
  if (type !== 'xdp') {
    throw new TsbpfError(
      `test run of ${type} programs is not supported yet (xdp, ${[...SKB_TEST_RUN_TYPES].join(', ')}, flow_dissector, sk_lookup are)`,
      name,
    );
  }
  const input = xdpContextIn(options, name);
  if (options.dataIn.length - input.metaLength < TEST_RUN_MIN_DATA) {
    throw new TestRunError(
      `the packet after ${input.metaLength} bytes of metadata has ${options.dataIn.length - input.metaLength}, fewer than an Ethernet header (${TEST_RUN_MIN_DATA})`,
      name,
    );
  }
  const rt = runner.runtime;
  const space = rt.space;
  const hook = new XdpHook(runner);
  try {
    const slot = hook.frame;
    slot.load(options.dataIn.subarray(input.metaLength), input.xdp);
    if (input.metaLength > 0) {
      // Metadata sits in the headroom right before the packet, where the kernel puts it.
      const meta = slot.frame.start - input.metaLength;
      space.bytes.set(options.dataIn.subarray(0, input.metaLength), meta);
      space.view.setUint32(slot.ctx.start + XDP_MD_OFFSETS.data_meta, meta, true);
    }
    const { retval, durationNs } = timedRuns(runner, slot.ctx.start, slot.frame, repeat, options);
    slot.result(retval, rt.invocation.redirect);
    const v = space.view;
    const meta = v.getUint32(slot.ctx.start + XDP_MD_OFFSETS.data_meta, true);
    const end = slot.frame.end;
    const ctxOut = new Uint8Array(XDP_MD.size);
    const co = new DataView(ctxOut.buffer);
    co.setUint32(XDP_MD_OFFSETS.data, slot.frame.start - meta, true);
    co.setUint32(XDP_MD_OFFSETS.data_end, end - meta, true);
    // The rest is the context in, unchanged (the kernel converts only data and data_end back).
    if (options.ctxIn) {
      for (const f of ['ingress_ifindex', 'rx_queue_index'] as const) {
        co.setUint32(XDP_MD_OFFSETS[f], input.ctx.getUint32(XDP_MD_OFFSETS[f], true), true);
      }
    }
    return { retval, dataOut: space.bytes.slice(meta, end), ctxOut, durationNs, repeat };
  } finally {
    hook.close();
  }
}

/**
 * The timed part of a test run: the program `repeat` times on the context at `ctx` (its packet region
 * `packet`), through the engine's batch entry; the last run's return value and the time per run.
 */
function timedRuns(
  runner: Runner,
  ctx: number,
  packet: Region,
  repeat: number,
  options: TestRunOptions,
): { retval: number; durationNs: number } {
  const clock = options.clock ?? wallClock;
  const rt = runner.runtime;
  const space = rt.space;
  const chunk = Math.min(repeat, CHUNK);
  const table = space.allocate(4 * chunk, 'scratch', 'test-run contexts', false);
  const out = space.allocate(4 * chunk, 'scratch', 'test-run verdicts', false);
  try {
    for (let i = 0; i < chunk; i++) space.view.setUint32(table.start + 4 * i, ctx, true);
    rt.invocationDefaults = { packet, programType: runner.program.type || 'xdp' };
    // Engines begin an invocation only for runs that call a helper: do not report a redirect that an
    // earlier run (of any program) left in the runtime's last invocation.
    rt.invocation.redirect = undefined;
    // The kernel's program is compiled at load; V8 finishes ours on first use (a wasm function, the
    // interpreter's loop, the JS around them), which a one-run test would otherwise time.
    runner.warmUp();
    // The first run also compiles what only running reaches (a helper's JS, a map's update path): with
    // more than one, it runs before the clock starts and the average is over the others.
    let last = 1;
    if (repeat > 1) runner.runBatch(table.start, 1, out.start);
    const timed = repeat > 1 ? repeat - 1 : 1;
    const t0 = clock();
    for (let left = timed; left > 0; left -= chunk) {
      if (options.deadline !== undefined) checkDeadline(options.deadline, -1);
      last = Math.min(left, chunk);
      runner.runBatch(table.start, last, out.start);
    }
    const elapsed = clock() - t0;
    return { retval: space.view.getUint32(out.start + 4 * (last - 1), true), durationNs: elapsed / timed };
  } finally {
    rt.invocationDefaults = {};
    space.release(table);
    space.release(out);
  }
}

/**
 * The skb test run (bpf_prog_test_run_skb): the packet as an skb on the loopback device, the
 * `__sk_buff` in checked as the kernel checks it, the packet and the context's convertible fields out.
 */
function testRunSkb(runner: Runner, options: TestRunOptions, repeat: number, type: string): TestRunResult {
  const name = runner.program.name;
  if (options.dataIn.length > SKB_MAX_PACKET) {
    throw new TestRunError(
      `data_in has ${options.dataIn.length} bytes, more than an skb test run takes (${SKB_MAX_PACKET})`,
      name,
    );
  }
  const l2 = skbIsL2(type);
  // skb->len when the context is converted: after eth_type_trans, and for tc with the header pushed back.
  const len = options.dataIn.length - (l2 ? 0 : TEST_RUN_MIN_DATA);
  const ctxBytes = options.ctxIn ? skbContextBytes(options.ctxIn, name) : undefined;
  // An IP packet must hold its fixed header (the kernel reads the addresses from it for the socket).
  const proto = ethProtocol(options.dataIn);
  const ipHeader = proto === 0x0800 ? 20 : proto === 0x86dd ? 40 : 0;
  if (options.dataIn.length - TEST_RUN_MIN_DATA < ipHeader) {
    throw new TestRunError(
      `data_in has ${options.dataIn.length} bytes, too few for its Ethernet and IPv${ipHeader === 20 ? 4 : 6} headers (${TEST_RUN_MIN_DATA + ipHeader})`,
      name,
    );
  }
  const ctx = ctxBytes ? skbContextIn(ctxBytes, len, name) : undefined;
  const slot = new SkbSlot(runner.runtime.space, l2);
  try {
    slot.load(options.dataIn, ctx?.fields);
    const { retval, durationNs } = timedRuns(runner, slot.ctx.start, slot.frame, repeat, options);
    return { retval, dataOut: slot.output(), ctxOut: skbContextOut(slot, ctx?.bytes), durationNs, repeat };
  } finally {
    slot.release();
  }
}

/** The `__sk_buff` fields the kernel takes from ctx_in (convert___skb_to_skb); all others must be zero. */
const SKB_CTX_IN: readonly (readonly [number, number])[] = [
  [SKB_OFF.mark, 4],
  [SKB_OFF.priority, 4],
  [SKB_OFF.ingressIfindex, 4],
  [SKB_OFF.ifindex, 4],
  [SKB_OFF.cb, 20],
  [SKB_OFF.tstamp, 8],
  [SKB_OFF.wireLen, 4],
  [SKB_OFF.gsoSegs, 4],
  [SKB_OFF.gsoSize, 4],
  [SKB_OFF.hwtstamp, 8],
];
/** GSO_LEGACY_MAX_SIZE: the largest wire_len; GSO_MAX_SEGS: the largest gso_segs. */
const MAX_WIRE_LEN = 65536;
const MAX_GSO_SEGS = 65535;

/** A `struct __sk_buff` in, padded to its size: E2BIG for more with non-zero bytes, ENODEV for a device. */
function skbContextBytes(ctxIn: Uint8Array, program: string): Uint8Array {
  if (ctxIn.length > SKB_CTX_SIZE && ctxIn.subarray(SKB_CTX_SIZE).some((b) => b !== 0)) {
    throw new TestRunError(
      `__sk_buff context in has ${ctxIn.length} bytes, struct __sk_buff has ${SKB_CTX_SIZE} (the rest must be zero)`,
      program,
      Errno.E2BIG,
    );
  }
  const bytes = new Uint8Array(SKB_CTX_SIZE);
  bytes.set(ctxIn.subarray(0, SKB_CTX_SIZE));
  // The device comes first: the kernel looks it up before it builds the skb and converts the fields.
  const ifindex = new DataView(bytes.buffer).getUint32(SKB_OFF.ifindex, true);
  if (ifindex > LOOPBACK_IFINDEX) {
    throw new TestRunError(
      `__sk_buff context in: ifindex ${ifindex} is no device here (user space has only loopback, ifindex 1)`,
      program,
      Errno.ENODEV,
    );
  }
  return bytes;
}

/** Check a `struct __sk_buff` in (from skbContextBytes) with the kernel's rules: the fields it takes. */
function skbContextIn(
  bytes: Uint8Array,
  len: number,
  program: string,
): { fields: SkbRunOptions; bytes: Uint8Array } {
  const v = new DataView(bytes.buffer);
  const bad = (why: string): never => {
    throw new TestRunError(`invalid __sk_buff context in: ${why}`, program);
  };
  let at = 0;
  for (const [offset, size] of [...SKB_CTX_IN, [SKB_CTX_SIZE, 0] as const]) {
    for (let i = at; i < offset; i++) {
      if (bytes[i] !== 0) bad(`${skbFieldAt(i)} must be 0 (only ${SKB_CTX_IN_NAMES} may be set)`);
    }
    at = offset + size;
  }
  let wireLen = v.getUint32(SKB_OFF.wireLen, true);
  if (wireLen === 0) wireLen = len;
  else if (wireLen < len || wireLen > MAX_WIRE_LEN)
    bad(`wire_len ${wireLen} must be from the packet's length (${len}) to ${MAX_WIRE_LEN}`);
  const gsoSegs = v.getUint32(SKB_OFF.gsoSegs, true);
  if (gsoSegs > MAX_GSO_SEGS) bad(`gso_segs ${gsoSegs} is more than ${MAX_GSO_SEGS}`);
  return {
    bytes,
    fields: {
      mark: v.getUint32(SKB_OFF.mark, true),
      priority: v.getUint32(SKB_OFF.priority, true),
      ingressIfindex: v.getUint32(SKB_OFF.ingressIfindex, true),
      cb: [0, 1, 2, 3, 4].map((i) => v.getUint32(SKB_OFF.cb + 4 * i, true)),
      tstamp: v.getBigUint64(SKB_OFF.tstamp, true),
      wireLen,
      gsoSegs,
      gsoSize: v.getUint32(SKB_OFF.gsoSize, true),
      hwtstamp: v.getBigUint64(SKB_OFF.hwtstamp, true),
    },
  };
}

const SKB_CTX_IN_NAMES =
  'mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp';

/** The `__sk_buff` field at byte `offset`, for messages. */
function skbFieldAt(offset: number): string {
  const fields = programTypeByName('sched_cls')!.ctx.fields;
  const f = fields.find((x) => offset >= x.offset && offset < x.offset + x.size);
  return f ? f.name.replace(/\[\d\]$/, '') : `byte ${offset}`;
}

/**
 * The `__sk_buff` out (convert_skb_to___skb): the context in with the fields the kernel copies back —
 * mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, hwtstamp (not gso_size) — as
 * the run left them.
 */
function skbContextOut(slot: SkbSlot, ctxIn: Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(SKB_CTX_SIZE);
  if (ctxIn) out.set(ctxIn);
  const ctx = slot.context();
  for (const [offset, size] of SKB_CTX_IN) {
    // gso_size is not copied back: ctx_out has the one given (a helper may have reset the skb's).
    if (offset !== SKB_OFF.gsoSize) out.set(ctx.subarray(offset, offset + size), offset);
  }
  return out;
}

/** `repeat` as the kernel takes it: a u32, 0 meaning 1. */
function repeatCount(value: number | undefined, program: string): number {
  if (value === undefined) return 1;
  if (!Number.isInteger(value) || value < 0 || value > TEST_RUN_MAX_REPEAT) {
    throw new TestRunError(`repeat ${value} is not a u32 (0 to ${TEST_RUN_MAX_REPEAT})`, program);
  }
  return Math.max(1, value);
}

function tooShort(length: number, program: string): TestRunError {
  return new TestRunError(
    `data_in has ${length} byte${length === 1 ? '' : 's'}, fewer than an Ethernet header (${TEST_RUN_MIN_DATA})`,
    program,
  );
}

/** Largest XDP metadata (skb_shared_info.meta_len is a u8), 4-byte aligned. */
const XDP_MAX_META = 255;

/** Check a `struct xdp_md` given as context in, with the kernel's rules (EINVAL cases become errors). */
function xdpContextIn(
  options: TestRunOptions,
  program: string,
): {
  metaLength: number;
  xdp: XdpRunOptions | undefined;
  ctx: DataView;
} {
  const ctx = options.ctxIn;
  if (!ctx) return { metaLength: 0, xdp: options.xdp, ctx: new DataView(new ArrayBuffer(XDP_MD.size)) };
  const bad = (why: string): never => {
    throw new TestRunError(`invalid xdp_md context in: ${why}`, program);
  };
  if (ctx.length > XDP_MD.size) {
    if (ctx.subarray(XDP_MD.size).some((b) => b !== 0))
      bad(`${ctx.length} bytes, struct xdp_md has ${XDP_MD.size}`);
  }
  const full = new Uint8Array(XDP_MD.size);
  full.set(ctx.subarray(0, XDP_MD.size));
  const v = new DataView(full.buffer);
  const data = v.getUint32(XDP_MD_OFFSETS.data, true);
  const dataEnd = v.getUint32(XDP_MD_OFFSETS.data_end, true);
  if (v.getUint32(XDP_MD_OFFSETS.data_meta, true) !== 0) bad('data_meta must be 0');
  if (v.getUint32(XDP_MD_OFFSETS.egress_ifindex, true) !== 0) bad('egress_ifindex must be 0');
  if (
    !v.getUint32(XDP_MD_OFFSETS.ingress_ifindex, true) &&
    v.getUint32(XDP_MD_OFFSETS.rx_queue_index, true)
  ) {
    bad('rx_queue_index needs an ingress_ifindex');
  }
  if (dataEnd !== options.dataIn.length)
    bad(`data_end is ${dataEnd}, data in has ${options.dataIn.length} bytes`);
  if (data > dataEnd) bad(`data (${data}) is past data_end (${dataEnd})`);
  if (data % 4 !== 0 || data > XDP_MAX_META)
    bad(`metadata length ${data} must be a multiple of 4 up to ${XDP_MAX_META}`);
  return {
    metaLength: data,
    ctx: v,
    xdp: {
      ...options.xdp,
      ingressIfindex: v.getUint32(XDP_MD_OFFSETS.ingress_ifindex, true) || undefined,
      rxQueueIndex: v.getUint32(XDP_MD_OFFSETS.rx_queue_index, true),
    },
  };
}
