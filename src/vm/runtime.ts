// The runtime plays the kernel for programs run in user space: it owns the address space, the maps, the
// registered programs (tail-call targets), the per-CPU stacks, a clock, a random source and trace output,
// and it is the `HelperEnv` helpers receive. Engines (interpreter, JIT) run programs against it.

import { checkNet } from '../helpers/route.js';
import type { HelperEnv, Invocation, NetModel, TaskModel } from '../helpers/types.js';
import { type Insn, MAX_CALL_FRAMES, STACK_SIZE } from '../isa/index.js';
import type { RuntimeMap } from '../maps/types.js';
import { AddressSpace, type Region } from '../memory/address-space.js';
import type { ProgramSpec } from '../spec/object.js';
import { type PreparedProgram, type PrepareOptions, prepareProgram } from './program.js';

/** What an engine installs while it runs, so helpers such as bpf_loop can call back into the program. */
export type CallbackRunner = (
  target: number,
  r1: bigint,
  r2: bigint,
  r3: bigint,
  r4: bigint,
  r5: bigint,
) => bigint;

/**
 * The task helpers report as current (bpf_get_current_pid_tgid, _uid_gid, _comm; its cgroup path and call
 * stacks for the cgroup and stack helpers).
 */
export interface TaskInfo extends TaskModel {}

/** Options of a Runtime. */
export interface RuntimeOptions {
  /** Share an existing address space (default: a new one). */
  space?: AddressSpace;
  /** Number of simulated CPUs (per-CPU maps and stacks); default 1. */
  cpus?: number;
  /**
   * Monotonic clock in ns, a safe integer (a bigint is converted, a fraction truncated); default
   * `performance.now()`-based. Tests pass a fake clock.
   */
  clock?: () => number | bigint;
  /** Seed of the deterministic random source (xorshift32); default 0x2545f491. */
  seed?: number;
  task?: Partial<TaskInfo>;
  /** The network bpf_fib_lookup routes over (interfaces, routes); default loopback only. */
  net?: NetModel;
  /** Called for each bpf_trace_printk line (lines are also kept in `traceLines`). */
  onTrace?: (line: string) => void;
  /**
   * Bytes this runtime's maps may take, each charged at its largest when created (ENOMEM past it); at
   * most the address space's size. Default: the address space's own limit (DEFAULT_MAP_MEMORY_LIMIT,
   * 256 MiB; the Node loader passes a quarter of the machine's memory).
   */
  mapMemoryLimit?: number;
}

/** Bytes of unmapped slack after each stack frame. */
export const STACK_GUARD = 64;

/**
 * Plays the kernel for programs: owns the address space, the maps and programs, and the helpers they call.
 */
export class Runtime implements HelperEnv {
  readonly space: AddressSpace;
  readonly cpus: number;
  /** The simulated CPU the next run executes on. */
  cpu = 0;
  /** State of the current (or last) run; engines reset it per run. */
  invocation: Invocation = { ctx: 0, programType: '', tailCalls: 0 };
  readonly traceLines: string[] = [];
  readonly task: TaskInfo;
  readonly net: NetModel | undefined;
  /**
   * Fields every new invocation starts with (a hook sets the packet here once, so the engines' fast entry
   * points, which take only the context address, still give helpers the packet).
   */
  invocationDefaults: Partial<Invocation> = {};
  /** Set by the running engine; helpers reach it through `callback`. */
  callbackRunner: CallbackRunner | undefined;
  /**
   * Set while an engine runs a batch whose runs begin their invocation at their first helper call: code
   * about to call a helper calls it first (it begins the current run's invocation, once per run). Shared
   * by every program the batch reaches, tail-called ones included.
   */
  beginDeferred: (() => void) | undefined;
  private readonly mapsByAddr = new Map<number, RuntimeMap>();
  private readonly programs: PreparedProgram[] = [];
  private readonly stacks: Region[][] = [];
  /** The one source of time: ns as a safe integer (nowNs is derived from it). */
  private readonly clock: () => number;
  private readonly onTrace: ((line: string) => void) | undefined;
  private rng: number;
  private zeroKeyAddr = 0;

  constructor(options: RuntimeOptions = {}) {
    this.space = options.space ?? new AddressSpace();
    this.cpus = Math.max(1, Math.floor(options.cpus ?? 1));
    const clock = options.clock;
    this.clock = clock ? () => Math.trunc(Number(clock())) : defaultClock();
    this.rng = (options.seed ?? 0x2545f491) >>> 0 || 1;
    this.onTrace = options.onTrace;
    this.task = { pid: 1000, tgid: 1000, uid: 0, gid: 0, comm: 'tsbpf', ...options.task };
    if (options.net) checkNet(options.net);
    this.net = options.net;
    const limit = options.mapMemoryLimit;
    if (limit !== undefined) {
      if (!(limit >= 0)) throw new RangeError(`mapMemoryLimit must be a number of bytes >= 0, got ${limit}`);
      this.space.mapMemoryLimit = Math.min(limit, this.space.maxBytes);
    }
  }

