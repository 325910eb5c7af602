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
import { emitHashLookup, MAX_INLINE_KEY } from './inline-hash.js';
import { emitBeginIterations, iterationCounter } from './iterations.js';
import { emitDispatch, emitStructured } from './structure.js';
import { TAIL_TABLE_SIZE, tailCallSlots } from './tail-calls.js';
import {
  BLOCK_VOID,
  type Code,
  ExternKind,
  MAX_BR_TABLE_TARGETS,
  MAX_FUNCTION_BODY_BYTES,
  ModuleBuilder,
  Op,
  ValType,
} from './wasm/index.js';

const { i32, i64, f64 } = ValType;

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

/** Generate the wasm module for a prepared program. `frameStride` is the distance between stack frames. */
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

  // One pass: which helpers are called (which can be inlined), callx, legacy loads, and whether a call
  // or a callback can enter the main program.
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
  const helperName = (id: number) => {
    const name = prog.lookupHelper(id)?.name;
    return name?.startsWith('bpf_') ? name.slice(4) : name;
  };
  const inlineable = (id: number) =>
    inline &&
    ((id === HELPER_KTIME && helperName(id) === 'ktime_get_ns') ||
      (id === HELPER_PRANDOM && helperName(id) === 'get_prandom_u32'));
  const usesCallbacks = [...called].some((id) => prog.lookupHelper(id)?.proto.args.includes('func'));
  // Verified runs count iterations (src/vm/limits.ts): modules where something can repeat.
  const iterationCount =
    !checked && (usesCallbacks || called.has(TAIL_CALL_ID) || hasBackwardJump(insns))
      ? iterationCounter(runtime).addr
      : undefined;

  const m = new ModuleBuilder();
  const helperIds = [...called].filter((id) => prog.lookupHelper(id) !== undefined).sort((a, b) => a - b);
  const helperImport = new Map<number, number>();
  const numberImport = new Map<number, { index: number; args: readonly NumberArg[] }>();
  for (const id of helperIds) {
    const numbers = prog.lookupHelper(id)!.numbers;
    if (numbers) {
      const params = numbers.args.map(() => f64);
      numberImport.set(id, {
        index: m.importFunc('env', IMPORT.numberHelper(id), params, [f64]),
        args: numbers.args,
      });
    } else helperImport.set(id, m.importFunc('env', IMPORT.helper(id), [i64, i64, i64, i64, i64], [i64]));
  }
  const fault = m.importFunc('env', IMPORT.fault, [i32, i32], []);
  const access = checked ? m.importFunc('env', IMPORT.access, [i32, i64, i32, i32, i32], []) : -1;
  const budget = checked ? m.importFunc('env', IMPORT.budget, [i32, i32], []) : -1;
  const refill = checked ? m.importFunc('env', IMPORT.refill, [i32], []) : -1;
  const legacyLoad = legacy ? m.importFunc('env', IMPORT.legacyLoad, [i32, i32, i32, i32], [i64]) : -1;
  const callxImport = callx ? m.importFunc('env', IMPORT.callx, [i64, i64, i64, i64, i64, i64], [i64]) : -1;
  const tailCalls = called.has(TAIL_CALL_ID) && helperImport.has(TAIL_CALL_ID);
  const tailCallImport = tailCalls ? m.importFunc('env', IMPORT.tailCall, TAIL_PARAMS, [i64]) : -1;
  const iterationsImport =
    iterationCount !== undefined ? m.importFunc('env', IMPORT.iterations, [i32], []) : -1;
  // Unchecked tail calls jump through the runtime's table of compiled programs (./tail-calls.ts).
  const tailSlots = tailCalls && inline ? tailCallSlots(runtime) : undefined;
  if (tailSlots) m.importTable('env', IMPORT.tailTable, TAIL_TABLE_SIZE);
  const nowImport =
    inlineable(HELPER_KTIME) && called.has(HELPER_KTIME) ? m.importFunc('env', IMPORT.now, [], [f64]) : -1;
  const randImport =
    inlineable(HELPER_PRANDOM) && called.has(HELPER_PRANDOM)
      ? m.importFunc('env', IMPORT.random, [], [i32])
      : -1;
  // Lookups in a constant map that is neither a plain array nor a plain hash map with a short key: a
  // typed import straight to the map's lookupPtr (what the helper does), without BigInt arguments.
  const lookupImports = new Map<number, number>();
  const lookupInline = inline && helperName(HELPER_MAP_LOOKUP) === 'map_lookup_elem';
  if (lookupInline) {
    for (const cfg of cfgs) {
      for (const b of cfg.blocks) {
        const ins = insns[b.last];
        if (b.start >= b.end || ins?.code !== 0x85 || ins.src !== 0 || ins.imm !== HELPER_MAP_LOOKUP)
          continue;
        const addr = constantMap(insns, 1, b.start, b.last);
        const map = addr === undefined ? undefined : runtime.mapAt(addr);
        if (map && !arrayLayout(map) && !inlineHash(map) && !lookupImports.has(map.addr)) {
          lookupImports.set(map.addr, m.importFunc('env', IMPORT.mapLookup(map.addr), [i32], [i32]));
        }
      }
    }
  }
  m.importMemory('env', IMPORT.memory, 1);

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
    /** Index of the run the batch loop is in (helper imports begin that run's invocation on first use). */
    run: m.global(i32, true, 0),
    /** The packet legacy loads read: start, and length (-1: ask the runtime). */
    pktStart: m.global(i32, true, 0),
    pktLen: m.global(i32, true, -1),
    /** r10 and the call depth a lean main program starts with (see `lean` below). */
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

  const budgetBlocks: number[][] = [];
  const funcIndex = new Map<number, number>();
  const bodies: { code: Code; index: number }[] = [];
  // The main program returns r0 alone unless a call or a callback can enter it.
  const returnsR0Only = (slot: number) => slot === 0 && !mainEntered;
  // A main program nothing calls is lean: r0-r5 are its parameters (passed in registers), r6-r9, r10 and
  // the depth locals at the same indices (r10 and the depth from two globals its entries set), and it
  // returns r0 alone. Every run enters it, so a call with 12 parameters and 6 results costs every run.
  const lean = returnsR0Only(0);
  for (const start of entries) {
    const f =
      start === 0 && lean
        ? m.func(FUNC_PARAMS.slice(0, 6), [i64], [[5, i64], [1, i32], ...FUNC_LOCALS])
        : m.func(FUNC_PARAMS, returnsR0Only(start) ? [i64] : FUNC_RESULTS, FUNC_LOCALS);
    funcIndex.set(start, f.index);
    bodies.push(f);
  }

  const inliner: Inliner = {
    insns,
    runtime,
    m,
    lookupInline,
    nowImport,
    randImport,
    lookupImports,
    tailSlots,
  };
  const cx: EmitContext = {
    insns,
    checked,
    funcAt: (slot) => funcIndex.get(slot)!,
    helper: (id) => helperImport.get(id),
    numberHelper: (id) => numberImport.get(id),
    inlineHelper: (code, id, blockStart, pc, reg) => emitInlineHelper(inliner, code, id, blockStart, pc, reg),
    loopCallback: (id, blockStart, pc) => {
      if (!inline || id !== HELPER_LOOP || helperName(id) !== 'loop') return undefined;
      // r2 = a function pointer loaded in the call's block (prepared programs hold it as the slot it names).
      const j = lddwInto(insns, 2, blockStart, pc);
      const target = j !== undefined && insns[j]!.src === 4 ? insns[j]!.imm : -1;
      return funcIndex.has(target) ? target : undefined;
    },
    needsFrame: (id) => prog.lookupHelper(id)?.proto.args.includes('func') ?? false,
    mayTailCall: (id) => id === TAIL_CALL_ID && tailCalls,
    tableTailCall: (blockStart, pc) => tableTailCall(inliner, blockStart, pc),
    returnsR0Only,
    imports: { fault, access, budget, refill, legacyLoad, callx: callxImport, tailCall: tailCallImport },
    hasTailCalls: tailCalls,
    legacyLoads: legacy,
    globals,
    budgetBlock: (pcs) => budgetBlocks.push(pcs) - 1,
    maxDepth: MAX_CALL_FRAMES,
    frameStride,
    iterations:
      iterationCount !== undefined ? { counter: iterationCount, more: iterationsImport } : undefined,
  };

  cfgs.forEach((cfg, k) => {
    const { code } = bodies[k]!;
    const fe = new FunctionEmitter(code, cfg, cx);
    if (k === 0 && lean) {
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
    if (!(k === 0 && returnsR0Only(0))) m.export(`f${entries[k]}`, ExternKind.func, bodies[k]!.index);
  });
  if (lean) {
    // JS (execute, tail calls) calls every function the same way: f0 as r0 and five zeros.
    const f0 = m.func(FUNC_PARAMS, FUNC_RESULTS);
    f0.code.localGet(10).globalSet(globals.entryR10).localGet(11).globalSet(globals.entryDepth);
    for (let p = 0; p < 6; p++) f0.code.localGet(p);
    f0.code.call(funcIndex.get(0)!);
    for (let r = 1; r <= 5; r++) f0.code.i64Const(0);
    m.export('f0', ExternKind.func, f0.index);
  }

  const tailCallCounter = tailCalls ? tailCallSlots(runtime).counter : undefined;
  // A small lean main is emitted a second time, inside the batch loop: a run then costs no call.
  const inlineBatch =
    lean && inline && insns.length <= INLINE_BATCH_SLOTS
      ? emitInlineBatch(m, cfgs[0]!, cx, globals, { legacy, tailCallCounter, iterationCount })
      : undefined;
  emitEntries(m, funcIndex.get(0)!, globals, {
    legacy,
    mainReturnsR0Only: returnsR0Only(0),
    tailCallCounter,
    inlineBatch,
    iterationCount,
  });
  const bytes = m.toBytes();
  return {
    bytes,
    lookupMaps: [...lookupImports.keys()],
    helperIds,
    tailCalls,
    tailTable: tailSlots !== undefined,
    budgetBlocks,
    functions: entries,
    inlineBatch: inlineBatch !== undefined,
    callsHelpers: called.size > 0 || callx || legacy,
    usesCallbacks,
    legacyLoads: legacy,
    countsIterations: iterationCount !== undefined,
    codegenMs: performance.now() - t0,
  };
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

/** Hot helpers inline: lookups in a constant map, the clock and the random source. */
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

/** Largest program whose main is inlined in the batch loop (its code is emitted twice). */
const INLINE_BATCH_SLOTS = 512;

/**
 * The batch loop with the (lean) main program's body inside it, for the batch entry: a function without
 * parameters (the main body's locals keep their indices) over the runs the batch globals describe. Each
 * run starts as a call of main would: r1 = its context, r0 and r2-r9 zero, r10 the top of frame 0, depth
 * 0; an exit branches to the loop's store of r0. Returns the function's index.
 */
function emitInlineBatch(
  m: ModuleBuilder,
  cfg: FunctionCfg,
  cx: EmitContext,
  g: {
    stackTop: number;
    run: number;
    pktLen: number;
    batchCtxs: number;
    batchCount: number;
    batchOut: number;
    itersPerRun: number;
  },
  opts: { legacy: boolean; tailCallCounter: number | undefined; iterationCount: number | undefined },
): number {
  const I = 19; // run index, after the locals of a main body (r0-r10, depth, FUNC_LOCALS)
  const f = m.func([], [], [[11, i64], [1, i32], ...FUNC_LOCALS, [1, i32]]);
  const c = f.code;
  c.block().loop();
  c.localGet(I).globalGet(g.batchCount).op(Op.i32_ge_u).brIf(1);
  c.localGet(I).globalSet(g.run);
  if (opts.legacy) c.i32Const(-1).globalSet(g.pktLen);
  if (opts.tailCallCounter !== undefined)
    c.i32Const(0).i32Const(0).mem(Op.i32_store, 2, opts.tailCallCounter);
  if (opts.iterationCount !== undefined) emitBeginIterations(c, opts.iterationCount, g.itersPerRun);
  c.globalGet(g.batchOut).localGet(I).i32Const(2).op(Op.i32_shl).op(Op.i32_add); // &out[i]
  c.block(i64);
  const exitFrame = c.depth - 1;
  for (let r = 0; r <= 9; r++) if (r !== 1) c.i64Const(0).localSet(r);
  c.globalGet(g.batchCtxs).localGet(I).i32Const(2).op(Op.i32_shl).op(Op.i32_add);
  c.mem(Op.i64_load32_u, 2, 0).localSet(1);
  c.globalGet(g.stackTop).localSet(10).i32Const(0).localSet(11);
  const fe = new FunctionEmitter(c, cfg, cx, exitFrame);
  if (cfg.reducible) emitStructured(c, cfg, fe);
  else emitDispatch(c, cfg, fe, LABEL_LOCAL);
  c.end(); // the exit block: r0 on the stack
  c.op(Op.i32_wrap_i64).mem(Op.i32_store, 2, 0);
  c.localGet(I).i32Const(1).op(Op.i32_add).localSet(I).br(0);
  c.end().end();
  return f.index;
}

/**
 * Entry points: `run64(ctx i32) -> i64`, `run32(ctx i32) -> i32` (the low half of r0), and
 * `batch(ctxs i32, n i32, out i32)`: for each i < n, r0 of a run on the context whose address is the u32
 * at ctxs + 4i goes to the u32 at out + 4i; the global `run` holds i during run i (and each run starts
 * without a known packet); `set_packet(start i32, len i32)` sets the packet legacy loads read.
 */
function emitEntries(
  m: ModuleBuilder,
  main: number,
  g: {
    stackTop: number;
    run: number;
    pktStart: number;
    pktLen: number;
    entryR10: number;
    entryDepth: number;
    batchCtxs: number;
    batchCount: number;
    batchOut: number;
    itersPerRun: number;
  },
  opts: {
    legacy: boolean;
    mainReturnsR0Only: boolean;
    tailCallCounter: number | undefined;
    inlineBatch: number | undefined;
    iterationCount: number | undefined;
  },
): void {
  // Bodies as byte lists (no builder call per instruction: this runs on every compile, most of it in
  // V8's interpreter on the first). Global indices are single LEB128 bytes (under 128 globals, none imported).
  const { legacy, mainReturnsR0Only, tailCallCounter } = opts;
  const { local_get: GET, local_set: SET, global_get: GGET, global_set: GSET, i32_const: I32 } = Op;
  const lean = mainReturnsR0Only;
  const callMain = [Op.call, ...uleb(main)];
  if (!lean) callMain.push(Op.drop, Op.drop, Op.drop, Op.drop, Op.drop);
  // r0 = 0, r1 = ctx (pushed before), r2-r9 = 0, r10 = top of frame 0, depth 0; keep r0 of the results.
  // A lean main takes r0-r5 only and finds r10 and the depth in globals (set once per entry).
  const zeros = [Op.i64_const, 0, Op.i64_const, 0, Op.i64_const, 0, Op.i64_const, 0];
  const setFrame = lean ? [GGET, g.stackTop, GSET, g.entryR10, I32, 0, GSET, g.entryDepth] : [];
  const enter = lean ? [...zeros, ...callMain] : [...zeros, ...zeros, GGET, g.stackTop, I32, 0, ...callMain];
  const ctxArg = [Op.i64_const, 0, GET, 0, Op.i64_extend_i32_u];

  const r64 = m.func([i32], [i64]);
  r64.code.bytes([...setFrame, ...ctxArg, ...enter]);
  m.export('run64', ExternKind.func, r64.index);

  const r32 = m.func([i32], [i32]);
  r32.code.bytes([...setFrame, ...ctxArg, ...enter, Op.i32_wrap_i64]);
  m.export('run32', ExternKind.func, r32.index);

  // for (i = 0; i < n; i++) out[i] = run(ctxs[i]), i in local 3 (or that loop with main inlined)
  const b = m.func([i32, i32, i32], [], [[1, i32]]);
  if (opts.inlineBatch !== undefined) {
    b.code.bytes([GET, 0, GSET, g.batchCtxs, GET, 1, GSET, g.batchCount, GET, 2, GSET, g.batchOut]);
    b.code.bytes([Op.call, ...uleb(opts.inlineBatch)]);
    m.export('batch', ExternKind.func, b.index);
  } else {
    const batch = [...setFrame, Op.block, BLOCK_VOID, Op.loop, BLOCK_VOID];
    batch.push(GET, 3, GET, 1, Op.i32_ge_u, Op.br_if, 1, GET, 3, GSET, g.run);
    if (legacy) batch.push(I32, 0x7f, GSET, g.pktLen); // i32.const -1
    if (tailCallCounter !== undefined) {
      batch.push(I32, 0, I32, 0, Op.i32_store, 2, ...uleb(tailCallCounter));
    }
    const count = opts.iterationCount;
    if (count !== undefined) {
      // The run's iteration count and a new serial (./iterations.ts emitBeginIterations).
      batch.push(I32, 0, GGET, g.itersPerRun, Op.i32_store, 2, ...uleb(count));
      batch.push(I32, 0, I32, 0, Op.i32_load, 2, ...uleb(count + 4), I32, 1, Op.i32_add);
      batch.push(Op.i32_store, 2, ...uleb(count + 4));
    }
    batch.push(GET, 2, GET, 3, I32, 2, Op.i32_shl, Op.i32_add); // &out[i]
    batch.push(Op.i64_const, 0, GET, 0, GET, 3, I32, 2, Op.i32_shl, Op.i32_add, Op.i64_load32_u, 2, 0);
    batch.push(...enter, Op.i32_wrap_i64, Op.i32_store, 2, 0);
    batch.push(GET, 3, I32, 1, Op.i32_add, SET, 3, Op.br, 0, Op.end, Op.end);
    b.code.bytes(batch);
    m.export('batch', ExternKind.func, b.index);
  }

  // The entry of a tail call through the runtime's table: r1-r5, r10 and the depth of the caller.
  const te = m.func(TAIL_PARAMS, [i64]);
  const r0To5 = [Op.i64_const, 0, GET, 0, GET, 1, GET, 2, GET, 3, GET, 4];
  te.code.bytes(
    lean
      ? [GET, 5, GSET, g.entryR10, GET, 6, GSET, g.entryDepth, ...r0To5, ...callMain]
      : [...r0To5, ...zeros, GET, 5, GET, 6, ...callMain],
  );
  m.export('tail_entry', ExternKind.func, te.index);

  const sp = m.func([i32, i32], []);
  sp.code.bytes([GET, 0, GSET, g.pktStart, GET, 1, GSET, g.pktLen]);
  m.export('set_packet', ExternKind.func, sp.index);
}

/** Unsigned LEB128 bytes of v (0 <= v < 2^32). */
function uleb(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
