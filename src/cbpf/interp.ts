// The classic BPF interpreter: accumulator A, index X, scratch M[16], big-endian packet loads.
// A load outside the captured bytes ends the run with 0 (drop), like the kernel and libpcap;
// division by a zero X returns 0 as well.

import { RuntimeFault } from '../errors.js';
import { Ancillary } from './check.js';
import { C, SKF_AD_OFF, type SockFilter } from './insn.js';

/** Socket-buffer metadata that ancillary loads (k >= SKF_AD_OFF) read. */
export interface SkbMeta {
  protocol?: number;
  pkttype?: number;
  ifindex?: number;
  mark?: number;
  queue?: number;
  hatype?: number;
  rxhash?: number;
  vlanTci?: number;
  vlanPresent?: boolean;
  vlanTpid?: number;
}

/** Options of runFilter. */
export interface CbpfRunOptions {
  /** Length of the packet on the wire (BPF_LEN); defaults to the captured length. */
  wireLen?: number;
  skb?: SkbMeta;
  /** Instructions a run may execute (default 1,000,000): only unchecked programs can loop. */
  budget?: number;
}

function loadAncillary(off: number, skb: SkbMeta | undefined, len: number): number {
  const s = skb ?? {};
  switch (off) {
    case Ancillary.PROTOCOL:
      return s.protocol ?? 0;
    case Ancillary.PKTTYPE:
      return s.pkttype ?? 0;
    case Ancillary.IFINDEX:
      return s.ifindex ?? 0;
    case Ancillary.MARK:
      return s.mark ?? 0;
    case Ancillary.QUEUE:
      return s.queue ?? 0;
    case Ancillary.HATYPE:
      return s.hatype ?? 1;
    case Ancillary.RXHASH:
      return s.rxhash ?? 0;
    case Ancillary.VLAN_TAG:
      return (s.vlanTci ?? 0) & 0xffff;
    case Ancillary.VLAN_TAG_PRESENT:
      return s.vlanPresent ? 1 : 0;
    case Ancillary.VLAN_TPID:
      return s.vlanTpid ?? 0;
    default:
      return len >= 0 ? 0 : 0;
  }
}

/** A program flattened into typed arrays (one entry per instruction), built once per program array. */
interface Flat {
  code: Uint16Array;
  jt: Uint8Array;
  jf: Uint8Array;
  k: Uint32Array;
}
const flatCache = new WeakMap<readonly SockFilter[], Flat>();

function flatten(prog: readonly SockFilter[]): Flat {
  let flat = flatCache.get(prog);
  if (flat) return flat;
  const n = prog.length;
  flat = { code: new Uint16Array(n), jt: new Uint8Array(n), jf: new Uint8Array(n), k: new Uint32Array(n) };
  prog.forEach((f, i) => {
    flat.code[i] = f.code;
    flat.jt[i] = f.jt;
    flat.jf[i] = f.jf;
    flat.k[i] = f.k;
  });
  flatCache.set(prog, flat);
  return flat;
}

/** Scratch memory shared by all runs (a run never yields, so runs cannot interleave). */
const M = new Uint32Array(16);
const NO_OPTIONS: CbpfRunOptions = {};

/**
 * Runs a classic BPF program (assumed checked: see checkFilter) over one packet; returns the unsigned
 * 32-bit return value (0 = drop, otherwise the number of bytes to keep). The program is flattened into
 * typed arrays on its first run (cached per array: do not mutate a program between runs).
 */
