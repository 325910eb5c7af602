// eBPF -> WebAssembly. One module per program: it imports the runtime's memory and the helpers the program
// calls, holds one wasm function per eBPF function (r0-r10 and the call depth as parameters, r0-r5 as
// results), and exports entry points that take and return i32 on the hot path (`run32`, `batch`).

import { JitLimitError } from '../errors.js';
import type { NumberArg } from '../helpers/types.js';
import { type Insn, MAX_CALL_FRAMES } from '../isa/index.js';
import { FdArrayMap } from '../maps/fdarray.js';
import { arrayLayout, hashLayout } from '../maps/registry.js';
import { MapType } from '../spec/maps.js';
import { MAX_TAIL_CALLS } from '../vm/interpreter.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';
import { buildCfg, type FunctionCfg } from './cfg.js';
import {
  type EmitContext,
  FUNC_LOCALS,
  FUNC_PARAMS,
  FUNC_RESULTS,
  FunctionEmitter,
  LABEL_LOCAL,
  SCRATCH_I32,
  SCRATCH_I32_B,
  SCRATCH_I32_C,
  TAIL_PARAMS,
  type TableTailCall,
} from './emit.js';
import {
  batchRunSlot,
  emitEntries,
  emitInlineBatch,
  emitLeanWrapper,
  INLINE_BATCH_SLOTS,
} from './entries.js';
import { emitHashLookup, MAX_INLINE_KEY } from './inline-hash.js';
import { emitSkbHelper, inlinedSkbHelpers } from './inline-skb.js';
import { iterationCounter } from './iterations.js';
import { emitDispatch, emitStructured } from './structure.js';
import { TAIL_TABLE_SIZE, tailCallSlots } from './tail-calls.js';
import {
  type Code,
  ExternKind,
  MAX_BR_TABLE_TARGETS,
  MAX_FUNCTION_BODY_BYTES,
  ModuleBuilder,
  Op,
  ValType,
} from './wasm/index.js';

const { i32, i64, f64 } = ValType;

/** Options of the JIT: checked mode and inline helpers. */
export interface JitOptions {
  /** Bounds-check every access against its region and enforce the budget (unverified programs). Default false. */
  checked?: boolean;
  /** Emit array-map lookup, ktime and prandom inline (default true; off in checked mode). */
  inlineHelpers?: boolean;
}

/** Names of the module's imports (module "env"), its exported globals and functions. */
export const IMPORT = {
  memory: 'memory',
  fault: 'fault',
  access: 'access',
  budget: 'budget',
  refill: 'refill',
  legacyLoad: 'legacy_load',
  callx: 'callx',
  tailCall: 'tail_call',
  tailTable: 'tail_table',
  now: 'now',
  random: 'random',
  iterations: 'iterations',
  helper: (id: number) => `helper_${id}`,
  numberHelper: (id: number) => `helper_${id}_numbers`,
  mapLookup: (addr: number) => `map_lookup_${addr}`,
} as const;

/** The generated module and what the loader needs to bind it. */
export interface CompiledModule {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Addresses of maps whose lookups are imported as `map_lookup_<addr>` (key address -> value or 0). */
  readonly lookupMaps: readonly number[];
  /** Helper ids imported (in import order) as `helper_<id>`. */
  readonly helperIds: readonly number[];
  /** Helpers whose call may start a tail call. */
  readonly tailCalls: boolean;
  /** The module imports the runtime's tail-call table (`tail_table`). */
  readonly tailTable: boolean;
  /** Instruction slots of each budget block (checked mode), by block id. */
  readonly budgetBlocks: readonly (readonly number[])[];
  /** Function entry slots (each exported as `f<slot>`). */
  readonly functions: readonly number[];
  /** The batch entry runs the main program inlined in its loop. */
  readonly inlineBatch: boolean;
  /** Helper ids called by the program (any import or inline), for deciding per-run setup. */
  readonly callsHelpers: boolean;
  readonly usesCallbacks: boolean;
  /** The program has legacy packet loads (LD_ABS/LD_IND): the loader sets the packet globals per run. */
  readonly legacyLoads: boolean;
  /** Runs count iterations in the runtime's counter (./iterations.ts); `iterations` is imported. */
  readonly countsIterations: boolean;
  readonly codegenMs: number;
}

