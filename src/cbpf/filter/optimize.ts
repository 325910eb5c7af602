// The optimiser of the filter compiler: it makes the common expressions at most as long as libpcap's
// (tcpdump -d) and costs time linear in the block graph, as libpcap's does not (its dominator sets are
// quadratic and it repeats passes until nothing changes: 1,000 `port N` terms take it 275 s).
//
// Values are numbered and what tests gave is kept as facts (./values.ts). Each round runs these passes
// once, in order:
//
//   forward   in topological order: what A, X and the scratch words hold on entry to each block (the
//             meet of its predecessors) and the facts on each edge (those every path to it has).
//             Statements recomputing what their register holds go, constants fold, a test its facts
//             decide becomes a jump.
//   thread    in reverse topological order: an edge into a block whose test its facts decide goes past
//             it (libpcap's jump threading along dominating edges), as far as the facts decide; also
//             when the tested value is one of a few and each leads to the same place, and straight to the
//             reject when every way on from the edge drops the packet.
//   pullup    in a chain of tests that all jump to the same place when true (`a or b or c ...`), tests of
//             the same value are brought together (`[54] = 1 or [56] = 1 or [54] = 2` becomes
//             `[54] = 1 or [54] = 2 or [56] = 1`, and the second load of [54] then goes); the same for
//             chains with a common false target. libpcap's or/and pull-ups do this, and like them this
//             changes which load runs first, so a packet too short for one of them can give another result
//             than before: as tcpdump's.
//   backward  peepholes that need A dead afterwards (`and #m; jeq #0` is `jset #m` with the branches
//             swapped; `sub #c; jeq #k` is `jeq #k+c`), and statements whose result nobody reads.
//   intern    identical blocks (same statements, test and successors) become one, bottom-up, whatever
//             values they test: libpcap's block interning, the main source of shared code; and a block
//             that only jumps on to a block it alone enters takes that block in.
//
// Exactness: apart from the pull-up's reordering (which libpcap does too), a load that could fail (a
// packet load not already done on every path to it) or a division by X is never removed or skipped
// (except on the way to the reject, where failing drops the packet too), so the program drops exactly the
// packets it dropped before.
//
// Bounds: at most ROUNDS rounds, each visiting every block and edge a bounded number of times: facts per
// edge (./values.ts), THREAD_HOPS blocks crossed per threaded edge (times the values of a set, at most 16),
// EXPLORE blocks to prove an edge drops: O(blocks) per round.

import { C, type SockFilter, stmt } from '../insn.js';
import { type Block, type Node, type Ret, reversePostorder } from './blocks.js';
import {
  A,
  ALL,
  addFact,
  bitOf,
  computed,
  effect,
  type Fact,
  foldAlu,
  implied,
  meetFacts,
  NREGS,
  newState,
  outcome,
  pinned,
  pins,
  regOf,
  type State,
  UNKNOWN,
  Values,
  X,
} from './values.js';

const ROUNDS = 12;
const THREAD_HOPS = 16;
/** Blocks explored to prove that an edge only leads to dropping the packet. */
const EXPLORE = 8;
/** Longest or/and chain regrouped at once (a graph is smaller: FILTER_LIMITS.graph). */
const CHAIN_MAX = 1 << 20;

// ---- the graph, per round ----

interface Graph {
  /** Reachable nodes in reverse post-order (every edge goes forward in it). */
  order: Node[];
  index: Map<Node, number>;
  /** Predecessor count of each node. */
  preds: Int32Array;
}

/** The graph of `root`, numbered in reverse post-order. */
function graphOf(root: Node): Graph {
  const order = reversePostorder(root);
  const index = new Map<Node, number>();
  order.forEach((n, i) => void index.set(n, i));
  const preds = new Int32Array(order.length);
  for (const n of order) {
    if (n.kind !== 'block') continue;
    preds[index.get(n.jt) as number]++;
    if (n.jf !== n.jt) preds[index.get(n.jf) as number]++;
  }
  return { order, index, preds };
}

/** Registers read by a block before it writes them (its test reads A, and X for X tests). */
function blockReads(b: Block): number {
  if (b.opaque) return ALL;
  let reads = 0;
  let written = 0;
  for (const s of b.stmts) {
    const e = effect(s);
    reads |= e.reads & ~written;
    written |= e.writes;
  }
  reads |= bitOf(A) & ~written;
  if (b.code & C.X) reads |= bitOf(X) & ~written;
  return reads;
}

