// The module's entry points, the functions JS calls (compile.ts emits the eBPF functions first): `run64`,
// `run32`, `batch` (optionally with the main program inlined in its loop), `tail_entry`, `set_packet`, and
// `f0` for a lean main. Most are written as byte lists: they are emitted on every compile.

import type { Runtime } from '../vm/runtime.js';
import type { FunctionCfg } from './cfg.js';
import {
  type EmitContext,
  FUNC_LOCALS,
  FUNC_PARAMS,
  FUNC_RESULTS,
  FunctionEmitter,
  LABEL_LOCAL,
  TAIL_PARAMS,
} from './emit.js';
import { emitBeginIterations } from './iterations.js';
import { emitDispatch, emitStructured } from './structure.js';
import { BLOCK_VOID, ExternKind, type ModuleBuilder, Op, ValType } from './wasm/index.js';

const runSlots = new WeakMap<Runtime, number>();

/**
 * The runtime's word holding the index of the run a batch loop is in: helper imports read it to begin that
 * run's invocation at its first helper call. Linear memory, not a wasm global: JS reads a global through
 * an accessor that costs more than the rest of a helper call's bookkeeping.
 */
export function batchRunSlot(runtime: Runtime): number {
  let at = runSlots.get(runtime);
  if (at === undefined) {
    at = runtime.space.allocate(4, 'scratch', 'batch run index', false).start;
    runSlots.set(runtime, at);
  }
  return at;
}

const { i32, i64 } = ValType;

/**
 * A lean main takes r0-r5 only (compile.ts addFunctions); JS (execute, tail calls) calls every function the
 * same way, so `f0` wraps it: r10 and the depth into the globals the lean main reads, r0 and five zeros out.
 */
export function emitLeanWrapper(
  m: ModuleBuilder,
  main: number,
  g: { entryR10: number; entryDepth: number },
): void {
  const f0 = m.func(FUNC_PARAMS, FUNC_RESULTS);
  f0.code.localGet(10).globalSet(g.entryR10).localGet(11).globalSet(g.entryDepth);
  for (let p = 0; p < 6; p++) f0.code.localGet(p);
  f0.code.call(main);
  for (let r = 1; r <= 5; r++) f0.code.i64Const(0);
  m.export('f0', ExternKind.func, f0.index);
}

/** Largest program whose main is inlined in the batch loop (its code is emitted twice). */
export const INLINE_BATCH_SLOTS = 512;

/**
 * The batch loop with the (lean) main program's body inside it, for the batch entry: a function without
 * parameters (the main body's locals keep their indices) over the runs the batch globals describe. Each
 * run starts as a call of main would: r1 = its context, r0 and r2-r9 zero, r10 the top of frame 0, depth
 * 0; an exit branches to the loop's store of r0. Returns the function's index.
 */
export function emitInlineBatch(
  m: ModuleBuilder,
  cfg: FunctionCfg,
  cx: EmitContext,
  g: {
    stackTop: number;
    pktLen: number;
    batchCtxs: number;
    batchCount: number;
    batchOut: number;
    itersPerRun: number;
  },
  opts: {
    legacy: boolean;
    tailCallCounter: number | undefined;
    iterationCount: number | undefined;
    runSlot: number;
  },
): number {
  const I = 19; // run index, after the locals of a main body (r0-r10, depth, FUNC_LOCALS)
  const f = m.func([], [], [[11, i64], [1, i32], ...FUNC_LOCALS, [1, i32]]);
  const c = f.code;
  c.block().loop();
  c.localGet(I).globalGet(g.batchCount).op(Op.i32_ge_u).brIf(1);
  c.i32Const(0).localGet(I).mem(Op.i32_store, 2, opts.runSlot);
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
 * at ctxs + 4i goes to the u32 at out + 4i; the runtime's batchRunSlot word holds i during run i (and each run starts
 * without a known packet); `set_packet(start i32, len i32)` sets the packet legacy loads read.
 */
export function emitEntries(
  m: ModuleBuilder,
  main: number,
  g: {
    stackTop: number;
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
    runSlot: number;
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
    batch.push(
      GET,
      3,
      GET,
      1,
      Op.i32_ge_u,
      Op.br_if,
      1,
      I32,
      0,
      GET,
      3,
      Op.i32_store,
      2,
      ...uleb(opts.runSlot),
    );
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
