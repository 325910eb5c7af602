// The mnemonic syntax of uBPF and the bpf_conformance suite: `add32 %r1, 5`, `ldxw %r2, [%r1+4]`,
// `jne %r1, 0, label`, `lock fetch add [%r1], %r2`. A bare mnemonic is the 64-bit form, a `32` suffix the
// 32-bit one (a `64` suffix is accepted too).

import {
  AluOp,
  AtomicOp,
  Class,
  Endian,
  type Insn,
  insn,
  JmpOp,
  LDDW,
  lddw,
  Mode,
  Source,
} from '../isa/index.js';
import { kernelHelperId } from '../spec/helper-names.js';
import {
  baseOffset,
  checkOff,
  imm32,
  imm64,
  isRegister,
  jumpTarget,
  type LineContext,
  one,
  type Parsed,
  register,
} from './operands.js';
import {
  ALU_MNEMONIC,
  ATOMIC_NAMES,
  JMP_NAMES,
  LDDW_PSEUDO,
  LDDW_PSEUDO_ALIASES,
  lookup,
  SIZES,
} from './tables.js';
import type { Cursor } from './tokens.js';

const reg = (ctx: LineContext) => register(ctx, 'mnemonic').reg;
const comma = (ctx: LineContext) => ctx.cur.expect(',');

/** Every mnemonic this parser knows, for "did you mean" suggestions. */
export const MNEMONICS: readonly string[] = (() => {
  const names = ['exit', 'ja', 'ja32', 'call', 'lock', 'lddw', 'neg', 'neg32', '.insn'];
  for (const base of Object.keys(ALU_MNEMONIC)) names.push(base, `${base}32`);
  for (const j of JMP_NAMES) names.push(j.mnemonic, `${j.mnemonic}32`);
  for (const e of ['le', 'be', 'swap']) for (const w of [16, 32, 64]) names.push(`${e}${w}`);
  names.push('movsx864', 'movsx832', 'movsx1664', 'movsx1632', 'movsx3264');
  for (const s of SIZES) {
    names.push(`ldx${s.suffix}`, `st${s.suffix}`, `stx${s.suffix}`);
    if (s.suffix !== 'dw') names.push(`ldxs${s.suffix}`, `ldabs${s.suffix}`, `ldind${s.suffix}`);
  }
  return names;
})();

/** Is `word` (lower-cased) a mnemonic of this syntax? Used by the syntax auto-detection. */
export function isMnemonic(word: string): boolean {
  return MNEMONICS.includes(word) || /^movsx(8|16|32)(32|64)?$/.test(word) || /^bswap(16|32|64)$/.test(word);
}

/** Parse one instruction in mnemonic syntax; the cursor is at the mnemonic. */
export function parseMnemonic(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const head = cur.ident('a mnemonic');
  const name = head.text.toLowerCase();
  const parsed = parseBody(ctx, name, head.col);
  cur.end();
  return parsed;
}

