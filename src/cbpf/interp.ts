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

export interface CbpfRunOptions {
  /** Length of the packet on the wire (BPF_LEN); defaults to the captured length. */
  wireLen?: number;
  skb?: SkbMeta;
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

/**
 * Runs a classic BPF program (assumed checked: see checkFilter) over one packet; returns the unsigned
 * 32-bit return value (0 = drop, otherwise the number of bytes to keep).
 */
export function runFilter(prog: readonly SockFilter[], pkt: Uint8Array, opts: CbpfRunOptions = {}): number {
  const len = pkt.length;
  const wire = opts.wireLen ?? len;
  const M = new Uint32Array(16);
  let A = 0;
  let X = 0;
  let pc = 0;
  // Checked programs only jump forward; unchecked ones (libpcap's protochain loops back with a huge `ja`
  // offset) get a bounded budget so a run always ends.
  let budget = 1_000_000;
  while (budget-- > 0) {
    const f = prog[pc++];
    if (f === undefined) throw new RuntimeFault('classic BPF ran past the end of the program', pc - 1);
    const k = f.k;
    switch (f.code) {
      case C.RET | C.K:
        return k >>> 0;
      case C.RET | C.A:
        return A >>> 0;
      case C.LD | C.W | C.ABS:
      case C.LD | C.H | C.ABS:
      case C.LD | C.B | C.ABS:
      case C.LD | C.W | C.IND:
      case C.LD | C.H | C.IND:
      case C.LD | C.B | C.IND: {
        const ind = (f.code & 0xe0) === C.IND;
        if (!ind && k >= SKF_AD_OFF) {
          A = loadAncillary(k - SKF_AD_OFF, opts.skb, len) >>> 0;
          break;
        }
        const off = ind ? (X + k) >>> 0 : k;
        const sz = (f.code & 0x18) === C.W ? 4 : (f.code & 0x18) === C.H ? 2 : 1;
        if (off > len - sz || (ind && X + k > 0xffffffff)) return 0;
        if (sz === 1) A = pkt[off] as number;
        else if (sz === 2) A = ((pkt[off] as number) << 8) | (pkt[off + 1] as number);
        else
          A =
            (((pkt[off] as number) << 24) |
              ((pkt[off + 1] as number) << 16) |
              ((pkt[off + 2] as number) << 8) |
              (pkt[off + 3] as number)) >>>
            0;
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
        pc += k | 0;
        break;
      case C.JMP | C.JEQ | C.K:
        pc += A === k ? f.jt : f.jf;
        break;
      case C.JMP | C.JEQ | C.X:
        pc += A === X ? f.jt : f.jf;
        break;
      case C.JMP | C.JGT | C.K:
        pc += A > k ? f.jt : f.jf;
        break;
      case C.JMP | C.JGT | C.X:
        pc += A > X ? f.jt : f.jf;
        break;
      case C.JMP | C.JGE | C.K:
        pc += A >= k ? f.jt : f.jf;
        break;
      case C.JMP | C.JGE | C.X:
        pc += A >= X ? f.jt : f.jf;
        break;
      case C.JMP | C.JSET | C.K:
        pc += A & k ? f.jt : f.jf;
        break;
      case C.JMP | C.JSET | C.X:
        pc += A & X ? f.jt : f.jf;
        break;
      case C.ALU | C.NEG:
        A = -A >>> 0;
        break;
      default: {
        if ((f.code & 0x07) !== C.ALU)
          throw new RuntimeFault(`unknown classic BPF opcode 0x${f.code.toString(16)}`, pc - 1);
        const v = f.code & C.X ? X : k;
        A = alu(f.code & 0xf0, A, v, pc - 1);
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