/** Registers live on entry to a (non-opaque) block, given those live after it. */
function blockLive(b: Block, out: number): number {
  let l = out;
  if (b.jt !== b.jf) {
    l |= bitOf(A);
    if (b.code & C.X) l |= bitOf(X);
  }
  for (let j = b.stmts.length - 1; j >= 0; j--) {
    const e = effect(b.stmts[j] as SockFilter);
    l = (l & ~e.writes) | e.reads;
  }
  return l;
}

/** Registers live on entry to each node (index of the graph's order). */
function liveness(g: Graph): Int32Array {
  const live = new Int32Array(g.order.length);
  for (let i = g.order.length - 1; i >= 0; i--) {
    const n = g.order[i] as Node;
    if (n.kind !== 'block') continue;
    const out = (live[g.index.get(n.jt) as number] as number) | (live[g.index.get(n.jf) as number] as number);
    live[i] = n.opaque ? ALL : blockLive(n, out);
  }
  return live;
}

/** What the forward pass learnt: states on entry to and exit from each block, facts on each edge. */
interface Flow {
  entry: Map<Node, State>;
  exit: Map<Node, State>;
  edges: Map<Node, { jt: Fact[]; jf: Fact[] }>;
}

/** What an optimisation cost: rounds run, and blocks visited by all passes together. */
export interface OptimizeStats {
  rounds: number;
  visits: number;
}

class Optimizer {
  private readonly vals = new Values();
  private changed = false;
  readonly stats: OptimizeStats = { rounds: 0, visits: 0 };

  constructor(
    private readonly accept: Ret,
    private readonly reject: Ret,
  ) {}

  run(root: Node): Node {
    let r = root;
    for (let round = 0; round < ROUNDS; round++) {
      this.changed = false;
      this.stats.rounds++;
      const g = graphOf(r);
      const flow = this.forward(g);
      this.threadAll(g, flow);
      this.pullup(graphOf(r), flow.entry, flow.exit);
      this.backward(graphOf(r));
      r = this.intern(r);
      if (!this.changed) break;
    }
    return r;
  }

  // ---- forward: values, facts, redundant statements, decided tests ----

  private forward(g: Graph): Flow {
    const n = g.order.length;
    const inState: (State | undefined)[] = new Array(n);
    const inFacts: (Fact[] | undefined)[] = new Array(n);
    inState[0] = newState();
    inFacts[0] = [];
    const flow: Flow = { entry: new Map(), exit: new Map(), edges: new Map() };
    for (let i = 0; i < n; i++) {
      const b = g.order[i] as Node;
      const st0 = inState[i];
      if (b.kind !== 'block' || st0 === undefined) continue; // a return, or no longer reached
      this.stats.visits++;
      flow.entry.set(b, st0);
      const st = st0.slice();
      const facts = inFacts[i] ?? [];
      if (b.opaque) st.fill(UNKNOWN);
      else this.simplify(b, st);
      flow.exit.set(b, st);
      const own = this.decide(st, facts, b);
      if (own !== undefined && b.jt !== b.jf) {
        if (own) b.jf = b.jt;
        else b.jt = b.jf;
        this.changed = true;
      }
      const jt = b.jt === b.jf ? facts : this.withFact(facts, st, b, true);
      const jf = b.jt === b.jf ? facts : this.withFact(facts, st, b, false);
      flow.edges.set(b, { jt, jf });
      this.propagate(g, b.jt, st, jt, inState, inFacts);
      if (b.jf !== b.jt) this.propagate(g, b.jf, st, jf, inState, inFacts);
    }
    return flow;
  }

  // ---- threading: edges past the blocks their facts decide ----