export function runFilter(
  prog: readonly SockFilter[],
  pkt: Uint8Array,
  opts: CbpfRunOptions = NO_OPTIONS,
): number {
  const { code, jt, jf, k: K } = flatten(prog);
  const n = code.length;
  const len = pkt.length;
  const wire = opts.wireLen ?? len;
  let A = 0;
  let X = 0;
  let pc = 0;
  // Checked programs only jump forward; unchecked ones (libpcap's protochain loops back with a huge `ja`
  // offset) get a bounded budget so a run always ends.
  let budget = opts.budget ?? 1_000_000;
  while (budget-- > 0) {
    if (pc >= n) throw new RuntimeFault('classic BPF ran past the end of the program', pc);
    const c = code[pc] as number;
    const k = K[pc] as number;
    const at = pc++;
    switch (c) {
      case C.RET | C.K:
        return k;
      case C.RET | C.A:
        return A >>> 0;
      case C.LD | C.W | C.ABS:
        if (k > len - 4) {
          if (k < SKF_AD_OFF) return 0;
          A = loadAncillary(k - SKF_AD_OFF, opts.skb, len) >>> 0;
          break;
        }
        A =
          (pkt[k] as number) * 0x1000000 +
          (((pkt[k + 1] as number) << 16) | ((pkt[k + 2] as number) << 8) | (pkt[k + 3] as number));
        break;
      case C.LD | C.H | C.ABS:
        if (k > len - 2) {
          if (k < SKF_AD_OFF) return 0;
          A = loadAncillary(k - SKF_AD_OFF, opts.skb, len) >>> 0;
          break;
        }
        A = ((pkt[k] as number) << 8) | (pkt[k + 1] as number);
        break;
      case C.LD | C.B | C.ABS:
        if (k >= len) {
          if (k < SKF_AD_OFF) return 0;
          A = loadAncillary(k - SKF_AD_OFF, opts.skb, len) >>> 0;
          break;
        }
        A = pkt[k] as number;
        break;
      case C.LD | C.W | C.IND: {
        const off = X + k;
        if (off > len - 4) return 0;
        A =
          (pkt[off] as number) * 0x1000000 +
          (((pkt[off + 1] as number) << 16) | ((pkt[off + 2] as number) << 8) | (pkt[off + 3] as number));
        break;
      }
      case C.LD | C.H | C.IND: {
        const off = X + k;
        if (off > len - 2) return 0;
        A = ((pkt[off] as number) << 8) | (pkt[off + 1] as number);
        break;
      }
      case C.LD | C.B | C.IND: {
        const off = X + k;
        if (off >= len) return 0;
        A = pkt[off] as number;
        break;
      }
      case C.LD | C.W | C.LEN:
        A = wire;
        break;
      case C.LDX | C.W | C.LEN:
        X = wire;
        break;
      case C.LD | C.IMM:
        A = k;
        break;
      case C.LDX | C.IMM:
        X = k;
        break;
      case C.LD | C.MEM:
        A = M[k] as number;
        break;
      case C.LDX | C.MEM:
        X = M[k] as number;
        break;
      case C.LDX | C.B | C.MSH:
        if (k >= len) return 0;
        X = ((pkt[k] as number) & 0xf) << 2;
        break;
      case C.ST:
        M[k] = A;
        break;
      case C.STX:
        M[k] = X;
        break;
      case C.MISC | C.TAX:
        X = A;
        break;
      case C.MISC | C.TXA:
        A = X;
        break;
      case C.JMP | C.JA:
        pc = (pc + k) >>> 0; // a huge k is a backward jump (mod 2^32), as libpcap's protochain uses
        break;
      case C.JMP | C.JEQ | C.K:
        pc += A === k ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JEQ | C.X:
        pc += A === X ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JGT | C.K:
        pc += A > k ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JGT | C.X:
        pc += A > X ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JGE | C.K:
        pc += A >= k ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JGE | C.X:
        pc += A >= X ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JSET | C.K:
        pc += A & k ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.JMP | C.JSET | C.X:
        pc += A & X ? (jt[at] as number) : (jf[at] as number);
        break;
      case C.ALU | C.NEG:
        A = -A >>> 0;
        break;
      default: {
        if ((c & 0x07) !== C.ALU)
          throw new RuntimeFault(`unknown classic BPF opcode 0x${c.toString(16)}`, at);
        A = alu(c & 0xf0, A, c & C.X ? X : k, at);
        if (A < 0) return 0; // division by zero
      }
    }
  }
  throw new RuntimeFault('classic BPF instruction budget exceeded (backward jump?)', pc);
}

/** 32-bit unsigned ALU; returns -1 for division or modulo by zero. */
export function alu(o: number, a: number, v: number, pc = 0): number {
  switch (o) {
    case C.ADD:
      return (a + v) >>> 0;
    case C.SUB:
      return (a - v) >>> 0;
    case C.MUL:
      return Math.imul(a, v) >>> 0;
    case C.DIV:
      return v === 0 ? -1 : Math.floor(a / v) >>> 0;
    case C.MOD:
      return v === 0 ? -1 : (a % v) >>> 0;
    case C.AND:
      return (a & v) >>> 0;
    case C.OR:
      return (a | v) >>> 0;
    case C.XOR:
      return (a ^ v) >>> 0;
    case C.LSH:
      return v >= 32 ? 0 : (a << v) >>> 0;
    case C.RSH:
      return v >= 32 ? 0 : a >>> v;
    default:
      throw new RuntimeFault(`unknown classic BPF ALU op 0x${o.toString(16)}`, pc);
  }
}
