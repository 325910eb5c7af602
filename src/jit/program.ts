// A compiled program bound to a runtime: instantiates the generated module with the runtime's memory and
// helper imports, and offers the entry points (single run, i32 fast path, batch) with the interpreter's
// fault behaviour.

import { RunLimitError, RuntimeFault, TsbpfError } from '../errors.js';
import type { HelperDef, NumberHelper } from '../helpers/types.js';
import { MAX_CALL_FRAMES } from '../isa/index.js';
import type { Region } from '../memory/address-space.js';
import { MAX_TAIL_CALLS, type RunOptions, type RunResult } from '../vm/interpreter.js';
import {
  checkDeadline,
  DEFAULT_BUDGET,
  DEFAULT_ITERATIONS,
  type RunLimits,
  TIME_STEP,
} from '../vm/limits.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';
import { type AccessWindow, checkAccess, checkHelperArgs } from '../vm/sandbox.js';
import { type CompiledModule, generate, IMPORT, type JitOptions } from './compile.js';
import { FaultReason } from './emit.js';
import { batchRunSlot } from './entries.js';
import {
  beginIterations,
  configureIterations,
  countIteration,
  iterationCounter,
  moreIterations,
} from './iterations.js';
import { installTailTarget, setTailCallCount, tailCallCount, tailCallSlots } from './tail-calls.js';

/**
 * A program compiled to WebAssembly: its run entries (one run, the hot path, batches) and what compiling it
 * cost.
 */
export interface JitProgram {
  readonly program: PreparedProgram;
  readonly checked: boolean;
  /** Code generation plus WebAssembly compilation, in milliseconds. */
  readonly compileTimeMs: number;
  /** Size of the generated module in bytes. */
  readonly wasmSize: number;
  /** The generated module (for inspection, e.g. `wasm-objdump`). */
  readonly wasm: Uint8Array;
  /** The batch entry's loop holds the main program's code (small programs nothing calls): no call per run. */
  readonly inlineBatch: boolean;
  /** One run with r1 = ctx; r0 as an unsigned 64-bit value. */
  run(ctx?: number | bigint): bigint;
  /** The hot path: one run with r1 = ctx (an address), the low 32 bits of r0 (unsigned). No BigInt. */
  run32(ctx: number, limits?: RunLimits): number;
  /**
   * Run over `count` contexts: the u32 at ctxs + 4i is the context address of run i, the low 32 bits of
   * its r0 go to the u32 at out + 4i. Unchecked programs without tail calls loop inside wasm, and a run
   * begins its invocation at its first helper call (runs that call none never leave wasm); `before(i,
   * ctx)` is called right after that (e.g. to set the invocation's packet). Otherwise a JS loop begins
   * every run and calls `before` for each.
   */
  runBatch(
    ctxs: number,
    count: number,
    out: number,
    before?: (i: number, ctx: number) => void,
    limits?: RunLimits,
  ): void;
  /** The interpreter's interface: arguments, budget, invocation fields, CPU; r0 and instructions run. */
  execute(options?: RunOptions): RunResult;
}

/** Compile a prepared program for a runtime. Throws InvalidBytecodeError for programs it cannot translate. */
export function compile(prog: PreparedProgram, runtime: Runtime, options: JitOptions = {}): JitProgram {
  return remember(prog, options, Compiled.sync(prog, runtime, options));
}

/**
 * compile() for the main thread of a browser, which refuses synchronous WebAssembly compilation of
 * modules over 4 KB: the same code generation, then WebAssembly.compile and WebAssembly.instantiate.
 * Throws (rejects) as compile() does. A tail-call target is compiled synchronously when first taken
 * unless it was compiled before (in the same mode): compile the targets with compileAsync first
 * (`LoadedObject.compileAll` does).
 */
export async function compileAsync(
  prog: PreparedProgram,
  runtime: Runtime,
  options: JitOptions = {},
): Promise<JitProgram> {
  const jit = new Compiled(prog, runtime, options);
  const module = await WebAssembly.compile(jit.wasm);
  jit.link(await WebAssembly.instantiate(module, jit.importObject()));
  return remember(prog, options, jit);
}

/** Compiled programs by prepared program and mode: tail calls enter the first one compiled. */
const cache = new WeakMap<PreparedProgram, Map<string, Compiled>>();
const modeKey = (options: JitOptions) =>
  `${options.checked ? 1 : 0}${options.inlineHelpers === false ? 0 : 1}`;

