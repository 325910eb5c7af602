// What tracing hooks attach: a program verified against the context the hook provides, bound to an engine.
// A program comes from an object (`loadObject(...).program(name)`) or is given as instructions (assembler,
// TypeScript builder) with the maps it refers to. Verification is not optional here: a tracing program runs
// inside the traced code, so only programs the verifier accepts run, and they run unchecked at full speed.

import { createRunner, type EngineName } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import type { Insn } from '../isa/index.js';
import type { RuntimeMap } from '../maps/types.js';
import type { ProgramSpec } from '../spec/object.js';
import type { ProgramType } from '../spec/program-types.js';
import { VerifierError } from '../verifier/index.js';
import { verifyPrivileged } from '../verifier/privileged.js';
import { liveMapSpec } from '../verifier/rodata.js';
import type { PreparedProgram } from '../vm/program.js';
import { Runtime } from '../vm/runtime.js';

/** Instructions with the maps their lddw map references index into, loaded into `runtime` (or a new one). */
export interface InsnProgram {
  insns: readonly Insn[];
  maps?: readonly RuntimeMap[];
  runtime?: Runtime;
  name?: string;
}

/** A program already prepared in a runtime: what a user-space collection's programs are. */
export interface PreparedSource {
  readonly spec: ProgramSpec;
  readonly prepared: PreparedProgram;
  readonly runtime: Runtime;
}

/** What probes and tracepoints run: a program prepared in a runtime, or instructions they load themselves. */
export type TraceProgramSource = PreparedSource | InsnProgram;

/** A verified program bound to an engine, ready to run on a context address. */
export interface BoundProgram {
  readonly name: string;
  readonly runtime: Runtime;
  readonly engine: EngineName;
  /** One run with r1 = ctx (the return value is ignored by tracing hooks). */
  run(ctx: number): void;
}

export interface BindOptions {
  /** Engine (default 'jit'). */
  engine?: EngineName;
  /** Loop iterations each run may take (src/vm/limits.ts; default DEFAULT_ITERATIONS). */
  budget?: number;
}

/** Program types a tracing context may be read by (a hook lists those it accepts). */
function checkType(name: string, spec: ProgramSpec, accepted: readonly string[]): void {
  if (spec.type !== '' && !accepted.includes(spec.type)) {
    throw new TsbpfError(
      `program '${spec.name}' is a ${spec.type} program; ${accepted.join(' or ')} programs attach here`,
      name,
    );
  }
}

/**
 * Verify `source` against `type` (its context layout decides what may be read), prepare it and bind it to
 * an engine. Throws VerifierError with the verifier's log when the program is rejected.
 */
export function bindProgram(
  source: TraceProgramSource,
  type: ProgramType,
  accepted: readonly string[],
  options: BindOptions = {},
): BoundProgram {
  const engine = options.engine ?? 'jit';
  let runtime: Runtime;
  let spec: ProgramSpec;
  let maps: readonly RuntimeMap[];
  let loaded: PreparedSource | undefined;
  if ('prepared' in source) {
    loaded = source;
    runtime = source.runtime;
    spec = source.spec;
    maps = source.prepared.maps;
  } else {
    runtime = source.runtime ?? new Runtime();
    maps = source.maps ?? [];
    spec = {
      name: source.name ?? 'probe',
      section: '',
      type: type.name,
      insns: [...source.insns],
      license: 'GPL',
    };
  }
  checkType(spec.name, spec, accepted);
  const result = verifyPrivileged({ ...spec, type }, { maps: maps.map(liveMapSpec), logLevel: 1 });
  if (!result.accepted) throw new VerifierError(spec.name, result);
  const prepared = loaded ? loaded.prepared : runtime.prepare(spec, maps, { trapInvalid: true });
  const budget = options.budget;
  const runner = createRunner(runtime, prepared, { engine, checked: false, budget });
  const jit = runner.jit;
  const limits = budget === undefined ? undefined : { budget };
  const run = jit
    ? (ctx: number): void => {
        jit.run32(ctx, limits);
      }
    : (ctx: number): void => {
        runner.run(ctx);
      };
  return { name: spec.name, runtime, engine, run };
}

/** What every tracing link reports about its program's runs. */
export interface RunCounts {
  /** Runs of the program. */
  readonly runs: number;
  /** Runs that faulted (the traced code went on). */
  readonly errors: number;
  readonly lastError: unknown;
}

/** A bound program attached somewhere: a fault never reaches the traced code, it is counted instead. */
export abstract class GuardedRun implements RunCounts {
  runs = 0;
  errors = 0;
  lastError: unknown;

  constructor(readonly program: BoundProgram) {}

  /** Run the program on `ctx`, counting the run and any fault. */
  protected runGuarded(ctx: number): void {
    this.runs++;
    try {
      this.program.run(ctx);
    } catch (e) {
      this.errors++;
      this.lastError = e;
    }
  }
}
