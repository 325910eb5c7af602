// The clang / llvm-objdump syntax: `r0 = *(u32 *)(r1 + 0x4)`, `if w1 s< 5 goto -2`, `lock *(u64 *)(r1 + 0)
// += r2`, `r0 = 0x1122334455667788 ll`. `wN` names the 32-bit view of a register and selects the 32-bit
// class (ALU, JMP32). Local calls print in objdump as `call -0x1` (a negative "helper id"), so a negative
// `call` number is a bpf-to-bpf call; `call pc+N` is this project's explicit spelling of one.

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
  Size,
  Source,
} from '../isa/index.js';
import { kernelHelperId } from '../spec/helper-names.js';
import { parseLddwValue, parseRawInsn, suggest } from './mnemonic.js';
import {
  baseOffset,
  imm32,
  imm64,
  isRegister,
  jumpTarget,
  type LineContext,
  one,
  type Parsed,
  register,
} from './operands.js';
import { ALU_LLVM, ATOMIC_NAMES, JMP_NAMES, lookup, SIZES } from './tables.js';
import type { Cursor } from './tokens.js';

const KEYWORDS = ['exit', 'goto', 'gotol', 'if', 'call', 'callx', 'lock', 'ld_pseudo', '.insn'];
const reg = (ctx: LineContext) => register(ctx, 'llvm');

/** Is this the first word of an llvm-syntax instruction (as opposed to a mnemonic)? */
export function startsLlvm(first: string, second: string | undefined): boolean {
  if (['if', 'goto', 'gotol', 'callx', 'ld_pseudo', '*'].includes(first)) return true;
  if (first === 'lock') return second === '*';
  return /^[rw]\d+$/.test(first);
}

/** Parse one instruction in llvm syntax; the cursor is at its first token. */
export function parseLlvm(ctx: LineContext): Parsed {
  const parsed = parseBody(ctx);
  ctx.cur.end();
  return parsed;
}

function parseBody(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const t = cur.peek()!;
  if (t.kind === 'id' && !isRegister(ctx)) {
    cur.pos++;
    switch (t.text) {
      case 'exit':
        return one(insn(Class.JMP | JmpOp.EXIT));
      case 'goto': {
        const j = jumpTarget(ctx, 'off');
        return { insns: [insn(Class.JMP | JmpOp.JA, 0, 0, j.value)], ref: j.ref };
      }
      case 'gotol': {
        const j = jumpTarget(ctx, 'imm');
        return { insns: [insn(Class.JMP32 | JmpOp.JA, 0, 0, 0, j.value)], ref: j.ref };
      }
      case 'if':
        return parseCondJump(ctx);
      case 'call':
        return parseCall(ctx);
      case 'callx':
        return one(insn(Class.JMP | JmpOp.CALL | Source.X, reg(ctx).reg));
      case 'lock':
        return parseLock(ctx);
      case 'ld_pseudo': {
        const dst = reg(ctx).reg;
        cur.expect(',');
        const { value: src, col } = cur.integer('a pseudo source number');
        if (src < 0n || src > 15n) cur.fail(`lddw source ${src} is out of range (0..15)`, col);
        cur.expect(',');
        const lo = imm32(ctx);
        const hi = cur.accept(',') ? imm32(ctx) : 0;
        return { insns: [insn(Class.LD | Size.DW, dst, Number(src), 0, lo), insn(0, 0, 0, 0, hi)] };
      }
      case '.insn':
        return { insns: parseRawInsn(ctx) };
    }
    return cur.fail(`unknown instruction '${t.text}'${suggest(t.text, KEYWORDS)}`, t.col);
  }
  if (cur.is('*')) return parseStore(ctx);
  if (isRegister(ctx)) return parseAssign(ctx);
  return cur.fail(`expected an instruction, found '${t.text}'`);
}

/** A comparison or compound-assignment operator; `s` before it makes the signed form (`s<`, `s>>=`). */
function operator(ctx: LineContext): { text: string; col: number } {
  const cur: Cursor = ctx.cur;
  const col = cur.col();
  if (cur.is('s') && cur.peek(1)?.kind === 'p') {
    cur.pos++;
    return { text: `s${cur.next('an operator').text}`, col };
  }
  const t = cur.next('an operator');
  return { text: t.text, col };
}

function parseCondJump(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const dst = reg(ctx);
  const op = operator(ctx);
  const jmp = JMP_NAMES.find((j) => j.llvm === op.text);
  if (!jmp) cur.fail(`unknown comparison '${op.text}'`, op.col);
  const cls = dst.w ? Class.JMP32 : Class.JMP;
  const ins = isRegister(ctx)
    ? insn(cls | jmp.op | Source.X, dst.reg, reg(ctx).reg)
    : insn(cls | jmp.op | Source.K, dst.reg, 0, 0, imm32(ctx));
  cur.expect('goto');
  const j = jumpTarget(ctx, 'off');
  ins.off = j.value;
  return { insns: [ins], ref: j.ref };
}

