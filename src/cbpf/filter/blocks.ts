// The control-flow graph the filter compiler builds: blocks of straight-line statements ending in one
// conditional jump on A with a true and a false successor, and shared return leaves. A predicate is a
// function from (true target, false target) to its entry node, so `and`, `or` and `not` are just
// rewiring and the graph is a DAG built bottom-up. Then: redundant-load removal, jump threading,
// layout in an order where every jump goes forward, long jumps through `ja`.

import { C, type SockFilter, stmt } from '../insn.js';

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
export type Pred = (t: Node, f: Node) => Node;

export const block = (stmts: SockFilter[], code: number, k: number, jt: Node, jf: Node): Block => ({
  kind: 'block',
  stmts,
  code,
  k: k >>> 0,
  jt,
  jf,
});

export const TRUE: Pred = (t) => t;
export const FALSE: Pred = (_t, f) => f;
export const and =
  (...ps: Pred[]): Pred =>
  (t, f) =>
    ps.reduceRight<Node>((next, p) => p(next, f), t);
export const or =
  (...ps: Pred[]): Pred =>
  (t, f) =>
    ps.reduceRight<Node>((next, p) => p(t, next), f);
export const not =
  (p: Pred): Pred =>
  (t, f) =>
    p(f, t);

/** Predicate: run stmts, then test A with a jump opcode against k. */
export const test =
  (stmts: SockFilter[], jop: number, k: number): Pred =>
  (t, f) =>
    block(
      stmts.map((s) => ({ ...s })),
      C.JMP | jop | C.K,
      k,
      t,
      f,
    );

// ---- symbolic values for the optimiser ----
interface State {
  A?: string;
  X?: string;
  M: (string | undefined)[];
}
let fresh = 0;
const unknown = () => `?${fresh++}`;
const copy = (s: State): State => ({ A: s.A, X: s.X, M: [...s.M] });
function meet(a: State | undefined, b: State): State {
  if (!a) return copy(b);
  return {
    A: a.A === b.A ? a.A : undefined,
    X: a.X === b.X ? a.X : undefined,
    M: a.M.map((v, i) => (v === b.M[i] ? v : undefined)),
  };
}

/** Applies one statement to the state; returns true when it changed nothing (a redundant statement). */
function step(s: State, f: SockFilter): boolean {
  const c = f.code;
  const k = f.k >>> 0;
  const setA = (v: string) => {
    const same = s.A === v;
    s.A = v;
    return same;
  };
  const setX = (v: string) => {
    const same = s.X === v;
    s.X = v;
    return same;
  };
  switch (c & 7) {
    case C.LD:
      switch (c & 0xe0) {
        case C.ABS:
          return setA(`[${c & 0x18}@${k}]`);
        case C.IND:
          return setA(s.X ? `[${c & 0x18}@${s.X}+${k}]` : unknown());
        case C.IMM:
          return setA(`#${k}`);
        case C.LEN:
          return setA('len');
        case C.MEM:
          return setA(s.M[k] ?? unknown());
      }
      return setA(unknown());
    case C.LDX:
      switch (c & 0xe0) {
        case C.MSH:
          return setX(`msh@${k}`);
        case C.IMM:
          return setX(`#${k}`);
        case C.LEN:
          return setX('len');
        case C.MEM:
          return setX(s.M[k] ?? unknown());
      }
      return setX(unknown());
    case C.ST: {
      const same = s.A !== undefined && s.M[k] === s.A;
      s.M[k] = s.A ?? unknown();
      return same;
    }
    case C.STX: {
      const same = s.X !== undefined && s.M[k] === s.X;
      s.M[k] = s.X ?? unknown();
      return same;
    }
    case C.ALU: {
      const v = c & C.X ? s.X : `#${k}`;
      s.A = s.A && v ? `(${s.A} ${c & 0xf0} ${v})` : unknown();
      return false;
    }
    case C.MISC:
      return c === (C.MISC | C.TAX) ? setX(s.A ?? unknown()) : setA(s.X ?? unknown());
  }
  return false;
}

/** Nodes reachable from root in reverse post-order (a topological order; jf successors laid out next). */
function order(root: Node): Node[] {
  const seen = new Set<Node>();
  const post: Node[] = [];
  const visit = (n: Node) => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.kind === 'block') {
      visit(n.jt);
      visit(n.jf);
    }
    post.push(n);
  };
  visit(root);
  return post.reverse();
}

