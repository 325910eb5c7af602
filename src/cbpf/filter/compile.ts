// The pcap-filter language → classic BPF. A recursive-descent parser with libpcap's precedence
// (`and` and `or` bind equally and associate left; `not` binds tighter; arithmetic has | < & < shifts <
// + - < * /, with `%` and `^` taking everything to their right, as libpcap's grammar does) that builds
// predicates over the block graph of ./blocks.ts while it parses, so `vlan` shifts the offsets of what
// follows it exactly as in libpcap.

import { parseIpv4, parseIpv6, parseMac } from '../../net/addr.js';
import { LinkType } from '../../net/pcap.js';
import { C, type SockFilter, stmt } from '../insn.js';
import { and, block, FALSE, finish, type Node, not, or, type Pred, TRUE, test } from './blocks.js';
import { FilterSyntaxError, type Token, tokenize } from './lexer.js';
import { CONSTANTS, ETHER_PROTOS, IP_PROTOS, SERVICES } from './names.js';

export interface FilterOptions {
  /** Link type of the packets (1 Ethernet, 101 raw IP, 113 Linux cooked). Default Ethernet. */
  linkType?: number;
  /** Value returned on a match (tcpdump uses 262144). */
  snaplen?: number;
  /** Run the optimiser (default true). */
  optimize?: boolean;
  /**
   * Emit only forward jumps, so the kernel accepts the program and its eBPF translation verifies:
   * `protochain` is unrolled 8 headers deep instead of libpcap's loop (default false).
   */
  forwardOnly?: boolean;
  /**
   * Netmask of the capture's network, for `ip broadcast` (default 0, what tcpdump uses for a capture
   * file: the broadcast test then accepts destinations 0.0.0.0 and 255.255.255.255).
   */
  netmask?: number;
}

const PROTO_WORDS = new Set([
  'ether',
  'link',
  'ip',
  'ip6',
  'arp',
  'rarp',
  'tcp',
  'udp',
  'sctp',
  'icmp',
  'icmp6',
  'igmp',
]);
const DIR_WORDS = new Set(['src', 'dst']);
const TYPE_WORDS = new Set(['host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway']);
const KEYWORDS = new Set([
  ...PROTO_WORDS,
  ...DIR_WORDS,
  ...TYPE_WORDS,
  'and',
  'or',
  'not',
  'vlan',
  'less',
  'greater',
  'len',
  'broadcast',
  'multicast',
  'mask',
]);

interface Link {
  type: number;
  /** Offset of the 16-bit link-layer protocol field (undefined for raw IP). */
  offLl: number | undefined;
  /** Offset of the network-layer header. */
  offNl: number;
}

/** An arithmetic value: a constant, or statements leaving it in A (using scratch words below `slots`). */
interface Val {
  k?: number;
  stmts: SockFilter[];
  slots: number;
  guards: Map<string, Pred>;
}

interface Qual {
  proto?: string;
  dir?: string;
  type?: string;
}

const JEQ = C.JEQ;
const JGT = C.JGT;
const JGE = C.JGE;
const JSET = C.JSET;
const ld = (size: number, k: number) => stmt(C.LD | size | C.ABS, k);
const ldi = (size: number, k: number) => stmt(C.LD | size | C.IND, k);
const SIZES: Record<number, number> = { 1: C.B, 2: C.H, 4: C.W };

/** Compiles a filter expression into a classic BPF program. Throws FilterSyntaxError. */
export function compileFilter(expr: string, opts: FilterOptions = {}): SockFilter[] {
  const pred = new FilterParser(
    expr,
    opts.linkType ?? LinkType.ETHERNET,
    opts.forwardOnly ?? false,
    (opts.netmask ?? 0) >>> 0,
  ).parse();
  return finish(pred, opts.snaplen ?? 262144, { optimize: opts.optimize ?? true });
}

class FilterParser {
  private toks: Token[];
  private pos = 0;
  private link: Link;
  private last: Qual = {};

  constructor(
    private readonly src: string,
    linkType: number,
    private readonly forwardOnly: boolean,
    private readonly netmask: number,
  ) {
    this.toks = tokenize(src);
    if (linkType === LinkType.ETHERNET) this.link = { type: linkType, offLl: 12, offNl: 14 };
    else if (linkType === LinkType.LINUX_SLL) this.link = { type: linkType, offLl: 14, offNl: 16 };
    else if (linkType === LinkType.RAW) this.link = { type: linkType, offLl: undefined, offNl: 0 };
    else throw new FilterSyntaxError(`link type ${linkType} is not supported by the filter compiler`, 1, src);
  }