function parseCall(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const CALL = Class.JMP | JmpOp.CALL;
  if (cur.is('pc') || cur.is('local')) {
    if (cur.accept('local')) {
      const j = jumpTarget(ctx, 'imm');
      return { insns: [insn(CALL, 0, 1, 0, j.value)], ref: j.ref };
    }
    cur.pos++;
    if (!cur.is('+') && !cur.is('-')) cur.fail("expected '+' or '-' after 'pc'");
    return one(insn(CALL, 0, 1, 0, imm32(ctx, 'a call offset')));
  }
  if (cur.accept('kfunc')) return one(insn(CALL, 0, 2, 0, imm32(ctx, 'a BTF id')));
  if (cur.accept('helper')) return one(insn(CALL, 0, 0, 0, imm32(ctx, 'a helper id')));
  if (cur.isInteger()) {
    const id = imm32(ctx, 'a helper id');
    return one(insn(CALL, 0, id < 0 ? 1 : 0, 0, id));
  }
  // clang's own output calls local functions by symbol name: a name that is no helper is a label.
  const t = cur.ident('a helper id, a helper name or a function label');
  const id = kernelHelperId(t.text);
  if (id !== undefined) return one(insn(CALL, 0, 0, 0, id));
  return { insns: [insn(CALL, 0, 1, 0, -1)], ref: { label: t.text, field: 'imm', col: t.col } };
}

/** `(u32 *)` — returns the size and whether the type was signed. The opening parenthesis is next. */
function pointerType(ctx: LineContext, allowSigned: boolean): { size: number; signed: boolean } {
  const cur: Cursor = ctx.cur;
  cur.expect('(');
  const t = cur.ident('a type such as u32');
  const m = /^([us])(8|16|32|64)$/.exec(t.text);
  if (!m || (m[1] === 's' && (!allowSigned || m[2] === '64'))) {
    cur.fail(
      `expected ${allowSigned ? 'u8, u16, u32, u64, s8, s16 or s32' : 'u8, u16, u32 or u64'}, found '${t.text}'`,
      t.col,
    );
  }
  cur.expect('*');
  cur.expect(')');
  return { size: SIZES.find((s) => s.bits === Number(m[2]))!.size, signed: m[1] === 's' };
}

/** `*(u32 *)(r1 + 4)` — the leading `*` is next. */
function memory(
  ctx: LineContext,
  allowSigned: boolean,
): { size: number; signed: boolean; reg: number; off: number } {
  ctx.cur.expect('*');
  const type = pointerType(ctx, allowSigned);
  ctx.cur.expect('(');
  return { ...type, ...baseOffset(ctx, 'llvm', ')') };
}

function parseStore(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const mem = memory(ctx, false);
  cur.expect('=');
  if (isRegister(ctx)) return one(insn(Class.STX | Mode.MEM | mem.size, mem.reg, reg(ctx).reg, mem.off));
  return one(insn(Class.ST | Mode.MEM | mem.size, mem.reg, 0, mem.off, imm32(ctx)));
}

/** `lock *(u64 *)(r1 + 0) += r2` */
function parseLock(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const mem = memory(ctx, false);
  if (mem.size !== Size.W && mem.size !== Size.DW) cur.fail('atomic operations are 32 or 64 bits wide');
  const op = operator(ctx);
  const a = ATOMIC_NAMES.find((x) => x.llvm === op.text);
  if (!a) cur.fail(`unknown atomic operator '${op.text}' (expected +=, |=, &= or ^=)`, op.col);
  return one(insn(Class.STX | Mode.ATOMIC | mem.size, mem.reg, reg(ctx).reg, mem.off, a.op));
}