function remember(prog: PreparedProgram, options: JitOptions, jit: Compiled): Compiled {
  let byMode = cache.get(prog);
  if (!byMode) {
    byMode = new Map();
    cache.set(prog, byMode);
  }
  const key = modeKey(options);
  if (!byMode.has(key)) byMode.set(key, jit);
  return jit;
}

/** The compiled form of a tail-call target: compiled before in this mode, or now. */
function compiledFor(prog: PreparedProgram, runtime: Runtime, options: JitOptions): Compiled {
  return (
    cache.get(prog)?.get(modeKey(options)) ?? remember(prog, options, Compiled.sync(prog, runtime, options))
  );
}

interface Exports {
  run32(ctx: number): number;
  run64(ctx: number): bigint;
  batch(ctxs: number, n: number, out: number): void;
  set_packet(start: number, len: number): void;
  /** A compiled function: r0-r10 and the depth in, [r0, ..., r5] out. */
  [name: `f${number}`]: (...regsAndDepth: (bigint | number)[]) => bigint[];
  budget: WebAssembly.Global;
  readLo: WebAssembly.Global;
  readHi: WebAssembly.Global;
  writeLo: WebAssembly.Global;
  writeHi: WebAssembly.Global;
  tailCall: WebAssembly.Global;
  tail_entry: (...args: (bigint | number)[]) => bigint;
  frame: WebAssembly.Global;
  depth: WebAssembly.Global;
  stackTop: WebAssembly.Global;
  pc: WebAssembly.Global;
  itersPerRun: WebAssembly.Global;
}

/** A batch running in the wasm loop whose runs begin their invocation at their first helper call. */
interface LazyBatch {
  ctxs: number;
  /** Where the batch loop keeps the index of its run (./entries.ts batchRunSlot). */
  runSlot: number;
  before: ((i: number, ctx: number) => void) | undefined;
  /** The run whose invocation is current. */
  begun: number;
}

const U64 = (v: bigint) => BigInt.asUintN(64, v);
const isU32 = (v: number | bigint) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

class Compiled implements JitProgram {
  readonly checked: boolean;
  compileTimeMs = 0;
  readonly wasm: Uint8Array<ArrayBuffer>;
  private readonly mod: CompiledModule;
  /** The instance's exports, from link(). */
  private ex!: Exports;
  private readonly t0: number;
  private readonly stride: number;
  /** Checked mode: the window the last access check allowed (cached in the module's globals too). */
  private readonly window: AccessWindow = { lo: 1, hi: 0, write: false };
  /** Unchecked and calls no helper: runs need no per-run setup. */
  private readonly plain: boolean;
  /** Zero the stack before each run (PreparedProgram.clearsStack; checked runs always do). */
  private readonly clearsStack: boolean;
  private cpu = -1;
  private readonly entryFields: { ctx: number; programType: string };
  private budgetTotal = DEFAULT_BUDGET;
  /** Checked runs: instructions of the budget handed to the module so far (it gets them in chunks). */
  private granted = 0;
  /** performance.now() time at which runs stop (src/vm/limits.ts); Infinity for none. */
  private deadline = Number.POSITIVE_INFINITY;

  /** The program a tail_call helper accepted, entered by the `tail_call` import. */
  private pendingTail: Compiled | undefined;
  private readonly runCallback: (t: number, a: bigint, b: bigint, c: bigint, d: bigint, e: bigint) => bigint;

  constructor(
    readonly program: PreparedProgram,
    private readonly runtime: Runtime,
    private readonly options: JitOptions,
  ) {
    this.t0 = performance.now();
    this.checked = options.checked ?? false;
    this.entryFields = { ctx: 0, programType: program.type };
    const frames = runtime.stackFrames(0);
    this.stride = frames.length > 1 ? frames[1]!.end - frames[0]!.end : 0;
    this.checkFrames(frames);
    this.mod = generate(program, runtime, this.stride, options);
    this.wasm = this.mod.bytes;
    this.runCallback = (t, a, b, c, d, e) => this.callback(t, a, b, c, d, e);
    this.clearsStack = program.clearsStack === true && !this.checked;
    this.plain = !this.checked && !this.mod.callsHelpers && !this.mod.countsIterations && !this.clearsStack;
  }

