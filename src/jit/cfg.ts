// Control-flow analysis for the JIT: functions (the main program and every bpf-to-bpf call or callback
// target), basic blocks, reverse postorder, dominators, and whether the graph is reducible.

import { InvalidBytecodeError } from '../errors.js';
import {
  Class,
  type Insn,
  isBranch,
  isLocalCall,
  JmpOp,
  jumpTarget,
  LDDW,
  OP_MASK,
  PseudoLddw,
} from '../isa/index.js';

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
  readonly rpo: number[];
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

/** Entry slots of the program's functions, sorted: 0, every local-call target and every callback target. */
export function functionEntries(insns: readonly Insn[]): number[] {
  const entries = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    if (isLocalCall(ins)) entries.add(i + 1 + ins.imm);
    if (ins.code === LDDW) {
      if (ins.src === PseudoLddw.FUNC) entries.add(i + 1 + ins.imm);
      i++;
    }
  }
  for (const e of entries) {
    if (e < 0 || e >= insns.length)
      throw new InvalidBytecodeError(`call target ${e} is outside the program`, 0);
  }
  return [...entries].sort((a, b) => a - b);
}

const isCall = (ins: Insn) => ins.code === (Class.JMP | JmpOp.CALL);
const isExit = (ins: Insn) => ins.code === (Class.JMP | JmpOp.EXIT);
const isGoto = (ins: Insn) => (ins.code & OP_MASK) === JmpOp.JA && isBranch(ins);

/** Basic blocks of the function in slots [start, end). Calls end a block too (the budget counts per block). */
export function buildCfg(insns: readonly Insn[], start: number, end: number): FunctionCfg {
  const leader = new Uint8Array(end - start + 1);
  leader[0] = 1;
  const inRange = (t: number, at: number) => {
    if (t < start || t >= end) {
      throw new InvalidBytecodeError(`jump to ${t} leaves the function at ${start}..${end - 1}`, at);
    }
  };
  for (let i = start; i < end; i++) {
    const ins = insns[i]!;
    if (ins.code === LDDW) {
      i++;
      continue;
    }
    if (isBranch(ins)) {
      const t = jumpTarget(ins, i);
      inRange(t, i);
      leader[t - start] = 1;
      leader[i + 1 - start] = 1;
    } else if (isExit(ins) || isCall(ins)) leader[i + 1 - start] = 1;
  }
  const blockAt = new Int32Array(end - start).fill(-1);
  const starts: number[] = [];
  for (let i = start; i < end; i++) {
    if (leader[i - start]) {
      blockAt[i - start] = starts.length;
      starts.push(i);
    }
  }
  // A conditional jump at the very end may fall off the function: that edge goes to an empty fault block.
  let offEnd = -1;
  const fallOff = () => {
    if (offEnd < 0) offEnd = starts.length;
    return offEnd;
  };
  const blocks: BasicBlock[] = starts.map((s, id) => {
    const e = id + 1 < starts.length ? starts[id + 1]! : end;
    // The last instruction (not the second half of a trailing lddw).
    let last = s;
    while (last + slots(insns[last]!) < e) last += slots(insns[last]!);
    const ins = insns[last]!;
    const next = e < end ? blockAt[e - start]! : -1;
    if (isBranch(ins)) {
      const target = blockAt[jumpTarget(ins, last) - start]!;
      if (isGoto(ins)) return { id, start: s, end: e, last, term: 'goto', succ: [target], jumpAtEnd: true };
      return {
        id,
        start: s,
        end: e,
        last,
        term: 'cond',
        succ: [target, next < 0 ? fallOff() : next],
        jumpAtEnd: true,
      };
    }
    if (isExit(ins)) return { id, start: s, end: e, last, term: 'exit', succ: [], jumpAtEnd: true };
    if (next < 0) return { id, start: s, end: e, last, term: 'fault', succ: [], jumpAtEnd: false };
    return { id, start: s, end: e, last, term: 'goto', succ: [next], jumpAtEnd: false };
  });
  if (offEnd >= 0)
    blocks.push({ id: offEnd, start: end, end, last: end - 1, term: 'fault', succ: [], jumpAtEnd: false });
  return analyse(start, end, blocks);
}

const slots = (ins: Insn) => (ins.code === LDDW ? 2 : 1);

function analyse(start: number, end: number, blocks: BasicBlock[]): FunctionCfg {
  const n = blocks.length;
  // Iterative DFS for postorder and retreating edges.
  const order = new Int32Array(n).fill(-1);
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const post: number[] = [];
  const retreating: [number, number][] = [];
  const stack: [number, number][] = [[0, 0]];
  state[0] = 1;
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const b = blocks[top[0]]!;
    if (top[1] < b.succ.length) {
      const s = b.succ[top[1]++]!;
      if (state[s] === 0) {
        state[s] = 1;
        stack.push([s, 0]);
      } else if (state[s] === 1) retreating.push([b.id, s]);
    } else {
      state[top[0]] = 2;
      post.push(top[0]);
      stack.pop();
    }
  }
  const rpo = post.reverse();
  rpo.forEach((b, i) => {
    order[b] = i;
  });

  // Dominators (Cooper, Harvey, Kennedy: iterate intersecting predecessors in reverse postorder).
  const preds: number[][] = blocks.map(() => []);
  for (const b of rpo) for (const s of blocks[b]!.succ) preds[s]!.push(b);
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a]! > order[b]!) a = idom[a]!;
      while (order[b]! > order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 1; i < rpo.length; i++) {
      const b = rpo[i]!;
      let d = -1;
      for (const p of preds[b]!) {
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== idom[b]) {
        idom[b] = d;
        changed = true;
      }
    }
  }
  const dominates = (a: number, b: number) => {
    while (order[b]! > order[a]!) b = idom[b]!;
    return a === b;
  };

  const forwardIn = new Int32Array(n);
  const loopHeader = new Uint8Array(n);
  for (const b of rpo) {
    for (const s of blocks[b]!.succ) {
      if (order[s]! > order[b]!) forwardIn[s]!++;
      else loopHeader[s] = 1;
    }
  }
  const reducible = retreating.every(([from, to]) => dominates(to, from));
  return { start, end, blocks, rpo, order, idom, forwardIn, loopHeader, reducible };
}