/** Everything that starts with a register: `rD op= x`, `rD = ...`. */
function parseAssign(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const dst = reg(ctx);
  const cls = dst.w ? Class.ALU : Class.ALU64;
  const op = operator(ctx);
  if (op.text !== '=') {
    const alu = lookup(ALU_LLVM, op.text);
    if (!alu) cur.fail(`unknown operator '${op.text}'`, op.col);
    if (isRegister(ctx)) return one(insn(cls | alu.op | Source.X, dst.reg, reg(ctx).reg, alu.off));
    return one(insn(cls | alu.op | Source.K, dst.reg, 0, alu.off, imm32(ctx)));
  }
  // Right-hand sides, most specific first.
  if (cur.is('-') && isRegister(ctx, 1)) {
    cur.pos++;
    sameRegister(ctx, dst.reg);
    return one(insn(cls | AluOp.NEG, dst.reg));
  }
  if (cur.isInteger()) {
    const save = cur.pos;
    const value = imm64(ctx);
    if (cur.accept('ll')) return { insns: lddw(dst.reg, value) };
    cur.pos = save;
    return one(insn(cls | AluOp.MOV | Source.K, dst.reg, 0, 0, imm32(ctx)));
  }
  if (cur.is('*')) {
    if (cur.is('skb', 5)) return parsePacketLoad(ctx, dst.reg);
    const mem = memory(ctx, true);
    return one(insn(Class.LDX | (mem.signed ? Mode.MEMSX : Mode.MEM) | mem.size, dst.reg, mem.reg, mem.off));
  }
  if (cur.is('(')) {
    cur.pos++;
    const t = cur.ident('s8, s16 or s32');
    const m = /^s(8|16|32)$/.exec(t.text);
    if (!m || (dst.w && m[1] === '32'))
      cur.fail(`expected ${dst.w ? 's8 or s16' : 's8, s16 or s32'}, found '${t.text}'`, t.col);
    cur.expect(')');
    return one(insn(cls | AluOp.MOV | Source.X, dst.reg, reg(ctx).reg, Number(m[1])));
  }
  if (isRegister(ctx)) return one(insn(cls | AluOp.MOV | Source.X, dst.reg, reg(ctx).reg));
  const t = cur.ident('a register, a number or an expression');
  let m = /^(le|be|bswap)(16|32|64)$/.exec(t.text);
  if (m) {
    sameRegister(ctx, dst.reg);
    const code =
      m[1] === 'bswap'
        ? Class.ALU64 | AluOp.END
        : Class.ALU | AluOp.END | (m[1] === 'be' ? Endian.TO_BE : Endian.TO_LE);
    return one(insn(code, dst.reg, 0, 0, Number(m[2])));
  }
  m = /^atomic_fetch_(add|or|and|xor)$/.exec(t.text);
  if (m) {
    cur.expect('(');
    const type = pointerType(ctx, false);
    cur.expect('(');
    const mem = baseOffset(ctx, 'llvm', ')');
    cur.expect(',');
    sameRegister(ctx, dst.reg);
    cur.expect(')');
    const a = ATOMIC_NAMES.find((x) => x.name === m![1])!;
    return one(insn(Class.STX | Mode.ATOMIC | type.size, mem.reg, dst.reg, mem.off, a.op | AtomicOp.FETCH));
  }
  m = /^(xchg|cmpxchg)(_64|32_32)$/.exec(t.text);
  if (m) {
    const size = m[2] === '_64' ? Size.DW : Size.W;
    cur.expect('(');
    const mem = baseOffset(ctx, 'llvm', ',');
    if (m[1] === 'cmpxchg') {
      if (dst.reg !== 0) cur.fail('cmpxchg always writes r0', dst.col);
      sameRegister(ctx, 0);
      cur.expect(',');
      const src = reg(ctx).reg;
      cur.expect(')');
      return one(insn(Class.STX | Mode.ATOMIC | size, mem.reg, src, mem.off, AtomicOp.CMPXCHG));
    }
    sameRegister(ctx, dst.reg);
    cur.expect(')');
    return one(insn(Class.STX | Mode.ATOMIC | size, mem.reg, dst.reg, mem.off, AtomicOp.XCHG));
  }
  if (cur.accept('ll'))
    cur.fail(`'${t.text}' is a symbol: relocations need an ELF object, use a number or map_fd(N)`, t.col);
  if (cur.is('(')) {
    cur.pos = cur.pos - 1;
    const insns = parseLddwValue(ctx, dst.reg);
    cur.accept('ll');
    return { insns };
  }
  return cur.fail(`unexpected '${t.text}'`, t.col);
}

/** Operations like `r1 = -r1` and `r1 = be16 r1` name the destination twice; both must agree. */
function sameRegister(ctx: LineContext, expected: number): void {
  const r = reg(ctx);
  if (r.reg !== expected)
    ctx.cur.fail(`this operation works in place: expected r${expected}, found r${r.reg}`, r.col);
}

/** `r0 = *(u32 *)skb[12]` (ABS) and `r0 = *(u32 *)skb[r2]` (IND): the legacy packet loads. */
function parsePacketLoad(ctx: LineContext, dst: number): Parsed {
  const cur: Cursor = ctx.cur;
  cur.expect('*');
  const type = pointerType(ctx, false);
  if (type.size === Size.DW) cur.fail('packet loads are 1, 2 or 4 bytes wide');
  if (dst !== 0) cur.fail('packet loads always write r0');
  cur.expect('skb');
  cur.expect('[');
  let ins: Insn;
  if (isRegister(ctx)) {
    const src = reg(ctx).reg;
    let imm = 0;
    if (!cur.is(']')) {
      if (!cur.is('+') && !cur.is('-')) cur.fail("expected '+', '-' or ']'");
      imm = imm32(ctx);
    }
    ins = insn(Class.LD | Mode.IND | type.size, 0, src, 0, imm);
  } else ins = insn(Class.LD | Mode.ABS | type.size, 0, 0, 0, imm32(ctx));
  cur.expect(']');
  return one(ins);
}