  /**
   * In reverse topological order, so an edge being threaded runs into edges already threaded (a chain of
   * decided tests is crossed in a few hops); the liveness the landing checks need is computed on the
   * way, from successors already final. A node's entry state and facts were computed before any edge
   * into it moved, and the edges threaded into it carry at least those facts and, in every register it
   * reads, the same values (the landing check), so they stay valid.
   */
  private threadAll(g: Graph, flow: Flow): void {
    const live = new Int32Array(g.order.length);
    const liveOf = (m: Node) => (m.kind === 'block' ? (live[g.index.get(m) as number] as number) : 0);
    for (let i = g.order.length - 1; i >= 0; i--) {
      const b = g.order[i] as Node;
      if (b.kind !== 'block') continue;
      const st = flow.exit.get(b);
      const edges = flow.edges.get(b);
      if (st && edges && !b.opaque) {
        for (const side of ['jt', 'jf'] as const) {
          const edge = edges[side];
          let target = this.thread(b[side], st, edge, liveOf);
          if (target.kind === 'block' && edge.some(pins) && this.dropsAll(target, st, edge))
            target = this.reject;
          if (target !== b[side]) {
            b[side] = target;
            this.changed = true;
          }
          if (b.jt === b.jf) break;
        }
      }
      live[i] = b.opaque ? ALL : blockLive(b, liveOf(b.jt) | liveOf(b.jf));
    }
  }

  private propagate(
    g: Graph,
    to: Node,
    st: State,
    facts: Fact[],
    inState: (State | undefined)[],
    inFacts: (Fact[] | undefined)[],
  ): void {
    const j = g.index.get(to) as number;
    const cur = inState[j];
    if (cur === undefined) inState[j] = st.slice();
    else for (let r = 0; r < NREGS; r++) if (cur[r] !== st[r]) cur[r] = UNKNOWN;
    inFacts[j] = meetFacts(inFacts[j], facts);
  }

  /** Drops statements that recompute what their register holds; folds constants. Updates `st`. */
  private simplify(b: Block, st: State): void {
    const out: SockFilter[] = [];
    for (const f0 of b.stmts) {
      let f = f0;
      const cls = f.code & 7;
      if (cls === C.ALU) f = this.foldStmt(f, st);
      const reg = regOf(f);
      const v = computed(this.vals, st, f);
      if (st[reg] === v && v !== UNKNOWN) {
        this.changed = true;
        continue;
      }
      if (f !== f0) this.changed = true;
      st[reg] = v;
      out.push(f);
    }
    if (out.length !== b.stmts.length || out.some((f, i) => f !== b.stmts[i])) b.stmts = out;
  }

  /** An ALU statement on known constants as a load of the result; `op x` with a known X as `op #k`. */
  private foldStmt(f: SockFilter, st: State): SockFilter {
    const op = f.code & 0xf0;
    const a = this.vals.konst.get(st[A] as number);
    const byX = (f.code & C.X) !== 0 && op !== C.NEG;
    const b = op === C.NEG ? 0 : byX ? this.vals.konst.get(st[X] as number) : f.k >>> 0;
    if (a !== undefined && b !== undefined) {
      const v = foldAlu(f.code, a, b);
      if (v !== undefined) return stmt(C.LD | C.IMM, v);
    }
    if (byX && b !== undefined) {
      // As a constant operand only where classic BPF allows one (no division by 0, no shift past 31).
      const divZero = (op === C.DIV || op === C.MOD) && b === 0;
      const wide = (op === C.LSH || op === C.RSH) && b > 31;
      if (!divZero && !wide) return stmt(C.ALU | op | C.K, b);
    }
    return f;
  }

  /** The outcome of a block's test in state `st` with `facts`, or undefined. */
  private decide(st: State, facts: Fact[], b: Block): boolean | undefined {
    if (b.opaque) return undefined;
    const v = st[A] as number;
    if (v === UNKNOWN) return undefined;
    const byX = (b.code & C.X) !== 0;
    const k = byX ? (st[X] as number) : b.k;
    if (byX && k === UNKNOWN) return undefined;
    const kv = this.vals.konst.get(v);
    const kk = byX ? this.vals.konst.get(k) : k;
    if (kv !== undefined && kk !== undefined) return outcome(kv, b.code, kk);
    for (const f of facts) {
      if (f.v !== v) continue;
      const o = implied(f, b.code, k);
      if (o !== undefined) return o;
    }
    return undefined;
  }

  private withFact(facts: Fact[], st: State, b: Block, out: boolean): Fact[] {
    const v = st[A] as number;
    const byX = (b.code & C.X) !== 0;
    const k = byX ? (st[X] as number) : b.k;
    if (b.opaque || v === UNKNOWN || k === UNKNOWN || this.vals.konst.has(v)) return facts;
    return addFact(facts, { v, code: b.code, k, out });
  }