function parseBody(ctx: LineContext, name: string, col: number): Parsed {
  const cur: Cursor = ctx.cur;
  if (name === 'exit') return one(insn(Class.JMP | JmpOp.EXIT));
  if (name === 'ja' || name === 'ja32') {
    const field = name === 'ja' ? 'off' : 'imm';
    const t = jumpTarget(ctx, field);
    const code = name === 'ja' ? Class.JMP | JmpOp.JA : Class.JMP32 | JmpOp.JA;
    return {
      insns: [field === 'off' ? insn(code, 0, 0, t.value) : insn(code, 0, 0, 0, t.value)],
      ref: t.ref,
    };
  }
  if (name === 'call') return parseCall(ctx);
  if (name === 'lock') return parseAtomic(ctx);
  if (name === 'lddw') {
    const dst = reg(ctx);
    comma(ctx);
    return { insns: parseLddwValue(ctx, dst) };
  }
  if (name === '.insn') return { insns: parseRawInsn(ctx) };

  let m = /^(le|be|swap|bswap)(16|32|64)$/.exec(name);
  if (m) {
    const code = m[1] === 'le' ? Endian.TO_LE : m[1] === 'be' ? Endian.TO_BE : 0;
    const cls = m[1] === 'swap' || m[1] === 'bswap' ? Class.ALU64 : Class.ALU;
    return one(insn(cls | AluOp.END | code, reg(ctx), 0, 0, Number(m[2])));
  }
  m = /^neg(32|64)?$/.exec(name);
  if (m) return one(insn((m[1] === '32' ? Class.ALU : Class.ALU64) | AluOp.NEG, reg(ctx)));
  m = /^movsx(8|16|32)(32|64)?$/.exec(name);
  if (m) {
    const width = Number(m[1]);
    const is32 = m[2] === '32';
    if (is32 && width === 32)
      cur.fail(`'${name}' is not an instruction: 32-bit movsx takes 8 or 16 bits`, col);
    const dst = reg(ctx);
    comma(ctx);
    return one(insn((is32 ? Class.ALU : Class.ALU64) | AluOp.MOV | Source.X, dst, reg(ctx), width));
  }
  m = /^([a-z]+?)(32|64)?$/.exec(name);
  const alu = m ? lookup(ALU_MNEMONIC, m[1]!) : undefined;
  if (m && alu) {
    const cls = m[2] === '32' ? Class.ALU : Class.ALU64;
    const dst = reg(ctx);
    comma(ctx);
    if (isRegister(ctx)) return one(insn(cls | alu.op | Source.X, dst, reg(ctx), alu.off));
    return one(insn(cls | alu.op | Source.K, dst, 0, alu.off, imm32(ctx)));
  }
  const jmp = m ? JMP_NAMES.find((j) => j.mnemonic === m![1]) : undefined;
  if (m && jmp) {
    const cls = m[2] === '32' ? Class.JMP32 : Class.JMP;
    const dst = reg(ctx);
    comma(ctx);
    let ins: Insn;
    if (isRegister(ctx)) ins = insn(cls | jmp.op | Source.X, dst, reg(ctx));
    else ins = insn(cls | jmp.op | Source.K, dst, 0, 0, imm32(ctx));
    comma(ctx);
    const t = jumpTarget(ctx, 'off');
    ins.off = t.value;
    return { insns: [ins], ref: t.ref };
  }
  m = /^(ldxs|ldx|stx|st|ldabs|ldind)(b|h|w|dw)$/.exec(name);
  const size = m ? SIZES.find((s) => s.suffix === m![2])!.size : 0;
  if (m && !(m[2] === 'dw' && (m[1] === 'ldxs' || m[1] === 'ldabs' || m[1] === 'ldind'))) {
    switch (m[1]) {
      case 'ldx':
      case 'ldxs': {
        const dst = reg(ctx);
        comma(ctx);
        cur.expect('[');
        const mem = baseOffset(ctx, 'mnemonic', ']');
        return one(insn(Class.LDX | (m[1] === 'ldx' ? Mode.MEM : Mode.MEMSX) | size, dst, mem.reg, mem.off));
      }
      case 'st':
      case 'stx': {
        cur.expect('[');
        const mem = baseOffset(ctx, 'mnemonic', ']');
        comma(ctx);
        if (m[1] === 'stx') return one(insn(Class.STX | Mode.MEM | size, mem.reg, reg(ctx), mem.off));
        return one(insn(Class.ST | Mode.MEM | size, mem.reg, 0, mem.off, imm32(ctx)));
      }
      case 'ldabs':
        return one(insn(Class.LD | Mode.ABS | size, 0, 0, 0, imm32(ctx)));
      default: {
        const src = reg(ctx);
        comma(ctx);
        return one(insn(Class.LD | Mode.IND | size, 0, src, 0, imm32(ctx)));
      }
    }
  }
  return cur.fail(`unknown mnemonic '${name}'${suggest(name, MNEMONICS)}`, col);
}

/** `call N`, `call helper_name`, `call local LABEL|±N`, `call %rN` (callx), `call helper N`, `call runtime N`. */
function parseCall(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const CALL = Class.JMP | JmpOp.CALL;
  if (isRegister(ctx)) return one(insn(CALL | Source.X, reg(ctx)));
  if (cur.accept('local')) {
    const t = jumpTarget(ctx, 'imm');
    return { insns: [insn(CALL, 0, 1, 0, t.value)], ref: t.ref };
  }
  if (cur.accept('runtime') || cur.accept('kfunc')) return one(insn(CALL, 0, 2, 0, imm32(ctx, 'a BTF id')));
  if (cur.accept('helper') && isRegister(ctx)) return one(insn(CALL | Source.X, reg(ctx)));
  return one(insn(CALL, 0, 0, 0, helperId(ctx)));
}

