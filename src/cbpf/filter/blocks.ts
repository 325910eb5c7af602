// The control-flow graph the filter compiler builds: blocks of straight-line statements ending in one
// conditional jump on A with a true and a false successor, and shared return leaves.
//
// The parser builds it bottom-up with fragments, as libpcap's code generator does with backpatching: a
// fragment is an entry node and two lists of unfilled jump targets, the "holes" to fill with where control
// goes when the fragment is true or false. `and` fills the left side's true holes with the right side's
// entry; `or` fills its false holes; `not` swaps the lists. Each of these is O(1) (hole lists are linked
// lists joined at their tails) and nothing recurses, so a chain of n operators costs O(n) and any depth
// of nesting is handled in constant stack.

import type { SockFilter } from '../insn.js';
import { C } from '../insn.js';

export interface Ret {
  kind: 'ret';
  k: number;
}
export interface Block {
  kind: 'block';
  stmts: SockFilter[];
  /** Conditional jump opcode (JMP|JEQ|K ...) tested against A. */
  code: number;
  k: number;
  jt: Node;
  jf: Node;
  /**
   * The statements are a self-contained piece of code with jumps of their own (libpcap's protochain
   * loop, which jumps backward): the optimiser neither removes nor looks through them.
   */
  opaque?: boolean;
}
export type Node = Block | Ret;

/** The target of a jump not filled in yet (never reachable in a finished graph). */
const PENDING: Ret = { kind: 'ret', k: -1 };

/**
 * Instructions the graph being built may still take (see FILTER_LIMITS.graph): every block and
 * statement created while parsing spends from it. Compilation is synchronous, so one counter serves.
 */
let budget = Number.POSITIVE_INFINITY;

/** Thrown when a graph under construction exceeds its budget; the parser says where. */
export class GraphBudgetExceeded extends Error {}

export function spend(n: number): void {
  budget -= n;
  if (budget < 0) throw new GraphBudgetExceeded('the block graph exceeds its budget');
}

/** Runs `build` with `max` instructions to spend on the graph. */
export function withBudget<T>(max: number, build: () => T): T {
  const saved = budget;
  budget = max;
  try {
    return build();
  } finally {
    budget = saved;
  }
}

export function block(stmts: SockFilter[], code: number, k: number, jt: Node, jf: Node): Block {
  spend(stmts.length + 1);
  return { kind: 'block', stmts, code, k: k >>> 0, jt, jf };
}

interface Hole {
  block: Block;
  side: 'jt' | 'jf';
  next: Hole | undefined;
}
interface Holes {
  head: Hole | undefined;
  tail: Hole | undefined;
}
const holes = (...hs: Hole[]): Holes => {
  for (let i = 0; i + 1 < hs.length; i++) (hs[i] as Hole).next = hs[i + 1];
  return { head: hs[0], tail: hs[hs.length - 1] };
};
/** Joins b onto a (both lists are consumed). */
function join(a: Holes, b: Holes): Holes {
  if (!a.head) return b;
  if (!b.head) return a;
  (a.tail as Hole).next = b.head;
  return { head: a.head, tail: b.tail };
}
function fill(list: Holes, target: Node): void {
  for (let h = list.head; h; h = h.next) h.block[h.side] = target;
}

/**
 * A predicate under construction: code entered at `entry` that leaves through the holes of `t` when true
 * and `f` when false. A constant (`value` set) has no code. Fragments are used once: combining one
 * consumes it.
 */
export interface Frag {
  entry: Node | undefined;
  t: Holes;
  f: Holes;
  value?: boolean;
  used?: boolean;
}

const take = (p: Frag): Frag => {
  if (p.used) throw new Error('internal error: a filter fragment was used twice');
  p.used = true;
  return p;
};

export const TRUE = (): Frag => ({ entry: undefined, t: holes(), f: holes(), value: true });
export const FALSE = (): Frag => ({ entry: undefined, t: holes(), f: holes(), value: false });
export const constant = (v: boolean): Frag => (v ? TRUE() : FALSE());