  /**
   * Where an edge leaving with state `st` and `facts` can go instead of `to`: past blocks whose test the
   * facts decide, whose statements cannot end the run (loads only of values already loaded on every path),
   * landing where the registers the rest reads hold what they would have.
   */
  private thread(to: Node, st: State, facts: Fact[], liveOf: (n: Node) => number, split = true): Node {
    let target = to;
    let cur = to;
    const probe = st.slice();
    let written = 0;
    for (let hop = 0; hop < THREAD_HOPS; hop++) {
      if (cur.kind !== 'block' || cur.opaque) break;
      this.stats.visits++;
      let ok = true;
      for (const f of cur.stmts) {
        const e = effect(f);
        const reg = regOf(f);
        const v = computed(this.vals, probe, f);
        // A statement that may fail can be skipped only if it cannot fail here: a load of a value every
        // path has loaded (not a division by X).
        if (e.mayFail && ((f.code & 7) === C.ALU || !this.done(v, st, facts))) {
          ok = false;
          break;
        }
        probe[reg] = v;
        written |= bitOf(reg);
      }
      if (!ok) break;
      const verdict = this.decide(probe, facts, cur);
      if (verdict === undefined) {
        // The value tested is one of a few (`tcp or udp` came before): if each leads to the same place,
        // go there (one level of this per edge: |set| walks of at most THREAD_HOPS blocks).
        const set = split ? pinned(facts, probe[A] as number) : undefined;
        if (!set || set.length < 2 || (cur.code & C.X) !== 0) break;
        const v = probe[A] as number;
        const eq = C.JMP | C.JEQ | C.K;
        const ends = set.map((x) =>
          this.thread(to, st, addFact(facts, { v, code: eq, k: x, out: true }), liveOf, false),
        );
        if (ends.every((e) => e === ends[0])) return ends[0] as Node;
        break;
      }
      cur = verdict ? cur.jt : cur.jf;
      const need = liveOf(cur);
      let lands = true;
      for (let r = 0; r < NREGS && lands; r++)
        if (need & written & bitOf(r)) lands = probe[r] !== UNKNOWN && probe[r] === st[r];
      if (lands) target = cur;
    }
    return target;
  }

  /**
   * Whether every way on from `to`, with what the edge knows, drops the packet (a failing load drops it
   * too, so nothing on the way matters): then the edge may go straight to the reject. Explores both
   * sides of the tests the facts do not decide, at most EXPLORE blocks.
   */
  private dropsAll(to: Node, st: State, facts: Fact[]): boolean {
    // Breadth first: a way to the accept near the start (the common case) ends the search at once. The
    // facts of a side are made when it is reached (most searches end before).
    type Step = { n: Node; st: State; facts: Fact[]; from?: Block; out?: boolean };
    const queue: Step[] = [{ n: to, st, facts }];
    let visits = 0;
    for (let head = 0; head < queue.length; head++) {
      const step = queue[head] as Step;
      const n = step.n;
      if (n === this.reject) continue;
      if (n.kind !== 'block' || n.opaque || ++visits > EXPLORE) return false;
      this.stats.visits++;
      const fs = step.from ? this.withFact(step.facts, step.st, step.from, step.out as boolean) : step.facts;
      const probe = step.st.slice();
      for (const f of n.stmts) probe[regOf(f)] = computed(this.vals, probe, f);
      const verdict = n.jt === n.jf ? true : this.decide(probe, fs, n);
      if (verdict !== undefined) queue.push({ n: verdict ? n.jt : n.jf, st: probe, facts: fs });
      else if (n.jt === this.accept || n.jf === this.accept) return false;
      else {
        queue.push({ n: n.jt, st: probe, facts: fs, from: n, out: true });
        queue.push({ n: n.jf, st: probe, facts: fs, from: n, out: false });
      }
    }
    return true;
  }

  /** Whether every path to an edge computed `v`: a register holds it or a fact tests it, or a part of them. */
  private done(v: number, st: State, facts: Fact[]): boolean {
    for (let r = 0; r < NREGS; r++)
      if (st[r] !== UNKNOWN && this.vals.computedFrom(st[r] as number).includes(v)) return true;
    for (const f of facts) if (this.vals.computedFrom(f.v).includes(v)) return true;
    return false;
  }

