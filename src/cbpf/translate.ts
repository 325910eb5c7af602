// Classic BPF -> eBPF, the way the kernel converts socket filters (net/core/filter.c bpf_convert_filter):
//   A = r0 (w0), X = r7, tmp = r2, ctx = r6 (copied from r1), M[k] = *(u32 *)(r10 - (4k + 4)).
//   Prologue: w0 = 0; w7 = 0; r6 = r1. (The kernel's converter clears with xor, which its verifier would
//   reject as a read of an uninitialised register; a move keeps the translation loadable through bpf().)
//   Packet loads become the legacy LD_ABS/LD_IND instructions (they read the packet of the socket-filter
//   context and end the program with 0 when out of bounds, as classic BPF does).
//   BPF_LEN reads the context's `len` field (offset 0 in __sk_buff; configurable).
//   A classic conditional jump becomes one eBPF jump when jf (or jt, for JEQ/JGT/JGE, with the inverted
//   condition) falls through, else a jump and a JA. A constant >= 2^31 is first moved into tmp because
//   eBPF immediates are sign-extended. DIV/MOD by X test X for zero and return 0.
//   Where the two differ, classic semantics win over the kernel's converter: a shift by X >= 32 gives 0
//   (libpcap's bpf_filter and tcpdump -r do so; the kernel's eBPF masks the count to 5 bits), an indexed
//   load whose X + k passes 2^32 is out of bounds (eBPF would wrap the offset), and fields
//   an eBPF instruction does not use are zero (neg carries no immediate, whatever the classic k).

import { InvalidBytecodeError } from '../errors.js';
import { AluOp, Class, type Insn, insn, JmpOp, Mode, Size, Source } from '../isa/index.js';
import { Ancillary } from './check.js';
import { C, cls, mode, op, SKF_AD_OFF, type SockFilter, size, src } from './insn.js';

const A = 0;
const X = 7;
const TMP = 2;
const CTX = 6;
const FP = 10;

/** Options of cbpfToEbpf. */
export interface TranslateOptions {
  /** Offset of the 32-bit packet length in the context (default 0: `__sk_buff.len`). */
  lenOffset?: number;
}

/** Offsets of __sk_buff fields used by ancillary loads. */
const SKB_FIELD: Record<number, number> = {
  [Ancillary.PKTTYPE]: 4,
  [Ancillary.MARK]: 8,
  [Ancillary.QUEUE]: 12,
  [Ancillary.PROTOCOL]: 16,
  [Ancillary.VLAN_TAG_PRESENT]: 20,
  [Ancillary.VLAN_TAG]: 24,
  [Ancillary.VLAN_TPID]: 28,
  [Ancillary.IFINDEX]: 40,
  [Ancillary.RXHASH]: 68, // __sk_buff.hash (52 is cb[1])
};

type Pending = { insn: Insn; target?: number };

