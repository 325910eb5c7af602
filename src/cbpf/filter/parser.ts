// The expression grammar of the pcap-filter language, parsed without recursion: an operator-precedence
// parser with an explicit operand stack and operator stack (Dijkstra's shunting yard), so nesting depth
// costs heap, not call stack, and is bounded by FILTER_LIMITS.nesting (libpcap's own parser depth).
//
// Precedence as libpcap's grammar: `and` and `or` bind equally and associate left; `not` binds tighter;
// then the comparisons; arithmetic has | < & < shifts < + - < * / < unary minus, and `%` and `^` have no
// precedence in libpcap's grammar, so they take the nearest operand on their left and everything up to
// the end of the arithmetic on their right (`a + b % c + d` is `a + (b % (c + d))`).
//
// A parenthesis may open a predicate or an arithmetic value (`(tcp or udp)`, `(ip[0] & 1) = 1`): what it
// was is known when it closes. A number may be a value or a bare primitive (`net 10 or 11`, `port 80 or
// (81)`): it is kept aside and read as a primitive only if an operator of predicates takes it.
//
// Arithmetic folds constants, and refuses at compile time what libpcap refuses: division or modulus by
// zero and shifts by more than 31 bits, also when the divisor or shift becomes constant through libpcap's
// algebraic rules (x * 0, x & 0, 0 * x, 0 & x, 0 / x, 0 % x, 0 << x and 0 >> x are 0; x + 0, x - 0,
// x | 0, x ^ 0, x << 0, x >> 0, 0 + x, 0 | x and 0 ^ x are x).

import { C, type SockFilter, stmt } from '../insn.js';
import {
  and,
  and2,
  constant,
  type Frag,
  GraphBudgetExceeded,
  not,
  or2,
  spend,
  TRUE,
  test,
  testCode,
} from './blocks.js';
import type { Token } from './lexer.js';
import { FILTER_LIMITS, FilterLimitError } from './limits.js';
import { CONSTANTS, lookup } from './names.js';
import { JEQ, JGE, JGT, type Link, ld, ldi, PROTO_WORDS, Primitives, type Qual } from './primitives.js';

/**
 * An arithmetic value: a constant, or statements leaving it in A (using scratch words below `slots`),
 * with the protocol tests its packet loads need (by protocol, so `ip[0] = ip[1]` tests `ip` once).
 */
interface Val {
  k?: number;
  stmts: SockFilter[];
  slots: number;
  guards: Map<string, Frag>;
}

type Operand =
  | { kind: 'pred'; frag: Frag; tok: Token }
  | { kind: 'val'; val: Val; tok: Token }
  /** A number that is a value unless a predicate operator takes it (then a primitive, read as of `index`). */
  | { kind: 'bare'; tok: Token; index: number; last: Qual; link: Link };

interface Op {
  kind: 'binary' | 'not' | 'neg' | 'paren' | 'bracket';
  tok: Token;
  /** Binding power on the stack: an incoming operator reduces those whose rbp >= its lbp. */
  rbp: number;
}

