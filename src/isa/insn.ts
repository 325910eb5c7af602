// One instruction slot and its 8-byte encoding.
//
//   +--------+----+----+--------+------------------+
//   | code:8 |dst:4|src:4| off:16 |      imm:32      |   little-endian; dst in the low nibble
//   +--------+----+----+--------+------------------+
//
// A program is an array of slots. lddw (a 64-bit immediate) takes two slots: the first holds the low 32
// bits in imm, the second (opcode 0) the high 32 bits. Jump offsets and indices count slots, as the
// kernel does, so every index in this project (verifier logs, faults, line info) is a slot index.

import { InvalidBytecodeError } from '../errors.js';
import {
  AluOp,
  Class,
  classOf,
  INSN_SIZE,
  JmpOp,
  LDDW,
  MODE_MASK,
  Mode,
  OP_MASK,
  SIZE_BYTES,
  SIZE_MASK,
  Size,
  Source,
} from './opcodes.js';

/** One 8-byte instruction slot. `off` is a signed 16-bit value, `imm` a signed 32-bit value. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** One instruction slot, from its fields. */
export function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { code, dst, src, off, imm };
}

/** The 64-bit value of the lddw at `index` (low half there, high half in the next slot), unsigned. */
export function lddwValue(insns: readonly Insn[], index: number): bigint {
  const lo = BigInt(insns[index]!.imm >>> 0);
  const hi = BigInt((insns[index + 1]?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

/** The two slots of `lddw dst, value`. */
export function lddw(dst: number, value: bigint, src = 0): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  return [
    insn(LDDW, dst, src, 0, Number(BigInt.asIntN(32, v))),
    insn(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))),
  ];
}

/** Decode bytecode into slots. Checks each opcode and register (see `checkInsn`); not jump targets. */
export function decode(bytes: Uint8Array): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new InvalidBytecodeError(
      `bytecode length ${bytes.length} is not a multiple of ${INSN_SIZE} (truncated instruction)`,
      Math.floor(bytes.length / INSN_SIZE),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i < bytes.length / INSN_SIZE; i++) {
    const at = i * INSN_SIZE;
    const regs = bytes[at + 1]!;
    out.push({
      code: bytes[at]!,
      dst: regs & 0x0f,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    });
  }
  for (let i = 0; i < out.length; i++) {
    checkInsn(out, i);
    if (out[i]!.code === LDDW) i++;
  }
  return out;
}

/** Encode slots into bytecode. Throws on out-of-range fields. */
export function encode(insns: readonly Insn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  insns.forEach((ins, i) => {
    const bad = (what: string) => {
      throw new InvalidBytecodeError(what, i);
    };
    if (!Number.isInteger(ins.code) || ins.code < 0 || ins.code > 0xff)
      bad(`opcode ${ins.code} is not a byte`);
    if (!Number.isInteger(ins.dst) || ins.dst < 0 || ins.dst > 15)
      bad(`dst register ${ins.dst} out of range`);
    if (!Number.isInteger(ins.src) || ins.src < 0 || ins.src > 15)
      bad(`src register ${ins.src} out of range`);
    if (!Number.isInteger(ins.off) || ins.off < -0x8000 || ins.off > 0x7fff)
      bad(`offset ${ins.off} does not fit 16 bits`);
    if (!Number.isInteger(ins.imm) || ins.imm < -0x80000000 || ins.imm > 0xffffffff) {
      bad(`immediate ${ins.imm} does not fit 32 bits`);
    }
    const at = i * INSN_SIZE;
    bytes[at] = ins.code;
    bytes[at + 1] = (ins.src << 4) | ins.dst;
    view.setInt16(at + 2, ins.off, true);
    view.setInt32(at + 4, ins.imm | 0, true);
  });
  return bytes;
}

/** Whether `code` is an opcode of RFC 9669 (plus the legacy packet loads ABS/IND). */
export function isValidOpcode(code: number): boolean {
  return VALID_OPCODES.has(code);
}

const VALID_OPCODES: ReadonlySet<number> = (() => {
  const s = new Set<number>();
  for (const cls of [Class.ALU, Class.ALU64]) {
    for (const op of Object.values(AluOp)) {
      if (op === AluOp.END) continue;
      s.add(cls | op | Source.K);
      if (op !== AluOp.NEG) s.add(cls | op | Source.X);
    }
  }
  s.add(Class.ALU | AluOp.END | Source.K); // le16/32/64
  s.add(Class.ALU | AluOp.END | Source.X); // be16/32/64
  s.add(Class.ALU64 | AluOp.END | Source.K); // bswap16/32/64
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (const op of Object.values(JmpOp)) {
      if (op === JmpOp.CALL || op === JmpOp.EXIT) continue;
      s.add(cls | op | Source.K);
      if (op !== JmpOp.JA) s.add(cls | op | Source.X);
    }
  }
  s.add(Class.JMP | JmpOp.CALL | Source.K);
  s.add(Class.JMP | JmpOp.CALL | Source.X); // callx
  s.add(Class.JMP | JmpOp.EXIT | Source.K);
  s.add(LDDW);
  for (const size of [Size.W, Size.H, Size.B]) {
    s.add(Class.LD | Mode.ABS | size);
    s.add(Class.LD | Mode.IND | size);
    s.add(Class.LDX | Mode.MEMSX | size);
  }
  for (const size of Object.values(Size)) {
    s.add(Class.LDX | Mode.MEM | size);
    s.add(Class.ST | Mode.MEM | size);
    s.add(Class.STX | Mode.MEM | size);
  }
  s.add(Class.STX | Mode.ATOMIC | Size.W);
  s.add(Class.STX | Mode.ATOMIC | Size.DW);
  return s;
})();

