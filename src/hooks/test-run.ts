// The equivalent of the kernel's BPF_PROG_TEST_RUN: data in, (context in), repeat → return value, data
// out, average duration per run. As in the kernel, the repetitions run on the same buffer one after the
// other and the reported return value and data are those of the last run.
//
// Timing follows the kernel's: the packet is laid out once, then the clock runs around a loop that only
// runs the program on the same context (the engine's batch entry over a table whose entries all name that
// context: on the JIT, a wasm loop for programs without helper calls), so `durationNs` compares with
// what `bpftool prog run … repeat N` reports. One difference: with N > 1 the first run is not timed, since
// it pays for V8 compiling the code it reaches (the kernel's JIT compiled everything at load).
//
// What the kernel refuses, this refuses with the same errno (a TestRunError): data_in shorter than an
// Ethernet header — 0 to 13 bytes, for XDP (after any metadata) and for the __sk_buff program types, as
// BPF_PROG_TEST_RUN answers EINVAL on Linux 6.18 with bpftool — a bad xdp_md context in, and a repeat
// count that does not fit bpf_attr's u32. A repeat of 0 is one run, as in the kernel.

import type { Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import { Errno, errnoName, errnoText } from '../spec/errno.js';
import { XDP_MD, XDP_MD_OFFSETS } from '../spec/program-types.js';
import { checkDeadline } from '../vm/limits.js';
import { XdpHook, type XdpRunOptions } from './xdp.js';

/** Shortest data_in the kernel's test runs take (ETH_HLEN): XDP and the __sk_buff program types. */
export const TEST_RUN_MIN_DATA = 14;
/** Largest repeat count: `test.repeat` is a u32 in bpf_attr. */
export const TEST_RUN_MAX_REPEAT = 0xffff_ffff;

/** Program types whose kernel test run builds a packet from data_in (bpf_prog_test_run_skb / _xdp / flow dissector). */
const PACKET_TYPES = new Set([
  'xdp',
  'socket_filter',
  'sched_cls',
  'sched_act',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'flow_dissector',
]);

/** A test run the kernel refuses: the errno BPF_PROG_TEST_RUN returns and why. */
export class TestRunError extends TsbpfError {
  override name = 'TestRunError';
  /** The errno's name; EINVAL is the only one the rules here give. */
  readonly code = errnoName(Errno.EINVAL);
  /** Its number (22). */
  readonly errno = Errno.EINVAL;
  constructor(
    /** What is wrong with the arguments. */
    readonly reason: string,
    /** The program's name. */
    program: string,
  ) {
    // The first words are bpftool's for the same failure (strerror's, capitalised: `Invalid argument`).
    const words = errnoText(Errno.EINVAL);
    const said = `${words[0]!.toUpperCase()}${words.slice(1)} (${errnoName(Errno.EINVAL)})`;
    super(`failed to run program: ${said}: ${reason}`, program);
  }
}

/** What testRun takes, as the kernel's BPF_PROG_TEST_RUN does: the packet, the context, a repeat count. */
export interface TestRunOptions {
  /** The packet (XDP: metadata first when `ctxIn` says so); at least 14 bytes, as the kernel requires. */
  dataIn: Uint8Array;
  /**
   * XDP: a `struct xdp_md` in (up to 24 bytes), as the kernel takes it: `data` is the length of metadata at
   * the start of `dataIn`, `data_end` must equal `dataIn.length`, `data_meta` and `egress_ifindex` must be 0;
   * `ingress_ifindex` and `rx_queue_index` are passed to the program.
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
  /** The packet after the last run, from data_meta (metadata first, as the kernel returns it) to data_end. */
  dataOut: Uint8Array;
  /** XDP: `struct xdp_md` out: data = metadata length, data_end = data_out length (as the kernel). */
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
  const repeat = repeatCount(options.repeat, name);
  const type = runner.program.type || 'xdp';
  // The length check comes first, as in the kernel: for the __sk_buff types too, though only XDP runs here.
  if (PACKET_TYPES.has(type) && options.dataIn.length < TEST_RUN_MIN_DATA)
    throw tooShort(options.dataIn.length, name);
  if (type !== 'xdp') {
    throw new TsbpfError(`test run of ${type} programs is not supported yet (xdp is)`, name);
  }
  const input = xdpContextIn(options, name);
  if (options.dataIn.length - input.metaLength < TEST_RUN_MIN_DATA) {
    throw new TestRunError(
      `the packet after ${input.metaLength} bytes of metadata has ${options.dataIn.length - input.metaLength}, fewer than an Ethernet header (${TEST_RUN_MIN_DATA})`,
      name,
    );
  }
  const clock = options.clock ?? wallClock;
  const rt = runner.runtime;
  const space = rt.space;
  const hook = new XdpHook(runner);
  const chunk = Math.min(repeat, CHUNK);
  const table = space.allocate(4 * chunk, 'scratch', 'test-run contexts', false);
  const out = space.allocate(4 * chunk, 'scratch', 'test-run verdicts', false);
  try {
    const slot = hook.frame;
    slot.load(options.dataIn.subarray(input.metaLength), input.xdp);
    if (input.metaLength > 0) {
      // Metadata sits in the headroom right before the packet, where the kernel puts it.
      const meta = slot.frame.start - input.metaLength;
      space.bytes.set(options.dataIn.subarray(0, input.metaLength), meta);
      space.view.setUint32(slot.ctx.start + XDP_MD_OFFSETS.data_meta, meta, true);
    }
    for (let i = 0; i < chunk; i++) space.view.setUint32(table.start + 4 * i, slot.ctx.start, true);
    rt.invocationDefaults = { packet: slot.frame, programType: 'xdp' };
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
    const retval = space.view.getUint32(out.start + 4 * (last - 1), true);
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
    return { retval, dataOut: space.bytes.slice(meta, end), ctxOut, durationNs: elapsed / timed, repeat };
  } finally {
    rt.invocationDefaults = {};
    space.release(table);
    space.release(out);
    hook.close();
  }
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