type BinKind = 'bool' | 'rel' | 'arith';
interface BinOp {
  kind: BinKind;
  lbp: number;
  rbp: number;
  /** and/or, the jump opcode (with negation) of a comparison, or the ALU op. */
  code: number;
  negate?: boolean;
}
const OR = 0;
const AND = 1;
const bin = (kind: BinKind, lbp: number, code: number, negate = false, rbp = lbp): BinOp => ({
  kind,
  lbp,
  rbp,
  code,
  negate,
});
const BINARY: Record<string, BinOp> = {
  or: bin('bool', 1, OR),
  '||': bin('bool', 1, OR),
  and: bin('bool', 1, AND),
  '&&': bin('bool', 1, AND),
  '=': bin('rel', 3, JEQ),
  '==': bin('rel', 3, JEQ),
  '!=': bin('rel', 3, JEQ, true),
  '>': bin('rel', 3, JGT),
  '>=': bin('rel', 3, JGE),
  '<': bin('rel', 3, JGE, true),
  '<=': bin('rel', 3, JGT, true),
  '|': bin('arith', 4, C.OR),
  '&': bin('arith', 5, C.AND),
  '<<': bin('arith', 6, C.LSH),
  '>>': bin('arith', 6, C.RSH),
  '+': bin('arith', 7, C.ADD),
  '-': bin('arith', 7, C.SUB),
  '*': bin('arith', 8, C.MUL),
  '/': bin('arith', 8, C.DIV),
  // No precedence: nothing on the left is reduced when they arrive (lbp infinite), and on the stack
  // only the end of the arithmetic (a comparison, a predicate operator, a closing bracket) reduces them.
  '%': bin('arith', Number.POSITIVE_INFINITY, C.MOD, false, 3.5),
  '^': bin('arith', Number.POSITIVE_INFINITY, C.XOR, false, 3.5),
};
const NOT_RBP = 2;
const NEG_RBP = 9;
const SIZES: Record<number, number> = { 1: C.B, 2: C.H, 4: C.W };
const ZERO_ABSORBS = new Set<number>([C.MUL, C.DIV, C.MOD, C.AND, C.LSH, C.RSH]); // 0 op x = 0
const ZERO_IDENTITY_LEFT = new Set<number>([C.ADD, C.OR, C.XOR]); // 0 op x = x
const ZERO_IDENTITY_RIGHT = new Set<number>([C.ADD, C.SUB, C.OR, C.XOR, C.LSH, C.RSH]); // x op 0 = x

const constVal = (k: number, guards: Map<string, Frag>): Val => ({ k: k >>> 0, stmts: [], slots: 0, guards });

function fold(op: number, a: number, b: number): number {
  switch (op) {
    case C.ADD:
      return a + b;
    case C.SUB:
      return a - b;
    case C.MUL:
      return Math.imul(a, b);
    case C.DIV:
      return Math.floor(a / b);
    case C.MOD:
      return a % b;
    case C.AND:
      return a & b;
    case C.OR:
      return a | b;
    case C.XOR:
      return a ^ b;
    case C.LSH:
      return a << b;
    default:
      return a >>> b; // RSH (b < 32: checked before folding)
  }
}

export class FilterParser extends Primitives {
  /** The whole expression as one predicate. */
  parse(): Frag {
    if (this.peek().kind === 'eof') return TRUE();
    try {
      return this.expression();
    } catch (e) {
      if (e instanceof GraphBudgetExceeded)
        throw new FilterLimitError(
          'graph',
          `expression too large: more than ${FILTER_LIMITS.graph} instructions before optimisation`,
          this.peek().col,
          this.src,
        );
      throw e;
    }
  }