const TAIL_CALL_ID = 12;
const HELPER_MAP_LOOKUP = 1;
const HELPER_KTIME = 5;
const HELPER_PRANDOM = 7;
const HELPER_LOOP = 181;

/**
 * Generate the wasm module for a prepared program. `frameStride` is the distance between stack frames.
 *
 * In phases: scan the program, declare the imports, the globals and one function per eBPF function, emit
 * their bodies, then the entry points JS calls (./entries.ts). Each phase is a function of its own, not an
 * inner function, so the first compile in a process parses only what runs (see the note before Inliner).
 */
export function generate(
  prog: PreparedProgram,
  runtime: Runtime,
  frameStride: number,
  options: JitOptions = {},
): CompiledModule {
  const t0 = performance.now();
  const checked = options.checked ?? false;
  const inline = (options.inlineHelpers ?? true) && !checked;
  const insns = prog.insns;
  const entries = prog.functions.length ? [...prog.functions] : [0];
  const cfgs = entries.map((start, k) =>
    buildCfg(insns, start, k + 1 < entries.length ? entries[k + 1]! : insns.length),
  );
  const scan = scanProgram(prog);
  const job: Job = { prog, insns, runtime, checked, inline, entries, cfgs, scan };

  const m = new ModuleBuilder();
  const imports = addImports(m, job);
  const globals = addGlobals(m);
  const funcs = addFunctions(m, job);
  const budgetBlocks: number[][] = [];
  const cx = emitContext(m, job, imports, globals, funcs, frameStride, budgetBlocks);
  emitFunctions(m, job, cx, funcs, globals);

  if (funcs.lean) emitLeanWrapper(m, funcs.index.get(0)!, globals);
  const { legacy } = scan;
  const tailCallCounter = imports.tailCalls ? tailCallSlots(runtime).counter : undefined;
  const iterationCount = imports.iterations?.counter;
  const runSlot = batchRunSlot(runtime);
  // A small lean main is emitted a second time, inside the batch loop: a run then costs no call.
  const inlineBatch =
    funcs.lean && inline && insns.length <= INLINE_BATCH_SLOTS
      ? emitInlineBatch(m, cfgs[0]!, cx, globals, { legacy, tailCallCounter, iterationCount, runSlot })
      : undefined;
  emitEntries(m, funcs.index.get(0)!, globals, {
    legacy,
    mainReturnsR0Only: funcs.returnsR0Only(0),
    tailCallCounter,
    inlineBatch,
    iterationCount,
    runSlot,
  });
  const bytes = m.toBytes();
  return {
    bytes,
    lookupMaps: [...imports.lookups.keys()],
    helperIds: imports.helperIds,
    tailCalls: imports.tailCalls,
    tailTable: imports.tailSlots !== undefined,
    budgetBlocks,
    functions: entries,
    inlineBatch: inlineBatch !== undefined,
    callsHelpers: scan.called.size > 0 || scan.callx || legacy,
    usesCallbacks: scan.usesCallbacks,
    legacyLoads: legacy,
    countsIterations: iterationCount !== undefined,
    codegenMs: performance.now() - t0,
  };
}

/** What generate() compiles and how: read by each of its phases. */
interface Job {
  readonly prog: PreparedProgram;
  readonly insns: readonly Insn[];
  readonly runtime: Runtime;
  readonly checked: boolean;
  /** Hot helpers may be emitted inline (never in checked mode). */
  readonly inline: boolean;
  /** Entry slot of each eBPF function, main first, and each one's control-flow graph. */
  readonly entries: readonly number[];
  readonly cfgs: readonly FunctionCfg[];
  readonly scan: Scan;
}

/** What one pass over the program finds before anything is emitted. */
interface Scan {
  /** Helper ids of direct calls. */
  readonly called: ReadonlySet<number>;
  readonly callx: boolean;
  /** Legacy packet loads (LD_ABS/LD_IND). */
  readonly legacy: boolean;
  /** A call or a function pointer can enter the main program. */
  readonly mainEntered: boolean;
  /** A called helper takes a callback. */
  readonly usesCallbacks: boolean;
}

