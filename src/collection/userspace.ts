// From spec to live objects: `loadObject(spec)` creates the maps in a runtime, verifies and prepares every
// program against them, and registers the programs as tail-call targets. What it returns is what users
// hold: maps by name, programs by name, each program runnable on either engine.

import { createRunner, createRunnerAsync, type EngineName, type Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import { testRun } from '../hooks/test-run.js';
import { XdpHook } from '../hooks/xdp.js';
import { registerLocalTypes } from '../kfuncs/index.js';
import { createMap } from '../maps/registry.js';
import type { RuntimeMap } from '../maps/types.js';
import { MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { VerifierError, type VerifyResult } from '../verifier/index.js';
import { verifyPrivileged } from '../verifier/privileged.js';
import type { RunLimits } from '../vm/limits.js';
import type { PreparedProgram } from '../vm/program.js';
import { Runtime, type RuntimeOptions } from '../vm/runtime.js';
import { CollectionBase, loadWith } from './collection.js';
import type { Backend, Link, Program, RunOptions, RunResult } from './types.js';

/** Options of loading an object in user space (loadObject). */
export interface LoadOptions {
  /** Load into this runtime (default: a new one built from `runtimeOptions`). */
  runtime?: Runtime;
  runtimeOptions?: RuntimeOptions;
  /** Engine for `LoadedProgram.runner()` when none is named (default 'jit'). */
  engine?: EngineName;
  /**
   * Run the verifier on every program (default true). A rejection throws VerifierError. With `false`,
   * programs run in checked mode: every access validated, an instruction budget.
   */
  verify?: boolean;
  /** Only load these programs (names); the others are left out (their maps are still created). */
  programs?: readonly string[];
}

/** What a user-space test run takes beyond the common options: the engine, the clock, the limits. */
export interface UserspaceRunOptions extends RunOptions {
  engine?: EngineName;
  /** Clock in nanoseconds (default wall time); see TestRunOptions.clock. */
  clock?: () => number;
  /** Run limits (src/vm/limits.ts): the budget of each run, a deadline for all of them. */
  limits?: RunLimits;
}

/** How a live interface is attached in user space (the Node data path: src/node/live/datapath.ts). */
export interface LiveXdpOptions {
  /** Network namespace of the interface (`ip netns` name or path). */
  netns?: string;
  engine?: EngineName;
  /** A TAP device the frames the program passes are written to (without it verdicts are only counted). */
  tap?: string;
}

/** Attaches a user-space program to a live interface; registered where that can run (tsbpf under Node). */
export type LiveXdpAttacher = (program: LoadedProgram, iface: string, options: LiveXdpOptions) => Link;

let liveXdp: LiveXdpAttacher | undefined;

/** Let user-space programs attach to live interfaces (`attachXdp('veth0')`) through `attacher`. */
export function registerLiveXdp(attacher: LiveXdpAttacher): void {
  liveXdp = attacher;
}

/** A program of a user-space collection: runnable on either engine, attachable to hooks. */
export class LoadedProgram implements Program {
  readonly backend = 'userspace';
  private readonly runners = new Map<string, Runner>();
  constructor(
    readonly spec: ProgramSpec,
    readonly prepared: PreparedProgram,
    /** Runtime program id (what a PROG_ARRAY slot holds). */
    readonly id: number,
    readonly runtime: Runtime,
    /** The verifier's result, when the program was verified. */
    readonly verified: VerifyResult | undefined,
    private readonly defaultEngine: EngineName,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get type(): string {
    return this.spec.type;
  }

  /**
   * The program bound to an engine (compiled once per engine). Unverified programs run checked. With
   * `limits` (a budget, a deadline: src/vm/limits.ts) a runner of its own, bound by them.
   */
  runner(engine: EngineName = this.defaultEngine, limits?: RunLimits): Runner {
    const checked = !this.verified?.accepted;
    if (limits) return createRunner(this.runtime, this.prepared, { engine, checked, ...limits });
    let r = this.runners.get(engine);
    if (!r) {
      r = createRunner(this.runtime, this.prepared, { engine, checked });
      this.runners.set(engine, r);
    }
    return r;
  }

  /** A test run, as the kernel's BPF_PROG_TEST_RUN (XDP programs). */
  run(options: UserspaceRunOptions): RunResult {
    const limits = options.limits;
    const r = testRun(this.runner(options.engine, limits), {
      dataIn: options.dataIn,
      ctxIn: options.ctxIn,
      repeat: options.repeat,
      clock: options.clock,
      deadline: limits?.deadline,
    });
    const out: RunResult = {
      retval: r.retval,
      dataOut: r.dataOut,
      durationNs: r.durationNs,
      repeat: r.repeat,
    };
    if (options.ctxIn) out.ctxOut = r.ctxOut;
    return out;
  }

  /**
   * Attach an XDP program. Without an interface: to the packets you hand it (`link.run(packet)`), the XDP
   * hook. With one (a name, in `options.netns` or the current namespace): to the frames arriving there, read
   * by a packet socket — the Node data path (`tsbpf` under Node on Linux, as root). Either is a Link.
   */
  attachXdp(): XdpHook;
  attachXdp(iface: string, options?: LiveXdpOptions): Link;
  attachXdp(iface?: string, options: LiveXdpOptions = {}): XdpHook | Link {
    if (iface === undefined) return new XdpHook(this.runner(options.engine));
    if (!liveXdp) {
      throw new TsbpfError(
        `attaching ${this.name} to ${iface} needs the Node data path (tsbpf under Node.js on Linux); ` +
          'without it, run packets through attachXdp() or load the object into the kernel back end',
      );
    }
    return liveXdp(this, iface, options);
  }

  /** Nothing to release in user space (the runtime owns the program). */
  close(): void {}

  /**
   * runner() without a synchronous WebAssembly compile (a browser's main thread refuses those over
   * 4 KB); later runner() calls return the same runner.
   */
  async runnerAsync(engine: EngineName = this.defaultEngine): Promise<Runner> {
    let r = this.runners.get(engine);
    if (!r) {
      r = await createRunnerAsync(this.runtime, this.prepared, { engine, checked: !this.verified?.accepted });
      this.runners.set(engine, r);
    }
    return r;
  }
}

/** Maps and programs of an object in a user-space runtime (`loadCollection(spec)`, `loadObject(spec)`). */
export class LoadedObject extends CollectionBase<RuntimeMap, LoadedProgram> {
  constructor(
    spec: ObjectSpec,
    readonly runtime: Runtime,
    maps: ReadonlyMap<string, RuntimeMap>,
    programs: ReadonlyMap<string, LoadedProgram>,
    impl: Backend<RuntimeMap, LoadedProgram>,
  ) {
    super(spec, maps, programs, impl);
  }

  /**
   * Compile every program for the engine without blocking, so that running them, and tail calls between
   * them, never compiles synchronously: what a browser's main thread needs before the first run.
   */
  async compileAll(engine?: EngineName): Promise<void> {
    for (const p of this.programs.values()) await p.runnerAsync(engine);
  }
}

/** The user-space back end: maps in the runtime's memory, programs verified and prepared in it. */
function userspaceBackend(runtime: Runtime, options: LoadOptions): Backend<RuntimeMap, LoadedProgram> {
  return {
    name: 'userspace',
    createMap: (spec) => {
      // As libbpf (and the kernel back end): a perf event array declared without max_entries gets one per CPU.
      const sized =
        spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0
          ? { ...spec, maxEntries: runtime.cpus }
          : spec;
      const map = createMap(runtime.space, sized, { cpus: runtime.cpus });
      runtime.registerMap(map);
      return map;
    },
    loadProgram: (p, maps, _btf, object) => {
      let verified: VerifyResult | undefined;
      if (options.verify !== false) {
        // A privileged load, as ours are (an uninitialised stack read is accepted, with a warning).
        // The object's BTF: the program-local structs bpf_obj_new allocates (registered below for the run).
        verified = verifyPrivileged(p, {
          maps: object.maps,
          logLevel: 1,
          ...(object.btf ? { objectBtf: object.btf } : {}),
        });
        if (!verified.accepted) throw new VerifierError(p.name, verified);
      }
      if (object.btf && p.kfuncs?.some((k) => k.name === 'bpf_obj_new_impl'))
        registerLocalTypes(runtime.space, object.btf);
      // Verified: what no path reaches may be what no engine runs (the kernel loads it as dead code).
      const prepared = runtime.prepare(p, maps, {
        trapInvalid: verified?.accepted === true,
        // Accepted reading stack it never wrote: each run starts from a zeroed stack.
        clearStack: (verified?.warnings?.length ?? 0) > 0,
        ...(verified?.ctxStores ? { ctxStores: verified.ctxStores } : {}),
      });
      const id = runtime.registerProgram(prepared);
      return new LoadedProgram(p, prepared, id, runtime, verified, options.engine ?? 'jit');
    },
    programRef: (p) => p.id,
    mapRef: (m) => m.addr,
    freeze: (m) => m.freeze(),
    closeMap: (m) => m.close(),
  };
}

/** Create maps, verify and prepare programs: the user-space equivalent of libbpf's bpf_object__load. */
export function loadObject(spec: ObjectSpec, options: LoadOptions = {}): LoadedObject {
  const runtime = options.runtime ?? new Runtime(options.runtimeOptions);
  const impl = userspaceBackend(runtime, options);
  const { maps, programs } = loadWith(impl, spec, options);
  // A struct_ops map holds the ids of the loaded programs its members name (the kernel back end writes
  // their fds when it registers the map); a program left out of the selection leaves its slot 0.
  for (const m of spec.maps) {
    const map = m.structOps && maps.get(m.name);
    if (!map) continue;
    const value = new Uint8Array(map.lookup(new Uint8Array(4)) ?? new Uint8Array(m.valueSize));
    const view = new DataView(value.buffer);
    for (const member of m.structOps!.members) {
      const p = member.program === undefined ? undefined : programs.get(member.program);
      if (p) view.setBigUint64(member.offset, BigInt(impl.programRef(p)), true);
    }
    map.update(new Uint8Array(4), value);
  }
  return new LoadedObject(spec, runtime, maps, programs, impl);
}

/** Store a program in a PROG_ARRAY slot by name; `obj.setTailCall(map, index, program)` (kept for one release). */
export function setTailCallTarget(obj: LoadedObject, mapName: string, index: number, program: string): void {
  obj.setTailCall(mapName, index, program);
}
