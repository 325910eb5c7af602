// Probes on JavaScript functions, the user-space uprobe: `probe(obj, 'method', prog, { on })` replaces the
// method with a wrapper that fills a pt_regs-shaped context (./probe-context.ts) and runs the verified
// program on entry or on return; `detach()` puts the original function back once no probe is left, so a
// detached probe costs nothing. Several probes may share one function (one wrapper, one site).
//
// A program never breaks the traced code: a fault is counted on the probe (`errors`, `lastError`) and the
// call goes on. Return probes on functions that return a native Promise fire when it settles (the duration
// covers the asynchronous work); the caller then gets the promise that settles after the probe ran.

import type { EngineName } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import type { Link, LinkInfo } from '../spec/link.js';
import { programTypeByName } from '../spec/program-types.js';
import { PROBE_ARG_OFFSETS, PROBE_CTX_SIZE, ProbeCtx, ProbeFlag, putValue } from './probe-context.js';
import {
  type BoundProgram,
  bindProgram,
  GuardedRun,
  type RunCounts,
  type TraceProgramSource,
} from './trace-program.js';

/** Where a probe runs: on a function's entry or on its return. */
export type ProbePoint = 'entry' | 'return';

/** Options of probe() and probed(). */
export interface ProbeOptions {
  /** Run on entry (default) or on return. Programs from `uretprobe`/`kretprobe` sections default to return. */
  on?: ProbePoint;
  engine?: EngineName;
  /** Loop iterations each run may take (src/vm/limits.ts; default DEFAULT_ITERATIONS). */
  budget?: number;
  /** Return probes wait for a returned native Promise to settle (default true). */
  awaitPromises?: boolean;
}

/** An attached probe. */
/** An attached probe: a Link, with the run counts of its program. */
export interface ProbeLink extends RunCounts, Link {
  readonly name: string;
  readonly on: ProbePoint;
  /** The probe id the program sees in the context's ip field. */
  readonly probeId: number;
}

const PROGRAM_TYPES_ACCEPTED = ['kprobe'];
const kprobe = programTypeByName('kprobe')!;

const now = (): number => performance.now() * 1e6;

let nextCallId = 1;
let nextProbeId = 1;

/** One event's context image; copied into each attached program's context region. */
const image = new Int32Array(PROBE_CTX_SIZE / 4);

class Attachment extends GuardedRun implements ProbeLink {
  private readonly ctx: number;
  private words: Int32Array;
  private generation: number;
  private closed = false;

  constructor(
    readonly site: ProbeSite,
    program: BoundProgram,
    readonly on: ProbePoint,
    readonly awaitPromises: boolean,
  ) {
    super(program);
    const space = program.runtime.space;
    this.ctx = space.allocate(PROBE_CTX_SIZE, 'ctx', `pt_regs of probe ${site.name}`, false).start;
    this.generation = space.generation;
    this.words = new Int32Array(space.memory.buffer);
  }

  get name(): string {
    return this.site.name;
  }

  get probeId(): number {
    return this.site.probeId;
  }

  /** Copy the event image into this program's context and run it. */
  fire(): void {
    const space = this.program.runtime.space;
    if (space.generation !== this.generation) {
      this.generation = space.generation;
      this.words = new Int32Array(space.memory.buffer);
    }
    this.words.set(image, this.ctx >> 2);
    this.runGuarded(this.ctx);
  }

  detach(): void {
    if (this.closed) return;
    this.closed = true;
    this.site.remove(this);
    const space = this.program.runtime.space;
    const region = space.regionAt(this.ctx, 1);
    if (region) space.release(region);
  }

  close(): void {
    this.detach();
  }

  info(): LinkInfo {
    return {
      kind: this.on === 'return' ? 'uretprobe' : 'uprobe',
      program: this.program.name,
      target: this.name,
      backend: 'userspace',
    };
  }
}