  private expression(): Frag {
    const ops: Op[] = [];
    const vals: Operand[] = [];
    const push = (op: Op) => {
      if (ops.length >= FILTER_LIMITS.nesting)
        throw new FilterLimitError(
          'nesting',
          `expression nested too deeply: more than ${FILTER_LIMITS.nesting} parentheses, brackets and pending operators`,
          op.tok.col,
          this.src,
        );
      ops.push(op);
    };
    const top = () => ops[ops.length - 1];
    let operand = true; // an operand is expected (else an operator)
    for (;;) {
      const t = this.peek();
      if (operand) {
        if (this.isId('not') || this.isOp('!')) {
          push({ kind: 'not', tok: this.next(), rbp: NOT_RBP });
          continue;
        }
        if (this.isOp('-')) {
          push({ kind: 'neg', tok: this.next(), rbp: NEG_RBP });
          continue;
        }
        if (this.isOp('(')) {
          push({ kind: 'paren', tok: this.next(), rbp: -1 });
          continue;
        }
        operand = false;
        if (t.kind === 'num' && !this.rangeAhead()) {
          this.next();
          vals.push({ kind: 'bare', tok: t, index: this.pos - 1, last: { ...this.last }, link: this.link });
        } else if (t.kind === 'id' && PROTO_WORDS.has(t.text) && this.isOp('[', 1)) {
          this.next();
          push({ kind: 'bracket', tok: this.next(), rbp: -1 });
          operand = true;
        } else if (t.kind === 'id' && t.text === 'len') {
          this.next();
          vals.push({ kind: 'val', val: this.val([stmt(C.LD | C.W | C.LEN)]), tok: t });
        } else if (t.kind === 'id' && lookup(CONSTANTS, t.text) !== undefined) {
          this.next();
          vals.push({ kind: 'val', val: constVal(lookup(CONSTANTS, t.text) as number, new Map()), tok: t });
        } else vals.push({ kind: 'pred', frag: this.primitive(), tok: t });
        continue;
      }
      if (t.kind === 'eof') break;
      if (this.isOp(')')) {
        for (let o = top(); o?.kind !== 'paren'; o = top()) {
          if (!o) throw this.err("unexpected ')'");
          if (o.kind === 'bracket') throw this.err("expected ']'");
          this.reduce(ops.pop() as Op, vals, t);
        }
        ops.pop();
        this.next();
        continue;
      }
      if (this.isOp(']') || this.isOp(':')) {
        for (let o = top(); o?.kind !== 'bracket'; o = top()) {
          if (!o) throw this.err(`unexpected '${t.text}'`);
          if (o.kind === 'paren') throw this.err("expected ')'");
          this.reduce(ops.pop() as Op, vals, t);
        }
        const open = ops.pop() as Op;
        const index = this.asVal(vals.pop() as Operand, t);
        this.next();
        let size = 1;
        if (t.text === ':') {
          const st = this.peek();
          size = this.num('a size (1, 2 or 4)');
          if (![1, 2, 4].includes(size)) throw this.err('data size must be 1, 2 or 4', st);
          this.expectOp(']');
        }
        const proto = this.toks[this.toks.indexOf(open.tok) - 1] as Token;
        vals.push({ kind: 'val', val: this.packetAccess(proto, index, size), tok: proto });
        continue;
      }
      const b = t.kind === 'op' || t.kind === 'id' ? BINARY[t.text] : undefined;
      if (!b) throw this.err(`unexpected '${t.text}'`);
      for (let o = top(); o && o.rbp >= b.lbp; o = top()) this.reduce(ops.pop() as Op, vals, t);
      push({ kind: 'binary', tok: this.next(), rbp: b.rbp });
      operand = true;
    }
    const end = this.peek();
    for (let o = ops.pop(); o; o = ops.pop()) {
      if (o.kind === 'paren') throw this.err("expected ')' before end of expression");
      if (o.kind === 'bracket') throw this.err("expected ']' before end of expression");
      this.reduce(o, vals, end);
    }
    return this.asPred(vals.pop() as Operand, end);
  }

  /** `80-81` after `portrange`: a bare range (libpcap reads it as one word), not a subtraction. */
  private rangeAhead(): boolean {
    const [a, dash, b] = [this.peek(), this.peek(1), this.peek(2)];
    return (
      this.last.type === 'portrange' &&
      dash.kind === 'op' &&
      dash.text === '-' &&
      dash.col === a.col + a.text.length &&
      b.col === dash.col + 1 &&
      (b.kind === 'num' || b.kind === 'id')
    );
  }