/** Removes statements that recompute what a register or scratch word already holds on every path. */
function removeRedundant(root: Node): Map<Block, State> {
  const entry = new Map<Node, State>();
  const exit = new Map<Block, State>();
  entry.set(root, { M: new Array(16).fill(undefined) });
  for (const n of order(root)) {
    if (n.kind !== 'block') continue;
    let s = copy(entry.get(n) ?? { M: new Array(16).fill(undefined) });
    if (n.opaque) s = { A: unknown(), X: unknown(), M: Array.from({ length: 16 }, unknown) };
    else n.stmts = n.stmts.filter((f) => !step(s, f));
    exit.set(n, s);
    for (const succ of [n.jt, n.jf]) entry.set(succ, meet(entry.get(succ), s));
  }
  return exit;
}

/** The outcome of `S` given that `B` (testing the same value) went `taken`; undefined when unknown. */
function implied(b: Block, taken: boolean, s: Block): boolean | undefined {
  if (b.code === s.code && b.k === s.k) return taken;
  const JEQ = C.JMP | C.JEQ | C.K;
  if (b.code === JEQ && taken) {
    const a = b.k;
    switch (s.code) {
      case JEQ:
        return a === s.k;
      case C.JMP | C.JGT | C.K:
        return a > s.k;
      case C.JMP | C.JGE | C.K:
        return a >= s.k;
      case C.JMP | C.JSET | C.K:
        return (a & s.k) !== 0;
    }
  }
  return undefined;
}

/** Redirects edges past blocks whose test is decided by the edge's own test on the same value. */
function thread(root: Node, exit: Map<Block, State>): void {
  for (const b of order(root)) {
    if (b.kind !== 'block') continue;
    const st = exit.get(b);
    if (!st) continue;
    for (const side of ['jt', 'jf'] as const) {
      for (let guard = 0; guard < 64; guard++) {
        const s = b[side];
        if (s.kind !== 'block' || s.opaque) break;
        if (s.jt === s.jf && s.stmts.length === 0) {
          b[side] = s.jt;
          continue;
        }
        const probe = copy(st);
        if (!s.stmts.every((f) => step(probe, f))) break;
        const out = implied(b, side === 'jt', s);
        if (out === undefined) break;
        b[side] = out ? s.jt : s.jf;
      }
    }
  }
}

// ---- facts about values along paths, and liveness: threading past tests decided earlier ----

/** What every path into an edge knows about a value: it is one of `in` (when set), and none of `ne`. */
interface Fact {
  in?: Set<number>;
  ne: Set<number>;
}
type Facts = Map<string, Fact>;

const cloneFacts = (f: Facts): Facts =>
  new Map(
    [...f].map(([k, v]) => [k, v.in ? { in: new Set(v.in), ne: new Set(v.ne) } : { ne: new Set(v.ne) }]),
  );

function meetFacts(a: Facts | undefined, b: Facts): Facts {
  if (!a) return cloneFacts(b);
  const out: Facts = new Map();
  for (const [k, fa] of a) {
    const fb = b.get(k);
    if (!fb) continue;
    // excluded on both sides: in both `ne`, or in one `ne` and outside the other's `in`
    const excluded = (x: number, f: Fact) => f.ne.has(x) || (f.in !== undefined && !f.in.has(x));
    const ne = new Set([...fa.ne, ...fb.ne].filter((x) => excluded(x, fa) && excluded(x, fb)));
    const f: Fact = fa.in && fb.in ? { in: new Set([...fa.in, ...fb.in]), ne } : { ne };
    if (f.in || f.ne.size) out.set(k, f);
  }
  return out;
}

/** The facts on the `side` edge of block `b` (whose test reads the value `sym`). */
function edgeFacts(entry: Facts, b: Block, sym: string | undefined, side: 'jt' | 'jf'): Facts {
  const out = cloneFacts(entry);
  if (sym === undefined || b.opaque || b.code !== (C.JMP | C.JEQ | C.K)) return out;
  const f = out.get(sym) ?? { ne: new Set<number>() };
  if (side === 'jt') f.in = new Set([b.k]);
  else {
    f.ne.add(b.k);
    f.in?.delete(b.k);
  }
  out.set(sym, f);
  return out;
}

function outcome(v: number, code: number, k: number): boolean | undefined {
  switch (code) {
    case C.JMP | C.JEQ | C.K:
      return v === k;
    case C.JMP | C.JGT | C.K:
      return v > k;
    case C.JMP | C.JGE | C.K:
      return v >= k;
    case C.JMP | C.JSET | C.K:
      return (v & k) !== 0;
  }
  return undefined;
}

/** The outcome of testing a value with known facts, or undefined. */
function decide(f: Fact | undefined, code: number, k: number): boolean | undefined {
  if (!f) return undefined;
  if (f.in && f.in.size > 0) {
    const outs = new Set([...f.in].map((v) => outcome(v, code, k)));
    if (outs.size === 1) return [...outs][0];
  }
  return code === (C.JMP | C.JEQ | C.K) && f.ne.has(k) ? false : undefined;
}

