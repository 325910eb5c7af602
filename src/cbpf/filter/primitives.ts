// The primitives of the pcap-filter language (`tcp`, `host 10.0.0.1`, `src port 80`, `vlan 10`,
// `ip6 protochain 17` ...): their qualifiers read from the tokens, and the code each one compiles to, as
// fragments of the block graph (./blocks.ts). A primitive is a flat run of tokens, so nothing here
// recurses; ./parser.ts combines primitives with the operators.
//
// The offsets follow the link layer, and `vlan` moves them one tag further for everything after it, as
// in libpcap.

import { parseIpv4, parseIpv6, parseMac } from '../../net/addr.js';
import { LinkType } from '../../net/pcap.js';
import { C, type SockFilter, stmt } from '../insn.js';
import {
  and,
  block,
  FALSE,
  type Frag,
  fixed,
  merge,
  type Node,
  not,
  or,
  pending,
  TRUE,
  test,
} from './blocks.js';
import { FilterSyntaxError, type Token } from './lexer.js';
import { ETHER_PROTOS, IP_PROTOS, lookup, SERVICES } from './names.js';

export const PROTO_WORDS = new Set([
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
const PORT_PROTOS = new Set(['tcp', 'udp', 'sctp']);
const TYPE_WORDS = new Set(['host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway']);
export const KEYWORDS = new Set([
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

export interface Link {
  type: number;
  /** Offset of the 16-bit link-layer protocol field (undefined for raw IP). */
  offLl: number | undefined;
  /** Offset of the network-layer header. */
  offNl: number;
}

export interface Qual {
  proto?: string;
  dir?: string;
  type?: string;
}

export const JEQ = C.JEQ;
export const JGT = C.JGT;
export const JGE = C.JGE;
export const JSET = C.JSET;
export const ld = (size: number, k: number) => stmt(C.LD | size | C.ABS, k);
export const ldi = (size: number, k: number) => stmt(C.LD | size | C.IND, k);

const EOF_KIND = 'eof';

/** Token access, link-layer state and the primitives; ./parser.ts adds the expression grammar. */
export class Primitives {
  protected pos = 0;
  /** Tokens at or past this index read as the end (a bare value read on its own). */
  private stop: number;
  protected link: Link;
  /** The qualifiers of the last primitive that had any: a bare value inherits them (`host a or b`). */
  protected last: Qual = {};

  constructor(
    protected readonly src: string,
    protected readonly toks: Token[],
    linkType: number,
    private readonly forwardOnly: boolean,
    private readonly netmask: number,
  ) {
    this.stop = toks.length - 1;
    if (linkType === LinkType.ETHERNET) this.link = { type: linkType, offLl: 12, offNl: 14 };
    else if (linkType === LinkType.LINUX_SLL) this.link = { type: linkType, offLl: 14, offNl: 16 };
    else if (linkType === LinkType.RAW) this.link = { type: linkType, offLl: undefined, offNl: 0 };
    else throw new FilterSyntaxError(`link type ${linkType} is not supported by the filter compiler`, 1, src);
  }

  // ---- token helpers ----
  protected peek(o = 0): Token {
    const i = this.pos + o;
    return (i >= this.stop ? this.toks[this.toks.length - 1] : this.toks[i]) as Token;
  }
  protected next(): Token {
    const t = this.peek();
    if (this.pos < this.stop) this.pos++;
    return t;
  }
  protected isId(word: string, o = 0) {
    const t = this.peek(o);
    return t.kind === 'id' && t.text === word;
  }
  protected isOp(op: string, o = 0) {
    const t = this.peek(o);
    return t.kind === 'op' && t.text === op;
  }
  protected err(why: string, t: Token = this.peek()): FilterSyntaxError {
    return new FilterSyntaxError(why, t.col, this.src);
  }
  protected expectOp(op: string) {
    if (!this.isOp(op))
      throw this.err(`expected '${op}'${this.peek().kind === EOF_KIND ? ' before end of expression' : ''}`);
    this.next();
  }
  protected num(what: string): number {
    const t = this.next();
    if (t.kind !== 'num') throw this.err(`expected ${what}`, t);
    return t.value as number;
  }

  /**
   * A number the parser kept aside (it could have been an operand of arithmetic) read as a bare value
   * after all, as it would have been where it stood: with the qualifiers and offsets of that moment.
   */
  protected bareAt(index: number, last: Qual, link: Link): Frag {
    const [pos, stop, savedLink, savedLast] = [this.pos, this.stop, this.link, this.last];
    this.pos = index;
    this.stop = index + 1;
    this.link = link;
    this.last = last;
    try {
      return this.primitive();
    } finally {
      [this.pos, this.stop, this.link, this.last] = [pos, stop, savedLink, savedLast];
    }
  }

  // ---- link and network layer tests ----
  protected linkProto(type: number): Frag {
    if (this.link.offLl === undefined) {
      if (type === 0x800) return test([ld(C.B, this.link.offNl), stmt(C.ALU | C.AND | C.K, 0xf0)], JEQ, 0x40);
      if (type === 0x86dd)
        return test([ld(C.B, this.link.offNl), stmt(C.ALU | C.AND | C.K, 0xf0)], JEQ, 0x60);
      return FALSE();
    }
    return test([ld(C.H, this.link.offLl)], JEQ, type);
  }

  /**
   * `ether proto N`. Values up to 1500 are 802.3 lengths, not EtherTypes, so small N names an 802.2 LLC
   * SAP (DSAP = N; for the IP, ISO and NetBEUI SAPs DSAP = SSAP = N), as libpcap reads them; IPX and
   * AppleTalk/AARP also match their LLC/SNAP (and IPX its raw 802.3) encapsulations.
   */
  private etherProto(n: number): Frag {
    const off = this.link.offLl;
    if (off === undefined || (n > 1500 && n !== 0x809b && n !== 0x80f3)) return this.linkProto(n);
    const nl = this.link.offNl;
    const sll = this.link.type === LinkType.LINUX_SLL;
    // 802.2 frames: a length in the type field (Ethernet), or protocol ETH_P_802_2 (Linux cooked).
    const llc = () => (sll ? test([ld(C.H, off)], JEQ, 4) : not(test([ld(C.H, off)], JGT, 1500)));
    const snap = (oui: number, type: number): Frag =>
      and(
        test([ld(C.W, nl + 4)], JEQ, ((oui & 0xffff) * 0x10000 + type) >>> 0),
        test([ld(C.W, nl)], JEQ, (0xaaaa0300 + (oui >>> 16)) >>> 0),
      );
    switch (n) {
      case 0x809b: // AppleTalk: SNAP with Apple's OUI 08:00:07
        return or(this.linkProto(n), and(llc(), snap(0x080007, n)));
      case 0x80f3: // AARP: SNAP with OUI 0
        return or(this.linkProto(n), and(llc(), snap(0, n)));
      case 0xe0: {
        // IPX: its EtherType, SNAP, the IPX SAP, or Novell's raw 802.3 (0xffff where the LLC header goes)
        const ether = this.linkProto(0x8137);
        const sap = and(llc(), or(snap(0, 0x8137), test([ld(C.B, nl)], JEQ, 0xe0)));
        const raw = sll ? test([ld(C.H, off)], JEQ, 1) : and(llc(), test([ld(C.H, nl)], JEQ, 0xffff));
        return or(ether, sap, raw);
      }
      case 0x06:
      case 0xfe:
      case 0xf0:
        return and(llc(), test([ld(C.H, nl)], JEQ, n * 0x101));
      default:
        return and(llc(), test([ld(C.B, nl)], JEQ, n));
    }
  }

  protected notFrag(): Frag {
    return not(test([ld(C.H, this.link.offNl + 6)], JSET, 0x1fff));
  }

  private v4proto(p: number): Frag {
    return and(this.linkProto(0x800), test([ld(C.B, this.link.offNl + 9)], JEQ, p));
  }

  private v6proto(p: number): Frag {
    const nl = this.link.offNl;
    const nh = (v: number) => test([ld(C.B, nl + 6)], JEQ, v);
    return and(this.linkProto(0x86dd), or(nh(p), and(nh(44), test([ld(C.B, nl + 40)], JEQ, p))));
  }

  private protoAbbrev(name: string): Frag {
    switch (name) {
      case 'ether':
      case 'link':
        return TRUE();
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

  private dir(dir: string | undefined, f: (side: 'src' | 'dst') => Frag): Frag {
    if (dir === 'src') return f('src');
    if (dir === 'dst') return f('dst');
    if (dir === 'src and dst') return and(f('src'), f('dst'));
    return or(f('src'), f('dst'));
  }

  /** One primitive, from the current token on. */
  protected primitive(): Frag {
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
      if (t.kind === EOF_KIND) throw this.err('unexpected end of expression');
      if (t.kind === 'op') throw this.err(`unexpected '${t.text}'`);
      Object.assign(q, this.last);
      if (!q.type && !q.proto && !q.dir) q.type = 'host';
    } else this.last = { ...q };
    return this.qualified(q);
  }

  private castPred(proto: string, what: string, at: Token): Frag {
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
      const load = () =>
        host === 0xffffffff ? [ld(C.W, nl + 16)] : [ld(C.W, nl + 16), stmt(C.ALU | C.AND | C.K, host)];
      return and(this.linkProto(0x800), or(test(load(), JEQ, 0), test(load(), JEQ, host)));
    }
    throw this.err(`'${proto} ${what}': only link-layer and IP broadcast/multicast filters exist`, at);
  }

  private vlan(): Frag {
    this.next();
    if (this.link.type !== LinkType.ETHERNET) throw this.err("'vlan' needs an Ethernet link layer");
    const off = this.link.offLl as number;
    let p = or(...[0x8100, 0x88a8, 0x9100].map((v) => test([ld(C.H, off)], JEQ, v)));
    if (this.peek().kind === 'num') {
      const idTok = this.peek();
      const id = this.num('a VLAN id');
      if (id > 4095) throw this.err(`VLAN id ${id} out of range (0-4095)`, idTok);
      p = and(p, test([ld(C.H, off + 2), stmt(C.ALU | C.AND | C.K, 0xfff)], JEQ, id));
    }
    // Everything after `vlan` looks one tag further into the frame.
    this.link = { ...this.link, offLl: off + 4, offNl: this.link.offNl + 4 };
    return p;
  }

  private qualified(q: Qual): Frag {
    const type = q.type ?? 'host';
    const v = this.peek();
    if (type === 'proto' || type === 'protochain') {
      this.next();
      let n: number | undefined;
      const name = v.text.replace(/^\\/, '');
      if (v.kind === 'num') n = v.value;
      else if (v.kind === 'id')
        n = lookup(q.proto === 'ether' || q.proto === 'link' ? ETHER_PROTOS : IP_PROTOS, name);
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

  private port(q: Qual, range: boolean): Frag {
    const v = this.next();
    // A service name brings its protocol (as libpcap reads /etc/services): `port http` is TCP only.
    const ends: Token[] = [v];
    if (range && v.kind === 'id' && v.text.includes('-')) {
      // `portrange http-https` is one word to the lexer
      const [a, b] = v.text.split('-', 2) as [string, string];
      const n = (text: string): Token =>
        /^\d+$/.test(text)
          ? { kind: 'num', text, value: Number(text), col: v.col }
          : { kind: 'id', text, col: v.col };
      ends.splice(0, 1, n(a), n(b));
    } else if (range) {
      this.expectOp('-');
      ends.push(this.next());
    }
    const named = ends.map((t) => (t.kind === 'id' ? lookup(SERVICES, t.text) : undefined));
    const [lo0, hi0] = ends.map((t, i): number => {
      if (t.kind === 'num' && (t.value as number) <= 65535) return t.value as number;
      const s = named[i];
      if (s) return s.port;
      throw this.err(`bad port '${t.text}'`, t);
    }) as [number, number | undefined];
    let lo = lo0;
    let hi = hi0 ?? lo0;
    if (lo > hi) [lo, hi] = [hi, lo];
    // The protocol of the names (a number, or names of different protocols, leave it open).
    const protoOf = ends.map((t, i) => (t.kind === 'id' ? (named[i]?.proto ?? 'any') : 'any'));
    const only = protoOf.every((p) => p === protoOf[0]) && protoOf[0] !== 'any' ? protoOf[0] : undefined;
    if (only && q.proto !== undefined && q.proto !== only && PORT_PROTOS.has(q.proto))
      throw this.err(`port '${v.text}' is ${only}`, v);
    const proto = q.proto ?? only;
    const protos =
      proto === undefined
        ? [132, 6, 17]
        : proto === 'tcp'
          ? [6]
          : proto === 'udp'
            ? [17]
            : proto === 'sctp'
              ? [132]
              : undefined;
    // As libpcap: `ip port` and `ip6 port` are not valid (ports belong to tcp, udp and sctp).
    const ps = protos;
    if (!ps) throw this.err(`'${q.proto} ${range ? 'portrange' : 'port'}' is not valid`, v);
    const nl = this.link.offNl;
    const cmp = (load: () => SockFilter[]): Frag =>
      range ? and(test(load(), JGE, lo), not(test(load(), JGT, hi))) : test(load(), JEQ, lo);
    const side = (s: 'src' | 'dst') => (s === 'src' ? 0 : 2);
    const v6 = and(
      this.linkProto(0x86dd),
      or(...ps.map((p) => test([ld(C.B, nl + 6)], JEQ, p))),
      this.dir(q.dir, (s) => cmp(() => [ld(C.H, nl + 40 + side(s))])),
    );
    const v4 = and(
      this.linkProto(0x800),
      or(...ps.map((p) => test([ld(C.B, nl + 9)], JEQ, p))),
      this.notFrag(),
      this.dir(q.dir, (s) => cmp(() => [stmt(C.LDX | C.B | C.MSH, nl), ldi(C.H, nl + side(s))])),
    );
    return or(v6, v4);
  }

  private hostOrNet(q: Qual, isNet: boolean): Frag {
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
          const words: Frag[] = [];
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
    // A zero mask matches every address: no load at all, as libpcap (whose `and #0` folds away).
    const word = (off: number): Frag => {
      if (mask === 0) return TRUE();
      const st = [ld(C.W, off)];
      if (mask !== 0xffffffff) st.push(stmt(C.ALU | C.AND | C.K, mask));
      return test(st, JEQ, addr & mask);
    };
    const ip = () =>
      and(
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
        return or(ip(), arpLike([0x806, 0x8035]));
      case 'ip':
        return ip();
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
  private protochain(proto: string | undefined, n: number, at: Token): Frag {
    if (proto !== undefined && proto !== 'ip' && proto !== 'ip6')
      throw this.err(`'${proto} protochain' is not valid`, at);
    const nl = this.link.offNl;
    // A = next header of the header at X; X += its length ((len + 1) * 8 for IPv6 extension headers).
    const skipExt = () => [
      ldi(C.B, nl),
      stmt(C.ST, 0),
      ldi(C.B, nl + 1),
      stmt(C.ALU | C.ADD | C.K, 1),
      stmt(C.ALU | C.MUL | C.K, 8),
      stmt(C.ALU | C.ADD | C.X),
      stmt(C.MISC | C.TAX),
      stmt(C.LD | C.MEM, 0),
    ];
    const skipAh = () => [
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
    const loop = (v6: boolean): Frag => {
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
        for (const i of skipExt()) code.push({ f: i });
        code.push({ f: stmt(C.JMP | C.JA), ja: 'top' });
      } else code.push({ f: stmt(C.ALU | C.ADD | C.K, 0) });
      label('ah?');
      jeq(51, undefined, 'end');
      for (const i of skipAh()) code.push({ f: i });
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
      const b = { ...block(stmts, C.JMP | C.JEQ | C.K, n, pending(), pending()), opaque: true };
      return fixed(b, ['jt'], ['jf']);
    };
    // Built from the last header backwards: each level tests A (the next-header value) and either ends,
    // or skips one header into the level after it (a block whose both sides go to that level's entry).
    const unrolled = (v6: boolean): Frag => {
      const level = (after: Frag | undefined): Frag => {
        const found = test([], JEQ, n);
        if (!after) return found;
        const into = after.entry as Node;
        const skip = (stmts: SockFilter[]) => fixed(block(stmts, C.JMP | C.JEQ | C.K, 0, into, into), [], []);
        const ext = v6 ? or(...EXT.map((h) => test([], JEQ, h))) : FALSE();
        const body = or(
          found,
          and(not(test([], JEQ, 59)), or(and(ext, skip(skipExt())), and(test([], JEQ, 51), skip(skipAh())))),
        );
        // `after` is entered only through the skips; its own exits are this level's exits.
        return merge(body.entry as Node, body, after);
      };
      let chain = level(undefined);
      for (let i = 0; i < 8; i++) chain = level(chain);
      const entry = chain.entry as Node;
      return merge(block(init(v6), C.JMP | C.JEQ | C.K, 0, entry, entry), chain);
    };
    const chain = this.forwardOnly ? unrolled : loop;
    const v4 = () => and(this.linkProto(0x800), chain(false));
    const v6 = () => and(this.linkProto(0x86dd), chain(true));
    return proto === 'ip' ? v4() : proto === 'ip6' ? v6() : or(v4(), v6());
  }
}
