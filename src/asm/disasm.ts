// The disassembler: one line of text per instruction (lddw once, for its two slots), in the llvm-objdump
// syntax or the mnemonic one. Encodings with no canonical text (a reserved field that is not zero, a
// register above r10) print as `.insn CODE, DST, SRC, OFF, IMM`, which the assembler reads back, so
// assemble(disassemble(x)) gives back x for every slot sequence.

import {
  AluOp,
  AtomicOp,
  Class,
  classOf,
  type Insn,
  isValidOpcode,
  JmpOp,
  LDDW,
  lddwValue,
  Mode,
  OP_MASK,
  SIZE_MASK,
  Source,
  SRC_MASK,
} from '../isa/index.js';
import { ALU_LLVM, ALU_MNEMONIC, ATOMIC_NAMES, JMP_NAMES, LDDW_PSEUDO, sizeInfo } from './tables.js';

/**
 * The two assembly syntaxes: llvm-objdump's (`r0 = *(u32 *)(r1 + 0x4)`) and the conformance suites' mnemonics
 * (`ldxw %r0, [%r1+4]`).
 */
export type Syntax = 'llvm' | 'mnemonic';

/** Options of disassemble: the syntax to print (default llvm). */
export interface DisasmOptions {
  syntax?: Syntax;
}

/** One string per instruction; the second slot of lddw has no line of its own. */
export function disassemble(insns: readonly Insn[], opts: DisasmOptions = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    out.push(formatInsn(insns, i, opts.syntax ?? 'llvm'));
    if (insns[i]!.code === LDDW && isLddwPair(insns, i)) i++;
  }
  return out;
}

/** The text of the instruction at slot `index`. */
export function formatInsn(insns: readonly Insn[], index: number, syntax: Syntax = 'llvm'): string {
  if (!isCanonical(insns, index)) return rawForm(insns, index);
  return syntax === 'llvm' ? formatLlvm(insns, index) : formatMnemonic(insns, index);
}

const isLddwPair = (insns: readonly Insn[], i: number): boolean => {
  const next = insns[i + 1];
  return next !== undefined && next.code === 0 && next.dst === 0 && next.src === 0 && next.off === 0;
};

const hex = (n: number | bigint): string =>
  n < 0 ? `-0x${(-BigInt(n)).toString(16)}` : `0x${n.toString(16)}`;
const signedHex = (n: number): string => (n < 0 ? hex(n) : `+${hex(n)}`);
const signed = (n: number): string => (n < 0 ? `${n}` : `+${n}`);

function rawForm(insns: readonly Insn[], i: number): string {
  const x = insns[i]!;
  const fields = `.insn ${hex(x.code)}, ${x.dst}, ${x.src}, ${x.off}, ${x.imm}`;
  return x.code === LDDW && isLddwPair(insns, i) ? `${fields}, ${insns[i + 1]!.imm}` : fields;
}

const ATOMIC_IMMS = new Set<number>([
  ...ATOMIC_NAMES.flatMap((a) => [a.op, a.op | AtomicOp.FETCH]),
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
]);

/** Does this slot have a text form, i.e. are all fields its opcode does not use zero? */
function isCanonical(insns: readonly Insn[], i: number): boolean {
  const x = insns[i]!;
  if (!isValidOpcode(x.code) || x.dst > 10) return false;
  const cls = classOf(x.code);
  const op = x.code & OP_MASK;
  const isX = (x.code & SRC_MASK) === Source.X;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      if (x.src > 10) return false;
      if (op === AluOp.END) return x.src === 0 && x.off === 0 && [16, 32, 64].includes(x.imm);
      if (op === AluOp.NEG) return x.src === 0 && x.off === 0 && x.imm === 0;
      const offOk =
        x.off === 0 ||
        ((op === AluOp.DIV || op === AluOp.MOD) && x.off === 1) ||
        (op === AluOp.MOV && isX && (x.off === 8 || x.off === 16 || (x.off === 32 && cls === Class.ALU64)));
      return offOk && (isX ? x.imm === 0 : x.src === 0);
    }
    case Class.JMP:
    case Class.JMP32: {
      if (op === JmpOp.JA)
        return x.dst === 0 && x.src === 0 && (cls === Class.JMP ? x.imm === 0 : x.off === 0);
      if (op === JmpOp.CALL)
        return x.off === 0 && (isX ? x.src === 0 && x.imm === 0 : x.dst === 0 && x.src <= 2);
      if (op === JmpOp.EXIT) return x.dst === 0 && x.src === 0 && x.off === 0 && x.imm === 0;
      if (x.src > 10) return false;
      return isX ? x.imm === 0 : x.src === 0;
    }
    case Class.LD: {
      if (x.code === LDDW) return x.off === 0 && isLddwPair(insns, i);
      if (x.src > 10 || x.dst !== 0 || x.off !== 0) return false;
      return (x.code & 0xe0) === Mode.IND || x.src === 0;
    }
    case Class.ST:
      return x.src === 0;
    default: {
      if (x.src > 10) return false;
      if ((x.code & 0xe0) === Mode.ATOMIC) return ATOMIC_IMMS.has(x.imm);
      return x.imm === 0;
    }
  }
}

