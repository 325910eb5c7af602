// USDT argument specs for programs built with libbpf's <bpf/usdt.bpf.h> (`bpf_usdt_arg`, `BPF_USDT`): the
// note's text (`-4@%eax 8@-16(%rbp) 4@$5`, x86-64 AT&T operands, each `[-]SIZE@OPERAND`) parsed into the
// `struct __bpf_usdt_spec` that header reads from its `__bpf_usdt_specs` ARRAY map, one entry per spec id;
// the uprobe of a location gets the spec id as its BPF cookie. Layout (usdt.bpf.h, x86-64):
//   struct __bpf_usdt_arg_spec { u64 val_off; enum arg_type (u32); s16 reg_off; bool arg_signed;
//                                char arg_bitshift; }                                    16 bytes
//   struct __bpf_usdt_spec { arg_spec args[12]; u64 usdt_cookie; s16 arg_cnt; }        208 bytes
// arg_type: 0 constant (val_off is the value), 1 register (pt_regs + reg_off), 2 memory at register +
// val_off. The program shifts the 8 bytes it read left then right by arg_bitshift (64 - 8 * size),
// arithmetically when signed, so a 1-, 2- or 4-byte argument comes out widened.

import { TsbpfError } from '../../errors.js';
import { PT_REGS_NAMES } from '../../spec/program-types.js';

/** Most arguments one spec holds (usdt.bpf.h's BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;
/** Bytes of one `struct __bpf_usdt_spec` (the value of `__bpf_usdt_specs`). */
export const USDT_SPEC_SIZE = 208;

/** One argument of a USDT probe, as the program's `bpf_usdt_arg` reads it. */
export interface UsdtArg {
  kind: 'const' | 'reg' | 'deref';
  /** Size in bytes (1, 2, 4 or 8) and whether the value is sign-extended. */
  size: number;
  signed: boolean;
  /** const: the value; deref: the offset from the register (two's complement in 64 bits). */
  value: bigint;
  /** reg, deref: offset of the register in x86-64 `struct pt_regs` (-1 for const). */
  regOffset: number;
}

/** Every x86-64 register name of 8, 4, 2 or 1 byte (low byte) → its pt_regs offset. */
const REGS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  const at = (r: string) => 8 * PT_REGS_NAMES.indexOf(r);
  for (const r of ['ax', 'bx', 'cx', 'dx']) {
    for (const n of [`r${r}`, `e${r}`, r, `${r[0]}l`]) m.set(n, at(r));
  }
  for (const r of ['si', 'di', 'bp', 'sp']) {
    for (const n of [`r${r}`, `e${r}`, r, `${r}l`]) m.set(n, at(r));
  }
  m.set('rip', at('ip'));
  m.set('eip', at('ip'));
  for (let i = 8; i <= 15; i++) {
    for (const n of [`r${i}`, `r${i}d`, `r${i}w`, `r${i}b`]) m.set(n, at(`r${i}`));
  }
  return m;
})();

function register(name: string, where: string): number {
  const off = REGS.get(name.toLowerCase());
  if (off === undefined) throw new TsbpfError(`${where}: unknown x86-64 register %${name}`);
  return off;
}

const NUMBER = /^-?(?:0x[0-9a-f]+|\d+)$/i;
const asI64 = (text: string) =>
  BigInt.asUintN(64, text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text));

/** Parse one argument (`-4@%eax`, `8@-16(%rbp)`, `4@$5`); `where` names it in errors. */
export function parseUsdtArg(text: string, where: string): UsdtArg {
  const m = /^(-?)(\d+)@(.+)$/.exec(text);
  if (!m) throw new TsbpfError(`${where}: argument '${text}' is not SIZE@OPERAND`);
  const size = Number(m[2]);
  if (![1, 2, 4, 8].includes(size))
    throw new TsbpfError(`${where}: argument '${text}' has size ${size} (1, 2, 4 or 8)`);
  const signed = m[1] === '-';
  const op = m[3]!;
  if (op.startsWith('$')) {
    if (!NUMBER.test(op.slice(1)))
      throw new TsbpfError(`${where}: argument '${text}': constant is not a number`);
    return { kind: 'const', size, signed, value: asI64(op.slice(1)), regOffset: -1 };
  }
  if (op.startsWith('%'))
    return { kind: 'reg', size, signed, value: 0n, regOffset: register(op.slice(1), where) };
  // OFFSET(%REG); an index register (`(%rax,%rbx,4)`) or a symbol (`foo(%rip)`) cannot be expressed.
  const d = /^(-?(?:0x[0-9a-f]+|\d+))?\(%([a-z0-9]+)\)$/i.exec(op);
  if (!d) throw new TsbpfError(`${where}: argument '${text}': operand is not $CONST, %REG or OFFSET(%REG)`);
  return { kind: 'deref', size, signed, value: asI64(d[1] ?? '0'), regOffset: register(d[2]!, where) };
}

/** Parse a note's whole argument spec (space-separated; empty: no arguments). */
export function parseUsdtArgs(spec: string, where: string): UsdtArg[] {
  const words = spec.split(/\s+/).filter((w) => w !== '');
  if (words.length > USDT_MAX_ARGS)
    throw new TsbpfError(`${where}: ${words.length} arguments, bpf_usdt_arg reads at most ${USDT_MAX_ARGS}`);
  return words.map((w, i) => parseUsdtArg(w, `${where} argument ${i + 1}`));
}

const KIND = { const: 0, reg: 1, deref: 2 } as const;

/** The `struct __bpf_usdt_spec` bytes of `args` with the attach's `usdt_cookie`. */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint): Uint8Array {
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const at = 16 * i;
    v.setBigUint64(at, a.value, true);
    v.setUint32(at + 8, KIND[a.kind], true);
    v.setInt16(at + 12, a.kind === 'const' ? 0 : a.regOffset, true);
    v.setUint8(at + 14, a.signed ? 1 : 0);
    v.setUint8(at + 15, 64 - 8 * a.size);
  });
  v.setBigUint64(16 * USDT_MAX_ARGS, BigInt.asUintN(64, cookie), true);
  v.setInt16(16 * USDT_MAX_ARGS + 8, args.length, true);
  return out;
}