/**
 * One pass: which helpers are called (which can be inlined), callx, legacy loads, and whether a call or a
 * callback can enter the main program.
 */
function scanProgram(prog: PreparedProgram): Scan {
  const insns = prog.insns;
  const called = new Set<number>();
  let callx = false;
  let legacy = false;
  let mainEntered = false;
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    const code = ins.code;
    if ((code & 0x07) === 0) {
      if (code === 0x18) {
        if (ins.src === 4 && ins.imm === 0) mainEntered = true; // a pointer to main (prepared: its slot)
        i++;
      } else if ((code & 0xe0) !== 0) legacy = true;
    } else if (code === 0x85) {
      if (ins.src === 0) called.add(ins.imm);
      else if (ins.src === 1 && i + 1 + ins.imm === 0) mainEntered = true;
    } else if (code === 0x8d) callx = true;
  }
  const usesCallbacks = [...called].some((id) => prog.lookupHelper(id)?.proto.args.includes('func'));
  return { called, callx, legacy, mainEntered, usesCallbacks };
}

/** The helper's name without `bpf_`: inline forms are chosen by name as well as id. */
function helperName(prog: PreparedProgram, id: number): string | undefined {
  const name = prog.lookupHelper(id)?.name;
  return name?.startsWith('bpf_') ? name.slice(4) : name;
}

/** The module's imports: function indices (-1: not imported) and what decided them. */
interface Imports {
  /** Helper ids imported (in import order), each as a BigInt-free number form or the i64 form. */
  readonly helperIds: readonly number[];
  readonly helper: ReadonlyMap<number, number>;
  readonly numberHelper: ReadonlyMap<number, { index: number; args: readonly NumberArg[] }>;
  readonly fault: number;
  readonly access: number;
  readonly budget: number;
  readonly refill: number;
  readonly legacyLoad: number;
  readonly callx: number;
  readonly tailCall: number;
  /** tail_call is called and imported: a call of it may start a tail call. */
  readonly tailCalls: boolean;
  /** The runtime's table of compiled programs, imported for unchecked tail calls. */
  readonly tailSlots: ReturnType<typeof tailCallSlots> | undefined;
  /** The runtime's iteration counter and the import that refills it, when runs count iterations. */
  readonly iterations: { counter: number; more: number } | undefined;
  /** Inline helpers: the clock and the random source (-1: not inlined). */
  readonly now: number;
  readonly random: number;
  /** map_lookup_elem may be inlined (inline helpers on, and helper 1 is that helper). */
  readonly lookupInline: boolean;
  /** The skb and checksum helpers inlined (inline-skb.ts). */
  readonly skbInline: ReadonlySet<number>;
  /** Typed lookup imports by map address. */
  readonly lookups: ReadonlyMap<number, number>;
}

