// What the optimiser (./optimize.ts) knows about values: each statement's result gets a number (equal
// numbers, equal values: a load of [12] twice, `x & 0xf0` of the same x), registers A, X and M[0..15]
// hold numbers (a state), and "facts" record what tests on numbered values gave on the way to an edge
// (`[12] = 0x800`, `[20] & 0x1fff` clear, [23] one of {6, 17}), from which later tests are decided.
// Fact lists are small (FACTS entries at most, sets of at most SET_MAX values), so every operation on
// them costs a constant.

import { C, type SockFilter } from '../insn.js';

/** Facts kept per edge (the most recent). */
const FACTS = 16;

// ---- value numbering ----

/** Registers of the state: A, X, then the scratch words M[0..15]. */
export const A = 0;
export const X = 1;
const M = 2;
export const NREGS = 18;
export const bitOf = (r: number) => 1 << r;
export const ALL = (1 << NREGS) - 1;
/** 0 stands for "unknown" (paths disagree, or nothing is known): it never equals anything. */
export const UNKNOWN = 0;

export class Values {
  /** Value ids by (kind, a) then b: numeric keys, so no string is built per statement. */
  private ids = new Map<number, Map<number, number>>();
  private next = 1;
  /** The constant a value is, for constants. */
  readonly konst = new Map<number, number>();
  /** The values a value is computed from (for "was this load already done"). */
  readonly parts = new Map<number, number[]>();

  fresh(): number {
    return this.next++;
  }
  /** The value named (kind, a, b): kind < 2^20 and a, b < 2^32 (constants or value ids). */
  private named(kind: number, a: number, b: number, parts?: number[]): number {
    const outer = kind * 0x100000000 + a;
    let inner = this.ids.get(outer);
    if (!inner) {
      inner = new Map();
      this.ids.set(outer, inner);
    }
    let id = inner.get(b);
    if (id === undefined) {
      id = this.next++;
      inner.set(b, id);
      if (parts) this.parts.set(id, parts);
    }
    return id;
  }
  const(k: number): number {
    const id = this.named(K_CONST, 0, k >>> 0);
    this.konst.set(id, k >>> 0);
    return id;
  }
  /** A packet load at a constant offset (`size` is the opcode's size bits). */
  abs(size: number, k: number): number {
    return this.named(K_ABS, size, k >>> 0);
  }
  /** A packet load at X (value x) + k. */
  ind(size: number, x: number, k: number): number {
    return this.named(K_IND + size, x, k >>> 0, [x]);
  }
  msh(k: number): number {
    return this.named(K_MSH, 0, k >>> 0);
  }
  len(): number {
    return this.named(K_LEN, 0, 0);
  }
  op(code: number, a: number, b: number): number {
    if (a === UNKNOWN || b === UNKNOWN) return this.fresh();
    const ka = this.konst.get(a);
    const kb = this.konst.get(b);
    if (ka !== undefined && kb !== undefined) {
      const v = foldAlu(code, ka, kb);
      if (v !== undefined) return this.const(v);
    }
    return this.named(K_OP + code, a, b, [a, b]);
  }
  private within = new Map<number, number[]>();
  /**
   * `v` and the values it is computed from (so the loads done to compute it), breadth first, at most
   * WITHIN of them; cached.
   */
  computedFrom(v: number): number[] {
    let out = this.within.get(v);
    if (out) return out;
    out = [v];
    for (let i = 0; i < out.length && out.length < WITHIN; i++)
      for (const p of this.parts.get(out[i] as number) ?? []) if (!out.includes(p)) out.push(p);
    this.within.set(v, out);
    return out;
  }
}

const WITHIN = 16;

const K_CONST = 1;
const K_ABS = 2;
const K_MSH = 3;
const K_LEN = 4;
const K_IND = 8; // + the size bits (0, 8, 16)
const K_OP = 256; // + the opcode

/** Classic ALU semantics on constants; undefined for a division by zero (the run would end). */
export function foldAlu(code: number, a: number, b: number): number | undefined {
  switch (code & 0xf0) {
    case C.ADD:
      return (a + b) >>> 0;
    case C.SUB:
      return (a - b) >>> 0;
    case C.MUL:
      return Math.imul(a, b) >>> 0;
    case C.DIV:
      return b === 0 ? undefined : Math.floor(a / b) >>> 0;
    case C.MOD:
      return b === 0 ? undefined : (a % b) >>> 0;
    case C.AND:
      return (a & b) >>> 0;
    case C.OR:
      return (a | b) >>> 0;
    case C.XOR:
      return (a ^ b) >>> 0;
    case C.LSH:
      return b >= 32 ? 0 : (a << b) >>> 0;
    case C.RSH:
      return b >= 32 ? 0 : a >>> b;
    case C.NEG:
      return -a >>> 0;
  }
  return undefined;
}

