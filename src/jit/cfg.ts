// Control-flow analysis for the JIT, per function (where functions start is the ISA's subprogramStarts,
// read once by prepare): basic blocks, reverse postorder, dominators, and whether the graph is reducible.

import { InvalidBytecodeError } from '../errors.js';
import { Class, type Insn, JmpOp, LDDW, OP_MASK } from '../isa/index.js';

/**
 * How a basic block ends. `goto`: one successor (a `ja`, or falling into the next block). `cond`: a
 * conditional jump, succ[0] taken and succ[1] not. `exit`: return r0. `fault`: runs off its function.
 */
export type Terminator = 'goto' | 'cond' | 'exit' | 'fault';

export interface BasicBlock {
  readonly id: number;
  /** Slot range [start, end). */
  readonly start: number;
  readonly end: number;
  /** Slot of the last instruction (the terminator when it is a jump or exit). */
  readonly last: number;
  readonly term: Terminator;
  /** Successor block ids. */
  readonly succ: number[];
  /** Whether the last instruction is a jump/exit consumed by the terminator (else it is ordinary code). */
  readonly jumpAtEnd: boolean;
}

export interface FunctionCfg {
  /** First slot of the function and one past its last. */
  readonly start: number;
  readonly end: number;
  /** blocks[0] is the entry. */
  readonly blocks: BasicBlock[];
  /** Reachable block ids in reverse postorder; `order[id]` is the position, -1 when unreachable. */
  readonly rpo: Int32Array;
  readonly order: Int32Array;
  /** Immediate dominator of each reachable block (the entry's is itself). */
  readonly idom: Int32Array;
  /** Number of forward in-edges (from reachable blocks, counted with multiplicity). */
  readonly forwardIn: Int32Array;
  /** Blocks that are the target of a back edge. */
  readonly loopHeader: Uint8Array;
  /** False when some retreating edge goes to a block that does not dominate its source. */
  readonly reducible: boolean;
}

const CALL = Class.JMP | JmpOp.CALL;
const EXIT = Class.JMP | JmpOp.EXIT;
const GOTOL = Class.JMP32 | JmpOp.JA;

/** A block (an object literal of one shape: the cheapest allocation before V8 optimises anything). */
function block(
  id: number,
  start: number,
  end: number,
  last: number,
  term: Terminator,
  succ: number[],
  jumpAtEnd: boolean,
): BasicBlock {
  return { id, start, end, last, term, succ, jumpAtEnd };
}

/**
 * Basic blocks of the function in slots [start, end). Calls end a block too (the budget counts per block).
 * Written for the first compile in a process, which runs unoptimised: flat loops over typed arrays, opcode
 * tests inline, no closures or per-edge tuples.
 */
export function buildCfg(insns: readonly Insn[], start: number, end: number): FunctionCfg {
  const len = end - start;
  const leader = new Uint8Array(len + 1);
  // Second slots of lddw, as the scan from `start` meets them (a block's last instruction is not one).
  const second = new Uint8Array(len + 1);
  leader[0] = 1;
  for (let i = start; i < end; i++) {
    const code = insns[i]!.code;
    if (code === LDDW) {
      second[++i - start] = 1;
      continue;
    }
    const cls = code & 0x07;
    if (cls !== Class.JMP && cls !== Class.JMP32) continue;
    const op = code & OP_MASK;
    if (op === JmpOp.CALL || op === JmpOp.EXIT) {
      if (code === CALL || code === EXIT) leader[i + 1 - start] = 1;
      continue;
    }
    const ins = insns[i]!;
    const t = i + 1 + (code === GOTOL ? ins.imm : ins.off);
    if (t < start || t >= end) {
      throw new InvalidBytecodeError(`jump to ${t} leaves the function at ${start}..${end - 1}`, i);
    }
    leader[t - start] = 1;
    leader[i + 1 - start] = 1;
  }
  // Block ids by slot, and each block's first slot (relative to start).
  const blockAt = new Int32Array(len);
  const firstOf = new Int32Array(len + 1);
  let count = 0;
  for (let i = 0; i < len; i++) {
    if (leader[i]) {
      firstOf[count] = i;
      blockAt[i] = count++;
    } else blockAt[i] = -1;
  }
  firstOf[count] = len;
  const blocks: BasicBlock[] = [];
  // A conditional jump at the very end may fall off the function: that edge goes to an empty fault block.
  let offEnd = -1;
  let s = start;
  for (let id = 0; id < count; id++) {
    const e = start + firstOf[id + 1]!;
    // The last instruction (not the second half of a trailing lddw; a block starting on a second half,
    // which only a jump into a lddw makes, has that slot as its first instruction).
    const last = e - 2 >= s && second[e - 1 - start] ? e - 2 : e - 1;
    const ins = insns[last]!;
    const code = ins.code;
    const cls = code & 0x07;
    const op = code & OP_MASK;
    const next = e < end ? blockAt[e - start]! : -1;
    let b: BasicBlock;
    if ((cls === Class.JMP || cls === Class.JMP32) && op !== JmpOp.CALL && op !== JmpOp.EXIT) {
      const target = blockAt[last + 1 + (code === GOTOL ? ins.imm : ins.off) - start]!;
      if (op === JmpOp.JA) b = block(id, s, e, last, 'goto', [target], true);
      else {
        let fall = next;
        if (fall < 0) {
          if (offEnd < 0) offEnd = count;
          fall = offEnd;
        }
        b = block(id, s, e, last, 'cond', [target, fall], true);
      }
    } else if (code === EXIT) b = block(id, s, e, last, 'exit', [], true);
    else if (next < 0) b = block(id, s, e, last, 'fault', [], false);
    else b = block(id, s, e, last, 'goto', [next], false);
    blocks.push(b);
    s = e;
  }
  if (offEnd >= 0) blocks.push(block(offEnd, end, end, end - 1, 'fault', [], false));
  return analyse(start, end, blocks);
}

