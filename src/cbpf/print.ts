// Classic BPF in tcpdump's three dump formats: -d (assembly), -dd (C array), -ddd (decimal).

import { FormatError } from '../errors.js';
import { C, cls, isCondJump, mode, op, type SockFilter, size, src } from './insn.js';

const hex = (k: number) => `0x${(k >>> 0).toString(16)}`;
const ALU_NAMES: Record<number, string> = {
  [C.ADD]: 'add',
  [C.SUB]: 'sub',
  [C.MUL]: 'mul',
  [C.DIV]: 'div',
  [C.MOD]: 'mod',
  [C.AND]: 'and',
  [C.OR]: 'or',
  [C.XOR]: 'xor',
  [C.LSH]: 'lsh',
  [C.RSH]: 'rsh',
};
const JMP_NAMES: Record<number, string> = {
  [C.JEQ]: 'jeq',
  [C.JGT]: 'jgt',
  [C.JGE]: 'jge',
  [C.JSET]: 'jset',
};
const SIZE_SUFFIX: Record<number, string> = { [C.W]: '', [C.H]: 'h', [C.B]: 'b' };

/** The mnemonic and operand of one instruction at index pc. */
export function insnText(f: SockFilter, pc: number): [string, string] {
  const k = f.k >>> 0;
  const c = f.code;
  switch (cls(c)) {
    case C.RET:
      return ['ret', (c & 0x18) === C.A ? 'a' : (c & 0x18) === C.X ? 'x' : `#${k}`];
    case C.LD:
      switch (mode(c)) {
        case C.ABS:
          return [`ld${SIZE_SUFFIX[size(c)] ?? '?'}`, `[${k}]`];
        case C.IND:
          return [`ld${SIZE_SUFFIX[size(c)] ?? '?'}`, `[x + ${k}]`];
        case C.LEN:
          return ['ld', '#pktlen'];
        case C.IMM:
          return ['ld', `#${hex(k)}`];
        case C.MEM:
          return ['ld', `M[${k}]`];
      }
      break;
    case C.LDX:
      switch (mode(c)) {
        case C.MSH:
          return ['ldxb', `4*([${k}]&0xf)`];
        case C.LEN:
          return ['ldx', '#pktlen'];
        case C.IMM:
          return ['ldx', `#${hex(k)}`];
        case C.MEM:
          return ['ldx', `M[${k}]`];
      }
      break;
    case C.ST:
      return ['st', `M[${k}]`];
    case C.STX:
      return ['stx', `M[${k}]`];
    case C.JMP:
      if (op(c) === C.JA) return ['ja', `${(pc + 1 + k) >>> 0}`];
      return [JMP_NAMES[op(c)] ?? 'unimp', src(c) === C.X ? 'x' : `#${hex(k)}`];
    case C.ALU: {
      if (op(c) === C.NEG) return ['neg', ''];
      const name = ALU_NAMES[op(c)];
      if (!name) break;
      if (src(c) === C.X) return [name, 'x'];
      const decimal = op(c) !== C.AND && op(c) !== C.OR && op(c) !== C.XOR;
      return [name, decimal ? `#${k}` : `#${hex(k)}`];
    }
    case C.MISC:
      if (c === (C.MISC | C.TAX)) return ['tax', ''];
      if (c === (C.MISC | C.TXA)) return ['txa', ''];
      break;
  }
  return ['unimp', `0x${c.toString(16)}`];
}

/** `tcpdump -d`: one line per instruction. */
export function formatAsm(prog: readonly SockFilter[]): string {
  return prog
    .map((f, pc) => {
      const [name, operand] = insnText(f, pc);
      const head = `(${String(pc).padStart(3, '0')}) ${name.padEnd(8)} `;
      if (isCondJump(f.code)) return `${head}${operand.padEnd(16)} jt ${pc + 1 + f.jt}\tjf ${pc + 1 + f.jf}`;
      return head + operand;
    })
    .map((l) => `${l}\n`)
    .join('');
}

/** `tcpdump -dd`: a C array initialiser. */
export const formatC = (prog: readonly SockFilter[]): string =>
  prog
    .map(
      (f) =>
        `{ 0x${f.code.toString(16)}, ${f.jt}, ${f.jf}, 0x${(f.k >>> 0).toString(16).padStart(8, '0')} },\n`,
    )
    .join('');

/** `tcpdump -ddd`: the count, then `code jt jf k` in decimal per line. */
export const formatDecimal = (prog: readonly SockFilter[]): string =>
  `${prog.length}\n${prog.map((f) => `${f.code} ${f.jt} ${f.jf} ${f.k >>> 0}\n`).join('')}`;

/** Parses the -ddd format back into instructions. */
export function parseDecimal(text: string): SockFilter[] {
  const lines = text.trim().split('\n');
  const bad = (line: number, why: string) => new FormatError('-ddd text', `line ${line}: ${why}`);
  if (!/^\d+$/.test(lines[0]!.trim())) throw bad(1, `expected the instruction count, got '${lines[0]}'`);
  const n = Number(lines[0]);
  if (lines.length - 1 !== n)
    throw bad(1, `the count says ${n} instructions, the text has ${lines.length - 1}`);
  // Each line: code jt jf k, decimal, within the fields' widths (u16, u8, u8, u32).
  return lines.slice(1).map((l, i) => {
    const fields = l.trim().split(/\s+/);
    const limits = [0xffff, 0xff, 0xff, 0xffffffff];
    if (fields.length !== 4 || !fields.every((f, j) => /^\d+$/.test(f) && Number(f) <= limits[j]!))
      throw bad(i + 2, `expected 'code jt jf k' (decimal, within 16, 8, 8 and 32 bits), got '${l.trim()}'`);
    const [code, jt, jf, k] = fields.map(Number) as [number, number, number, number];
    return { code, jt, jf, k };
  });
}