  // ---- token helpers ----
  private peek(o = 0): Token {
    return this.toks[Math.min(this.pos + o, this.toks.length - 1)] as Token;
  }
  private next(): Token {
    const t = this.peek();
    if (this.pos < this.toks.length - 1) this.pos++;
    return t;
  }
  private isId(word: string, o = 0) {
    const t = this.peek(o);
    return t.kind === 'id' && t.text === word;
  }
  private isOp(op: string, o = 0) {
    const t = this.peek(o);
    return t.kind === 'op' && t.text === op;
  }
  private err(why: string, t: Token = this.peek()): FilterSyntaxError {
    return new FilterSyntaxError(why, t.col, this.src);
  }
  private expectOp(op: string) {
    if (!this.isOp(op))
      throw this.err(`expected '${op}'${this.peek().kind === 'eof' ? ' before end of expression' : ''}`);
    this.next();
  }
  private num(what: string): number {
    const t = this.next();
    if (t.kind !== 'num') throw this.err(`expected ${what}`, t);
    return t.value as number;
  }

  parse(): Pred {
    if (this.peek().kind === 'eof') return TRUE;
    const p = this.expr();
    if (this.peek().kind !== 'eof') throw this.err(`unexpected '${this.peek().text}'`);
    return p;
  }

  private isAnd = () => this.isId('and') || this.isOp('&&');
  private isOr = () => this.isId('or') || this.isOp('||');

  /** expr := unary ((and|or) unary)*, both operators at one level, left-associative. */
  private expr(): Pred {
    let p = this.unary();
    for (;;) {
      if (this.isAnd()) {
        this.next();
        p = and(p, this.unary());
      } else if (this.isOr()) {
        this.next();
        p = or(p, this.unary());
      } else return p;
    }
  }

  private unary(): Pred {
    if (this.isId('not') || this.isOp('!')) {
      this.next();
      return not(this.unary());
    }
    // A relation (arith relop arith) or a parenthesised expression or a primitive. Try the relation
    // first and backtrack: `(tcp or udp)` and `(ip[0] & 1) = 1` both start with '('.
    const save = this.pos;
    const saveLink = { ...this.link };
    try {
      return this.relation();
    } catch (e) {
      if (!(e instanceof FilterSyntaxError) || (e as { committed?: boolean }).committed) throw e;
      this.pos = save;
      this.link = saveLink;
    }
    if (this.isOp('(')) {
      this.next();
      const p = this.expr();
      this.expectOp(')');
      return p;
    }
    return this.primitive();
  }

  // ---- arithmetic ----
  private relation(): Pred {
    const l = this.arith(0);
    const t = this.peek();
    const ops: Record<string, [number, boolean]> = {
      '=': [JEQ, false],
      '==': [JEQ, false],
      '!=': [JEQ, true],
      '>': [JGT, false],
      '>=': [JGE, false],
      '<': [JGE, true],
      '<=': [JGT, true],
    };
    const rel = t.kind === 'op' ? ops[t.text] : undefined;
    if (!rel) throw this.err('expected a comparison operator');
    this.next();
    try {
      const r = this.arith(0);
      return this.compare(l, rel[0], rel[1], r);
    } catch (e) {
      // Past the operator this can only be a relation: report the error, do not backtrack.
      if (e instanceof FilterSyntaxError) Object.assign(e, { committed: true });
      throw e;
    }
  }

  private compare(l: Val, jop: number, negate: boolean, r: Val): Pred {
    const guards = and(...new Map([...l.guards, ...r.guards]).values());
    let p: Pred;
    if (l.k !== undefined && r.k !== undefined) {
      const a = l.k >>> 0;
      const b = r.k >>> 0;
      p = (jop === JEQ ? a === b : jop === JGT ? a > b : a >= b) ? TRUE : FALSE;
    } else if (r.k !== undefined) p = test(this.valStmts(l), jop, r.k);
    else {
      const m = l.slots;
      this.checkSlot(m);
      const stmts = [...this.valStmts(r), stmt(C.ST, m), ...this.valStmts(l), stmt(C.LDX | C.MEM, m)];
      p = (t, f) =>
        block(
          stmts.map((s) => ({ ...s })),
          C.JMP | jop | C.X,
          0,
          t,
          f,
        );
    }
    return and(guards, negate ? not(p) : p);
  }

  private valStmts(v: Val): SockFilter[] {
    return v.k !== undefined ? [stmt(C.LD | C.IMM, v.k)] : v.stmts;
  }

  private checkSlot(m: number) {
    if (m >= 16) throw this.err('expression too complex (more than 16 scratch registers)');
  }

  private static readonly BIN: Record<string, [number, number]> = {
    '|': [1, C.OR],
    '&': [2, C.AND],
    '<<': [3, C.LSH],
    '>>': [3, C.RSH],
    '+': [4, C.ADD],
    '-': [4, C.SUB],
    '*': [5, C.MUL],
    '/': [5, C.DIV],
  };