  /** Generate, compile and instantiate synchronously. */
  static sync(prog: PreparedProgram, runtime: Runtime, options: JitOptions): Compiled {
    const jit = new Compiled(prog, runtime, options);
    jit.link(new WebAssembly.Instance(new WebAssembly.Module(jit.mod.bytes), jit.importObject()));
    return jit;
  }

  /** The second half of construction, once the module is instantiated (synchronously or not). */
  link(instance: WebAssembly.Instance): void {
    this.ex = instance.exports as unknown as Exports;
    // A registered program that needs no per-run setup from JS can be entered straight from other
    // programs' tail calls (the runtime's table, ./tail-calls.ts).
    const id = this.runtime.idOf(this.program);
    if (id > 0 && !this.checked && !this.mod.legacyLoads && !this.mod.usesCallbacks) {
      installTailTarget(this.runtime, id, this.ex.tail_entry);
    }
    this.compileTimeMs = performance.now() - this.t0;
  }

  importObject(): WebAssembly.Imports {
    return { env: this.imports() as WebAssembly.ModuleImports };
  }

  /** Compiled code finds the frame of depth d at r10 + d * stride: every CPU's frames must be spaced so. */
  private checkFrames(frames: readonly Region[]): void {
    frames.forEach((f, i) => {
      if (f.end !== frames[0]!.end + i * this.stride) {
        throw new TsbpfError(
          'the runtime stack frames are not evenly spaced; the JIT needs a fixed stride',
          'jit',
        );
      }
    });
  }

  get inlineBatch(): boolean {
    return this.mod.inlineBatch;
  }

  get wasmSize(): number {
    return this.wasm.length;
  }

  // --- imports ----------------------------------------------------------------------------------

  private imports(): Record<string, unknown> {
    const rt = this.runtime;
    const env: Record<string, unknown> = { [IMPORT.memory]: rt.space.memory };
    for (const id of this.mod.helperIds) {
      const def = this.program.lookupHelper(id)!;
      env[IMPORT.helper(id)] = this.helperImport(def, id === 12);
      if (def.numbers) env[IMPORT.numberHelper(id)] = this.numberImport(def, def.numbers);
    }
    for (const addr of this.mod.lookupMaps) {
      const map = rt.mapAt(addr)!;
      env[IMPORT.mapLookup(addr)] = (key: number) => map.lookupPtr(key >>> 0, rt.cpu);
    }
    env[IMPORT.fault] = (reason: number, pc: number) => {
      throw new RuntimeFault(this.faultMessage(reason, pc), pc);
    };
    env[IMPORT.access] = (hi: number, addr: bigint, size: number, pc: number, write: number) =>
      this.access(hi, Number(addr), size, pc, write !== 0);
    env[IMPORT.budget] = (block: number, index: number) => {
      const pc = this.mod.budgetBlocks[block]![index]!;
      throw new RunLimitError(`instruction budget of ${this.budgetTotal} exhausted`, pc, 'budget');
    };
    env[IMPORT.refill] = (block: number) => this.refill(this.mod.budgetBlocks[block]![0]!);
    if (this.mod.countsIterations) {
      const counter = iterationCounter(rt);
      env[IMPORT.iterations] = (pc: number) => moreIterations(rt, counter, pc);
    }
    env[IMPORT.legacyLoad] = (off: number, size: number, pc: number, depth: number) => {
      this.runtime.beginDeferred?.();
      this.syncPacket();
      return this.legacyLoad(off, size, pc, depth);
    };
    env[IMPORT.callx] = (id: bigint, a: bigint, b: bigint, c: bigint, d: bigint, e: bigint) => {
      this.runtime.beginDeferred?.();
      const pc = this.ex.pc.value as number;
      const def = U64(id) < 0x80000000n ? this.program.lookupHelper(Number(id)) : undefined;
      if (!def) throw new RuntimeFault(`callx to unknown helper ${U64(id)}`, pc);
      if (this.checked) this.checkArgs(def, [a, b, c, d, e].map(U64));
      return this.callHelper(def, a, b, c, d, e);
    };
    if (this.mod.tailTable) env[IMPORT.tailTable] = tailCallSlots(rt).table;
    env[IMPORT.tailCall] = (
      a: bigint,
      b: bigint,
      c: bigint,
      d: bigint,
      e: bigint,
      r10: bigint,
      depth: number,
    ) => this.enterTailCall(a, b, c, d, e, r10, depth);
    env[IMPORT.now] = () => rt.nowNsNumber();
    env[IMPORT.random] = () => rt.random32() | 0;
    return env;
  }