/** Value numbers of A, X, M[0..15]: a plain array (typed arrays cost an ArrayBuffer each, and there is one per block and edge). */
export type State = number[];
export const newState = (): State => new Array<number>(NREGS).fill(UNKNOWN);

export interface Effect {
  /** Registers read (before the statement writes). */
  reads: number;
  writes: number;
  /** The statement may end the run (a packet load out of bounds, a division by a zero X). */
  mayFail: boolean;
}

export function effect(f: SockFilter): Effect {
  const c = f.code;
  const mode = c & 0xe0;
  switch (c & 7) {
    case C.LD:
      if (mode === C.ABS) return { reads: 0, writes: bitOf(A), mayFail: true };
      if (mode === C.IND) return { reads: bitOf(X), writes: bitOf(A), mayFail: true };
      if (mode === C.MEM) return { reads: bitOf(M + f.k), writes: bitOf(A), mayFail: false };
      return { reads: 0, writes: bitOf(A), mayFail: false };
    case C.LDX:
      if (mode === C.MSH) return { reads: 0, writes: bitOf(X), mayFail: true };
      if (mode === C.MEM) return { reads: bitOf(M + f.k), writes: bitOf(X), mayFail: false };
      return { reads: 0, writes: bitOf(X), mayFail: false };
    case C.ST:
      return { reads: bitOf(A), writes: bitOf(M + f.k), mayFail: false };
    case C.STX:
      return { reads: bitOf(X), writes: bitOf(M + f.k), mayFail: false };
    case C.ALU: {
      const byX = (c & C.X) !== 0 && (c & 0xf0) !== C.NEG;
      const div = (c & 0xf0) === C.DIV || (c & 0xf0) === C.MOD;
      return { reads: bitOf(A) | (byX ? bitOf(X) : 0), writes: bitOf(A), mayFail: div && byX };
    }
    case C.MISC:
      return c === (C.MISC | C.TAX)
        ? { reads: bitOf(A), writes: bitOf(X), mayFail: false }
        : { reads: bitOf(X), writes: bitOf(A), mayFail: false };
  }
  return { reads: ALL, writes: ALL, mayFail: true };
}

/** The register a statement writes. */
export function regOf(f: SockFilter): number {
  const c = f.code;
  switch (c & 7) {
    case C.LDX:
      return X;
    case C.ST:
    case C.STX:
      return M + (f.k & 15);
    case C.MISC:
      return c === (C.MISC | C.TAX) ? X : A;
  }
  return A;
}

/** The value a statement gives its register (see regOf) in state `s` (which it does not change). */
export function computed(vals: Values, s: State, f: SockFilter): number {
  const c = f.code;
  const k = f.k >>> 0;
  const size = c & 0x18;
  switch (c & 7) {
    case C.LD:
      switch (c & 0xe0) {
        case C.ABS:
          return vals.abs(size, k);
        case C.IND: {
          const x = s[X] as number;
          return x === UNKNOWN ? vals.fresh() : vals.ind(size, x, k);
        }
        case C.IMM:
          return vals.const(k);
        case C.LEN:
          return vals.len();
        case C.MEM:
          return (s[M + (k & 15)] as number) || vals.fresh();
      }
      return vals.fresh();
    case C.LDX:
      switch (c & 0xe0) {
        case C.MSH:
          return vals.msh(k);
        case C.IMM:
          return vals.const(k);
        case C.LEN:
          return vals.len();
        case C.MEM:
          return (s[M + (k & 15)] as number) || vals.fresh();
      }
      return vals.fresh();
    case C.ST:
      return (s[A] as number) || vals.fresh();
    case C.STX:
      return (s[X] as number) || vals.fresh();
    case C.ALU:
      if ((c & 0xf0) === C.NEG) return vals.op(c, s[A] as number, vals.const(0));
      return vals.op(c & 0xf0, s[A] as number, c & C.X ? (s[X] as number) : vals.const(k));
    case C.MISC:
      return c === (C.MISC | C.TAX) ? (s[A] as number) || vals.fresh() : (s[X] as number) || vals.fresh();
  }
  return vals.fresh();
}

// ---- facts about tested values ----

/** The pseudo-opcode of a set fact: the value is one of `set`. */
export const IN_SET = -1;
/** Largest set of values a fact keeps (from paths that each know one value: `tcp or udp`). */
const SET_MAX = 16;

export interface Fact {
  v: number;
  /** A jump opcode, or IN_SET. */
  code: number;
  /** The constant (K tests) or the value of X (X tests). */
  k: number;
  out: boolean;
  set?: number[];
}