  /** Precedence climbing; `%` and `^` have no precedence in libpcap, so their right side is everything. */
  private arith(min: number): Val {
    let left = this.arithUnary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op') return left;
      if (t.text === '%' || t.text === '^') {
        this.next();
        left = this.binop(t.text === '%' ? C.MOD : C.XOR, left, this.arith(0), t);
        continue;
      }
      const b = FilterParser.BIN[t.text];
      if (!b || b[0] < min) return left;
      this.next();
      left = this.binop(b[1], left, this.arith(b[0] + 1), t);
    }
  }

  private arithUnary(): Val {
    if (this.isOp('-')) {
      this.next();
      let v = this.arithUnary();
      // `-a % b` is `-(a % b)` in libpcap for the same reason as above.
      while (this.isOp('%') || this.isOp('^')) {
        const t = this.next();
        v = this.binop(t.text === '%' ? C.MOD : C.XOR, v, this.arith(0), t);
      }
      if (v.k !== undefined) return { ...v, k: -v.k >>> 0 };
      return { ...v, stmts: [...v.stmts, stmt(C.ALU | C.NEG)] };
    }
    return this.arithPrimary();
  }

  private binop(op: number, l: Val, r: Val, at: Token): Val {
    if ((op === C.DIV || op === C.MOD) && r.k === 0)
      throw Object.assign(this.err(op === C.DIV ? 'division by zero' : 'modulus by zero', at), {
        committed: true,
      });
    const guards = new Map([...l.guards, ...r.guards]);
    if (l.k !== undefined && r.k !== undefined) {
      const a = l.k >>> 0;
      const b = r.k >>> 0;
      const fold: Record<number, number> = {
        [C.ADD]: a + b,
        [C.SUB]: a - b,
        [C.MUL]: Math.imul(a, b),
        [C.DIV]: Math.floor(a / b),
        [C.MOD]: a % b,
        [C.AND]: a & b,
        [C.OR]: a | b,
        [C.XOR]: a ^ b,
        [C.LSH]: b >= 32 ? 0 : a << b,
        [C.RSH]: b >= 32 ? 0 : a >>> b,
      };
      return { k: (fold[op] as number) >>> 0, stmts: [], slots: 0, guards };
    }
    if (r.k !== undefined)
      return { stmts: [...this.valStmts(l), stmt(C.ALU | op | C.K, r.k)], slots: l.slots, guards };
    const m = r.slots;
    this.checkSlot(m);
    return {
      stmts: [
        ...this.valStmts(l),
        stmt(C.ST, m),
        ...this.valStmts(r),
        stmt(C.MISC | C.TAX),
        stmt(C.LD | C.MEM, m),
        stmt(C.ALU | op | C.X),
      ],
      slots: Math.max(l.slots, m + 1),
      guards,
    };
  }

  private arithPrimary(): Val {
    const t = this.peek();
    if (t.kind === 'num') {
      this.next();
      return { k: t.value as number, stmts: [], slots: 0, guards: new Map() };
    }
    if (this.isOp('(')) {
      this.next();
      const v = this.arith(0);
      this.expectOp(')');
      return v;
    }
    if (t.kind === 'id') {
      if (t.text === 'len') {
        this.next();
        return { stmts: [stmt(C.LD | C.W | C.LEN)], slots: 0, guards: new Map() };
      }
      if (t.text in CONSTANTS) {
        this.next();
        return { k: CONSTANTS[t.text] as number, stmts: [], slots: 0, guards: new Map() };
      }
      if (PROTO_WORDS.has(t.text) && this.isOp('[', 1)) return this.packetAccess();
    }
    throw this.err(t.kind === 'eof' ? 'unexpected end of expression' : `expected a value, found '${t.text}'`);
  }

  /** proto[expr] / proto[expr:size]: a load relative to that protocol's header, guarded by the protocol. */
  private packetAccess(): Val {
    const protoTok = this.next();
    const proto = protoTok.text;
    this.expectOp('[');
    const idx = this.arith(0);
    let size = 1;
    if (this.isOp(':')) {
      this.next();
      const st = this.peek();
      size = this.num('a size (1, 2 or 4)');
      if (![1, 2, 4].includes(size)) throw this.err('data size must be 1, 2 or 4', st);
    }
    this.expectOp(']');
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
        guards.set(proto, this.linkProto(ETHER_PROTOS[proto] as number));
        base = nl;
        break;
      case 'icmp6':
        guards.set('icmp6[]', and(this.linkProto(0x86dd), test([ld(C.B, nl + 6)], JEQ, 58)));
        base = nl + 40;
        break;
      default: {
        const p = IP_PROTOS[proto] as number;
        guards.set(`${proto}[]`, and(this.linkProto(0x800), test([ld(C.B, nl + 9)], JEQ, p), this.notFrag()));
        base = nl;
        transport = true;
      }
    }
    if (idx.k !== undefined) {
      const k = base + idx.k;
      const stmts = transport ? [stmt(C.LDX | C.B | C.MSH, nl), ldi(sz, k)] : [ld(sz, k)];
      return { stmts, slots: 0, guards };
    }
    const m = idx.slots;
    this.checkSlot(m);
    const stmts = transport
      ? [
          ...idx.stmts,
          stmt(C.ST, m),
          stmt(C.LDX | C.B | C.MSH, nl),
          stmt(C.LD | C.MEM, m),
          stmt(C.ALU | C.ADD | C.X),
          stmt(C.MISC | C.TAX),
          ldi(sz, base),
        ]
      : [...idx.stmts, stmt(C.MISC | C.TAX), ldi(sz, base)];
    return { stmts, slots: transport ? m + 1 : idx.slots, guards };
  }

  // ---- primitives ----
  private linkProto(type: number): Pred {
    if (this.link.offLl === undefined) {
      if (type === 0x800) return test([ld(C.B, this.link.offNl), stmt(C.ALU | C.AND | C.K, 0xf0)], JEQ, 0x40);
      if (type === 0x86dd)
        return test([ld(C.B, this.link.offNl), stmt(C.ALU | C.AND | C.K, 0xf0)], JEQ, 0x60);
      return FALSE;
    }
    return test([ld(C.H, this.link.offLl)], JEQ, type);
  }

  /**
   * `ether proto N`. Values up to 1500 are 802.3 lengths, not EtherTypes, so small N names an 802.2 LLC
   * SAP (DSAP = N; for the IP, ISO and NetBEUI SAPs DSAP = SSAP = N), as libpcap reads them; IPX and
   * AppleTalk/AARP also match their LLC/SNAP (and IPX its raw 802.3) encapsulations.
   */
  private etherProto(n: number): Pred {
    const off = this.link.offLl;
    if (off === undefined || (n > 1500 && n !== 0x809b && n !== 0x80f3)) return this.linkProto(n);
    const nl = this.link.offNl;
    const sll = this.link.type === LinkType.LINUX_SLL;
    // 802.2 frames: a length in the type field (Ethernet), or protocol ETH_P_802_2 (Linux cooked).
    const llc = sll ? test([ld(C.H, off)], JEQ, 4) : not(test([ld(C.H, off)], JGT, 1500));
    const snap = (oui: number, type: number): Pred =>
      and(
        test([ld(C.W, nl + 4)], JEQ, ((oui & 0xffff) * 0x10000 + type) >>> 0),
        test([ld(C.W, nl)], JEQ, (0xaaaa0300 + (oui >>> 16)) >>> 0),
      );
    switch (n) {
      case 0x809b: // AppleTalk: SNAP with Apple's OUI 08:00:07
        return or(this.linkProto(n), and(llc, snap(0x080007, n)));
      case 0x80f3: // AARP: SNAP with OUI 0
        return or(this.linkProto(n), and(llc, snap(0, n)));
      case 0xe0: {
        // IPX: its EtherType, SNAP, the IPX SAP, or Novell's raw 802.3 (0xffff where the LLC header goes)
        const raw = sll ? test([ld(C.H, off)], JEQ, 1) : and(llc, test([ld(C.H, nl)], JEQ, 0xffff));
        return or(this.linkProto(0x8137), and(llc, or(snap(0, 0x8137), test([ld(C.B, nl)], JEQ, 0xe0))), raw);
      }
      case 0x06:
      case 0xfe:
      case 0xf0:
        return and(llc, test([ld(C.H, nl)], JEQ, n * 0x101));
      default:
        return and(llc, test([ld(C.B, nl)], JEQ, n));
    }
  }

  private notFrag(): Pred {
    return not(test([ld(C.H, this.link.offNl + 6)], JSET, 0x1fff));
  }

  private v4proto(p: number): Pred {
    return and(this.linkProto(0x800), test([ld(C.B, this.link.offNl + 9)], JEQ, p));
  }

  private v6proto(p: number): Pred {
    const nl = this.link.offNl;
    const nh = (v: number) => test([ld(C.B, nl + 6)], JEQ, v);
    return and(this.linkProto(0x86dd), or(nh(p), and(nh(44), test([ld(C.B, nl + 40)], JEQ, p))));
  }

  private protoAbbrev(name: string): Pred {
    switch (name) {
      case 'ether':
      case 'link':
        return TRUE;
      case 'ip':
      case 'ip6':
      case 'arp':
      case 'rarp':
        return this.linkProto(ETHER_PROTOS[name] as number);
      case 'icmp':
      case 'igmp':
        return this.v4proto(IP_PROTOS[name] as number);
      case 'icmp6':
        return this.v6proto(58);
      default:
        return or(this.v4proto(IP_PROTOS[name] as number), this.v6proto(IP_PROTOS[name] as number));
    }
  }

  private dir(dir: string | undefined, f: (side: 'src' | 'dst') => Pred): Pred {
    if (dir === 'src') return f('src');
    if (dir === 'dst') return f('dst');
    if (dir === 'src and dst') return and(f('src'), f('dst'));
    return or(f('src'), f('dst'));
  }

  private primitive(): Pred {
    const t = this.peek();
    if (t.kind === 'id') {
      switch (t.text) {
        case 'vlan':
          return this.vlan();
        case 'less':
        case 'greater': {
          this.next();
          const n = this.num('a length');
          const p = test([stmt(C.LD | C.W | C.LEN)], t.text === 'less' ? JGT : JGE, n);
          return t.text === 'less' ? not(p) : p;
        }
        case 'broadcast':
        case 'multicast':
          this.next();
          return this.castPred('ether', t.text, t);
      }
    }
    const q: Qual = {};
    if (t.kind === 'id' && PROTO_WORDS.has(t.text)) {
      q.proto = this.next().text;
      if (this.isId('broadcast') || this.isId('multicast'))
        return this.castPred(q.proto, this.next().text, t);
    }
    if (this.isId('src') || this.isId('dst')) {
      q.dir = this.next().text;
      if ((this.isId('or') || this.isId('and')) && (this.isId('src', 1) || this.isId('dst', 1))) {
        const conj = this.next().text;
        const other = this.next().text;
        if (other === q.dir) throw this.err(`'${q.dir} ${conj} ${other}' is not a direction`);
        q.dir = `src ${conj} dst`;
      }
    }
    if (this.peek().kind === 'id' && TYPE_WORDS.has(this.peek().text)) q.type = this.next().text;
    if (q.proto && !q.dir && !q.type) {
      // A protocol alone, unless a value follows (`ether 1:2:3:4:5:6` is `ether host`).
      const v = this.peek();
      if (!['num', 'ipv4', 'ipv6', 'mac'].includes(v.kind)) return this.protoAbbrev(q.proto);
    }
    if (!q.proto && !q.dir && !q.type) {
      // A bare value inherits the previous primitive's qualifiers: `host a or b`.
      if (t.kind === 'id' && KEYWORDS.has(t.text)) throw this.err(`unexpected '${t.text}'`);
      if (t.kind === 'eof') throw this.err('unexpected end of expression');
      if (t.kind === 'op') throw this.err(`unexpected '${t.text}'`);
      Object.assign(q, this.last);
      if (!q.type && !q.proto && !q.dir) q.type = 'host';
    } else this.last = { ...q };
    return this.qualified(q);
  }

  private castPred(proto: string, what: string, at: Token): Pred {
    if (proto === 'ether' || proto === 'link') {
      if (this.link.type !== LinkType.ETHERNET) throw this.err(`'${what}' needs an Ethernet link layer`, at);
      if (what === 'multicast') return test([ld(C.B, 0)], JSET, 1);
      return and(test([ld(C.W, 2)], JEQ, 0xffffffff), test([ld(C.H, 0)], JEQ, 0xffff));
    }
    const nl = this.link.offNl;
    if (proto === 'ip' && what === 'multicast')
      return and(this.linkProto(0x800), test([ld(C.B, nl + 16)], JGE, 0xe0));
    if (proto === 'ip6' && what === 'multicast')
      return and(this.linkProto(0x86dd), test([ld(C.B, nl + 24)], JEQ, 0xff));
    if (proto === 'ip' && what === 'broadcast') {
      // The all-zeros or all-ones host part of the destination under the netmask (tcpdump uses netmask 0
      // when it reads a capture file, as here by default).
      const host = ~this.netmask >>> 0;
      const load =
        host === 0xffffffff ? [ld(C.W, nl + 16)] : [ld(C.W, nl + 16), stmt(C.ALU | C.AND | C.K, host)];
      return and(this.linkProto(0x800), or(test(load, JEQ, 0), test(load, JEQ, host)));
    }
    throw this.err(`'${proto} ${what}': only link-layer and IP broadcast/multicast filters exist`, at);
  }

  private vlan(): Pred {
    this.next();
    if (this.link.type !== LinkType.ETHERNET) throw this.err("'vlan' needs an Ethernet link layer");
    const off = this.link.offLl as number;
    const tpid = or(...[0x8100, 0x88a8, 0x9100].map((v) => test([ld(C.H, off)], JEQ, v)));
    let p = tpid;
    if (this.peek().kind === 'num') {
      const idTok = this.peek();
      const id = this.num('a VLAN id');
      if (id > 4095) throw this.err(`VLAN id ${id} out of range (0-4095)`, idTok);
      p = and(tpid, test([ld(C.H, off + 2), stmt(C.ALU | C.AND | C.K, 0xfff)], JEQ, id));
    }
    // Everything after `vlan` looks one tag further into the frame.
    this.link = { ...this.link, offLl: off + 4, offNl: this.link.offNl + 4 };
    return p;
  }

  private qualified(q: Qual): Pred {
    const type = q.type ?? 'host';
    const v = this.peek();
    if (type === 'proto' || type === 'protochain') {
      this.next();
      let n: number | undefined;
      const name = v.text.replace(/^\\/, '');
      if (v.kind === 'num') n = v.value;
      else if (v.kind === 'id')
        n = q.proto === 'ether' || q.proto === 'link' ? ETHER_PROTOS[name] : IP_PROTOS[name];
      if (n === undefined) throw this.err(`unknown protocol '${v.text}'`, v);
      if (type === 'protochain') return this.protochain(q.proto, n, v);
      switch (q.proto) {
        case undefined:
          return or(this.v4proto(n), this.v6proto(n));
        case 'ether':
        case 'link':
          return this.etherProto(n);
        case 'ip':
          return this.v4proto(n);
        case 'ip6':
          return this.v6proto(n);
        default:
          throw this.err(`'${q.proto} proto' is not supported`, v);
      }
    }
    if (type === 'port' || type === 'portrange') return this.port(q, type === 'portrange');
    if (type === 'gateway') throw this.err("'gateway' needs host name resolution, which is not supported", v);
    return this.hostOrNet(q, type === 'net');
  }

  private port(q: Qual, range: boolean): Pred {
    const v = this.next();
    const portNum = (t: Token): number => {
      if (t.kind === 'num' && (t.value as number) <= 65535) return t.value as number;
      if (t.kind === 'id' && t.text in SERVICES) return SERVICES[t.text] as number;
      throw this.err(`bad port '${t.text}'`, t);
    };
    let lo = portNum(v);
    let hi = lo;
    if (range) {
      this.expectOp('-');
      hi = portNum(this.next());
      if (lo > hi) [lo, hi] = [hi, lo];
    }
    const protos =
      q.proto === undefined
        ? [132, 6, 17]
        : q.proto === 'tcp'
          ? [6]
          : q.proto === 'udp'
            ? [17]
            : q.proto === 'sctp'
              ? [132]
              : undefined;
    // As libpcap: `ip port` and `ip6 port` are not valid (ports belong to tcp, udp and sctp).
    const ps = protos;
    if (!ps) throw this.err(`'${q.proto} ${range ? 'portrange' : 'port'}' is not valid`, v);
    const nl = this.link.offNl;
    const cmp = (load: SockFilter[]): Pred =>
      range ? and(test(load, JGE, lo), not(test(load, JGT, hi))) : test(load, JEQ, lo);
    const side = (s: 'src' | 'dst') => (s === 'src' ? 0 : 2);
    const v6 = and(
      this.linkProto(0x86dd),
      or(...ps.map((p) => test([ld(C.B, nl + 6)], JEQ, p))),
      this.dir(q.dir, (s) => cmp([ld(C.H, nl + 40 + side(s))])),
    );
    const v4 = and(
      this.linkProto(0x800),
      or(...ps.map((p) => test([ld(C.B, nl + 9)], JEQ, p))),
      this.notFrag(),
      this.dir(q.dir, (s) => cmp([stmt(C.LDX | C.B | C.MSH, nl), ldi(C.H, nl + side(s))])),
    );
    return or(v6, v4);
  }

  private hostOrNet(q: Qual, isNet: boolean): Pred {
    const v = this.next();
    const nl = this.link.offNl;
    if (v.kind === 'mac' || q.proto === 'ether' || q.proto === 'link') {
      if (v.kind !== 'mac') throw this.err(`expected a MAC address, found '${v.text}'`, v);
      if (this.link.type !== LinkType.ETHERNET) throw this.err('ether host needs an Ethernet link layer', v);
      const m = parseMac(v.text);
      const hi = ((m[0] as number) << 8) | (m[1] as number);
      const lo =
        (((m[2] as number) << 24) | ((m[3] as number) << 16) | ((m[4] as number) << 8) | (m[5] as number)) >>>
        0;
      return this.dir(q.dir, (s) => {
        const off = s === 'src' ? 6 : 0;
        return and(test([ld(C.W, off + 2)], JEQ, lo), test([ld(C.H, off)], JEQ, hi));
      });
    }
    if (v.kind === 'ipv6') {
      const addr = parseIpv6(v.text) as Uint8Array;
      let bits = 128;
      if (this.isOp('/')) {
        this.next();
        bits = this.num('a prefix length');
        if (bits > 128) throw this.err('IPv6 prefix length > 128', v);
      } else if (isNet) throw this.err('an IPv6 net needs a /prefix', v);
      if (q.proto !== undefined && q.proto !== 'ip6') throw this.err(`'${q.proto}' with an IPv6 address`, v);
      return and(
        this.linkProto(0x86dd),
        this.dir(q.dir, (s) => {
          const base = nl + (s === 'src' ? 8 : 24);
          const words: Pred[] = [];
          for (let i = 0; i < 4; i++) {
            const b = Math.max(0, Math.min(32, bits - 32 * i));
            if (b === 0) continue;
            const mask = b === 32 ? 0xffffffff : (0xffffffff << (32 - b)) >>> 0;
            const w =
              ((addr[4 * i]! << 24) |
                (addr[4 * i + 1]! << 16) |
                (addr[4 * i + 2]! << 8) |
                addr[4 * i + 3]!) >>>
              0;
            const st = [ld(C.W, base + 4 * i)];
            if (mask !== 0xffffffff) st.push(stmt(C.ALU | C.AND | C.K, mask));
            words.push(test(st, JEQ, (w & mask) >>> 0));
          }
          return and(...words);
        }),
      );
    }
    // IPv4 host, or a net: a dotted (possibly partial) address, optionally /len or mask M.
    let addr: number;
    let mask = 0xffffffff;
    if (v.kind === 'ipv4' || v.kind === 'num') {
      const parts = v.kind === 'num' ? [v.value as number] : v.text.split('.').map(Number);
      if (parts.length > 4 || parts.some((p) => p > 255)) throw this.err(`bad IPv4 address '${v.text}'`, v);
      if (v.kind === 'num' && !isNet) throw this.err(`'${v.text}' is not a host address`, v);
      addr = 0;
      for (let i = 0; i < 4; i++) addr = (addr * 256 + (parts[i] ?? 0)) >>> 0;
      if (parts.length < 4) {
        if (!isNet) throw this.err(`'${v.text}' is not a complete host address`, v);
        mask = parts.length === 0 ? 0 : (0xffffffff << (32 - 8 * parts.length)) >>> 0;
      }
    } else throw this.err(`expected an address, found '${v.text || 'end of expression'}'`, v);
    if (this.isOp('/')) {
      this.next();
      const lt = this.peek();
      const bits = this.num('a prefix length');
      if (bits > 32) throw this.err('IPv4 prefix length > 32', lt);
      mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    } else if (this.isId('mask')) {
      this.next();
      const mt = this.next();
      const m = mt.kind === 'ipv4' ? parseIpv4(mt.text) : undefined;
      if (!m) throw this.err('expected a dotted netmask', mt);
      mask =
        (((m[0] as number) << 24) | ((m[1] as number) << 16) | ((m[2] as number) << 8) | (m[3] as number)) >>>
        0;
    }
    if ((addr & ~mask) >>> 0 !== 0) throw this.err('non-network bits set in the address', v);
    const word = (off: number): Pred => {
      const st = [ld(C.W, off)];
      if (mask !== 0xffffffff) st.push(stmt(C.ALU | C.AND | C.K, mask));
      return test(st, JEQ, addr & mask);
    };
    const ip = and(
      this.linkProto(0x800),
      this.dir(q.dir, (s) => word(nl + (s === 'src' ? 12 : 16))),
    );
    const arpLike = (types: number[]) =>
      and(
        or(...types.map((t) => this.linkProto(t))),
        this.dir(q.dir, (s) => word(nl + (s === 'src' ? 14 : 24))),
      );
    switch (q.proto) {
      case undefined:
        return or(ip, arpLike([0x806, 0x8035]));
      case 'ip':
        return ip;
      case 'arp':
        return arpLike([0x806]);
      case 'rarp':
        return arpLike([0x8035]);
      default:
        throw this.err(`'${q.proto} ${isNet ? 'net' : 'host'}' is not valid`, v);
    }
  }

  /**
   * `[ip|ip6] protochain N`: follow IPv6 extension headers (and AH) looking for N. By default as libpcap
   * does it, a loop with a backward `ja` (same instructions; the kernel refuses such programs); with
   * `forwardOnly`, the loop unrolled 8 headers deep. Both skip an AH header as libpcap does, computing the
   * next offset from the AH length alone (without adding the current offset), so they agree with tcpdump.
   */
  private protochain(proto: string | undefined, n: number, at: Token): Pred {
    if (proto !== undefined && proto !== 'ip' && proto !== 'ip6')
      throw this.err(`'${proto} protochain' is not valid`, at);
    const nl = this.link.offNl;
    // A = next header of the header at X; X += its length ((len + 1) * 8 for IPv6 extension headers).
    const skipExt = [
      ldi(C.B, nl),
      stmt(C.ST, 0),
      ldi(C.B, nl + 1),
      stmt(C.ALU | C.ADD | C.K, 1),
      stmt(C.ALU | C.MUL | C.K, 8),
      stmt(C.ALU | C.ADD | C.X),
      stmt(C.MISC | C.TAX),
      stmt(C.LD | C.MEM, 0),
    ];
    const skipAh = [
      stmt(C.MISC | C.TXA),
      ldi(C.B, nl),
      stmt(C.ST, 0),
      stmt(C.MISC | C.TXA),
      stmt(C.ALU | C.ADD | C.K, 1),
      stmt(C.MISC | C.TAX),
      ldi(C.B, nl),
      stmt(C.ALU | C.ADD | C.K, 2),
      stmt(C.ALU | C.MUL | C.K, 4),
      stmt(C.MISC | C.TAX),
      stmt(C.LD | C.MEM, 0),
    ];
    const EXT = [0, 60, 43, 44]; // hop-by-hop, destination options, routing, fragment
    const init = (v6: boolean) =>
      v6 ? [ld(C.B, nl + 6), stmt(C.LDX | C.IMM, 40)] : [ld(C.B, nl + 9), stmt(C.LDX | C.B | C.MSH, nl)];
    const loop =
      (v6: boolean): Pred =>
      (t, f) => {
        // Assembled with symbolic targets, then resolved to relative offsets.
        type J = { f: SockFilter; jt?: string; jf?: string; ja?: string };
        const code: J[] = [];
        const labels = new Map<string, number>();
        const label = (name: string) => labels.set(name, code.length);
        const jeq = (k: number, jt?: string, jf?: string) => {
          const j: J = { f: { code: C.JMP | C.JEQ | C.K, jt: 0, jf: 0, k } };
          if (jt) j.jt = jt;
          if (jf) j.jf = jf;
          code.push(j);
        };
        for (const i of init(v6)) code.push({ f: i });
        label('top');
        jeq(n, 'end');
        jeq(59, 'end'); // no next header
        if (v6) {
          EXT.forEach((h, i) => void jeq(h, 'ext', i === EXT.length - 1 ? 'ah?' : undefined));
          label('ext');
          for (const i of skipExt) code.push({ f: i });
          code.push({ f: stmt(C.JMP | C.JA), ja: 'top' });
        } else code.push({ f: stmt(C.ALU | C.ADD | C.K, 0) });
        label('ah?');
        jeq(51, undefined, 'end');
        for (const i of skipAh) code.push({ f: i });
        code.push({ f: stmt(C.JMP | C.JA), ja: 'top' });
        label('end');
        code.push({ f: stmt(C.ALU | C.ADD | C.K, 0) });
        const to = (from: number, name: string) => ((labels.get(name) as number) - from - 1) >>> 0;
        const stmts = code.map((j, pc) => {
          const out = { ...j.f };
          if (j.ja) out.k = to(pc, j.ja);
          if (j.jt) out.jt = to(pc, j.jt);
          if (j.jf) out.jf = to(pc, j.jf);
          return out;
        });
        return { ...block(stmts, C.JMP | C.JEQ | C.K, n, t, f), opaque: true };
      };
    const unrolled =
      (v6: boolean): Pred =>
      (t, f) => {
        const goto =
          (stmts: SockFilter[], to: () => Node): Pred =>
          () =>
            block(stmts, C.JMP | C.JEQ | C.K, 0, to(), to());
        let next: Node = test([], JEQ, n)(t, f);
        for (let i = 0; i < 8; i++) {
          const after = next;
          const ext = v6 ? or(...EXT.map((h) => test([], JEQ, h))) : FALSE;
          next = or(
            test([], JEQ, n),
            and(
              not(test([], JEQ, 59)),
              or(
                and(
                  ext,
                  goto(skipExt, () => after),
                ),
                and(
                  test([], JEQ, 51),
                  goto(skipAh, () => after),
                ),
              ),
            ),
          )(t, f);
        }
        return goto(init(v6), () => next)(t, f);
      };
    const chain = this.forwardOnly ? unrolled : loop;
    const v4 = and(this.linkProto(0x800), chain(false));
    const v6 = and(this.linkProto(0x86dd), chain(true));
    return proto === 'ip' ? v4 : proto === 'ip6' ? v6 : or(v4, v6);
  }
}