  // --- maps and programs -----------------------------------------------------------------------

  /** Make a map known to programs and helpers (its handle address is what lddw loads). */
  registerMap(map: RuntimeMap): void {
    this.mapsByAddr.set(map.addr, map);
  }

  mapAt(addr: number): RuntimeMap | undefined {
    return this.mapsByAddr.get(addr);
  }

  get maps(): readonly RuntimeMap[] {
    return [...this.mapsByAddr.values()];
  }

  /** Prepare a program against this runtime (map value addresses resolve through its memory). */
  prepare(
    spec: ProgramSpec | readonly Insn[],
    maps: readonly RuntimeMap[] = [],
    options: PrepareOptions = {},
  ): PreparedProgram {
    if (this.zeroKeyAddr === 0) this.zeroKeyAddr = this.space.allocate(8, 'scratch', 'zero key', false).start;
    for (const m of maps) if (!this.mapAt(m.addr)) this.registerMap(m);
    return prepareProgram(spec, maps, { zeroKey: this.zeroKeyAddr, cpu: 0, ...options });
  }

  /** Register a program as a tail-call target; returns its id (what a PROG_ARRAY value holds). */
  registerProgram(program: PreparedProgram): number {
    const known = this.programs.indexOf(program);
    if (known >= 0) return known + 1;
    return this.programs.push(program);
  }

  /** The id a program was registered under, or 0. */
  idOf(program: PreparedProgram): number {
    return this.programs.indexOf(program) + 1;
  }

  /** The program registered under `id`, for tail calls. */
  program(id: number): PreparedProgram | undefined {
    return id >= 1 ? this.programs[id - 1] : undefined;
  }

  // --- stacks ---------------------------------------------------------------------------------

  /** The stack frames of `cpu` (one 512-byte region per call depth, allocated on first use). */
  stackFrames(cpu = this.cpu): readonly Region[] {
    let frames = this.stacks[cpu];
    if (!frames) {
      frames = [];
      for (let f = 0; f < MAX_CALL_FRAMES; f++) {
        // Each frame is followed by unmapped slack, so an access just above r10 faults in checked mode
        // instead of landing in the next frame.
        const frame = this.space.allocate(
          STACK_SIZE + STACK_GUARD,
          'stack',
          `stack frame ${f} of cpu ${cpu}`,
        );
        frame.end = frame.start + STACK_SIZE;
        frames.push(frame);
      }
      this.stacks[cpu] = frames;
    }
    return frames;
  }

  // --- HelperEnv ------------------------------------------------------------------------------

  nowNs(): bigint {
    return BigInt(this.clock());
  }

  nowNsNumber(): number {
    return this.clock();
  }

  /** xorshift32: deterministic for a given seed, so runs and tests are reproducible. */
  random32(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }

  trace(line: string): void {
    this.traceLines.push(line);
    this.onTrace?.(line);
  }

  callback(target: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint): bigint {
    if (!this.callbackRunner) throw new Error('callback called while no program is running');
    return this.callbackRunner(target, r1, r2, r3, r4, r5);
  }

  /** Start a fresh invocation (engines call this at the start of each run). */
  beginInvocation(fields: Partial<Invocation> = {}): Invocation {
    // A run that ended holding ring-buffer samples (only an unverified one can) gives them up now.
    const last = this.invocation;
    if (last.rings !== undefined) this.releaseSamples(last);
    // Engines call this once per run: one object of a fixed shape, fields copied by name (a spread of
    // three objects cost microseconds in V8, Object.assign ~4x this).
    const inv: Invocation = {
      ctx: 0,
      programType: '',
      packet: undefined,
      tailCall: undefined,
      tailCalls: 0,
      redirect: undefined,
      rings: undefined,
    };
    copyInvocation(inv, this.invocationDefaults);
    copyInvocation(inv, fields);
    this.invocation = inv;
    return inv;
  }

  /** Discard the ring-buffer samples `inv` still holds (its run has ended). */
  releaseSamples(inv: Invocation): void {
    const rings = inv.rings;
    inv.rings = undefined;
    if (rings) for (const ring of rings) ring.abandon(inv);
  }
}

/** Copy the fields `from` has (present but undefined included, as a spread would). */
function copyInvocation(inv: Invocation, from: Partial<Invocation>): void {
  if ('ctx' in from) inv.ctx = from.ctx!;
  if ('programType' in from) inv.programType = from.programType!;
  if ('packet' in from) inv.packet = from.packet;
  if ('tailCall' in from) inv.tailCall = from.tailCall;
  if ('tailCalls' in from) inv.tailCalls = from.tailCalls!;
  if ('redirect' in from) inv.redirect = from.redirect;
}

/** Nanoseconds since the process (or, without `performance`, the runtime) started: far below 2^53. */
function defaultClock(): () => number {
  const perf = (globalThis as { performance?: { now(): number; timeOrigin?: number } }).performance;
  if (!perf) {
    const t0 = Date.now();
    return () => (Date.now() - t0) * 1_000_000;
  }
  return () => Math.round(perf.now() * 1e6);
}
