// Operand parsing and range checks common to both syntaxes.

import type { Insn } from '../isa/index.js';
import type { Cursor } from './tokens.js';

/** Options of the assembler. */
export interface AsmOptions {
  /** Which syntax the text is in; 'auto' (the default) detects it line by line. */
  syntax?: 'auto' | 'llvm' | 'mnemonic';
  /** Accept r11-r15 (only useful to write negative tests for bytecode checkers). */
  allowBadRegisters?: boolean;
}

/** A jump, local call or gotol whose target is a label, resolved once every label is known. */
export interface LabelRef {
  label: string;
  /** Which field receives `target - (index + 1)`. */
  field: 'off' | 'imm';
  col: number;
}

/** What one source line assembles to. */
export interface Parsed {
  insns: Insn[];
  ref?: LabelRef;
}

/** A line that is one instruction with no label reference. */
export const one = (i: Insn): Parsed => ({ insns: [i] });

/** Parses operands of one line; knows the options (register range). */
export interface LineContext {
  cur: Cursor;
  opts: AsmOptions;
}

const REG = /^%?([rw])(\d+)$/;

/**
 * A register operand. `prefix` tells which spellings are allowed: mnemonic syntax takes `%rN` or `rN`,
 * llvm syntax `rN` (64-bit view) or `wN` (32-bit view). Returns the number and whether it was `wN`.
 */
export function register(
  ctx: LineContext,
  style: 'mnemonic' | 'llvm',
): { reg: number; w: boolean; col: number } {
  const cur: Cursor = ctx.cur;
  const col = cur.col();
  const t = cur.peek();
  const m = t?.kind === 'id' ? REG.exec(t.text) : null;
  const okSpelling =
    m &&
    (style === 'mnemonic' ? m[1] === 'r' : !t!.text.startsWith('%')) &&
    !(m[2]!.length > 1 && m[2]![0] === '0');
  if (!m || !okSpelling) {
    const want = style === 'mnemonic' ? 'a register %r0-%r10' : 'a register r0-r10 or w0-w10';
    cur.fail(t ? `expected ${want}, found '${t.text}'` : `expected ${want}, found end of line`);
  }
  const reg = Number(m[2]);
  const max = ctx.opts.allowBadRegisters ? 15 : 10;
  if (reg > max) cur.fail(`invalid register '${t!.text}' (registers are r0-r10)`);
  cur.pos++;
  return { reg, w: m[1] === 'w', col };
}

export function isRegister(ctx: LineContext, ahead = 0): boolean {
  const t = ctx.cur.peek(ahead);
  return t?.kind === 'id' && REG.test(t.text);
}

/** A 32-bit immediate: accepts -2^31 .. 2^32-1 (so 0xffffffff is -1), stored signed. */
export function imm32(ctx: LineContext, what = 'an immediate'): number {
  const { value, col } = ctx.cur.integer(what);
  if (value < -0x80000000n || value > 0xffffffffn)
    ctx.cur.fail(`${what} ${value} does not fit in 32 bits`, col);
  return Number(BigInt.asIntN(32, value));
}

/** A 64-bit immediate (lddw): accepts -2^63 .. 2^64-1. */
export function imm64(ctx: LineContext): bigint {
  const { value, col } = ctx.cur.integer('a 64-bit immediate');
  if (value < -(1n << 63n) || value >= 1n << 64n)
    ctx.cur.fail(`immediate ${value} does not fit in 64 bits`, col);
  return BigInt.asUintN(64, value);
}

/** A signed 16-bit offset. */
export function checkOff(ctx: LineContext, value: bigint, col: number, what = 'offset'): number {
  if (value < -0x8000n || value > 0x7fffn)
    ctx.cur.fail(`${what} ${value} is out of range (-32768..32767)`, col);
  return Number(value);
}

/** `base + off` / `base - off` / `base` inside brackets or parentheses; the opening one is consumed already. */
export function baseOffset(
  ctx: LineContext,
  style: 'mnemonic' | 'llvm',
  close: string,
): { reg: number; off: number } {
  const { reg } = register(ctx, style);
  let off = 0;
  if (!ctx.cur.is(close)) {
    const col = ctx.cur.col();
    if (!ctx.cur.is('+') && !ctx.cur.is('-')) ctx.cur.fail(`expected '+', '-' or '${close}'`);
    const { value } = ctx.cur.integer('an offset');
    off = checkOff(ctx, value, col);
  }
  ctx.cur.expect(close);
  return { reg, off };
}

/**
 * A jump target: `+N`, `-N`, a bare number, or a label. Numeric targets are range-checked for `field`;
 * labels come back as a reference to resolve later.
 */
export function jumpTarget(ctx: LineContext, field: 'off' | 'imm'): { value: number; ref?: LabelRef } {
  const cur: Cursor = ctx.cur;
  if (cur.isInteger()) {
    const { value, col } = cur.integer('a jump offset');
    if (field === 'off') return { value: checkOff(ctx, value, col, 'jump offset') };
    if (value < -0x80000000n || value > 0x7fffffffn)
      cur.fail(`jump offset ${value} does not fit in 32 bits`, col);
    return { value: Number(value) };
  }
  const t = cur.ident('a jump target (+N, -N or a label)');
  return { value: 0, ref: { label: t.text, field, col: t.col } };
}
