// Names of operations in both syntaxes, shared by the parsers and the disassembler so the two directions
// cannot drift apart.

import { AluOp, AtomicOp, JmpOp, Size } from '../isa/index.js';

/** Mnemonic names of the arithmetic ops (`sdiv`/`smod` are DIV/MOD with off = 1). */
export const ALU_MNEMONIC: Readonly<Record<string, { op: number; off: number }>> = {
  add: { op: AluOp.ADD, off: 0 },
  sub: { op: AluOp.SUB, off: 0 },
  mul: { op: AluOp.MUL, off: 0 },
  div: { op: AluOp.DIV, off: 0 },
  sdiv: { op: AluOp.DIV, off: 1 },
  or: { op: AluOp.OR, off: 0 },
  and: { op: AluOp.AND, off: 0 },
  lsh: { op: AluOp.LSH, off: 0 },
  rsh: { op: AluOp.RSH, off: 0 },
  mod: { op: AluOp.MOD, off: 0 },
  smod: { op: AluOp.MOD, off: 1 },
  xor: { op: AluOp.XOR, off: 0 },
  mov: { op: AluOp.MOV, off: 0 },
  arsh: { op: AluOp.ARSH, off: 0 },
};

/** llvm compound-assignment operators of the arithmetic ops (signed forms have off = 1). */
export const ALU_LLVM: Readonly<Record<string, { op: number; off: number }>> = {
  '+=': { op: AluOp.ADD, off: 0 },
  '-=': { op: AluOp.SUB, off: 0 },
  '*=': { op: AluOp.MUL, off: 0 },
  '/=': { op: AluOp.DIV, off: 0 },
  's/=': { op: AluOp.DIV, off: 1 },
  '|=': { op: AluOp.OR, off: 0 },
  '&=': { op: AluOp.AND, off: 0 },
  '<<=': { op: AluOp.LSH, off: 0 },
  '>>=': { op: AluOp.RSH, off: 0 },
  's>>=': { op: AluOp.ARSH, off: 0 },
  '%=': { op: AluOp.MOD, off: 0 },
  's%=': { op: AluOp.MOD, off: 1 },
  '^=': { op: AluOp.XOR, off: 0 },
};

/** Conditional jumps: mnemonic name and llvm comparison operator. */
export const JMP_NAMES: ReadonlyArray<{ op: number; mnemonic: string; llvm: string }> = [
  { op: JmpOp.JEQ, mnemonic: 'jeq', llvm: '==' },
  { op: JmpOp.JGT, mnemonic: 'jgt', llvm: '>' },
  { op: JmpOp.JGE, mnemonic: 'jge', llvm: '>=' },
  { op: JmpOp.JSET, mnemonic: 'jset', llvm: '&' },
  { op: JmpOp.JNE, mnemonic: 'jne', llvm: '!=' },
  { op: JmpOp.JSGT, mnemonic: 'jsgt', llvm: 's>' },
  { op: JmpOp.JSGE, mnemonic: 'jsge', llvm: 's>=' },
  { op: JmpOp.JLT, mnemonic: 'jlt', llvm: '<' },
  { op: JmpOp.JLE, mnemonic: 'jle', llvm: '<=' },
  { op: JmpOp.JSLT, mnemonic: 'jslt', llvm: 's<' },
  { op: JmpOp.JSLE, mnemonic: 'jsle', llvm: 's<=' },
];

/** Access sizes: mnemonic suffix, llvm type width, bytes. */
export const SIZES: ReadonlyArray<{ size: number; suffix: string; bits: number }> = [
  { size: Size.B, suffix: 'b', bits: 8 },
  { size: Size.H, suffix: 'h', bits: 16 },
  { size: Size.W, suffix: 'w', bits: 32 },
  { size: Size.DW, suffix: 'dw', bits: 64 },
];
export const sizeInfo = (size: number) => SIZES.find((s) => s.size === size)!;

/** Atomic read-modify-write ops (without FETCH): mnemonic name and llvm operator / fetch-function name. */
export const ATOMIC_NAMES: ReadonlyArray<{ op: number; name: string; llvm: string }> = [
  { op: AtomicOp.ADD, name: 'add', llvm: '+=' },
  { op: AtomicOp.OR, name: 'or', llvm: '|=' },
  { op: AtomicOp.AND, name: 'and', llvm: '&=' },
  { op: AtomicOp.XOR, name: 'xor', llvm: '^=' },
];

/** Names of lddw pseudo sources (src field) in both syntaxes' extension form `name(imm[, next imm])`. */
export const LDDW_PSEUDO: Readonly<Record<number, string>> = {
  1: 'map_fd',
  2: 'map_value',
  3: 'btf_id',
  4: 'func',
  5: 'map_idx',
  6: 'map_idx_value',
};
/** Aliases the bpf_conformance suite uses. */
export const LDDW_PSEUDO_ALIASES: Readonly<Record<string, number>> = { map_by_fd: 1, map_by_idx: 5 };

/** `movsx` source widths by ALU class: the off field holds the width. */
export const MOVSX_WIDTHS = { alu: [8, 16], alu64: [8, 16, 32] } as const;

/** Own-property lookup, so a name like `constructor` never finds Object.prototype members. */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