  private helperImport(def: HelperDef, tailCall: boolean) {
    return (a: bigint, b: bigint, c: bigint, d: bigint, e: bigint): bigint => {
      this.runtime.beginDeferred?.();
      if (this.checked) this.checkArgs(def, [a, b, c, d, e].map(U64));
      const ret = this.callHelper(def, a, b, c, d, e);
      if (tailCall && this.runtime.invocation.tailCall !== undefined) this.takeTailCall();
      return ret;
    };
  }

  /** A helper's number form: doubles in and out, no BigInt. */
  private numberImport(def: HelperDef, numbers: NumberHelper) {
    const rt = this.runtime;
    const fn = numbers.call;
    return (a: number, b: number, c: number, d: number, e: number): number => {
      rt.beginDeferred?.();
      if (this.checked) this.checkArgs(def, [a, b, c, d, e]);
      try {
        return fn(rt, a, b, c, d, e);
      } catch (err) {
        throw this.helperFault(def, err);
      }
    };
  }

  /** Checked mode: the helper may reach only what the program may (sandbox.ts), as the interpreter checks. */
  private checkArgs(def: HelperDef, args: readonly (number | bigint)[]): void {
    checkHelperArgs(this.runtime, this.program, def, (i) => args[i - 1]!, this.ex.pc.value as number);
  }

  /** A helper's exception as the fault the interpreter reports (errors of ours pass through). */
  private helperFault(def: HelperDef, err: unknown): unknown {
    if (err instanceof TsbpfError) return err;
    const pc = this.ex.pc.value as number;
    return new RuntimeFault(
      `helper ${def.name} failed: ${err instanceof Error ? err.message : String(err)}`,
      pc,
    );
  }

  /** As the interpreter calls helpers: unsigned arguments, zero beyond the prototype's arity. */
  private callHelper(def: HelperDef, a: bigint, b: bigint, c: bigint, d: bigint, e: bigint): bigint {
    const n = def.proto.args.length;
    let ret: bigint;
    try {
      ret = def.call(
        this.runtime,
        n >= 1 ? U64(a) : 0n,
        n >= 2 ? U64(b) : 0n,
        n >= 3 ? U64(c) : 0n,
        n >= 4 ? U64(d) : 0n,
        n >= 5 ? U64(e) : 0n,
      );
    } catch (err) {
      throw this.helperFault(def, err);
    }
    return typeof ret === 'bigint' ? ret : BigInt(ret ?? 0);
  }

  /** The tail_call helper asked for a jump: accept it when the target exists and the limit allows. */
  private takeTailCall(): void {
    const inv = this.runtime.invocation;
    const id = inv.tailCall!;
    inv.tailCall = undefined;
    const next = this.runtime.program(id);
    // The count lives in linear memory: calls through the table count there too.
    const taken = tailCallCount(this.runtime);
    if (!next || taken >= MAX_TAIL_CALLS) return;
    // Each tail call taken is an iteration (src/vm/limits.ts).
    if (this.mod.countsIterations)
      countIteration(this.runtime, iterationCounter(this.runtime), this.ex.pc.value as number);
    setTailCallCount(this.runtime, taken + 1);
    this.pendingTail = compiledFor(next, this.runtime, this.options);
    this.ex.tailCall.value = 1;
  }

  private enterTailCall(
    a: bigint,
    b: bigint,
    c: bigint,
    d: bigint,
    e: bigint,
    r10: bigint,
    depth: number,
  ): bigint {
    const next = this.pendingTail!;
    this.pendingTail = undefined;
    const rt = this.runtime;
    const previous = rt.callbackRunner;
    next.budgetTotal = this.budgetTotal;
    next.granted = this.granted;
    next.deadline = this.deadline;
    next.ex.budget.value = this.ex.budget.value;
    next.ex.stackTop.value = this.ex.stackTop.value;
    next.cpu = this.cpu;
    next.forgetRegions();
    if (next.mod.legacyLoads) next.syncPacket();
    rt.callbackRunner = next.runCallback;
    try {
      return next.ex.f0(0n, a, b, c, d, e, 0n, 0n, 0n, 0n, r10, depth)[0]!;
    } finally {
      rt.callbackRunner = previous;
      this.ex.budget.value = next.ex.budget.value;
      this.granted = next.granted;
      this.forgetRegions();
    }
  }