const REG_A = 1;
const REG_X = 2;
const ALL_REGS = 0x3ffff;
const mem = (k: number) => 4 << k;

/** Registers (A, X, M[k] as bits) a statement reads and writes. */
function effects(f: SockFilter): { reads: number; writes: number } {
  const c = f.code;
  switch (c & 7) {
    case C.LD:
      return {
        reads: (c & 0xe0) === C.IND ? REG_X : (c & 0xe0) === C.MEM ? mem(f.k) : 0,
        writes: REG_A,
      };
    case C.LDX:
      return { reads: (c & 0xe0) === C.MEM ? mem(f.k) : 0, writes: REG_X };
    case C.ST:
      return { reads: REG_A, writes: mem(f.k) };
    case C.STX:
      return { reads: REG_X, writes: mem(f.k) };
    case C.ALU:
      return { reads: REG_A | (c & C.X ? REG_X : 0), writes: REG_A };
    case C.MISC:
      return c === (C.MISC | C.TAX) ? { reads: REG_A, writes: REG_X } : { reads: REG_X, writes: REG_A };
  }
  return { reads: ALL_REGS, writes: 0 };
}

/** Registers live on entry to each node. */
function liveness(root: Node): Map<Node, number> {
  const live = new Map<Node, number>();
  for (const n of order(root).reverse()) {
    if (n.kind === 'ret') {
      live.set(n, 0);
      continue;
    }
    if (n.opaque) {
      live.set(n, ALL_REGS);
      continue;
    }
    let l = (live.get(n.jt) as number) | (live.get(n.jf) as number) | REG_A;
    for (let i = n.stmts.length - 1; i >= 0; i--) {
      const e = effects(n.stmts[i] as SockFilter);
      l = (l & ~e.writes) | e.reads;
    }
    live.set(n, l);
  }
  return live;
}

/**
 * Applies a statement of a block to be skipped; false when skipping it could change the outcome: stores
 * (scratch words are not tracked by liveness here), division (may end the run), or a packet load of a value
 * not already loaded on every path (a load past the end ends the run).
 */
function skippable(f: SockFilter, probe: State, known: readonly string[]): boolean {
  const c = f.code;
  const cls = c & 7;
  if (cls === C.ST || cls === C.STX) return false;
  if (cls === C.ALU && ((c & 0xf0) === C.DIV || (c & 0xf0) === C.MOD)) return false;
  step(probe, f);
  const m = c & 0xe0;
  const loaded =
    cls === C.LD && (m === C.ABS || m === C.IND) ? probe.A : cls === C.LDX && m === C.MSH ? probe.X : null;
  return loaded === null || (loaded !== undefined && known.some((k) => k.includes(loaded)));
}

/**
 * Redirects an edge past a block whose test the facts on the edge already decide (libpcap's "jump
 * threading across blocks": after `ether proto 0x800` held, a later `ether proto 0x86dd` is false). The
 * skipped block's statements must not matter: they only load values already loaded on every path
 * (so no load that could end the run is dropped) and only write registers that are dead at the target
 * or would get the value they already hold.
 */
function threadByFacts(root: Node, exit: Map<Block, State>): boolean {
  const nodes = order(root);
  const entry = new Map<Node, Facts>([[root, new Map()]]);
  const facts = new Map<Block, { jt: Facts; jf: Facts }>();
  for (const n of nodes) {
    if (n.kind !== 'block') continue;
    const e = entry.get(n) ?? new Map();
    const sym = exit.get(n)?.A;
    const out = { jt: edgeFacts(e, n, sym, 'jt'), jf: edgeFacts(e, n, sym, 'jf') };
    facts.set(n, out);
    for (const side of ['jt', 'jf'] as const) entry.set(n[side], meetFacts(entry.get(n[side]), out[side]));
  }
  let changed = false;
  let live = liveness(root);
  for (const b of nodes.reverse()) {
    if (b.kind !== 'block' || b.opaque) continue;
    const st = exit.get(b);
    if (!st) continue;
    for (const side of ['jt', 'jf'] as const) {
      const known = facts.get(b)?.[side];
      const keys = [...(known?.keys() ?? [])];
      // Follow the chain of blocks the facts decide until one whose needs the skipped statements do not
      // change (the original registers, or registers it does not read).
      const probe = copy(st);
      let target: Node | undefined;
      let cur: Node = b[side];
      for (let hop = 0; hop < 16 && cur.kind === 'block' && !cur.opaque; hop++) {
        if (!cur.stmts.every((f) => skippable(f, probe, keys))) break;
        const verdict = decide(known?.get(probe.A as string), cur.code, cur.k);
        if (verdict === undefined || probe.A === undefined) break;
        cur = verdict ? cur.jt : cur.jf;
        const need = live.get(cur) as number;
        if ((need & REG_A && probe.A !== st.A) || (need & REG_X && probe.X !== st.X)) continue;
        target = cur;
        break;
      }
      if (!target || target === b[side]) continue;
      b[side] = target;
      changed = true;
      live = liveness(root);
    }
  }
  return changed;
}

