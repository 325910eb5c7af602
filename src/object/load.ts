// From spec to live objects: `loadObject(spec)` creates the maps in a runtime, verifies and prepares every
// program against them, and registers the programs as tail-call targets. What it returns is what users
// hold: maps by name, programs by name, each program runnable on either engine.

import type { BtfValue } from '../btf/index.js';
import { createRunner, createRunnerAsync, type EngineName, type Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import { createMap } from '../maps/registry.js';
import type { TypedMap } from '../maps/typed.js';
import type { RuntimeMap } from '../maps/types.js';
import { MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { type VerifyResult, verify } from '../verifier/index.js';
import type { RunLimits } from '../vm/limits.js';
import type { PreparedProgram } from '../vm/program.js';
import { Runtime, type RuntimeOptions } from '../vm/runtime.js';
import { collect, findGlobal, globalVariables, readGlobal, writeGlobal } from './globals.js';
import { btfTypedMap } from './typed.js';

/** A program the verifier rejected at load time; `result` holds the diagnostics and the log. */
export class VerifierError extends TsbpfError {
  override name = 'VerifierError';
  constructor(
    readonly program: string,
    readonly result: VerifyResult,
  ) {
    super(result.diagnostics[0]?.message ?? 'rejected by the verifier', `program ${program}`);
  }
}

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

export class LoadedProgram {
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

export class LoadedObject {
  constructor(
    readonly spec: ObjectSpec,
    readonly runtime: Runtime,
    readonly maps: ReadonlyMap<string, RuntimeMap>,
    readonly programs: ReadonlyMap<string, LoadedProgram>,
  ) {}

  /** The map called `name` (global data maps are `.bss`, `.data`, `.rodata`). */
  map(name: string): RuntimeMap {
    const m = this.maps.get(name);
    if (!m) throw new TsbpfError(`no map '${name}' (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /**
   * The map as a JS Map-like view typed by the object's BTF: `typedMap('drops').get(5001)` →
   * `{ packets: 12n, bytes: 3400n }`. Integers of up to 4 bytes are numbers, 8-byte ones bigints (numbers
   * are accepted on input); maps without BTF get the default codecs (see src/maps/typed.ts).
   */
  typedMap<K = BtfValue, V = BtfValue>(name: string): TypedMap<K, V> {
    return btfTypedMap<K, V>(this.map(name), this.spec.btf);
  }

  /** Global variables as they are now in the maps, by name (`section:name` where a name repeats). */
  globals(): Record<string, BtfValue> {
    return collect(globalVariables(this.spec), (v) => readGlobal(this.spec.btf!, v, this.section(v.map)));
  }

  /** One global variable's current value (`name`, or `section:name`). */
  getGlobal(name: string): BtfValue {
    const v = findGlobal(this.spec, name);
    return readGlobal(this.spec.btf!, v, this.section(v.map));
  }

  /**
   * Set a global variable in its map (`.data`, `.bss`). `.rodata` is frozen after load, as in the kernel:
   * set constants on the spec with `setGlobal(spec, ...)` before `loadObject`.
   */
  setGlobal(name: string, value: BtfValue): void {
    const v = findGlobal(this.spec, name);
    const map = this.map(v.map);
    if (map.spec.readonly || ('frozen' in map && map.frozen)) {
      throw new TsbpfError(
        `global '${v.name}' is in ${v.map}, which is read-only after load; ` +
          `set it on the spec with setGlobal(spec, '${v.name}', value) before loadObject`,
      );
    }
    map.update(new Uint8Array(map.spec.keySize), writeGlobal(this.spec.btf!, v, this.section(v.map), value));
  }

  private section(mapName: string): Uint8Array {
    const map = this.map(mapName);
    return map.lookup(new Uint8Array(map.spec.keySize))?.slice(0, map.spec.valueSize) ?? new Uint8Array(0);
  }

  /**
   * Compile every program for the engine without blocking, so that running them, and tail calls between
   * them, never compiles synchronously: what a browser's main thread needs before the first run.
   */
  async compileAll(engine?: EngineName): Promise<void> {
    for (const p of this.programs.values()) await p.runnerAsync(engine);
  }

  /** The program with this function name or section name, or the first program when none is given. */
  program(name?: string): LoadedProgram {
    if (name === undefined) {
      const first = this.programs.values().next().value;
      if (!first) throw new TsbpfError('the object has no programs');
      return first;
    }
    const p = this.programs.get(name) ?? [...this.programs.values()].find((x) => x.spec.section === name);
    if (!p) {
      const list = [...this.programs.values()].map((x) => `${x.name} (${x.spec.section})`).join(', ');
      throw new TsbpfError(`no program or section '${name}' (programs: ${list || 'none'})`);
    }
    return p;
  }
}

/** Create maps, verify and prepare programs: the user-space equivalent of libbpf's bpf_object__load. */
export function loadObject(spec: ObjectSpec, options: LoadOptions = {}): LoadedObject {
  const runtime = options.runtime ?? new Runtime(options.runtimeOptions);
  const maps: RuntimeMap[] = spec.maps.map((m) => {
    const map = createMap(runtime.space, m, { cpus: runtime.cpus });
    runtime.registerMap(map);
    return map;
  });
  const byName = new Map(maps.map((m) => [m.spec.name, m]));
  const programs = new Map<string, LoadedProgram>();
  const wanted = options.programs ? new Set(options.programs) : undefined;
  for (const p of spec.programs) {
    if (wanted && !wanted.has(p.name)) continue;
    let verified: VerifyResult | undefined;
    if (options.verify !== false) {
      verified = verify(p, { maps: spec.maps, logLevel: 1 });
      if (!verified.accepted) throw new VerifierError(p.name, verified);
    }
    // Verified: what no path reaches may be what no engine runs (the kernel loads it as dead code).
    const prepared = runtime.prepare(p, maps, { trapInvalid: verified?.accepted === true });
    const id = runtime.registerProgram(prepared);
    programs.set(p.name, new LoadedProgram(p, prepared, id, runtime, verified, options.engine ?? 'jit'));
  }
  // Like libbpf, freeze .rodata after load: programs read constants the user set before loading.
  for (const m of maps) if (m.spec.readonly && 'freeze' in m) (m as { freeze(): void }).freeze();
  return new LoadedObject(spec, runtime, byName, programs);
}

/** Store a program in a PROG_ARRAY slot by name (what `--map-set jt 11000000=on_udp` does). */
export function setTailCallTarget(obj: LoadedObject, mapName: string, index: number, program: string): void {
  const map = obj.map(mapName);
  if (map.spec.type !== MapType.PROG_ARRAY) throw new TsbpfError(`map '${mapName}' is not a program array`);
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, index, true);
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, obj.program(program).id, true);
  map.update(key, value);
}