  /** HelperEnv.callback: run the function at slot `target` one frame below the helper's caller. */
  private callback(target: number, a: bigint, b: bigint, c: bigint, d: bigint, e: bigint): bigint {
    const pc = this.ex.pc.value as number;
    if (!this.mod.functions.includes(target)) {
      throw new RuntimeFault(`callback target ${target} is not the start of a function`, pc);
    }
    // Each callback call is an iteration (src/vm/limits.ts).
    if (this.mod.countsIterations) countIteration(this.runtime, iterationCounter(this.runtime), pc);
    const depth = (this.ex.depth.value as number) + 1;
    if (depth >= MAX_CALL_FRAMES)
      throw new RuntimeFault(`call nesting exceeds ${MAX_CALL_FRAMES} frames`, pc);
    const r10 = (this.ex.frame.value as bigint) + BigInt(this.stride);
    const fn = this.ex[`f${target}`]!;
    const [r0] = fn(0n, a, b, c, d, e, 0n, 0n, 0n, 0n, r10, depth);
    this.ex.pc.value = pc;
    this.forgetRegions();
    return U64(r0!);
  }

  /** Checked runs: the next chunk of the instruction budget (none when it is all handed out), or the timeout. */
  private refill(pc: number): void {
    checkDeadline(this.deadline, pc);
    const more = Math.min(TIME_STEP, this.budgetTotal - this.granted);
    if (more <= 0) return;
    this.granted += more;
    this.ex.budget.value = (this.ex.budget.value as bigint) + BigInt(more);
  }

  private faultMessage(reason: number, pc: number): string {
    switch (reason) {
      case FaultReason.fallOff:
        return 'execution ran past the end of the program (missing exit)';
      case FaultReason.callDepth:
        return `call nesting exceeds ${MAX_CALL_FRAMES} frames`;
      default: {
        const code = this.program.insns[pc]?.code ?? 0;
        return `invalid opcode 0x${code.toString(16).padStart(2, '0')}`;
      }
    }
  }

  /**
   * Checked mode, cache miss: the sandbox decides (sandbox.ts, the interpreter's rules and messages); the
   * window it allows becomes the cached one.
   */
  private access(hi: number, addr: number, size: number, pc: number, write: boolean): void {
    if (hi !== 0) {
      const what = `${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'}`;
      throw new RuntimeFault(`invalid ${what}: the address is outside the 32-bit address space`, pc, addr);
    }
    // The rules read the invocation (context, packet, samples): a lazy batch begins it first.
    this.runtime.beginDeferred?.();
    const w = this.window;
    checkAccess(this.runtime, this.program, addr, size, write, pc, w);
    this.ex.readLo.value = BigInt(w.lo);
    this.ex.readHi.value = BigInt(w.hi);
    if (w.write) {
      this.ex.writeLo.value = BigInt(w.lo);
      this.ex.writeHi.value = BigInt(w.hi);
    }
  }

  private forgetRegions(): void {
    if (!this.checked) return;
    this.ex.readLo.value = -1n;
    this.ex.readHi.value = 0n;
    this.ex.writeLo.value = -1n;
    this.ex.writeHi.value = 0n;
  }

  /** Give the inline legacy loads the invocation's packet (length -1: none, they call `legacyLoad`). */
  private syncPacket(): void {
    const p = this.runtime.invocation.packet;
    if (p) this.ex.set_packet(p.start, p.end - p.start);
    else this.ex.set_packet(0, -1);
  }

  /**
   * Legacy LD_ABS/LD_IND outside the cached packet: the big-endian value, or -1 to end the program with
   * r0 = 0 (the interpreter's rules and messages).
   */
  private legacyLoad(off: number, size: number, pc: number, depth: number): bigint {
    const packet = this.runtime.invocation.packet;
    if (!packet) throw new RuntimeFault('legacy packet load (LD_ABS/LD_IND) without a packet', pc);
    if (off < 0 || off + size > packet.end - packet.start) {
      if (depth > 0) throw new RuntimeFault('legacy packet load out of bounds inside a function', pc);
      return -1n;
    }
    const dv = this.runtime.space.view;
    const a = packet.start + off;
    return BigInt(size === 4 ? dv.getUint32(a, false) : size === 2 ? dv.getUint16(a, false) : dv.getUint8(a));
  }