  // ---- backward: peepholes and dead statements ----

  private backward(g: Graph): void {
    const live = new Int32Array(g.order.length);
    for (let i = g.order.length - 1; i >= 0; i--) {
      const b = g.order[i] as Node;
      if (b.kind !== 'block') continue;
      this.stats.visits++;
      if (b.opaque) {
        live[i] = ALL;
        continue;
      }
      const out =
        (live[g.index.get(b.jt) as number] as number) | (live[g.index.get(b.jf) as number] as number);
      this.peephole(b, out);
      let l = out;
      if (b.jt !== b.jf) {
        l |= bitOf(A);
        if (b.code & C.X) l |= bitOf(X);
      }
      const kept: SockFilter[] = [];
      for (let j = b.stmts.length - 1; j >= 0; j--) {
        const f = b.stmts[j] as SockFilter;
        const e = effect(f);
        if ((e.writes & l) === 0 && !e.mayFail) {
          this.changed = true;
          continue;
        }
        kept.push(f);
        l = (l & ~e.writes) | e.reads;
      }
      if (kept.length !== b.stmts.length) b.stmts = kept.reverse();
      live[i] = l;
    }
  }

  /** Rewrites of a block's last statement and test that hold when A is dead after it. */
  private peephole(b: Block, liveOut: number): void {
    const last = b.stmts[b.stmts.length - 1];
    if (!last || b.jt === b.jf || liveOut & bitOf(A) || b.code & C.X) return;
    const op = b.code & 0xf0;
    const k = b.k >>> 0;
    const c = last.k >>> 0;
    if (last.code === (C.ALU | C.AND | C.K) && ((op === C.JEQ && k === 0) || (op === C.JGT && k === 0))) {
      // (v & m) == 0 is !(v jset m); (v & m) > 0 is v jset m
      b.stmts = b.stmts.slice(0, -1);
      b.code = C.JMP | C.JSET | C.K;
      b.k = c;
      if (op === C.JEQ) [b.jt, b.jf] = [b.jf, b.jt];
      this.changed = true;
      return;
    }
    if (op !== C.JEQ) return;
    let eq: number | undefined;
    if (last.code === (C.ALU | C.SUB | C.K)) eq = (k + c) >>> 0;
    else if (last.code === (C.ALU | C.ADD | C.K)) eq = (k - c) >>> 0;
    else if (last.code === (C.ALU | C.XOR | C.K)) eq = (k ^ c) >>> 0;
    if (eq === undefined) return;
    b.stmts = b.stmts.slice(0, -1);
    b.k = eq;
    this.changed = true;
  }

  // ---- pullup: tests of one value brought together in or/and chains ----

  private pullup(g: Graph, entry: Map<Node, State>, exit: Map<Node, State>): void {
    const live = liveness(g);
    const liveAt = (n: Node) => (n.kind === 'block' ? (live[g.index.get(n) as number] as number) : 0);
    const inChain = new Set<Node>();
    for (const head of g.order) {
      if (head.kind !== 'block' || head.opaque || head.jt === head.jf || inChain.has(head)) continue;
      for (const [link, common] of [
        ['jf', 'jt'],
        ['jt', 'jf'],
      ] as const) {
        // The chain: head, then blocks reached through `link` that share `common` and have no other way in.
        const chain: Block[] = [head];
        for (let c = head[link]; chain.length < CHAIN_MAX; c = c[link]) {
          if (c.kind !== 'block' || c.opaque || c[common] !== head[common] || c.jt === c.jf) break;
          if (g.preds[g.index.get(c) as number] !== 1) break;
          this.stats.visits++;
          chain.push(c);
        }
        if (chain.length < 3) continue;
        for (const c of chain) inChain.add(c);
        const after = (chain[chain.length - 1] as Block)[link];
        this.regroup(chain, link, entry, exit, liveAt(head[common]) | liveAt(after));
      }
    }
  }