const aluMnemonic = (op: number, off: number): string =>
  Object.entries(ALU_MNEMONIC).find(([, v]) => v.op === op && v.off === off)![0];
const aluLlvm = (op: number, off: number): string =>
  Object.entries(ALU_LLVM).find(([, v]) => v.op === op && v.off === off)![0];
const jmpName = (op: number) => JMP_NAMES.find((j) => j.op === op)!;
const atomicName = (imm: number) => ATOMIC_NAMES.find((a) => a.op === (imm & ~AtomicOp.FETCH))!;

function formatLlvm(insns: readonly Insn[], i: number): string {
  const x = insns[i]!;
  const cls = classOf(x.code);
  const op = x.code & OP_MASK;
  const isX = (x.code & SRC_MASK) === Source.X;
  const bits = sizeInfo(x.code & SIZE_MASK).bits;
  const mem = (reg: number, off: number) => `(r${reg} ${off < 0 ? '-' : '+'} ${hex(Math.abs(off))})`;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const r = cls === Class.ALU64 ? 'r' : 'w';
      const d = `${r}${x.dst}`;
      if (op === AluOp.END) {
        const name = cls === Class.ALU64 ? 'bswap' : isX ? 'be' : 'le';
        return `r${x.dst} = ${name}${x.imm} r${x.dst}`;
      }
      if (op === AluOp.NEG) return `${d} = -${d}`;
      const rhs = isX ? `${r}${x.src}` : hex(x.imm);
      if (op === AluOp.MOV) return x.off ? `${d} = (s${x.off})${rhs}` : `${d} = ${rhs}`;
      return `${d} ${aluLlvm(op, x.off)} ${rhs}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      const r = cls === Class.JMP ? 'r' : 'w';
      if (op === JmpOp.JA)
        return cls === Class.JMP ? `goto ${signedHex(x.off)}` : `gotol ${signedHex(x.imm)}`;
      if (op === JmpOp.EXIT) return 'exit';
      if (op === JmpOp.CALL) {
        if (isX) return `callx r${x.dst}`;
        if (x.src === 2) return `call kfunc ${hex(x.imm)}`;
        if (x.src === 1) return x.imm < 0 ? `call ${hex(x.imm)}` : `call pc+${hex(x.imm)}`;
        return x.imm < 0 ? `call helper ${hex(x.imm)}` : `call ${hex(x.imm)}`;
      }
      const rhs = isX ? `${r}${x.src}` : hex(x.imm);
      return `if ${r}${x.dst} ${jmpName(op).llvm} ${rhs} goto ${signedHex(x.off)}`;
    }
    case Class.LD: {
      if (x.code === LDDW) {
        if (x.src === 0) return `r${x.dst} = ${hex(BigInt.asIntN(64, lddwValue(insns, i)))} ll`;
        const hi = insns[i + 1]!.imm;
        return `ld_pseudo r${x.dst}, ${hex(x.src)}, ${hex(x.imm)}${hi ? `, ${hex(hi)}` : ''}`;
      }
      const at =
        (x.code & 0xe0) === Mode.ABS
          ? hex(x.imm)
          : x.imm
            ? `r${x.src} ${x.imm < 0 ? '-' : '+'} ${hex(Math.abs(x.imm))}`
            : `r${x.src}`;
      return `r0 = *(u${bits} *)skb[${at}]`;
    }
    case Class.LDX:
      return `r${x.dst} = *(${(x.code & 0xe0) === Mode.MEMSX ? 's' : 'u'}${bits} *)${mem(x.src, x.off)}`;
    case Class.ST:
      return `*(u${bits} *)${mem(x.dst, x.off)} = ${hex(x.imm)}`;
    default: {
      if ((x.code & 0xe0) !== Mode.ATOMIC) return `*(u${bits} *)${mem(x.dst, x.off)} = r${x.src}`;
      const r = bits === 64 ? 'r' : 'w';
      const at = mem(x.dst, x.off).slice(1, -1);
      if (x.imm === AtomicOp.XCHG)
        return `${r}${x.src} = xchg${bits === 64 ? '_64' : '32_32'}(${at}, ${r}${x.src})`;
      if (x.imm === AtomicOp.CMPXCHG) {
        return `${r}0 = cmpxchg${bits === 64 ? '_64' : '32_32'}(${at}, ${r}0, ${r}${x.src})`;
      }
      const a = atomicName(x.imm);
      if (x.imm & AtomicOp.FETCH)
        return `${r}${x.src} = atomic_fetch_${a.name}((u${bits} *)(${at}), ${r}${x.src})`;
      return `lock *(u${bits} *)${mem(x.dst, x.off)} ${a.llvm} ${r}${x.src}`;
    }
  }
}

function formatMnemonic(insns: readonly Insn[], i: number): string {
  const x = insns[i]!;
  const cls = classOf(x.code);
  const op = x.code & OP_MASK;
  const isX = (x.code & SRC_MASK) === Source.X;
  const size = sizeInfo(x.code & SIZE_MASK);
  const mem = (reg: number, off: number) => `[%r${reg}${off < 0 ? '' : '+'}${off}]`;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const sfx = cls === Class.ALU ? '32' : '';
      if (op === AluOp.END) {
        const name = cls === Class.ALU64 ? 'swap' : isX ? 'be' : 'le';
        return `${name}${x.imm} %r${x.dst}`;
      }
      if (op === AluOp.NEG) return `neg${sfx} %r${x.dst}`;
      if (op === AluOp.MOV && x.off)
        return `movsx${x.off}${cls === Class.ALU ? '32' : '64'} %r${x.dst}, %r${x.src}`;
      return `${aluMnemonic(op, x.off)}${sfx} %r${x.dst}, ${isX ? `%r${x.src}` : x.imm}`;
    }
    case Class.JMP:
    case Class.JMP32: {
      const sfx = cls === Class.JMP32 ? '32' : '';
      if (op === JmpOp.JA) return cls === Class.JMP ? `ja ${signed(x.off)}` : `ja32 ${signed(x.imm)}`;
      if (op === JmpOp.EXIT) return 'exit';
      if (op === JmpOp.CALL) {
        if (isX) return `call %r${x.dst}`;
        if (x.src === 1) return `call local ${signed(x.imm)}`;
        if (x.src === 2) return `call runtime ${x.imm}`;
        return `call ${x.imm}`;
      }
      return `${jmpName(op).mnemonic}${sfx} %r${x.dst}, ${isX ? `%r${x.src}` : x.imm}, ${signed(x.off)}`;
    }
    case Class.LD: {
      if (x.code === LDDW) {
        if (x.src === 0) return `lddw %r${x.dst}, ${hex(lddwValue(insns, i))}`;
        const hi = insns[i + 1]!.imm;
        const name = LDDW_PSEUDO[x.src] ?? `pseudo${x.src}`;
        return `lddw %r${x.dst}, ${name}(${x.imm}${hi ? `, ${hi}` : ''})`;
      }
      if ((x.code & 0xe0) === Mode.ABS) return `ldabs${size.suffix} ${x.imm}`;
      return `ldind${size.suffix} %r${x.src}, ${x.imm}`;
    }
    case Class.LDX:
      return `ldx${(x.code & 0xe0) === Mode.MEMSX ? 's' : ''}${size.suffix} %r${x.dst}, ${mem(x.src, x.off)}`;
    case Class.ST:
      return `st${size.suffix} ${mem(x.dst, x.off)}, ${x.imm}`;
    default: {
      if ((x.code & 0xe0) !== Mode.ATOMIC) return `stx${size.suffix} ${mem(x.dst, x.off)}, %r${x.src}`;
      const sfx = size.bits === 32 ? '32' : '';
      let name: string;
      if (x.imm === AtomicOp.XCHG) name = 'xchg';
      else if (x.imm === AtomicOp.CMPXCHG) name = 'cmpxchg';
      else name = `${x.imm & AtomicOp.FETCH ? 'fetch ' : ''}${atomicName(x.imm).name}`;
      return `lock ${name}${sfx} ${mem(x.dst, x.off)}, %r${x.src}`;
    }
  }
}