  // --- running ----------------------------------------------------------------------------------

  /** In a lazy batch: begin the invocation of the run the wasm loop is in, once per run. */
  private beginLazy(lazy: LazyBatch): void {
    const i = this.runtime.space.view.getUint32(lazy.runSlot, true);
    if (i === lazy.begun) return;
    lazy.begun = i;
    const ctx = this.runtime.space.view.getUint32(lazy.ctxs + 4 * i, true);
    this.runtime.beginInvocation({ ctx, programType: this.program.type });
    lazy.before?.(i, ctx);
  }

  /** Per-run setup shared by every entry point; returns the callback runner to restore afterwards. */
  private begin(
    ctx: number,
    budget: number | undefined,
    invocation?: RunOptions['invocation'],
    deadline = this.deadline,
  ) {
    const rt = this.runtime;
    if (rt.cpu !== this.cpu) {
      const frames = rt.stackFrames(rt.cpu);
      this.checkFrames(frames);
      this.cpu = rt.cpu;
      this.ex.stackTop.value = BigInt(frames[0]!.end);
    }
    this.deadline = deadline;
    if (this.checked) {
      this.budgetTotal = budget ?? DEFAULT_BUDGET;
      // Without a deadline the whole budget at once; with one, in chunks (see refill).
      this.granted =
        deadline === Number.POSITIVE_INFINITY ? this.budgetTotal : Math.min(this.budgetTotal, TIME_STEP);
      this.ex.budget.value = BigInt(this.granted);
      this.forgetRegions();
      for (const f of rt.stackFrames(rt.cpu)) rt.space.bytes.fill(0, f.start, f.end);
    }
    // A program that may read stack it never wrote starts from zeros too (PreparedProgram.clearsStack).
    if (this.clearsStack) for (const f of rt.stackFrames(rt.cpu)) rt.space.bytes.fill(0, f.start, f.end);
    if (this.mod.tailCalls) {
      this.ex.tailCall.value = 0;
      setTailCallCount(rt, 0);
    }
    if (this.mod.countsIterations) {
      const counter = iterationCounter(rt);
      beginIterations(rt, counter, configureIterations(counter, budget ?? DEFAULT_ITERATIONS, deadline));
    }
    // Checked runs always have their invocation: the sandbox reads its context and packet.
    if (this.mod.callsHelpers || invocation || this.checked) {
      if (invocation) rt.beginInvocation({ ctx, programType: this.program.type, ...invocation });
      else {
        // The hot path (hooks): one reused argument object, no spread.
        const f = this.entryFields;
        f.ctx = ctx;
        rt.beginInvocation(f);
      }
      if (this.mod.legacyLoads) this.syncPacket();
    }
  }