  /**
   * Puts the chain's blocks in groups by the value each tests, in order of first appearance, when every
   * block still reads what it read before (and the chain leaves the registers read after it as they were).
   */
  private regroup(
    chain: Block[],
    link: 'jt' | 'jf',
    entry: Map<Node, State>,
    exit: Map<Node, State>,
    liveAfter: number,
  ): void {
    const groups = new Map<number, Block[]>();
    let unique = -1;
    for (const c of chain) {
      const v = exit.get(c)?.[A] ?? UNKNOWN;
      const key = v === UNKNOWN ? unique-- : v;
      const list = groups.get(key);
      if (list) list.push(c);
      else groups.set(key, [c]);
    }
    const order = [...groups.values()].flat();
    if (order.every((c, k) => c === chain[k])) return;
    // Simulate the new order on what the first block enters with.
    const state = (entry.get(chain[0] as Block) as State).slice();
    let writtenAll = 0;
    for (const c of order) {
      const before = entry.get(c);
      const afterC = exit.get(c);
      if (!before || !afterC) return;
      const reads = blockReads(c);
      for (let r = 0; r < NREGS; r++)
        if (reads & bitOf(r) && (state[r] === UNKNOWN || state[r] !== before[r])) return;
      let writes = 0;
      for (const f of c.stmts) writes |= effect(f).writes;
      for (let r = 0; r < NREGS; r++) if (writes & bitOf(r)) state[r] = afterC[r] as number;
      writtenAll |= writes;
    }
    // Registers read after the chain (at the common target or its end) must not depend on the order.
    if (liveAfter & writtenAll & ~bitOf(A)) return;
    if (liveAfter & bitOf(A)) return;
    const after = (chain[chain.length - 1] as Block)[link];
    for (let k = 0; k < order.length; k++) (order[k] as Block)[link] = order[k + 1] ?? after;
    this.changed = true;
  }

  // ---- intern: identical blocks made one ----

  private intern(root: Node): Node {
    const g = graphOf(root);
    const canon = new Map<Node, Node>([
      [this.accept, this.accept],
      [this.reject, this.reject],
    ]);
    const ids = new Map<Node, number>([
      [this.accept, 0],
      [this.reject, 1],
    ]);
    const byKey = new Map<string, Block>();
    for (let i = g.order.length - 1; i >= 0; i--) {
      this.stats.visits++;
      const b = g.order[i] as Node;
      if (b.kind !== 'block') {
        if (!canon.has(b)) {
          canon.set(b, b);
          ids.set(b, ids.size);
        }
        continue;
      }
      const jt = canon.get(b.jt) as Node;
      const jf = canon.get(b.jf) as Node;
      if (jt !== b.jt || jf !== b.jf) {
        b.jt = jt;
        b.jf = jf;
        this.changed = true;
      }
      if (jt === jf && (b.stmts.length === 0 || jt === this.reject) && !b.opaque) {
        // A jump to one place; or a block whose every way out drops the packet (a failing load does too).
        canon.set(b, jt);
        this.changed = true;
        continue;
      }
      const key = `${b.opaque ? 'o' : ''}${b.stmts.map((s) => `${s.code}:${s.k}:${s.jt}:${s.jf}`).join(',')}|${b.code}:${b.k}|${ids.get(jt)}:${ids.get(jf)}`;
      const same = byKey.get(key);
      if (same) {
        canon.set(b, same);
        this.changed = true;
        continue;
      }
      byKey.set(key, b);
      canon.set(b, b);
      ids.set(b, ids.size);
    }
    let r = canon.get(root) as Node;
    // A block that jumps to one block it alone enters takes that block in (one jump fewer).
    const h = graphOf(r);
    for (const b of h.order) {
      if (b.kind !== 'block' || b.opaque) continue;
      for (let s = b.jt; b.jt === b.jf && s.kind === 'block' && !s.opaque; s = b.jt) {
        if (h.preds[h.index.get(s) as number] !== 1) break;
        b.stmts = [...b.stmts, ...s.stmts];
        b.code = s.code;
        b.k = s.k;
        b.jt = s.jt;
        b.jf = s.jf;
        this.changed = true;
      }
    }
    while (r.kind === 'block' && r.jt === r.jf && r.stmts.length === 0 && !r.opaque) r = r.jt;
    return r;
  }
}

/**
 * Optimises the graph of `root` (whose returns are `accept` and `reject`); returns the new root. `stats`,
 * when given, receives what it cost.
 */
export function optimize(root: Node, accept: Ret, reject: Ret, stats?: OptimizeStats): Node {
  const o = new Optimizer(accept, reject);
  const r = o.run(root);
  if (stats) Object.assign(stats, o.stats);
  return r;
}