/**
 * Check one slot in context (lddw needs its second half): a known opcode and registers 0-10.
 * The semantic checks of reserved fields and jump targets belong to `checkProgram` and the verifier.
 */
export function checkInsn(insns: readonly Insn[], i: number): void {
  const ins = insns[i]!;
  const bad = (what: string): never => {
    throw new InvalidBytecodeError(what, i);
  };
  if (!VALID_OPCODES.has(ins.code)) bad(`unknown opcode 0x${ins.code.toString(16).padStart(2, '0')}`);
  if (ins.dst > 10) bad(`invalid dst register r${ins.dst}`);
  // Slots built in memory (not decoded from bytes) can hold what no encoding can: a far jump is `gotol`.
  if ((ins.off << 16) >> 16 !== ins.off) bad(`offset ${ins.off} does not fit 16 bits`);
  if (!(ins.imm >= -0x80000000 && ins.imm <= 0xffffffff) || ins.imm % 1 !== 0) {
    bad(`immediate ${ins.imm} does not fit 32 bits`);
  }
  if (
    ins.src > 10 &&
    !(ins.code === LDDW || (classOf(ins.code) === Class.JMP && (ins.code & OP_MASK) === JmpOp.CALL))
  ) {
    bad(`invalid src register r${ins.src}`);
  }
  if (ins.code === LDDW) {
    const next = insns[i + 1];
    if (!next) bad('lddw is missing its second half (end of program)');
    else if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
      bad('lddw is missing its second half (the next slot must have opcode 0 and zero registers/offset)');
    }
  }
}

/** Number of slots an instruction occupies. */
export const slotCount = (ins: Insn): 1 | 2 => (ins.code === LDDW ? 2 : 1);

/** The size in bytes of a load/store, from its opcode. */
export const accessSize = (code: number): 1 | 2 | 4 | 8 => SIZE_BYTES[code & SIZE_MASK]!;

/** The mode bits of an opcode (BPF_MODE). */
export const modeOf = (code: number): number => code & MODE_MASK;

/** Is this slot a jump with a target (not call/exit)? */
export function isBranch(ins: Insn): boolean {
  const cls = classOf(ins.code);
  if (cls !== Class.JMP && cls !== Class.JMP32) return false;
  const op = ins.code & OP_MASK;
  return op !== JmpOp.CALL && op !== JmpOp.EXIT;
}

/** Target slot of a jump at `i`: `gotol` (JMP32|JA) uses imm, every other jump uses off. */
export function jumpTarget(ins: Insn, i: number): number {
  if (ins.code === (Class.JMP32 | JmpOp.JA)) return i + 1 + ins.imm;
  return i + 1 + ins.off;
}

/** Is this slot a bpf-to-bpf call (`call local`)? */
export const isLocalCall = (ins: Insn): boolean => ins.code === (Class.JMP | JmpOp.CALL) && ins.src === 1;

/**
 * Whole-program structural checks every engine needs before running unverified code: each slot
 * decodes, jumps and local calls land inside the program and not on the second half of lddw.
 */
export function checkProgram(insns: readonly Insn[]): void {
  if (insns.length === 0) throw new InvalidBytecodeError('empty program', 0);
  const secondHalf = new Uint8Array(insns.length);
  for (let i = 0; i < insns.length; i++) {
    checkInsn(insns, i);
    if (insns[i]!.code === LDDW) secondHalf[++i] = 1;
  }
  for (let i = 0; i < insns.length; i++) {
    if (secondHalf[i]) continue;
    const ins = insns[i]!;
    let target: number | undefined;
    if (isBranch(ins)) target = jumpTarget(ins, i);
    else if (isLocalCall(ins)) target = i + 1 + ins.imm;
    if (target === undefined) continue;
    if (target < 0 || target >= insns.length) {
      throw new InvalidBytecodeError(`jump to ${target} is outside the program (0..${insns.length - 1})`, i);
    }
    if (secondHalf[target])
      throw new InvalidBytecodeError(`jump to ${target} lands in the middle of lddw`, i);
  }
}