/** Import the helpers the program calls, the runtime's hooks it needs, and the memory (in this order). */
function addImports(m: ModuleBuilder, job: Job): Imports {
  const { prog, insns, runtime, checked, inline, scan } = job;
  const { called } = scan;
  // Verified runs count iterations (src/vm/limits.ts): modules where something can repeat.
  const iterationCount =
    !checked && (scan.usesCallbacks || called.has(TAIL_CALL_ID) || hasBackwardJump(insns))
      ? iterationCounter(runtime).addr
      : undefined;
  const inlineable = (id: number, name: string) => inline && called.has(id) && helperName(prog, id) === name;
  // Inlined without a call: not imported (a test can tell the module never leaves wasm for it).
  const skbInline = inlinedSkbHelpers(prog.type, inlineable);
  const helperIds = [...called]
    .filter((id) => prog.lookupHelper(id) !== undefined && !skbInline.has(id))
    .sort((a, b) => a - b);
  const helper = new Map<number, number>();
  const numberHelper = new Map<number, { index: number; args: readonly NumberArg[] }>();
  for (const id of helperIds) {
    const numbers = prog.lookupHelper(id)!.numbers;
    if (numbers) {
      const params = numbers.args.map(() => f64);
      numberHelper.set(id, {
        index: m.importFunc('env', IMPORT.numberHelper(id), params, [f64]),
        args: numbers.args,
      });
    } else helper.set(id, m.importFunc('env', IMPORT.helper(id), [i64, i64, i64, i64, i64], [i64]));
  }
  const fault = m.importFunc('env', IMPORT.fault, [i32, i32], []);
  const access = checked ? m.importFunc('env', IMPORT.access, [i32, i64, i32, i32, i32], []) : -1;
  const budget = checked ? m.importFunc('env', IMPORT.budget, [i32, i32], []) : -1;
  const refill = checked ? m.importFunc('env', IMPORT.refill, [i32], []) : -1;
  const legacyLoad = scan.legacy ? m.importFunc('env', IMPORT.legacyLoad, [i32, i32, i32, i32], [i64]) : -1;
  const callx = scan.callx ? m.importFunc('env', IMPORT.callx, [i64, i64, i64, i64, i64, i64], [i64]) : -1;
  const tailCalls = called.has(TAIL_CALL_ID) && helper.has(TAIL_CALL_ID);
  const tailCall = tailCalls ? m.importFunc('env', IMPORT.tailCall, TAIL_PARAMS, [i64]) : -1;
  const iterations =
    iterationCount !== undefined
      ? { counter: iterationCount, more: m.importFunc('env', IMPORT.iterations, [i32], []) }
      : undefined;
  // Unchecked tail calls jump through the runtime's table of compiled programs (./tail-calls.ts).
  const tailSlots = tailCalls && inline ? tailCallSlots(runtime) : undefined;
  if (tailSlots) m.importTable('env', IMPORT.tailTable, TAIL_TABLE_SIZE);
  const now = inlineable(HELPER_KTIME, 'ktime_get_ns') ? m.importFunc('env', IMPORT.now, [], [f64]) : -1;
  const random = inlineable(HELPER_PRANDOM, 'get_prandom_u32')
    ? m.importFunc('env', IMPORT.random, [], [i32])
    : -1;
  const lookupInline = inline && helperName(prog, HELPER_MAP_LOOKUP) === 'map_lookup_elem';
  const lookups = lookupInline ? importLookups(m, job) : new Map<number, number>();
  m.importMemory('env', IMPORT.memory, 1);
  return {
    helperIds,
    helper,
    numberHelper,
    fault,
    access,
    budget,
    refill,
    legacyLoad,
    callx,
    tailCall,
    tailCalls,
    tailSlots,
    iterations,
    now,
    random,
    lookupInline,
    skbInline,
    lookups,
  };
}

/**
 * Lookups in a constant map that is neither a plain array nor a plain hash map with a short key: a typed
 * import straight to the map's lookupPtr (what the helper does), without BigInt arguments.
 */
function importLookups(m: ModuleBuilder, job: Job): Map<number, number> {
  const { insns, runtime } = job;
  const lookups = new Map<number, number>();
  for (const cfg of job.cfgs) {
    for (const b of cfg.blocks) {
      const ins = insns[b.last];
      if (b.start >= b.end || ins?.code !== 0x85 || ins.src !== 0 || ins.imm !== HELPER_MAP_LOOKUP) continue;
      const addr = constantMap(insns, 1, b.start, b.last);
      const map = addr === undefined ? undefined : runtime.mapAt(addr);
      if (map && !arrayLayout(map) && !inlineHash(map) && !lookups.has(map.addr)) {
        lookups.set(map.addr, m.importFunc('env', IMPORT.mapLookup(map.addr), [i32], [i32]));
      }
    }
  }
  return lookups;
}

/** The module's globals, every one exported by name (JS reads and sets them around runs). */
function addGlobals(m: ModuleBuilder) {
  const globals = {
    budget: m.global(i64, true, 0),
    readLo: m.global(i64, true, -1),
    readHi: m.global(i64, true, 0),
    writeLo: m.global(i64, true, -1),
    writeHi: m.global(i64, true, 0),
    tailCall: m.global(i32, true, 0),
    frame: m.global(i64, true, 0),
    depth: m.global(i32, true, 0),
    stackTop: m.global(i64, true, 0),
    pc: m.global(i32, true, 0),
    /** The packet legacy loads read: start, and length (-1: ask the runtime). */
    pktStart: m.global(i32, true, 0),
    pktLen: m.global(i32, true, -1),
    /** r10 and the call depth a lean main program starts with (see addFunctions). */
    entryR10: m.global(i64, true, 0),
    entryDepth: m.global(i32, true, 0),
    /** The batch entry's arguments, for a batch loop with the main program inlined (`inlineBatch`). */
    batchCtxs: m.global(i32, true, 0),
    batchCount: m.global(i32, true, 0),
    batchOut: m.global(i32, true, 0),
    /** The iteration count each run of a batch starts with (src/vm/limits.ts; set by JS per batch). */
    itersPerRun: m.global(i32, true, 0),
  };
  for (const [name, index] of Object.entries(globals)) m.export(name, ExternKind.global, index);
  return globals;
}