  /** Applies an operator to the operands on top of the stack; `at` is the token that made it reduce. */
  private reduce(op: Op, vals: Operand[], at: Token): void {
    if (op.kind === 'not') {
      const x = vals.pop() as Operand;
      vals.push({ kind: 'pred', frag: not(this.asPred(x, at)), tok: op.tok });
      return;
    }
    if (op.kind === 'neg') {
      const v = this.asVal(vals.pop() as Operand, op.tok);
      if (v.k !== undefined) vals.push({ kind: 'val', val: { ...v, k: -v.k >>> 0 }, tok: op.tok });
      else {
        spend(1);
        v.stmts.push(stmt(C.ALU | C.NEG));
        vals.push({ kind: 'val', val: v, tok: op.tok });
      }
      return;
    }
    const b = BINARY[op.tok.text] as BinOp;
    const r = vals.pop() as Operand;
    const l = vals.pop() as Operand;
    if (b.kind === 'bool') {
      const [lp, rp] = [this.asPred(l, op.tok), this.asPred(r, at)];
      vals.push({ kind: 'pred', frag: b.code === AND ? and2(lp, rp) : or2(lp, rp), tok: l.tok });
    } else if (b.kind === 'rel') {
      const [lv, rv] = [this.asVal(l, op.tok), this.asVal(r, op.tok)];
      vals.push({ kind: 'pred', frag: this.compare(lv, b.code, b.negate === true, rv), tok: l.tok });
    } else {
      const [lv, rv] = [this.asVal(l, op.tok), this.asVal(r, op.tok)];
      vals.push({ kind: 'val', val: this.binop(b.code, lv, rv, op.tok), tok: l.tok });
    }
  }

  private asPred(x: Operand, at: Token): Frag {
    if (x.kind === 'pred') return x.frag;
    if (x.kind === 'bare') return this.bareAt(x.index, x.last, x.link);
    throw this.err(
      at.kind === 'eof'
        ? 'expected a comparison operator'
        : `expected a comparison operator before '${at.text}'`,
      at,
    );
  }

  private asVal(x: Operand, op: Token): Val {
    if (x.kind === 'val') return x.val;
    if (x.kind === 'bare') return constVal(x.tok.value as number, new Map());
    throw this.err(`'${op.text}' takes a value, not a predicate`, x.tok);
  }

  // ---- arithmetic ----
  private val(stmts: SockFilter[]): Val {
    spend(stmts.length);
    return { stmts, slots: 0, guards: new Map() };
  }

  private stmtsOf(v: Val): SockFilter[] {
    return v.k !== undefined ? [stmt(C.LD | C.IMM, v.k)] : v.stmts;
  }

  private checkSlot(m: number, at: Token) {
    if (m >= 16) throw this.err('expression too complex (more than 16 scratch registers)', at);
  }

  private compare(l: Val, jop: number, negate: boolean, r: Val): Frag {
    const guards = and(...new Map([...l.guards, ...r.guards]).values());
    let p: Frag;
    if (l.k !== undefined && r.k !== undefined) {
      const [a, b] = [l.k >>> 0, r.k >>> 0];
      p = constant(jop === JEQ ? a === b : jop === JGT ? a > b : a >= b);
    } else if (r.k !== undefined) p = test(this.stmtsOf(l), jop, r.k);
    else if (l.k !== undefined) {
      // A constant on the left: the right side into X, the constant into A (no scratch word needed).
      const stmts = [...r.stmts, stmt(C.MISC | C.TAX), stmt(C.LD | C.IMM, l.k)];
      spend(2);
      p = testCode(stmts, C.JMP | jop | C.X, 0);
    } else {
      const m = l.slots;
      this.checkSlot(m, this.peek());
      spend(2);
      const stmts = [...r.stmts, stmt(C.ST, m), ...l.stmts, stmt(C.LDX | C.MEM, m)];
      p = testCode(stmts, C.JMP | jop | C.X, 0);
    }
    return and2(guards, negate ? not(p) : p);
  }

