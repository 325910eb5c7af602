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
  /** Whether the jump from `from` to `to` is counted (an iteration of a verified run, src/vm/limits.ts). */
  counts(from: number, to: number): boolean;
  /** The counting code for the jump from `from` to `to`, when it counts (else nothing). */
  edge(from: number, to: number): void;
}

// Tasks on the explicit stack, three numbers each: kind, a, b. Numbers in plain arrays rather than objects:
// the first compile in a process runs unoptimised, where every allocation and call counts.
const TREE = 0; // a: node
const WITHIN = 1; // a: node, b: next index into its merge children
const BRANCH = 2; // a: from, b: to
const ELSE = 3;
const END = 4; // close the innermost frame

// Frame kinds.
const LOOP = 0;
const BLOCK = 1;
const IF = 2;

export function emitStructured(code: Code, cfg: FunctionCfg, emit: BlockEmitter): void {
  const { blocks, rpo, order, idom, forwardIn, loopHeader } = cfg;
  const n = blocks.length;
  // Merge-node children of each block in the dominator tree, highest reverse-postorder position first:
  // one flat list, block x's children at [mergeStart[x], mergeStart[x + 1]).
  const mergeStart = new Int32Array(n + 1);
  for (let i = 1; i < rpo.length; i++) {
    const b = rpo[i]!;
    if (forwardIn[b]! >= 2) mergeStart[idom[b]! + 1]!++;
  }
  for (let x = 0; x < n; x++) mergeStart[x + 1]! += mergeStart[x]!;
  const mergeFill = mergeStart.slice(0, n);
  const merges = new Int32Array(mergeStart[n]!);
  for (let i = rpo.length - 1; i >= 1; i--) {
    const b = rpo[i]!;
    if (forwardIn[b]! >= 2) merges[mergeFill[idom[b]!]!++] = b;
  }

  // Open frames (kind and node), and where each block's `block`/`loop` frame sits in them (a branch's
  // depth in O(1): a large program nests thousands of frames).
  const frameKind: number[] = [];
  const frameNode: number[] = [];
  let depth = 0;
  const blockAt = new Int32Array(n).fill(-1);
  const loopAt = new Int32Array(n).fill(-1);
  const tasks: number[] = [TREE, 0, 0];
  let sp = 3;
  while (sp > 0) {
    sp -= 3;
    const kind = tasks[sp]!;
    const a = tasks[sp + 1]!;
    const b = tasks[sp + 2]!;
    if (kind === TREE) {
      if (loopHeader[a]) {
        code.loop();
        loopAt[a] = depth;
        frameKind[depth] = LOOP;
        frameNode[depth++] = a;
        tasks[sp++] = END;
        tasks[sp++] = 0;
        tasks[sp++] = 0;
      }
      tasks[sp++] = WITHIN;
      tasks[sp++] = a;
      tasks[sp++] = mergeStart[a]!;
    } else if (kind === WITHIN) {
      const x = a;
      if (b < mergeStart[x + 1]!) {
        const y = merges[b]!;
        code.block();
        blockAt[y] = depth;
        frameKind[depth] = BLOCK;
        frameNode[depth++] = y;
        tasks[sp++] = TREE;
        tasks[sp++] = y;
        tasks[sp++] = 0;
        tasks[sp++] = END;
        tasks[sp++] = 0;
        tasks[sp++] = 0;
        tasks[sp++] = WITHIN;
        tasks[sp++] = x;
        tasks[sp++] = b + 1;
        continue;
      }
      const block = blocks[x]!;
      emit.body(x);
      const term = block.term;
      if (term === 'exit') emit.exit(x);
      else if (term === 'fault') emit.fault(x);
      else if (term === 'goto') {
        tasks[sp++] = BRANCH;
        tasks[sp++] = x;
        tasks[sp++] = block.succ[0]!;
      } else {
        emit.condition(x);
        const taken = block.succ[0]!;
        const fall = block.succ[1]!;
        // A jump that is only a `br` needs no if/else: br_if, then the other edge (a counted one counts
        // first, inside an if).
        if (order[taken]! <= order[x]! && emit.counts(x, taken)) {
          code.if();
          emit.edge(x, taken);
          code.br(frameDepth(depth, loopAt, taken, 'loop') + 1);
          code.end();
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = fall;
        } else if (order[taken]! <= order[x]!) {
          code.brIf(frameDepth(depth, loopAt, taken, 'loop'));
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = fall;
        } else if (forwardIn[taken]! >= 2 && emit.counts(x, taken)) {
          code.if();
          emit.edge(x, taken);
          code.br(frameDepth(depth, blockAt, taken, 'block') + 1);
          code.end();
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = fall;
        } else if (forwardIn[taken]! >= 2) {
          code.brIf(frameDepth(depth, blockAt, taken, 'block'));
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = fall;
        } else {
          code.if();
          frameKind[depth++] = IF;
          tasks[sp++] = END;
          tasks[sp++] = 0;
          tasks[sp++] = 0;
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = fall;
          tasks[sp++] = ELSE;
          tasks[sp++] = 0;
          tasks[sp++] = 0;
          tasks[sp++] = BRANCH;
          tasks[sp++] = x;
          tasks[sp++] = taken;
        }
      }
    } else if (kind === BRANCH) {
      emit.edge(a, b);
      if (order[b]! <= order[a]!) code.br(frameDepth(depth, loopAt, b, 'loop'));
      else if (forwardIn[b]! >= 2) code.br(frameDepth(depth, blockAt, b, 'block'));
      else {
        tasks[sp++] = TREE;
        tasks[sp++] = b;
        tasks[sp++] = 0;
      }
    } else if (kind === ELSE) code.else();
    else {
      const f = frameKind[--depth]!;
      if (f === BLOCK) blockAt[frameNode[depth]!] = -1;
      else if (f === LOOP) loopAt[frameNode[depth]!] = -1;
      code.end();
    }
  }
  // Every path has left through br/return; the validator still wants the function's result here.
  code.op(Op.unreachable);
}

