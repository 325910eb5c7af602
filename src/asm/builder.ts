// Programs written in TypeScript, in the spirit of cilium/ebpf's asm package:
//
//   new ProgramBuilder().mov64(R0, 0).ldx('u32', R2, R1, 4).jgt(R3, R2, 'drop').mov64(R0, 2).label('drop').exit().build()
//
// Registers are typed values (R0..R10), distinct from immediates, so `mov64(R0, 1)` (immediate) and
// `mov64(R0, R1)` (register) cannot be confused; R10, the read-only frame pointer, is rejected by the type
// checker as the destination of arithmetic and loads. Jumps take a label (resolved at build) or a relative
// slot offset; helpers are called by id or by name from the helper registry.

import { TsbpfError } from '../errors.js';
import {
  AluOp,
  AtomicOp,
  Class,
  Endian,
  type Insn,
  insn,
  JmpOp,
  lddw,
  Mode,
  PseudoCall,
  PseudoLddw,
  Size,
  Source,
} from '../isa/index.js';
import { kernelHelperId } from '../spec/helper-names.js';
import { JMP_NAMES } from './tables.js';

/** A register number, 0 to 10. */
export type RegNum = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
/** A register operand. The number is part of the type so R10 can be excluded where it is not allowed. */
export interface Register<N extends RegNum = RegNum> {
  readonly kind: 'register';
  readonly n: N;
}
/** Registers a program may write: every one but the frame pointer. */
export type WritableRegister = Register<Exclude<RegNum, 10>>;

const r = <N extends RegNum>(n: N): Register<N> => Object.freeze({ kind: 'register', n });
/** Register r0: what a helper call and the program return. */
export const R0 = r(0);
/** Register r1: the first argument of a call (the context at program entry); calls clobber it. */
export const R1 = r(1);
/** Register r2: the second argument of a call; calls clobber it. */
export const R2 = r(2);
/** Register r3: the third argument of a call; calls clobber it. */
export const R3 = r(3);
/** Register r4: the fourth argument of a call; calls clobber it. */
export const R4 = r(4);
/** Register r5: the fifth argument of a call; calls clobber it. */
export const R5 = r(5);
/** Register r6: callee-saved, kept across calls. */
export const R6 = r(6);
/** Register r7: callee-saved, kept across calls. */
export const R7 = r(7);
/** Register r8: callee-saved, kept across calls. */
export const R8 = r(8);
/** Register r9: callee-saved, kept across calls. */
export const R9 = r(9);
/** The frame pointer (read-only). */
export const R10 = r(10);

/** A register or a 32-bit immediate. */
export type Operand = Register | number;
/** A label name, or a relative offset in slots. */
export type Target = string | number;
/** The width of a store or of an unsigned load. */
export type MemSize = 'u8' | 'u16' | 'u32' | 'u64';
/** The width of a load: unsigned, or sign-extending (`s8`, `s16`, `s32`: ISA v4 ldsx). */
export type LoadSize = MemSize | 's8' | 's16' | 's32';
/** An atomic operation by name, as `atomic()` takes it (`add`, `fetch_add`, `xchg`, `cmpxchg` ...). */
export type AtomicOpName =
  | 'add'
  | 'or'
  | 'and'
  | 'xor'
  | 'fetch_add'
  | 'fetch_or'
  | 'fetch_and'
  | 'fetch_xor'
  | 'xchg'
  | 'cmpxchg';

/** A builder mistake (undefined label, immediate out of range ...), naming the instruction. */
export class BuilderError extends TsbpfError {
  override name = 'BuilderError';
}