/** A block that runs `stmts` and tests A (or X, with a C.X code) with a jump opcode. */
export function test(stmts: SockFilter[], jop: number, k: number): Frag {
  return testCode(stmts, C.JMP | jop | C.K, k);
}
export function testCode(stmts: SockFilter[], code: number, k: number): Frag {
  const b = block(stmts, code, k, PENDING, PENDING);
  return {
    entry: b,
    t: holes({ block: b, side: 'jt', next: undefined }),
    f: holes({ block: b, side: 'jf', next: undefined }),
  };
}

/**
 * A fragment around a block built by hand (protochain): its `tSides` become true holes, its `fSides` false
 * holes, and the other sides keep the successors the block was built with.
 */
export function fixed(b: Block, tSides: ('jt' | 'jf')[], fSides: ('jt' | 'jf')[]): Frag {
  const side = (s: 'jt' | 'jf'): Hole => ({ block: b, side: s, next: undefined });
  return { entry: b, t: holes(...tSides.map(side)), f: holes(...fSides.map(side)) };
}
/** The pending target, for the sides of a hand-built block that `fixed` turns into holes. */
export const pending = (): Node => PENDING;

/**
 * A fragment entered at `entry` (code that already leads into the parts) whose exits are all the parts'
 * exits: the parts are consumed.
 */
export function merge(entry: Node, ...parts: Frag[]): Frag {
  let t = holes();
  let f = holes();
  for (const p of parts) {
    take(p);
    t = join(t, p.t);
    f = join(f, p.f);
  }
  return { entry, t, f };
}

export function not(p: Frag): Frag {
  take(p);
  if (p.value !== undefined) return constant(!p.value);
  return { entry: p.entry, t: p.f, f: p.t };
}

/** a and b: b runs when a is true. */
export function and2(a: Frag, b: Frag): Frag {
  take(a);
  take(b);
  if (a.value === false) return FALSE(); // b never runs
  if (a.value === true) return { ...b, used: false };
  if (b.value === true) return { ...a, used: false };
  if (b.value === false) return { entry: a.entry, t: holes(), f: join(a.t, a.f) }; // a still runs
  fill(a.t, b.entry as Node);
  return { entry: a.entry, t: b.t, f: join(a.f, b.f) };
}

/** a or b: b runs when a is false. */
export function or2(a: Frag, b: Frag): Frag {
  take(a);
  take(b);
  if (a.value === true) return TRUE();
  if (a.value === false) return { ...b, used: false };
  if (b.value === false) return { ...a, used: false };
  if (b.value === true) return { entry: a.entry, t: join(a.t, a.f), f: holes() };
  fill(a.f, b.entry as Node);
  return { entry: a.entry, t: join(a.t, b.t), f: b.f };
}

/** Left to right: and(a, b, c) = (a and b) and c. */
export const and = (...ps: Frag[]): Frag => ps.reduce((x, y) => and2(x, y), TRUE());
export const or = (...ps: Frag[]): Frag => ps.reduce((x, y) => or2(x, y), FALSE());

/** Fills the fragment's holes with the two returns; the root of the finished graph. */
export function close(p: Frag, accept: Ret, reject: Ret): Node {
  take(p);
  if (p.value !== undefined) return p.value ? accept : reject;
  fill(p.t, accept);
  fill(p.f, reject);
  return p.entry as Node;
}

/** Reachable nodes in reverse post-order (every edge goes forward in it), by an explicit-stack search. */
export function reversePostorder(root: Node): Node[] {
  const seen = new Set<Node>([root]);
  const post: Node[] = [];
  const stack: { n: Node; i: number }[] = [{ n: root, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { n: Node; i: number };
    const n = top.n;
    if (n.kind === 'block' && top.i < 2) {
      const s = top.i++ === 0 ? n.jt : n.jf;
      if (!seen.has(s)) {
        seen.add(s);
        stack.push({ n: s, i: 0 });
      }
      continue;
    }
    post.push(n);
    stack.pop();
  }
  return post.reverse();
}