type AnyFunction = (...args: unknown[]) => unknown;
/** Any method, whatever its parameter types (what a decorator receives). */
type Method = (...args: never[]) => unknown;

/**
 * One traced function: the original, the wrapper that replaces it, the probes attached. `install` and
 * `uninstall` put the wrapper in place and take it away (probe() does this on a property); a caller that
 * keeps the wrapper (a module's export, a decorated method) pays one length check per call when no probe
 * is attached.
 */
export class ProbeSite {
  readonly probeId = nextProbeId++;
  readonly wrapper: AnyFunction;
  entry: Attachment[] = [];
  ret: Attachment[] = [];
  private asyncRet: Attachment[] = [];
  /** Called when the last probe is detached. */
  onEmpty: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly original: AnyFunction,
  ) {
    const site = this;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      if (site.entry.length === 0 && site.ret.length === 0) {
        return new.target ? Reflect.construct(original, args, new.target) : original.apply(this, args);
      }
      return site.call(this, args, new.target as AnyFunction | undefined);
    };
    Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
    wrappers.set(wrapper, this);
    this.wrapper = wrapper;
  }

  /** Attach a program (verified here against the probe context). */
  attach(source: TraceProgramSource, options: ProbeOptions = {}): ProbeLink {
    const on = options.on ?? defaultPoint(source);
    const program = bindProgram(source, kprobe, PROGRAM_TYPES_ACCEPTED, {
      engine: options.engine,
      budget: options.budget,
    });
    const a = new Attachment(this, program, on, options.awaitPromises ?? true);
    if (on === 'entry') this.entry = [...this.entry, a];
    else {
      this.ret = [...this.ret, a];
      if (a.awaitPromises) this.asyncRet = [...this.asyncRet, a];
    }
    return a;
  }

  /** @internal */
  remove(a: Attachment): void {
    this.entry = this.entry.filter((x) => x !== a);
    this.ret = this.ret.filter((x) => x !== a);
    this.asyncRet = this.asyncRet.filter((x) => x !== a);
    if (this.entry.length === 0 && this.ret.length === 0) this.onEmpty?.();
  }

  get attached(): number {
    return this.entry.length + this.ret.length;
  }

  private call(self: unknown, args: unknown[], newTarget: AnyFunction | undefined): unknown {
    const id = nextCallId++;
    const t0 = now();
    if (this.entry.length > 0) {
      this.fill(args, id, t0, 0, 0, undefined);
      for (const a of this.entry) a.fire();
    }
    let ret: unknown;
    try {
      ret = newTarget ? Reflect.construct(this.original, args, newTarget) : this.original.apply(self, args);
    } catch (e) {
      if (this.ret.length > 0) this.returned(this.ret, args, id, t0, ProbeFlag.THREW, undefined);
      throw e;
    }
    if (this.ret.length === 0) return ret;
    if (ret instanceof Promise && this.asyncRet.length > 0) {
      const sync = this.ret.filter((a) => !a.awaitPromises);
      if (sync.length > 0) this.returned(sync, args, id, t0, 0, ret);
      const waiting = this.asyncRet;
      return ret.then(
        (v) => {
          this.returned(waiting, args, id, t0, ProbeFlag.ASYNC, v);
          return v;
        },
        (e) => {
          this.returned(waiting, args, id, t0, ProbeFlag.ASYNC | ProbeFlag.THREW, undefined);
          throw e;
        },
      );
    }
    this.returned(this.ret, args, id, t0, 0, ret);
    return ret;
  }

  private returned(
    list: readonly Attachment[],
    args: unknown[],
    id: number,
    t0: number,
    flags: number,
    value: unknown,
  ): void {
    const t1 = now();
    this.fill(args, id, t1, t1 - t0, ProbeFlag.RETURN | flags, value);
    for (const a of list) a.fire();
  }

  /** Fill the shared context image for one event. */
  private fill(
    args: unknown[],
    id: number,
    time: number,
    duration: number,
    flags: number,
    ret: unknown,
  ): void {
    const w = image;
    w.fill(0);
    putValue(w, ProbeCtx.time >> 2, Math.round(time));
    putValue(w, ProbeCtx.duration >> 2, Math.round(duration));
    putValue(w, ProbeCtx.callId >> 2, id);
    w[ProbeCtx.argc >> 2] = args.length;
    w[ProbeCtx.flags >> 2] = flags;
    w[ProbeCtx.probeId >> 2] = this.probeId;
    const n = Math.min(args.length, PROBE_ARG_OFFSETS.length);
    for (let i = 0; i < n; i++) putValue(w, PROBE_ARG_OFFSETS[i]! >> 2, args[i]);
    if (flags & ProbeFlag.RETURN) putValue(w, ProbeCtx.ret >> 2, ret);
  }
}