/** Translates a checked classic BPF program into eBPF slots for the socket-filter program type. */
export function cbpfToEbpf(prog: readonly SockFilter[], opts: TranslateOptions = {}): Insn[] {
  const lenOff = opts.lenOffset ?? 0;
  const out: Pending[] = [
    { insn: insn(Class.ALU | AluOp.MOV | Source.K, A, 0) },
    { insn: insn(Class.ALU | AluOp.MOV | Source.K, X, 0) },
    { insn: insn(Class.ALU64 | AluOp.MOV | Source.X, CTX, 1) },
  ];
  const addr: number[] = [];
  const emit = (i: Insn, target?: number) =>
    out.push(target === undefined ? { insn: i } : { insn: i, target });
  const mov32 = (dst: number, k: number): void =>
    void emit(insn(Class.ALU | AluOp.MOV | Source.K, dst, 0, 0, k | 0));
  const mov64r = (dst: number, s: number): void =>
    void emit(insn(Class.ALU64 | AluOp.MOV | Source.X, dst, s));

  const live = reachable(prog);
  for (let i = 0; i < prog.length; i++) {
    // Classic BPF allows dead instructions; the eBPF verifier refuses unreachable ones, so none is emitted.
    if (live[i]) translateOne(prog[i] as SockFilter, i);
    else addr[i] = out.length;
  }
  function translateOne(f: SockFilter, i: number): void {
    addr[i] = out.length;
    const c = f.code;
    const k = f.k | 0;
    const bad = (why: string) => new InvalidBytecodeError(why, i);
    switch (cls(c)) {
      case C.ALU:
        if (op(c) === C.NEG) {
          // neg has no operand: eBPF requires src and imm to be zero (classic k is ignored).
          emit(insn(Class.ALU | AluOp.NEG | Source.K, A));
          return;
        }
        if ((op(c) === C.DIV || op(c) === C.MOD) && src(c) === C.X) {
          emit(insn(Class.ALU | AluOp.MOV | Source.X, X, X));
          emit(insn(Class.JMP | JmpOp.JNE | Source.K, X, 0, 2, 0));
          emit(insn(Class.ALU | AluOp.XOR | Source.X, A, A));
          emit(insn(Class.JMP | JmpOp.EXIT));
        }
        if ((op(c) === C.LSH || op(c) === C.RSH) && src(c) === C.X) {
          // Classic shifts by X >= 32 give 0 (libpcap's bpf_filter, our interpreter); eBPF masks the count
          // to 5 bits. X < 32 skips the clear; X >= 32 clears A, and 0 shifted by anything stays 0.
          emit(insn(Class.JMP | JmpOp.JLT | Source.K, X, 0, 1, 32));
          mov32(A, 0);
        }
        emit(insn(c, A, src(c) === C.X ? X : 0, 0, src(c) === C.X ? 0 : k));
        return;
      case C.LD:
        if (mode(c) === C.ABS || mode(c) === C.IND) {
          if (mode(c) === C.ABS && f.k >= SKF_AD_OFF) {
            const field = SKB_FIELD[f.k - SKF_AD_OFF];
            if (field === undefined) throw bad(`ancillary load ${f.k - SKF_AD_OFF} has no eBPF translation`);
            emit(insn(Class.LDX | Mode.MEM | Size.W, A, CTX, field));
            // protocol and vlan_proto are __be16 in __sk_buff; classic BPF reads them in host order.
            if (f.k - SKF_AD_OFF === Ancillary.PROTOCOL || f.k - SKF_AD_OFF === Ancillary.VLAN_TPID)
              emit(insn(Class.ALU | AluOp.END | Source.X, A, 0, 0, 16));
            return;
          }
          if (mode(c) === C.IND && f.k !== 0) {
            // Classic X + k past 2^32 is out of bounds (libpcap's bpf_filter); eBPF would wrap it to a
            // small offset. X > ~k (unsigned, 32-bit) is exactly the overflow: return 0.
            emit(insn(Class.JMP32 | JmpOp.JLE | Source.K, X, 0, 2, ~f.k));
            mov32(A, 0);
            emit(insn(Class.JMP | JmpOp.EXIT));
          }
          emit(insn(Class.LD | mode(c) | size(c), 0, mode(c) === C.IND ? X : 0, 0, k));
          return;
        }
        if (mode(c) === C.LEN) {
          emit(insn(Class.LDX | Mode.MEM | Size.W, A, CTX, lenOff));
          return;
        }
        if (mode(c) === C.IMM) {
          mov32(A, k);
          return;
        }
        if (mode(c) === C.MEM) {
          emit(insn(Class.LDX | Mode.MEM | Size.W, A, FP, -(f.k * 4 + 4)));
          return;
        }
        throw bad(`unknown classic load 0x${c.toString(16)}`);
      case C.LDX:
        if (mode(c) === C.LEN) {
          emit(insn(Class.LDX | Mode.MEM | Size.W, X, CTX, lenOff));
          return;
        }
        if (mode(c) === C.IMM) {
          mov32(X, k);
          return;
        }
        if (mode(c) === C.MEM) {
          emit(insn(Class.LDX | Mode.MEM | Size.W, X, FP, -(f.k * 4 + 4)));
          return;
        }
        if (mode(c) === C.MSH) {
          mov64r(X, A);
          emit(insn(Class.LD | Mode.ABS | Size.B, 0, 0, 0, k));
          emit(insn(Class.ALU | AluOp.AND | Source.K, A, 0, 0, 0xf));
          emit(insn(Class.ALU | AluOp.LSH | Source.K, A, 0, 0, 2));
          mov64r(TMP, X);
          mov64r(X, A);
          mov64r(A, TMP);
          return;
        }
        throw bad(`unknown classic load 0x${c.toString(16)}`);
      case C.ST:
      case C.STX:
        emit(insn(Class.STX | Mode.MEM | Size.W, FP, cls(c) === C.ST ? A : X, -(f.k * 4 + 4)));
        return;
      case C.RET:
        if ((c & 0x18) === C.K) mov32(A, k);
        else if ((c & 0x18) === C.X) mov64r(A, X);
        emit(insn(Class.JMP | JmpOp.EXIT));
        return;
      case C.MISC:
        if (c === (C.MISC | C.TAX)) {
          mov64r(X, A);
          return;
        }
        if (c === (C.MISC | C.TXA)) {
          mov64r(A, X);
          return;
        }
        throw bad(`unknown classic misc op 0x${c.toString(16)}`);
      case C.JMP: {
        if (op(c) === C.JA) {
          // k is unsigned: a value past the end wraps (mod 2^32) to a backward jump, as libpcap's
          // protochain loop uses (the kernel refuses those; the eBPF loop must then satisfy the verifier).
          emit(insn(Class.JMP | JmpOp.JA), (i + 1 + f.k) >>> 0);
          return;
        }
        let s: number = src(c);
        let srcReg = s === C.X ? X : 0;
        let imm = s === C.X ? 0 : k;
        if (s === C.K && k < 0) {
          mov32(TMP, k);
          s = Source.X;
          srcReg = TMP;
          imm = 0;
        }
        const jop = op(c); // classic JEQ/JGT/JGE/JSET have the eBPF values
        if (f.jf === 0) {
          emit(insn(Class.JMP | jop | s, A, srcReg, 0, imm), i + 1 + f.jt);
          return;
        }
        const inverse: Record<number, number> = {
          [C.JEQ]: JmpOp.JNE,
          [C.JGT]: JmpOp.JLE,
          [C.JGE]: JmpOp.JLT,
        };
        const inv = inverse[jop];
        if (f.jt === 0 && inv !== undefined) {
          emit(insn(Class.JMP | inv | s, A, srcReg, 0, imm), i + 1 + f.jf);
          return;
        }
        emit(insn(Class.JMP | jop | s, A, srcReg, 0, imm), i + 1 + f.jt);
        emit(insn(Class.JMP | JmpOp.JA), i + 1 + f.jf);
        return;
      }
    }
    throw bad(`unknown classic BPF opcode 0x${c.toString(16)}`);
  }
  return out.map((p, at) => {
    if (p.target === undefined) return p.insn;
    const to = addr[p.target];
    if (to === undefined) throw new InvalidBytecodeError(`jump target ${p.target} out of range`, at);
    return { ...p.insn, off: to - at - 1 };
  });
}

/** Which instructions some path from the first one reaches (jumps may wrap backward: a worklist). */
function reachable(prog: readonly SockFilter[]): Uint8Array {
  const n = prog.length;
  const seen = new Uint8Array(n);
  const work = [0];
  seen[0] = 1;
  const reach = (pc: number) => {
    if (pc < n && !seen[pc]) {
      seen[pc] = 1;
      work.push(pc);
    }
  };
  while (work.length > 0) {
    const pc = work.pop() as number;
    const f = prog[pc] as SockFilter;
    if (cls(f.code) === C.RET) continue;
    if (f.code === (C.JMP | C.JA)) reach((pc + 1 + f.k) >>> 0);
    else if (cls(f.code) === C.JMP) {
      reach(pc + 1 + f.jt);
      reach(pc + 1 + f.jf);
    } else reach(pc + 1);
  }
  return seen;
}