type Globals = ReturnType<typeof addGlobals>;

/** The wasm functions of the eBPF functions, declared before any body is emitted (calls need indices). */
interface Functions {
  /** Function index by entry slot. */
  readonly index: ReadonlyMap<number, number>;
  readonly bodies: readonly { code: Code; index: number }[];
  /** The main program returns r0 alone unless a call or a callback can enter it. */
  readonly returnsR0Only: (slot: number) => boolean;
  /** The main program is lean (see addFunctions). */
  readonly lean: boolean;
}

/** One wasm function per eBPF function, in entry order. */
function addFunctions(m: ModuleBuilder, job: Job): Functions {
  const index = new Map<number, number>();
  const bodies: { code: Code; index: number }[] = [];
  const mainEntered = job.scan.mainEntered;
  const returnsR0Only = (slot: number) => slot === 0 && !mainEntered;
  // A main program nothing calls is lean: r0-r5 are its parameters (passed in registers), r6-r9, r10 and
  // the depth locals at the same indices (r10 and the depth from two globals its entries set), and it
  // returns r0 alone. Every run enters it, so a call with 12 parameters and 6 results costs every run.
  const lean = returnsR0Only(0);
  for (const start of job.entries) {
    const f =
      start === 0 && lean
        ? m.func(FUNC_PARAMS.slice(0, 6), [i64], [[5, i64], [1, i32], ...FUNC_LOCALS])
        : m.func(FUNC_PARAMS, returnsR0Only(start) ? [i64] : FUNC_RESULTS, FUNC_LOCALS);
    index.set(start, f.index);
    bodies.push(f);
  }
  return { index, bodies, returnsR0Only, lean };
}

/** What the function emitter (./emit.ts) asks of the module while it emits bodies. */
function emitContext(
  m: ModuleBuilder,
  job: Job,
  imports: Imports,
  globals: Globals,
  funcs: Functions,
  frameStride: number,
  budgetBlocks: number[][],
): EmitContext {
  const { prog, insns, checked, inline } = job;
  const funcIndex = funcs.index;
  const inliner: Inliner = {
    insns,
    runtime: job.runtime,
    m,
    lookupInline: imports.lookupInline,
    skbInline: imports.skbInline,
    nowImport: imports.now,
    randImport: imports.random,
    lookupImports: imports.lookups,
    tailSlots: imports.tailSlots,
  };
  return {
    insns,
    checked,
    funcAt: (slot) => funcIndex.get(slot)!,
    helper: (id) => imports.helper.get(id),
    numberHelper: (id) => imports.numberHelper.get(id),
    inlineHelper: (code, id, blockStart, pc, reg) => emitInlineHelper(inliner, code, id, blockStart, pc, reg),
    loopCallback: (id, blockStart, pc) => {
      if (!inline || id !== HELPER_LOOP || helperName(prog, id) !== 'loop') return undefined;
      // r2 = a function pointer loaded in the call's block (prepared programs hold it as the slot it names).
      const j = lddwInto(insns, 2, blockStart, pc);
      const target = j !== undefined && insns[j]!.src === 4 ? insns[j]!.imm : -1;
      return funcIndex.has(target) ? target : undefined;
    },
    needsFrame: (id) => prog.lookupHelper(id)?.proto.args.includes('func') ?? false,
    mayTailCall: (id) => id === TAIL_CALL_ID && imports.tailCalls,
    tableTailCall: (blockStart, pc) => tableTailCall(inliner, blockStart, pc),
    returnsR0Only: funcs.returnsR0Only,
    imports: {
      fault: imports.fault,
      access: imports.access,
      budget: imports.budget,
      refill: imports.refill,
      legacyLoad: imports.legacyLoad,
      callx: imports.callx,
      tailCall: imports.tailCall,
    },
    hasTailCalls: imports.tailCalls,
    legacyLoads: job.scan.legacy,
    globals,
    budgetBlock: (pcs) => budgetBlocks.push(pcs) - 1,
    maxDepth: MAX_CALL_FRAMES,
    frameStride,
    iterations: imports.iterations,
  };
}