const wrappers = new WeakMap<AnyFunction, ProbeSite>();

/** The site of a function: its existing one when `fn` is already a probe wrapper or was wrapped before. */
export function probeSite(fn: AnyFunction, name = fn.name || 'anonymous'): ProbeSite {
  return wrappers.get(fn) ?? new ProbeSite(name, fn);
}

function defaultPoint(source: TraceProgramSource): ProbePoint {
  const section = 'spec' in source ? source.spec.section : '';
  return /^(uretprobe|kretprobe)/.test(section) ? 'return' : 'entry';
}

/**
 * Attach a verified program to `target[method]`. The method is replaced by a wrapper while probes are
 * attached and restored when the last one is detached.
 */
export function probe<T extends object>(
  target: T,
  method: keyof T & (string | symbol),
  program: TraceProgramSource,
  options: ProbeOptions = {},
): ProbeLink {
  const current = (target as Record<string | symbol, unknown>)[method];
  if (typeof current !== 'function') {
    throw new TsbpfError(`cannot probe '${String(method)}': it is ${describe(current)}, not a function`);
  }
  const fn = current as AnyFunction;
  const existing = wrappers.get(fn);
  const site = existing ?? new ProbeSite(String(method), fn);
  const link = site.attach(program, options);
  if (!existing) {
    const own = Object.getOwnPropertyDescriptor(target, method);
    Object.defineProperty(target, method, {
      value: site.wrapper,
      writable: true,
      configurable: true,
      enumerable: own?.enumerable ?? false,
    });
    site.onEmpty = () => {
      if ((target as Record<string | symbol, unknown>)[method] !== site.wrapper) return;
      if (own) Object.defineProperty(target, method, own);
      else delete (target as Record<string | symbol, unknown>)[method];
    };
  }
  return link;
}

function describe(v: unknown): string {
  return v === undefined ? 'undefined' : v === null ? 'null' : `a ${typeof v}`;
}

/** A decorator that also detaches: `const p = probed(prog); class A { @p m() {} }; p.detach()`. */
export interface ProbedDecorator {
  <F extends Method>(fn: F, context: ClassMethodDecoratorContext): F;
  /** The probes attached so far (one per decorated method). */
  readonly links: readonly ProbeLink[];
  detach(): void;
}

/**
 * Standard (TypeScript 5+) method decorator: each decorated method runs `program` on entry or return.
 * Decorated methods keep a wrapper; after `detach()` it is a single check before the original.
 */
export function probed(program: TraceProgramSource, options: ProbeOptions = {}): ProbedDecorator {
  const links: ProbeLink[] = [];
  const decorate = <F extends Method>(fn: F, context: ClassMethodDecoratorContext): F => {
    if (context.kind !== 'method') throw new TsbpfError('@probed applies to methods');
    const site = probeSite(fn as unknown as AnyFunction, String(context.name));
    links.push(site.attach(program, options));
    return site.wrapper as unknown as F;
  };
  return Object.assign(decorate, {
    links,
    detach(): void {
      for (const l of links) l.detach();
    },
  });
}