  private binop(op: number, l: Val, r: Val, at: Token): Val {
    const guards = new Map([...l.guards, ...r.guards]);
    const fail = (why: string) => this.err(why, at);
    if (r.k !== undefined) {
      const b = r.k >>> 0;
      if (op === C.DIV && b === 0) throw fail('division by zero');
      if (op === C.MOD && b === 0) throw fail('modulus by zero');
      if ((op === C.LSH || op === C.RSH) && b > 31) throw fail('shift by more than 31 bits');
      if (l.k !== undefined) return constVal(fold(op, l.k >>> 0, b), guards);
      if (b === 0 && (op === C.MUL || op === C.AND)) return constVal(0, guards);
      if (b === 0 && ZERO_IDENTITY_RIGHT.has(op)) return { ...l, guards };
      spend(1);
      l.stmts.push(stmt(C.ALU | op | C.K, b));
      return { stmts: l.stmts, slots: l.slots, guards };
    }
    if (l.k === 0 && ZERO_ABSORBS.has(op)) return constVal(0, guards);
    if (l.k === 0 && ZERO_IDENTITY_LEFT.has(op)) return { ...r, guards };
    // Left into M[m] (the right side uses the words below m), right into X, left back into A.
    const m = r.slots;
    this.checkSlot(m, at);
    const stmts = l.k !== undefined ? [stmt(C.LD | C.IMM, l.k)] : l.stmts;
    spend(r.stmts.length + 4);
    stmts.push(stmt(C.ST, m));
    for (const s of r.stmts) stmts.push(s);
    stmts.push(stmt(C.MISC | C.TAX), stmt(C.LD | C.MEM, m), stmt(C.ALU | op | C.X));
    return { stmts, slots: Math.max(l.slots, m + 1), guards };
  }

  /** proto[expr] / proto[expr:size]: a load relative to that protocol's header, guarded by the protocol. */
  private packetAccess(protoTok: Token, idx: Val, size: number): Val {
    const proto = protoTok.text;
    const sz = SIZES[size] as number;
    const nl = this.link.offNl;
    const guards = new Map(idx.guards);
    let base: number;
    let transport = false;
    switch (proto) {
      case 'ether':
      case 'link':
        if (this.link.offLl === undefined) throw this.err(`'${proto}[]' needs a link-layer header`, protoTok);
        base = 0;
        break;
      case 'ip':
      case 'ip6':
      case 'arp':
      case 'rarp':
        guards.set(
          proto,
          this.linkProto(
            proto === 'ip' ? 0x800 : proto === 'ip6' ? 0x86dd : proto === 'arp' ? 0x806 : 0x8035,
          ),
        );
        base = nl;
        break;
      case 'icmp6':
        guards.set('icmp6[]', and(this.linkProto(0x86dd), test([ld(C.B, nl + 6)], JEQ, 58)));
        base = nl + 40;
        break;
      default: {
        const p = ({ tcp: 6, udp: 17, sctp: 132, icmp: 1, igmp: 2 } as Record<string, number>)[
          proto
        ] as number;
        guards.set(`${proto}[]`, and(this.linkProto(0x800), test([ld(C.B, nl + 9)], JEQ, p), this.notFrag()));
        base = nl;
        transport = true;
      }
    }
    if (idx.k !== undefined) {
      const k = base + idx.k;
      const stmts = transport ? [stmt(C.LDX | C.B | C.MSH, nl), ldi(sz, k)] : [ld(sz, k)];
      spend(stmts.length);
      return { stmts, slots: 0, guards };
    }
    const m = idx.slots;
    this.checkSlot(m, protoTok);
    const stmts = idx.stmts;
    if (transport) {
      spend(6);
      stmts.push(
        stmt(C.ST, m),
        stmt(C.LDX | C.B | C.MSH, nl),
        stmt(C.LD | C.MEM, m),
        stmt(C.ALU | C.ADD | C.X),
        stmt(C.MISC | C.TAX),
        ldi(sz, base),
      );
    } else {
      spend(2);
      stmts.push(stmt(C.MISC | C.TAX), ldi(sz, base));
    }
    return { stmts, slots: transport ? m + 1 : idx.slots, guards };
  }
}