/** A helper given by number or by name (`map_lookup_elem` or `bpf_map_lookup_elem`). Shared with llvm syntax. */
export function helperId(ctx: LineContext): number {
  const cur: Cursor = ctx.cur;
  if (cur.isInteger()) return imm32(ctx, 'a helper id');
  const t = cur.ident('a helper id or name');
  const id = kernelHelperId(t.text);
  if (id === undefined) {
    cur.fail(`unknown helper '${t.text}' (for a bpf-to-bpf call write 'call local ${t.text}')`, t.col);
  }
  return id;
}

/** `lock [fetch] op[32] [%rB+off], %rS` — op is add, or, and, xor, xchg or cmpxchg. */
function parseAtomic(ctx: LineContext): Parsed {
  const cur: Cursor = ctx.cur;
  const fetch = cur.accept('fetch');
  const opTok = cur.ident('an atomic operation (add, or, and, xor, xchg, cmpxchg)');
  const m = /^([a-z]+?)(32|64)?$/.exec(opTok.text.toLowerCase());
  let imm: number | undefined;
  if (m?.[1] === 'xchg') imm = AtomicOp.XCHG;
  else if (m?.[1] === 'cmpxchg') imm = AtomicOp.CMPXCHG;
  else {
    const a = ATOMIC_NAMES.find((x) => x.name === m?.[1]);
    if (a) imm = a.op | (fetch ? AtomicOp.FETCH : 0);
  }
  if (imm === undefined || !m) {
    const names = ['add', 'or', 'and', 'xor', 'xchg', 'cmpxchg'];
    return cur.fail(`unknown atomic operation '${opTok.text}'${suggest(opTok.text, names)}`, opTok.col);
  }
  const size = m[2] === '32' ? 0x00 : 0x18;
  cur.expect('[');
  const mem = baseOffset(ctx, 'mnemonic', ']');
  comma(ctx);
  return one(insn(Class.STX | Mode.ATOMIC | size, mem.reg, reg(ctx), mem.off, imm));
}

/**
 * The value of lddw: a 64-bit number, or a pseudo source `map_fd(N)`, `map_value(N, OFF)`, `map_idx(N)`,
 * `map_idx_value(N, OFF)`, `btf_id(N)`, `func(N)` (and the conformance suite's `map_by_fd(N)`). Shared by
 * both syntaxes.
 */
export function parseLddwValue(ctx: LineContext, dst: number): Insn[] {
  const cur: Cursor = ctx.cur;
  if (cur.isInteger()) return lddw(dst, imm64(ctx));
  const t = cur.ident('a 64-bit immediate or a pseudo source such as map_fd(0)');
  const name = t.text.toLowerCase();
  const src =
    lookup(LDDW_PSEUDO_ALIASES, name) ??
    Number(
      Object.entries(LDDW_PSEUDO).find(([, n]) => n === name)?.[0] ?? /^pseudo(\d+)$/.exec(name)?.[1] ?? NaN,
    );
  if (Number.isNaN(src) || src > 15)
    cur.fail(`unknown lddw source '${t.text}'${suggest(name, Object.values(LDDW_PSEUDO))}`, t.col);
  cur.expect('(');
  const lo = imm32(ctx);
  let hi = 0;
  if (cur.accept(',')) hi = imm32(ctx);
  cur.expect(')');
  return [insn(LDDW, dst, src, 0, lo), insn(0, 0, 0, 0, hi)];
}

/**
 * `.insn CODE, DST, SRC, OFF, IMM` (and a sixth number, the second imm of lddw): the escape hatch the
 * disassembler prints for encodings that have no canonical text (non-zero reserved fields).
 */
export function parseRawInsn(ctx: LineContext): Insn[] {
  const cur: Cursor = ctx.cur;
  const field = (what: string, min: bigint, max: bigint): number => {
    const { value, col } = cur.integer(what);
    if (value < min || value > max) cur.fail(`${what} ${value} is out of range (${min}..${max})`, col);
    return Number(value);
  };
  const code = field('opcode', 0n, 255n);
  comma(ctx);
  const dst = field('dst register', 0n, 15n);
  comma(ctx);
  const src = field('src register', 0n, 15n);
  comma(ctx);
  const { value, col } = cur.integer('offset');
  const off = checkOff(ctx, value, col);
  comma(ctx);
  const imm = imm32(ctx);
  const first = insn(code, dst, src, off, imm);
  if (code !== LDDW) return [first];
  const hi = cur.accept(',') ? imm32(ctx) : 0;
  return [first, insn(0, 0, 0, 0, hi)];
}

/** ` (did you mean 'x'?)` for the closest known name within edit distance 2, else ''. */
export function suggest(word: string, known: readonly string[]): string {
  let best = '';
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
