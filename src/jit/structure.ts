// Structured control flow from a basic-block graph.
//
// Reducible graphs follow the dominator-tree translation of N. Ramsey, "Beyond Relooper" (ICFP 2022):
// a block's code is followed by the code of its dominator-tree children that are merge nodes (two or more
// forward in-edges), each behind a wasm `block` that forward jumps leave with `br`; a loop header wraps
// its code in `loop`, which back edges continue with `br`; any other successor is emitted in place.
// Irreducible graphs fall back to a dispatch loop: a label local and a `br_table` over all blocks.
//
// Both walk with an explicit task stack, so a 10,000-block program does not exhaust the JS stack.

import type { FunctionCfg } from './cfg.js';
import type { Code } from './wasm/index.js';
import { Op } from './wasm/index.js';

/** What the instruction emitter provides for each block. */
export interface BlockEmitter {
  /** The block's straight-line code (everything except a jump/exit terminator). */
  body(block: number): void;
  /** Push the i32 condition under which a `cond` block takes succ[0]. */
  condition(block: number): void;
  /** Leave the function (r0 is the result). */
  exit(block: number): void;
  /** Code for running off the end of the function. */
  fault(block: number): void;
}

type Frame = { kind: 'loop'; node: number } | { kind: 'block'; node: number } | { kind: 'if' };

type Task =
  | { t: 'tree'; node: number }
  | { t: 'within'; node: number; merges: number[]; from: number }
  | { t: 'branch'; from: number; to: number }
  | { t: 'else' }
  | { t: 'end' }; // close the innermost frame

export function emitStructured(code: Code, cfg: FunctionCfg, emit: BlockEmitter): void {
  const { blocks, order, idom, forwardIn, loopHeader } = cfg;
  // Merge-node children of each block in the dominator tree, highest reverse-postorder position first.
  const mergeChildren: number[][] = blocks.map(() => []);
  for (const b of cfg.rpo) if (b !== 0 && forwardIn[b]! >= 2) mergeChildren[idom[b]!]!.push(b);
  for (const list of mergeChildren) list.sort((a, b) => order[b]! - order[a]!);

  // Open frames, and where each block's `block`/`loop` frame sits in them (a branch's depth in O(1): a
  // large program nests thousands of frames).
  const frames: Frame[] = [];
  const blockAt = new Int32Array(blocks.length).fill(-1);
  const loopAt = new Int32Array(blocks.length).fill(-1);
  const open = (f: Frame) => {
    if (f.kind === 'block') blockAt[f.node] = frames.length;
    else if (f.kind === 'loop') loopAt[f.node] = frames.length;
    frames.push(f);
  };
  const depthOf = (kind: 'loop' | 'block', node: number) => {
    const i = (kind === 'loop' ? loopAt : blockAt)[node]!;
    if (i < 0) throw new Error(`jit: no enclosing ${kind} for block ${node}`);
    return frames.length - 1 - i;
  };
  const tasks: Task[] = [{ t: 'tree', node: 0 }];
  while (tasks.length) {
    const task = tasks.pop()!;
    switch (task.t) {
      case 'tree': {
        const x = task.node;
        if (loopHeader[x]) {
          code.loop();
          open({ kind: 'loop', node: x });
          tasks.push({ t: 'end' });
        }
        tasks.push({ t: 'within', node: x, merges: mergeChildren[x]!, from: 0 });
        break;
      }
      case 'within': {
        const { node: x, merges, from } = task;
        if (from < merges.length) {
          const y = merges[from]!;
          code.block();
          open({ kind: 'block', node: y });
          tasks.push({ t: 'tree', node: y }, { t: 'end' }, { t: 'within', node: x, merges, from: from + 1 });
          break;
        }
        const b = blocks[x]!;
        emit.body(x);
        if (b.term === 'exit') emit.exit(x);
        else if (b.term === 'fault') emit.fault(x);
        else if (b.term === 'goto') tasks.push({ t: 'branch', from: x, to: b.succ[0]! });
        else {
          emit.condition(x);
          const [taken, fall] = b.succ as [number, number];
          // A jump that is only a `br` needs no if/else: br_if, then the other edge.
          const direct = (to: number) => order[to]! <= order[x]! || forwardIn[to]! >= 2;
          if (direct(taken)) {
            code.brIf(order[taken]! <= order[x]! ? depthOf('loop', taken) : depthOf('block', taken));
            tasks.push({ t: 'branch', from: x, to: fall });
          } else {
            code.if();
            open({ kind: 'if' });
            tasks.push(
              { t: 'end' },
              { t: 'branch', from: x, to: fall },
              { t: 'else' },
              { t: 'branch', from: x, to: taken },
            );
          }
        }
        break;
      }
      case 'branch': {
        const { from, to } = task;
        if (order[to]! <= order[from]!) code.br(depthOf('loop', to));
        else if (forwardIn[to]! >= 2) code.br(depthOf('block', to));
        else tasks.push({ t: 'tree', node: to });
        break;
      }
      case 'else':
        code.else();
        break;
      case 'end': {
        const f = frames.pop()!;
        if (f.kind === 'block') blockAt[f.node] = -1;
        else if (f.kind === 'loop') loopAt[f.node] = -1;
        code.end();
        break;
      }
    }
  }
  // Every path has left through br/return; the validator still wants the function's result here.
  code.op(Op.unreachable);
}

/**
 * The fallback for irreducible graphs: `label` (an i32 local) names the next block; a loop dispatches
 * through a `br_table` to nested blocks, one per basic block, innermost first.
 */
export function emitDispatch(code: Code, cfg: FunctionCfg, emit: BlockEmitter, label: number): void {
  const live = cfg.rpo;
  const slot = new Int32Array(cfg.blocks.length).fill(-1);
  live.forEach((b, i) => {
    slot[b] = i;
  });
  const n = live.length;
  code.i32Const(0).localSet(label); // the entry block is rpo[0]
  code.loop();
  for (let i = 0; i < n; i++) code.block();
  code.localGet(label).brTable(
    live.map((_, i) => i),
    0,
  );
  for (let i = 0; i < n; i++) {
    code.end();
    // Inside: blocks i+1 .. n-1, then the loop.
    const toLoop = n - 1 - i;
    const b = cfg.blocks[live[i]!]!;
    const goto = (to: number) => code.i32Const(slot[to]!).localSet(label).br(toLoop);
    emit.body(b.id);
    if (b.term === 'exit') emit.exit(b.id);
    else if (b.term === 'fault') emit.fault(b.id);
    else if (b.term === 'goto') goto(b.succ[0]!);
    else {
      code.i32Const(slot[b.succ[0]!]!).i32Const(slot[b.succ[1]!]!);
      emit.condition(b.id);
      code.op(Op.select).localSet(label).br(toLoop);
    }
  }
  code.end(); // loop
  code.op(Op.unreachable);
}