/** Lays the graph out as classic BPF; jumps longer than 255 go through inserted `ja` instructions. */
function layout(root: Node): SockFilter[] {
  type Item = { node: Node } | { ja: Node };
  const items: Item[] = order(root).map((node) => ({ node }));
  for (;;) {
    // Positions: a block is its statements plus one jump; a return is one instruction.
    const pos = new Map<Node, number>();
    const jaPos: number[] = [];
    let pc = 0;
    for (const it of items) {
      if ('ja' in it) {
        jaPos.push(pc);
        pc += 1;
        continue;
      }
      pos.set(it.node, pc);
      pc += it.node.kind === 'block' ? it.node.stmts.length + 1 : 1;
    }
    const at = (n: Node) => pos.get(n) as number;
    // Find the first conditional jump whose offset does not fit in 8 bits.
    let fix = -1;
    let fixSide: 'jt' | 'jf' = 'jt';
    for (let i = 0; i < items.length && fix < 0; i++) {
      const it = items[i] as Item;
      if ('ja' in it || it.node.kind !== 'block') continue;
      for (const side of ['jt', 'jf'] as const) {
        const target = it.node[side];
        const near = items.findIndex((x, j) => j > i && 'ja' in x && x.ja === target);
        if (near >= 0 && near <= i + 8) continue; // already routed via a trampoline
        if (at(target) - (at(it.node) + it.node.stmts.length) - 1 > 255) {
          fix = i;
          fixSide = side;
          break;
        }
      }
    }
    if (fix < 0) {
      const prog: SockFilter[] = [];
      const jas = new Map<number, Node>();
      items.forEach((it, i) => {
        if ('ja' in it) jas.set(i, it.ja);
      });
      let p = 0;
      const trampolineFor = (i: number, target: Node): number | undefined => {
        for (let j = i + 1; j < items.length && j <= i + 8; j++) {
          const x = items[j] as Item;
          if ('ja' in x && x.ja === target) return j;
        }
        return undefined;
      };
      const itemPc: number[] = [];
      let q = 0;
      for (const it of items) {
        itemPc.push(q);
        q += 'ja' in it ? 1 : it.node.kind === 'block' ? it.node.stmts.length + 1 : 1;
      }
      items.forEach((it, i) => {
        if ('ja' in it) {
          prog.push({ code: C.JMP | C.JA, jt: 0, jf: 0, k: at(it.ja) - p - 1 });
          p++;
          return;
        }
        const n = it.node;
        if (n.kind === 'ret') {
          prog.push(stmt(C.RET | C.K, n.k));
          p++;
          return;
        }
        for (const s of n.stmts) prog.push({ ...s });
        p += n.stmts.length;
        const dist = (target: Node) => {
          const d = at(target) - p - 1;
          if (d <= 255) return d;
          const j = trampolineFor(i, target) as number;
          return (itemPc[j] as number) - p - 1;
        };
        prog.push({ code: n.code, jt: dist(n.jt), jf: dist(n.jf), k: n.k });
        p++;
      });
      return prog;
    }
    const it = items[fix] as { node: Block };
    items.splice(fix + 1, 0, { ja: it.node[fixSide] });
  }
}

export interface OptimizeOptions {
  optimize?: boolean;
}

/** Compiles a predicate into a classic BPF program returning `snaplen` on a match and 0 otherwise. */
export function finish(p: Pred, snaplen: number, opts: OptimizeOptions = {}): SockFilter[] {
  const accept: Ret = { kind: 'ret', k: snaplen };
  const reject: Ret = { kind: 'ret', k: 0 };
  let root = p(accept, reject);
  if (opts.optimize !== false) {
    for (let round = 0; round < 4; round++) {
      const exit = removeRedundant(root);
      thread(root, exit);
      threadByFacts(root, removeRedundant(root));
      while (root.kind === 'block' && root.jt === root.jf && root.stmts.length === 0) root = root.jt;
    }
    removeRedundant(root);
  }
  return layout(root);
}