  private wrap(e: unknown): unknown {
    if (e instanceof TsbpfError) return e;
    if (e instanceof WebAssembly.RuntimeError) {
      return new RuntimeFault(
        `memory access outside the address space (${e.message}; unchecked JIT code)`,
        -1,
      );
    }
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return new RuntimeFault('call stack exhausted (unbounded recursion?)', -1);
    }
    return e;
  }

  run32(ctx: number, limits?: RunLimits): number {
    if (this.plain) {
      // No helpers, no checks, nothing that repeats: nothing to set up per run but the CPU's stack.
      if (this.runtime.cpu !== this.cpu) this.begin(ctx, undefined);
      try {
        return this.ex.run32(ctx) >>> 0;
      } catch (e) {
        throw this.wrap(e);
      }
    }
    this.begin(ctx, limits?.budget, undefined, limits?.deadline);
    return this.enter32(ctx);
  }

  /** run32 after `begin`. */
  private enter32(ctx: number): number {
    const rt = this.runtime;
    const previous = rt.callbackRunner;
    if (this.mod.usesCallbacks) rt.callbackRunner = this.runCallback;
    try {
      return this.ex.run32(ctx) >>> 0;
    } catch (e) {
      throw this.wrap(e);
    } finally {
      rt.callbackRunner = previous;
      if (this.mod.tailCalls) this.reportTailCalls();
    }
  }

  /** The invocation shows the tail calls taken (counted in linear memory, see ./tail-calls.ts). */
  private reportTailCalls(): void {
    this.runtime.invocation.tailCalls = tailCallCount(this.runtime);
  }

  run(ctx: number | bigint = 0): bigint {
    return this.execute({ args: [ctx] }).r0;
  }

  execute(options: RunOptions = {}): RunResult {
    const rt = this.runtime;
    const cpu = options.cpu ?? rt.cpu;
    if (cpu < 0 || cpu >= rt.cpus) throw new RangeError(`cpu ${cpu} out of range (runtime has ${rt.cpus})`);
    if (options.checked !== undefined && options.checked !== this.checked) {
      throw new TsbpfError(
        `program was compiled ${this.checked ? 'checked' : 'unchecked'}; recompile to change`,
        'jit',
      );
    }
    if (options.trace) throw new TsbpfError('tracing needs the interpreter', 'jit');
    const given = options.args ?? [];
    if (given.length > 5) throw new RangeError('at most five arguments (r1-r5)');
    // The usual call (hooks): one context address. It takes the i32 entry, without BigInt arguments.
    const ctxOnly = given.length <= 1 && typeof (given[0] ?? 0) === 'number' && isU32(given[0] ?? 0);
    const ctx = ctxOnly
      ? ((given[0] as number | undefined) ?? 0)
      : Number(BigInt.asUintN(32, BigInt(given[0]!)));
    rt.cpu = cpu;
    this.begin(ctx, options.budget, { ...options.invocation }, options.deadline);
    const previous = rt.callbackRunner;
    rt.callbackRunner = this.runCallback;
    try {
      let r0: bigint;
      if (ctxOnly) r0 = this.ex.run64(ctx);
      else {
        const args = given.map((a) => BigInt(a));
        while (args.length < 5) args.push(0n);
        r0 = this.ex.f0(0n, ...args, 0n, 0n, 0n, 0n, this.ex.stackTop.value as bigint, 0)[0]!;
      }
      if (this.mod.tailCalls) this.reportTailCalls();
      const used = this.checked ? this.granted - Number(this.ex.budget.value as bigint) : -1;
      return { r0: U64(r0), instructions: used };
    } catch (e) {
      throw this.wrap(e);
    } finally {
      rt.callbackRunner = previous;
    }
  }

  runBatch(
    ctxs: number,
    count: number,
    out: number,
    before?: (i: number, ctx: number) => void,
    limits?: RunLimits,
  ): void {
    if (!this.checked && !this.clearsStack) {
      // The wasm loop. Only helpers see the invocation, so a run's invocation begins (and `before` is
      // called) at its first helper call, in this program or one it tail-called: runs that call none
      // never leave wasm.
      const rt = this.runtime;
      if (rt.cpu !== this.cpu) this.begin(0, undefined);
      if (this.mod.countsIterations) {
        // Each run of the loop starts from this count (and a new serial: ./iterations.ts).
        this.ex.itersPerRun.value = configureIterations(
          iterationCounter(rt),
          limits?.budget ?? DEFAULT_ITERATIONS,
          limits?.deadline ?? Number.POSITIVE_INFINITY,
        );
      }
      const previous = rt.callbackRunner;
      const previousDeferred = rt.beginDeferred;
      if (this.mod.usesCallbacks) rt.callbackRunner = this.runCallback;
      if (this.mod.callsHelpers) {
        const lazy: LazyBatch = { ctxs, runSlot: batchRunSlot(rt), before, begun: -1 };
        rt.beginDeferred = () => this.beginLazy(lazy);
      }
      try {
        this.ex.batch(ctxs, count, out);
      } catch (e) {
        throw this.wrap(e);
      } finally {
        rt.beginDeferred = previousDeferred;
        rt.callbackRunner = previous;
        if (this.mod.tailCalls) this.reportTailCalls();
      }
      return;
    }
    const space = this.runtime.space;
    for (let i = 0; i < count; i++) {
      const ctx = space.view.getUint32(ctxs + 4 * i, true);
      this.begin(ctx, limits?.budget, undefined, limits?.deadline);
      if (before) {
        before(i, ctx);
        if (this.mod.legacyLoads) this.syncPacket();
      }
      const r0 = this.enter32(ctx);
      space.view.setUint32(out + 4 * i, r0, true);
    }
  }
}