function analyse(start: number, end: number, blocks: BasicBlock[]): FunctionCfg {
  const n = blocks.length;
  // Successors flat: a block has at most two.
  const succ0 = new Int32Array(n).fill(-1);
  const succ1 = new Int32Array(n).fill(-1);
  for (let b = 0; b < n; b++) {
    const succ = blocks[b]!.succ;
    if (succ.length > 0) succ0[b] = succ[0]!;
    if (succ.length > 1) succ1[b] = succ[1]!;
  }

  // Iterative DFS for postorder and retreating edges: a stack of blocks and how many successors each
  // has had visited.
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const stack = new Int32Array(n);
  const visited = new Uint8Array(n);
  const post = new Int32Array(n);
  let reached = 0;
  const retreating: number[] = []; // from, to pairs
  let sp = 0;
  stack[sp++] = 0;
  state[0] = 1;
  while (sp > 0) {
    const b = stack[sp - 1]!;
    const k = visited[b]!;
    const s = k === 0 ? succ0[b]! : k === 1 ? succ1[b]! : -1;
    if (s >= 0) {
      visited[b] = k + 1;
      if (state[s] === 0) {
        state[s] = 1;
        stack[sp++] = s;
      } else if (state[s] === 1) retreating.push(b, s);
    } else {
      state[b] = 2;
      post[reached++] = b;
      sp--;
    }
  }
  const rpo = new Int32Array(reached);
  const order = new Int32Array(n).fill(-1);
  for (let i = 0; i < reached; i++) {
    const b = post[reached - 1 - i]!;
    rpo[i] = b;
    order[b] = i;
  }

  // Predecessors (reachable ones), in reverse-postorder positions, as one flat list with offsets.
  const predStart = new Int32Array(reached + 1);
  for (let i = 0; i < reached; i++) {
    const b = rpo[i]!;
    if (succ0[b]! >= 0) predStart[order[succ0[b]!]! + 1]!++;
    if (succ1[b]! >= 0) predStart[order[succ1[b]!]! + 1]!++;
  }
  for (let i = 0; i < reached; i++) predStart[i + 1]! += predStart[i]!;
  const fill = predStart.slice(0, reached);
  const preds = new Int32Array(predStart[reached]!);
  for (let i = 0; i < reached; i++) {
    const b = rpo[i]!;
    if (succ0[b]! >= 0) preds[fill[order[succ0[b]!]!]!++] = i;
    if (succ1[b]! >= 0) preds[fill[order[succ1[b]!]!]!++] = i;
  }

  // Dominators (Cooper, Harvey, Kennedy: iterate intersecting predecessors in reverse postorder), on
  // reverse-postorder positions so that "deeper" is simply "larger".
  const dom = new Int32Array(reached).fill(-1);
  dom[0] = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 1; i < reached; i++) {
      let d = -1;
      for (let k = predStart[i]!; k < predStart[i + 1]!; k++) {
        let p = preds[k]!;
        if (dom[p] === -1) continue;
        if (d === -1) {
          d = p;
          continue;
        }
        while (p !== d) {
          while (p > d) p = dom[p]!;
          while (d > p) d = dom[d]!;
        }
      }
      if (d !== dom[i]) {
        dom[i] = d;
        changed = true;
      }
    }
  }
  const idom = new Int32Array(n).fill(-1);
  for (let i = 0; i < reached; i++) idom[rpo[i]!] = rpo[dom[i]!]!;

  const forwardIn = new Int32Array(n);
  const loopHeader = new Uint8Array(n);
  for (let i = 0; i < reached; i++) {
    const b = rpo[i]!;
    for (let k = 0; k < 2; k++) {
      const s = k === 0 ? succ0[b]! : succ1[b]!;
      if (s < 0) continue;
      if (order[s]! > i) forwardIn[s]!++;
      else loopHeader[s] = 1;
    }
  }
  // Reducible when the target of every retreating edge dominates its source.
  let reducible = true;
  for (let k = 0; k < retreating.length && reducible; k += 2) {
    const to = order[retreating[k + 1]!]!;
    let from = order[retreating[k]!]!;
    while (from > to) from = dom[from]!;
    reducible = from === to;
  }
  return { start, end, blocks, rpo, order, idom, forwardIn, loopHeader, reducible };
}
