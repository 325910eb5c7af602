// Classic BPF instructions: `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`, 8 bytes in host
// (little-endian) order. The opcode shares its class/size/mode/op bit layout with eBPF (see src/isa):
//
//   +--------+------+-----+       +------+---+-----+
//   | mode:3 |size:2|cls:3|       | op:4 |s:1|cls:3|
//   +--------+------+-----+       +------+---+-----+
//
// Classic-only values: class RET=6 and MISC=7, modes LEN=0x80 and MSH=0xa0, RET source A=0x10, and the
// MISC ops TAX=0x00 / TXA=0x80.

import { InvalidBytecodeError } from '../errors.js';
import {
  AluOp,
  CLASS_MASK,
  Class,
  JmpOp,
  MODE_MASK,
  Mode,
  OP_MASK,
  SIZE_MASK,
  Size,
  Source,
  SRC_MASK,
} from '../isa/opcodes.js';

/** One classic BPF instruction (struct sock_filter). */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  /** Unsigned 32-bit constant. */
  k: number;
}

/**
 * Opcode values. Classes, sizes, modes, ALU and jump ops are the layout eBPF inherited (the kernel keeps them
 * in one header, bpf_common.h), so they come from src/isa; the classic-only values are added here.
 */
export const C = {
  LD: Class.LD,
  LDX: Class.LDX,
  ST: Class.ST,
  STX: Class.STX,
  ALU: Class.ALU,
  JMP: Class.JMP,
  RET: 0x06,
  MISC: 0x07,
  W: Size.W,
  H: Size.H,
  B: Size.B,
  IMM: Mode.IMM,
  ABS: Mode.ABS,
  IND: Mode.IND,
  MEM: Mode.MEM,
  LEN: 0x80,
  MSH: 0xa0,
  ADD: AluOp.ADD,
  SUB: AluOp.SUB,
  MUL: AluOp.MUL,
  DIV: AluOp.DIV,
  OR: AluOp.OR,
  AND: AluOp.AND,
  LSH: AluOp.LSH,
  RSH: AluOp.RSH,
  NEG: AluOp.NEG,
  MOD: AluOp.MOD,
  XOR: AluOp.XOR,
  JA: JmpOp.JA,
  JEQ: JmpOp.JEQ,
  JGT: JmpOp.JGT,
  JGE: JmpOp.JGE,
  JSET: JmpOp.JSET,
  K: Source.K,
  X: Source.X,
  A: 0x10,
  TAX: 0x00,
  TXA: 0x80,
} as const;

/** Scratch memory words M[0..15]. */
export const MEMWORDS = 16;
/** Longest program the kernel accepts. */
export const MAXINSNS = 4096;
/** Ancillary loads (skb metadata) use k >= SKF_AD_OFF (i.e. negative offsets) in LD|ABS. */
export const SKF_AD_OFF = 0xfffff000;

/** The class bits of an opcode (BPF_CLASS). */
export const cls = (code: number) => code & CLASS_MASK;
/** The size bits of an opcode (BPF_SIZE). */
export const size = (code: number) => code & SIZE_MASK;
/** The mode bits of an opcode (BPF_MODE). */
export const mode = (code: number) => code & MODE_MASK;
/** The operation bits of an opcode (BPF_OP). */
export const op = (code: number) => code & OP_MASK;
/** The source bit of an opcode (BPF_SRC: K or X). */
export const src = (code: number) => code & SRC_MASK;
/** RET's source: K, X or A (bits 3-4). */
export const rval = (code: number) => code & 0x18;

/** An instruction that does not jump (BPF_STMT). */
export const stmt = (code: number, k = 0): SockFilter => ({ code, jt: 0, jf: 0, k: k >>> 0 });
/** A jump with its true and false offsets (BPF_JUMP). */
export const jump = (code: number, k: number, jt: number, jf: number): SockFilter => ({
  code,
  jt,
  jf,
  k: k >>> 0,
});

/** Decodes `struct sock_filter` records (length must be a multiple of 8). */
export function decodeFilter(bytes: Uint8Array): SockFilter[] {
  if (bytes.length % 8 !== 0)
    throw new InvalidBytecodeError(
      `classic BPF length ${bytes.length} is not a multiple of 8`,
      Math.floor(bytes.length / 8),
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: SockFilter[] = [];
  for (let o = 0; o < bytes.length; o += 8)
    out.push({
      code: dv.getUint16(o, true),
      jt: dv.getUint8(o + 2),
      jf: dv.getUint8(o + 3),
      k: dv.getUint32(o + 4, true),
    });
  return out;
}

/** The bytes of a program, 8 per instruction, little-endian (what decodeFilter reads). */
export function encodeFilter(prog: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((f, i) => {
    dv.setUint16(i * 8, f.code, true);
    dv.setUint8(i * 8 + 2, f.jt);
    dv.setUint8(i * 8 + 3, f.jf);
    dv.setUint32(i * 8 + 4, f.k >>> 0, true);
  });
  return out;
}

/** Opcodes the kernel accepts in socket filters (net/core/filter.c chk_code_allowed). */
export const ALLOWED_CODES: ReadonlySet<number> = new Set([
  ...[C.ADD, C.SUB, C.MUL, C.DIV, C.MOD, C.AND, C.OR, C.XOR, C.LSH, C.RSH].flatMap((o) => [
    C.ALU | o | C.K,
    C.ALU | o | C.X,
  ]),
  C.ALU | C.NEG,
  ...[C.W, C.H, C.B].flatMap((s) => [C.LD | s | C.ABS, C.LD | s | C.IND]),
  C.LD | C.W | C.LEN,
  C.LD | C.IMM,
  C.LD | C.MEM,
  C.LDX | C.W | C.LEN,
  C.LDX | C.B | C.MSH,
  C.LDX | C.IMM,
  C.LDX | C.MEM,
  C.ST,
  C.STX,
  C.MISC | C.TAX,
  C.MISC | C.TXA,
  C.RET | C.K,
  C.RET | C.A,
  C.JMP | C.JA,
  ...[C.JEQ, C.JGT, C.JGE, C.JSET].flatMap((o) => [C.JMP | o | C.K, C.JMP | o | C.X]),
]);

/** Whether an opcode is a conditional jump (a JMP other than JA). */
export const isCondJump = (code: number) => cls(code) === C.JMP && op(code) !== C.JA;