const SIZE_OF: Readonly<Record<MemSize, number>> = { u8: Size.B, u16: Size.H, u32: Size.W, u64: Size.DW };
const ATOMIC_IMM: Readonly<Record<AtomicOpName, number>> = {
  add: AtomicOp.ADD,
  or: AtomicOp.OR,
  and: AtomicOp.AND,
  xor: AtomicOp.XOR,
  fetch_add: AtomicOp.ADD | AtomicOp.FETCH,
  fetch_or: AtomicOp.OR | AtomicOp.FETCH,
  fetch_and: AtomicOp.AND | AtomicOp.FETCH,
  fetch_xor: AtomicOp.XOR | AtomicOp.FETCH,
  xchg: AtomicOp.XCHG,
  cmpxchg: AtomicOp.CMPXCHG,
};
const jmpOp = (mnemonic: string) => JMP_NAMES.find((j) => j.mnemonic === mnemonic)!.op;

type AluMethod = (dst: WritableRegister, src: Operand) => ProgramBuilder;
type JmpMethod = (dst: Register, src: Operand, target: Target) => ProgramBuilder;

/**
 * Writes a program in TypeScript, one method per instruction, with jumps to named labels that `build()`
 * resolves.
 */
export class ProgramBuilder {
  private readonly slots: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private readonly refs: { index: number; label: string; field: 'off' | 'imm' }[] = [];

  /** Number of slots so far (the index the next instruction gets). */
  get length(): number {
    return this.slots.length;
  }

  /** Name the next instruction. */
  label(name: string): this {
    if (this.labels.has(name))
      throw new BuilderError(`duplicate label '${name}'`, `insn ${this.slots.length}`);
    this.labels.set(name, this.slots.length);
    return this;
  }

  /** Append raw slots (for encodings the typed methods do not cover). */
  raw(...insns: Insn[]): this {
    for (const i of insns) this.slots.push({ ...i });
    return this;
  }