/** What `code k` on a value gives, knowing `f` about it; undefined when f does not decide it. */
export function implied(f: Fact, code: number, k: number): boolean | undefined {
  if (f.code === IN_SET) {
    const outs = (f.set as number[]).map((x) => outcome(x, code, k));
    return outs.every((o) => o === outs[0]) ? outs[0] : undefined;
  }
  if (f.code === code && f.k === k) return f.out;
  if ((f.code & C.X) !== 0 || (code & C.X) !== 0) return undefined;
  const op = code & 0xf0;
  const a = f.k;
  switch (f.code & 0xf0) {
    case C.JEQ:
      if (f.out) return outcome(a, code, k);
      return op === C.JEQ && k === a ? false : undefined;
    case C.JGT:
      if (f.out) {
        // v > a
        if (op === C.JEQ && k <= a) return false;
        if (op === C.JGT && k <= a) return true;
        if (op === C.JGE && k <= a + 1) return true;
      } else {
        // v <= a
        if (op === C.JEQ && k > a) return false;
        if (op === C.JGT && k >= a) return false;
        if (op === C.JGE && k > a) return false;
      }
      return undefined;
    case C.JGE:
      if (f.out) {
        // v >= a
        if (op === C.JEQ && k < a) return false;
        if (op === C.JGE && k <= a) return true;
        if (op === C.JGT && k < a) return true;
      } else {
        // v < a
        if (op === C.JEQ && k >= a) return false;
        if (op === C.JGE && k >= a) return false;
        if (op === C.JGT && k + 1 >= a) return false;
      }
      return undefined;
    case C.JSET:
      if (f.out && op === C.JSET && (k & a) >>> 0 === a) return true;
      if (!f.out && op === C.JSET && (k & a) >>> 0 === k) return false;
      if (!f.out && op === C.JEQ && (k & a) !== 0) return false;
      return undefined;
  }
  return undefined;
}

export function outcome(v: number, code: number, k: number): boolean {
  switch (code & 0xf0) {
    case C.JEQ:
      return v === k;
    case C.JGT:
      return v > k;
    case C.JGE:
      return v >= k;
    default:
      return (v & k) >>> 0 !== 0;
  }
}

export const sameFact = (a: Fact, b: Fact) =>
  a.v === b.v &&
  a.code === b.code &&
  a.k === b.k &&
  a.out === b.out &&
  (a.set === b.set || (a.set?.length === b.set?.length && (a.set ?? []).every((x, i) => b.set?.[i] === x)));

/** Whether a fact pins its value to one or a few constants (the facts that decide tests further on). */
export const pins = (f: Fact) => f.code === IN_SET || (f.out && f.code === (C.JMP | C.JEQ | C.K));

/** The constants a value can only be, when the facts say so (an equality, or a set). */
export function pinned(facts: Fact[], v: number): number[] | undefined {
  for (const f of facts) {
    if (f.v !== v) continue;
    if (f.code === IN_SET) return f.set;
    if (f.out && f.code === (C.JMP | C.JEQ | C.K)) return [f.k];
  }
  return undefined;
}

/** What both fact lists say: the facts in both, and for a value each pins, one of the union. */
export function meetFacts(a: Fact[] | undefined, b: Fact[]): Fact[] {
  if (a === undefined) return b;
  const out = a.filter((f) => b.some((g) => sameFact(f, g)));
  for (const f of a) {
    if (f.code !== IN_SET && !(f.out && f.code === (C.JMP | C.JEQ | C.K))) continue;
    if (out.some((g) => g.v === f.v && (g.code === IN_SET || g.code === (C.JMP | C.JEQ | C.K)))) continue;
    const x = pinned([f], f.v) as number[];
    const y = pinned(b, f.v);
    if (!y) continue;
    const set = [...new Set([...x, ...y])].sort((p, q) => p - q);
    if (set.length <= SET_MAX) out.push({ v: f.v, code: IN_SET, k: 0, out: true, set });
  }
  return out;
}

/** The facts with `f` added (a set the new fact narrows is narrowed; at most FACTS are kept). */
export function addFact(facts: Fact[], f: Fact): Fact[] {
  let all = facts.filter((g) => !sameFact(g, f));
  const set = (f.code & C.X) === 0 ? pinned(all, f.v) : undefined;
  if (f.out && f.code === (C.JMP | C.JEQ | C.K)) all = all.filter((g) => g.v !== f.v);
  else if (set && set.length > 1) {
    // v is one of a few values, and now also passes this test: keep those that do.
    const left = set.filter((x) => outcome(x, f.code, f.k) === f.out);
    all = all.filter((g) => g.v !== f.v || g.code !== IN_SET);
    f =
      left.length === 1
        ? { v: f.v, code: C.JMP | C.JEQ | C.K, k: left[0] as number, out: true }
        : { v: f.v, code: IN_SET, k: 0, out: true, set: left };
  }
  all.push(f);
  return all.length > FACTS ? all.slice(all.length - FACTS) : all;
}