/** The `br` depth of node's open frame, recorded in `at` (by position among the open frames). */
function frameDepth(depth: number, at: Int32Array, node: number, kind: string): number {
  const i = at[node]!;
  if (i < 0) throw new Error(`jit: no enclosing ${kind} for block ${node}`);
  return depth - 1 - i;
}

/**
 * The fallback for irreducible graphs: `label` (an i32 local) names the next block; a loop dispatches
 * through a `br_table` to nested blocks, one per basic block, innermost first.
 */
export function emitDispatch(code: Code, cfg: FunctionCfg, emit: BlockEmitter, label: number): void {
  const live = cfg.rpo;
  const slot = cfg.order; // a block's position in `live`
  const n = live.length;
  code.i32Const(0).localSet(label); // the entry block is rpo[0]
  code.loop();
  for (let i = 0; i < n; i++) code.block();
  const targets: number[] = [];
  for (let i = 0; i < n; i++) targets.push(i);
  code.localGet(label).brTable(targets, 0);
  for (let i = 0; i < n; i++) {
    code.end();
    // Inside: blocks i+1 .. n-1, then the loop.
    const toLoop = n - 1 - i;
    const b = cfg.blocks[live[i]!]!;
    emit.body(b.id);
    if (b.term === 'exit') emit.exit(b.id);
    else if (b.term === 'fault') emit.fault(b.id);
    else if (b.term === 'goto') {
      emit.edge(b.id, b.succ[0]!);
      code.i32Const(slot[b.succ[0]!]!).localSet(label).br(toLoop);
    } else if (emit.counts(b.id, b.succ[0]!)) {
      // A counted jump: count inside an if, then on as the select below would.
      emit.condition(b.id);
      code.if();
      emit.edge(b.id, b.succ[0]!);
      code
        .i32Const(slot[b.succ[0]!]!)
        .localSet(label)
        .br(toLoop + 1);
      code.end();
      code.i32Const(slot[b.succ[1]!]!).localSet(label).br(toLoop);
    } else {
      code.i32Const(slot[b.succ[0]!]!).i32Const(slot[b.succ[1]!]!);
      emit.condition(b.id);
      code.op(Op.select).localSet(label).br(toLoop);
    }
  }
  code.end(); // loop
  code.op(Op.unreachable);
}