/** Each eBPF function's body (structured control flow, or a dispatch loop when irreducible), exported. */
function emitFunctions(
  m: ModuleBuilder,
  job: Job,
  cx: EmitContext,
  funcs: Functions,
  globals: Globals,
): void {
  const { entries } = job;
  job.cfgs.forEach((cfg, k) => {
    const { code } = funcs.bodies[k]!;
    const fe = new FunctionEmitter(code, cfg, cx);
    if (k === 0 && funcs.lean) {
      code.globalGet(globals.entryR10).localSet(10).globalGet(globals.entryDepth).localSet(11);
    }
    if (cfg.reducible) emitStructured(code, cfg, fe);
    else {
      if (cfg.rpo.length > MAX_BR_TABLE_TARGETS) {
        throw new JitLimitError(
          `its control flow is irreducible and has ${cfg.rpo.length} basic blocks: the JIT's dispatch over them ` +
            `exceeds WebAssembly's ${MAX_BR_TABLE_TARGETS} br_table targets (the interpreter runs it)`,
          entries[k]!,
        );
      }
      emitDispatch(code, cfg, fe, LABEL_LOCAL);
    }
    // Checked before V8 sees the module, whose message would not say which function or what to do.
    if (code.length > MAX_FUNCTION_BODY_BYTES) {
      throw new JitLimitError(
        `its code is ${code.length} bytes of WebAssembly, over the ${MAX_FUNCTION_BODY_BYTES} bytes ` +
          'WebAssembly engines accept in one function (the interpreter runs it)',
        entries[k]!,
      );
    }
    if (!(k === 0 && funcs.returnsR0Only(0)))
      m.export(`f${entries[k]}`, ExternKind.func, funcs.bodies[k]!.index);
  });
}

// Inline helpers and constant-map analysis, outside generate() so that its first compile in a process
// (V8 parses a function's inner functions with it) costs only what a program uses.

/** What the inline helpers need from generate(). */
interface Inliner {
  readonly insns: readonly Insn[];
  readonly runtime: Runtime;
  readonly m: ModuleBuilder;
  /** map_lookup_elem may be inlined (inline helpers on, and helper 1 is that helper). */
  readonly lookupInline: boolean;
  /** The skb and checksum helpers inlined. */
  readonly skbInline: ReadonlySet<number>;
  /** Imports of the clock and the random source (-1: not inlined). */
  readonly nowImport: number;
  readonly randImport: number;
  /** Typed lookup imports by map address. */
  readonly lookupImports: ReadonlyMap<number, number>;
  readonly tailSlots: ReturnType<typeof tailCallSlots> | undefined;
}

/** A plain hash map's layout when its lookups can be inlined (short keys). */
function inlineHash(map: Parameters<typeof hashLayout>[0]) {
  const layout = hashLayout(map);
  return layout && layout.keySize <= MAX_INLINE_KEY ? layout : undefined;
}