  // Arithmetic: `<op>64` works on the whole register, `<op>32` on the low half (zero-extending the result).
  readonly add64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.ADD, d, s);
  readonly sub64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.SUB, d, s);
  readonly mul64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.MUL, d, s);
  readonly div64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.DIV, d, s);
  readonly sdiv64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.DIV, d, s, 1);
  readonly mod64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.MOD, d, s);
  readonly smod64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.MOD, d, s, 1);
  readonly or64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.OR, d, s);
  readonly and64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.AND, d, s);
  readonly lsh64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.LSH, d, s);
  readonly rsh64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.RSH, d, s);
  readonly arsh64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.ARSH, d, s);
  readonly xor64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.XOR, d, s);
  readonly mov64: AluMethod = (d, s) => this.alu(Class.ALU64, AluOp.MOV, d, s);
  readonly add32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.ADD, d, s);
  readonly sub32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.SUB, d, s);
  readonly mul32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.MUL, d, s);
  readonly div32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.DIV, d, s);
  readonly sdiv32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.DIV, d, s, 1);
  readonly mod32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.MOD, d, s);
  readonly smod32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.MOD, d, s, 1);
  readonly or32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.OR, d, s);
  readonly and32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.AND, d, s);
  readonly lsh32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.LSH, d, s);
  readonly rsh32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.RSH, d, s);
  readonly arsh32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.ARSH, d, s);
  readonly xor32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.XOR, d, s);
  readonly mov32: AluMethod = (d, s) => this.alu(Class.ALU, AluOp.MOV, d, s);

  neg64(dst: WritableRegister): this {
    return this.push(insn(Class.ALU64 | AluOp.NEG, dst.n));
  }
  neg32(dst: WritableRegister): this {
    return this.push(insn(Class.ALU | AluOp.NEG, dst.n));
  }
  /** dst = (s8|s16|s32) src, sign-extended to 64 bits. */
  movsx64(dst: WritableRegister, src: Register, bits: 8 | 16 | 32): this {
    return this.push(insn(Class.ALU64 | AluOp.MOV | Source.X, dst.n, src.n, bits));
  }
  /** w_dst = (s8|s16) w_src, sign-extended to 32 bits and zero-extended to 64. */
  movsx32(dst: WritableRegister, src: Register, bits: 8 | 16): this {
    return this.push(insn(Class.ALU | AluOp.MOV | Source.X, dst.n, src.n, bits));
  }
  /** Convert to little endian (truncates to `bits` on big-endian data already in host order). */
  le(dst: WritableRegister, bits: 16 | 32 | 64): this {
    return this.push(insn(Class.ALU | AluOp.END | Endian.TO_LE, dst.n, 0, 0, bits));
  }
  be(dst: WritableRegister, bits: 16 | 32 | 64): this {
    return this.push(insn(Class.ALU | AluOp.END | Endian.TO_BE, dst.n, 0, 0, bits));
  }
  /** Unconditional byte swap (v4). */
  bswap(dst: WritableRegister, bits: 16 | 32 | 64): this {
    return this.push(insn(Class.ALU64 | AluOp.END, dst.n, 0, 0, bits));
  }

  /** dst = *(size *)(src + off); `s8`/`s16`/`s32` sign-extend. */
  ldx(size: LoadSize, dst: WritableRegister, src: Register, off = 0): this {
    const signed = size[0] === 's';
    const sz = SIZE_OF[(signed ? `u${size.slice(1)}` : size) as MemSize];
    return this.push(insn(Class.LDX | (signed ? Mode.MEMSX : Mode.MEM) | sz, dst.n, src.n, this.off(off)));
  }
  /** *(size *)(dst + off) = imm */
  st(size: MemSize, dst: Register, off: number, imm: number): this {
    return this.push(insn(Class.ST | Mode.MEM | SIZE_OF[size], dst.n, 0, this.off(off), this.imm(imm)));
  }
  /** *(size *)(dst + off) = src */
  stx(size: MemSize, dst: Register, off: number, src: Register): this {
    return this.push(insn(Class.STX | Mode.MEM | SIZE_OF[size], dst.n, src.n, this.off(off)));
  }
  /** Atomic read-modify-write of *(size *)(dst + off) with src; fetch forms return the old value in src (cmpxchg: in r0). */
  atomic(op: AtomicOpName, size: 'u32' | 'u64', dst: Register, off: number, src: Register): this {
    return this.push(
      insn(Class.STX | Mode.ATOMIC | SIZE_OF[size], dst.n, src.n, this.off(off), ATOMIC_IMM[op]),
    );
  }
  /** dst = a 64-bit immediate (two slots). */
  lddw(dst: WritableRegister, value: bigint | number): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      this.fail(`lddw value ${value} is not an exact integer`);
    const v = BigInt(value);
    if (v < -(1n << 63n) || v >= 1n << 64n) this.fail(`lddw value ${v} does not fit in 64 bits`);
    return this.push(...lddw(dst.n, v));
  }
  /** dst = the map at `index` in the map array the program is loaded with. */
  ldMap(dst: WritableRegister, index: number): this {
    return this.push(...lddw(dst.n, BigInt(this.imm(index)) & 0xffffffffn, PseudoLddw.MAP_FD));
  }
  /** dst = pointer to byte `offset` of the value of the (array) map at `index`. */
  ldMapValue(dst: WritableRegister, index: number, offset = 0): this {
    const v = (BigInt(this.imm(offset) >>> 0) << 32n) | BigInt(this.imm(index) >>> 0);
    return this.push(...lddw(dst.n, v, PseudoLddw.MAP_VALUE));
  }

  // Conditional jumps: 64-bit comparisons, and `...32` comparing the low halves.
  readonly jeq: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jeq', d, s, t);
  readonly jne: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jne', d, s, t);
  readonly jgt: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jgt', d, s, t);
  readonly jge: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jge', d, s, t);
  readonly jlt: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jlt', d, s, t);
  readonly jle: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jle', d, s, t);
  readonly jset: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jset', d, s, t);
  readonly jsgt: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jsgt', d, s, t);
  readonly jsge: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jsge', d, s, t);
  readonly jslt: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jslt', d, s, t);
  readonly jsle: JmpMethod = (d, s, t) => this.jmp(Class.JMP, 'jsle', d, s, t);
  readonly jeq32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jeq', d, s, t);
  readonly jne32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jne', d, s, t);
  readonly jgt32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jgt', d, s, t);
  readonly jge32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jge', d, s, t);
  readonly jlt32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jlt', d, s, t);
  readonly jle32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jle', d, s, t);
  readonly jset32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jset', d, s, t);
  readonly jsgt32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jsgt', d, s, t);
  readonly jsge32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jsge', d, s, t);
  readonly jslt32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jslt', d, s, t);
  readonly jsle32: JmpMethod = (d, s, t) => this.jmp(Class.JMP32, 'jsle', d, s, t);

  /** Unconditional jump (16-bit offset). */
  ja(target: Target): this {
    return this.withTarget(insn(Class.JMP | JmpOp.JA), target, 'off');
  }
  /** Unconditional jump with a 32-bit offset (`gotol`, v4). */
  gotol(target: Target): this {
    return this.withTarget(insn(Class.JMP32 | JmpOp.JA), target, 'imm');
  }
  /** Call a helper by id or kernel name (`map_lookup_elem` or `bpf_map_lookup_elem`; see spec/helper-names.ts). */
  call(helper: number | string): this {
    let id: number;
    if (typeof helper === 'number') id = this.imm(helper);
    else {
      const known = kernelHelperId(helper);
      if (known === undefined) this.fail(`unknown helper '${helper}'`);
      id = known;
    }
    return this.push(insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, id));
  }
  /** bpf-to-bpf call of the function at `target`. */
  callLocal(target: Target): this {
    return this.withTarget(insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.LOCAL), target, 'imm');
  }
  /** Call the helper whose id is in a register (callx). */
  callx(reg: Register): this {
    return this.push(insn(Class.JMP | JmpOp.CALL | Source.X, reg.n));
  }
  exit(): this {
    return this.push(insn(Class.JMP | JmpOp.EXIT));
  }
  /** `r0 = value; exit` */
  ret(value: Operand): this {
    this.mov64(R0, value);
    return this.exit();
  }

  /** The slots, with every label resolved. The builder can keep growing afterwards. */
  build(): Insn[] {
    const out = this.slots.map((i) => ({ ...i }));
    for (const ref of this.refs) {
      const target = this.labels.get(ref.label);
      if (target === undefined) throw new BuilderError(`undefined label '${ref.label}'`, `insn ${ref.index}`);
      const rel = target - (ref.index + 1);
      if (ref.field === 'off' && (rel < -0x8000 || rel > 0x7fff)) {
        throw new BuilderError(
          `label '${ref.label}' is ${rel} slots away, beyond a 16-bit jump (use gotol)`,
          `insn ${ref.index}`,
        );
      }
      out[ref.index]![ref.field] = rel;
    }
    return out;
  }

  private push(...insns: Insn[]): this {
    this.slots.push(...insns);
    return this;
  }

  private fail(message: string): never {
    throw new BuilderError(message, `insn ${this.slots.length}`);
  }

  private imm(v: number): number {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff)
      this.fail(`immediate ${v} does not fit in 32 bits`);
    return v | 0;
  }

  private off(v: number): number {
    if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) this.fail(`offset ${v} does not fit in 16 bits`);
    return v;
  }

  private alu(cls: number, op: number, dst: WritableRegister, src: Operand, off = 0): this {
    if (typeof src === 'number') return this.push(insn(cls | op | Source.K, dst.n, 0, off, this.imm(src)));
    return this.push(insn(cls | op | Source.X, dst.n, src.n, off));
  }

  private jmp(cls: number, name: string, dst: Register, src: Operand, target: Target): this {
    const op = jmpOp(name);
    const i =
      typeof src === 'number'
        ? insn(cls | op | Source.K, dst.n, 0, 0, this.imm(src))
        : insn(cls | op | Source.X, dst.n, src.n);
    return this.withTarget(i, target, 'off');
  }

  private withTarget(i: Insn, target: Target, field: 'off' | 'imm'): this {
    if (typeof target === 'string') this.refs.push({ index: this.slots.length, label: target, field });
    else i[field] = field === 'off' ? this.off(target) : this.imm(target);
    return this.push(i);
  }
}