/** Hot helpers inline: lookups in a constant map, the clock, the random source, the skb helpers. */
function emitInlineHelper(
  s: Inliner,
  code: Code,
  id: number,
  blockStart: number,
  pc: number,
  reg: (r: number) => number,
): boolean {
  if (id === HELPER_KTIME && s.nowImport >= 0) {
    code.call(s.nowImport).truncSatF64U().localSet(reg(0));
    return true;
  }
  if (s.skbInline.has(id)) {
    emitSkbHelper(code, id, reg, { a: SCRATCH_I32, b: SCRATCH_I32_B, c: SCRATCH_I32_C });
    return true;
  }
  if (id === HELPER_PRANDOM && s.randImport >= 0) {
    code.call(s.randImport).op(Op.i64_extend_i32_u).localSet(reg(0));
    return true;
  }
  if (id === HELPER_MAP_LOOKUP && s.lookupInline) {
    const addr = constantMap(s.insns, 1, blockStart, pc);
    const map = addr === undefined ? undefined : s.runtime.mapAt(addr);
    const hashed = map && inlineHash(map);
    if (hashed) {
      const locals = { key: SCRATCH_I32, hash: SCRATCH_I32_B, entry: SCRATCH_I32_C };
      emitHashLookup(code, hashed, reg(2), reg(0), locals);
      return true;
    }
    const direct = map && s.lookupImports.get(map.addr);
    if (direct !== undefined) {
      code.localGet(reg(2)).op(Op.i32_wrap_i64).call(direct).op(Op.i64_extend_i32_u).localSet(reg(0));
      return true;
    }
    const layout = map && arrayLayout(map);
    if (!layout) return false;
    // index = *(u32 *)r2; r0 = index < max_entries ? base + index * stride : NULL
    code.localGet(reg(2)).op(Op.i32_wrap_i64).mem(Op.i32_load, 2, 0).localTee(SCRATCH_I32);
    code.i32Const(layout.maxEntries).op(Op.i32_lt_u).if(i64);
    code.localGet(SCRATCH_I32).op(Op.i64_extend_i32_u).i64Const(layout.valueStride).op(Op.i64_mul);
    code.i64Const(layout.valuesBase).op(Op.i64_add);
    code.else().i64Const(0).end().localSet(reg(0));
    return true;
  }
  return false;
}

/** The slot of the lddw that set `reg` earlier in the block (from `blockStart` to `pc`), unless overwritten. */
function lddwInto(insns: readonly Insn[], reg: number, blockStart: number, pc: number): number | undefined {
  let at: number | undefined;
  for (let j = blockStart; j < pc; j++) {
    const ins = insns[j]!;
    const cls = ins.code & 0x07;
    if (ins.code === 0x18) {
      if (ins.dst === reg) at = j;
      j++;
    } else if ((cls === 0x04 || cls === 0x07 || cls === 0x01) && ins.dst === reg) at = undefined;
    else if (cls === 0x03 && (ins.code & 0xe0) === 0xc0 && ins.src === reg) at = undefined;
  }
  return at;
}

/** The map address in register `reg` at a call, when a lddw earlier in the call's block set it. */
function constantMap(
  insns: readonly Insn[],
  reg: number,
  blockStart: number,
  pc: number,
): number | undefined {
  const j = lddwInto(insns, reg, blockStart, pc);
  return j !== undefined && insns[j + 1]!.imm === 0 ? insns[j]!.imm >>> 0 : undefined;
}

/** A tail_call whose program array is a constant: the table path's addresses. */
function tableTailCall(s: Inliner, blockStart: number, pc: number): TableTailCall | undefined {
  const tailSlots = s.tailSlots;
  if (!tailSlots) return undefined;
  const addr = constantMap(s.insns, 2, blockStart, pc);
  const map = addr === undefined ? undefined : s.runtime.mapAt(addr);
  if (!(map instanceof FdArrayMap) || map.spec.type !== MapType.PROG_ARRAY) return undefined;
  return {
    refs: map.refs.start,
    maxEntries: map.spec.maxEntries,
    ready: tailSlots.ready,
    counter: tailSlots.counter,
    tableSize: TAIL_TABLE_SIZE,
    limit: MAX_TAIL_CALLS,
    entryType: s.m.type(TAIL_PARAMS, [i64]),
  };
}

/** Whether a jump goes back to its own slot or before (a loop: each such jump is an iteration). */
function hasBackwardJump(insns: readonly Insn[]): boolean {
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    const cls = ins.code & 0x07;
    if (ins.code === 0x18) i++;
    else if ((cls === 0x05 || cls === 0x06) && ins.code !== 0x85 && ins.code !== 0x95 && ins.code !== 0x8d) {
      const off = ins.code === 0x06 ? ins.imm : ins.off; // gotol keeps its offset in imm
      if (off < 0) return true;
    }
  }
  return false;
}
