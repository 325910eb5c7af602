// Tokens of the pcap-filter language. Addresses are recognised by shape: a MAC (six hex groups),
// an IPv6 address (anything parseIpv6 accepts), a dotted IPv4 address or network, or a number
// (decimal, 0x hex, 0-prefixed octal).

import { TsbpfError } from '../../errors.js';
import { parseIpv6 } from '../../net/addr.js';

/**
 * A filter expression that does not parse or compile. `column` is 1-based, or 0 when the error is about
 * the expression as a whole (it compiles to too many instructions).
 */
export class FilterSyntaxError extends TsbpfError {
  override name = 'FilterSyntaxError';
  constructor(
    readonly reason: string,
    readonly column: number,
    readonly text: string,
  ) {
    super(
      column > 0 ? `${reason}\n  ${clip(text, column)}\n  ${' '.repeat(caret(column))}^` : reason,
      column > 0 ? `filter column ${column}` : 'filter',
    );
  }
}

/** Around 80 characters of a long expression, around the column. */
const clip = (text: string, column: number) => {
  const from = Math.max(0, column - 41);
  return `${from > 0 ? '…' : ''}${text.slice(from, from + 80)}${from + 80 < text.length ? '…' : ''}`;
};
const caret = (column: number) => {
  const from = Math.max(0, column - 41);
  return column - 1 - from + (from > 0 ? 1 : 0);
};

export type TokKind = 'id' | 'num' | 'ipv4' | 'ipv6' | 'mac' | 'op' | 'eof';
export interface Token {
  kind: TokKind;
  text: string;
  /** Numeric value for 'num'. */
  value?: number;
  /** 1-based column. */
  col: number;
}

const OPS = [
  '&&',
  '||',
  '==',
  '!=',
  '<=',
  '>=',
  '<<',
  '>>',
  '(',
  ')',
  '[',
  ']',
  ':',
  '!',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '&',
  '|',
  '^',
];
const MAC_RE = /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$|^[0-9a-fA-F]{1,2}([-.][0-9a-fA-F]{1,2}){5}$/;

export function parseNumber(text: string): number | undefined {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) v = Number.parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) v = Number.parseInt(text, 8);
  else if (/^\d+$/.test(text)) v = Number.parseInt(text, 10);
  else return undefined;
  return v <= 0xffffffff ? v : undefined;
}

// Sticky patterns, matched at `lastIndex`: the lexer never copies the rest of the input, so it is linear.
// Addresses are at most 45 characters: looking further would rescan long runs of digits at every token.
const ADDR_RE = /[0-9a-fA-F:.-]{1,64}/y;
const NUM_RE = /0[xX][0-9a-fA-F]+|\d+(?:\.\d+)*/y;
const NAME_RE = /\\?[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*/y;
const SPACE_RE = /\s/;
const WORD_CHAR = /[A-Za-z0-9_]/;

function matchAt(re: RegExp, src: string, i: number): string | undefined {
  re.lastIndex = i;
  return re.exec(src)?.[0];
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const err = (why: string, at: number) => new FilterSyntaxError(why, at + 1, src);
  while (i < src.length) {
    const ch = src[i] as string;
    if (SPACE_RE.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    // Address-shaped words first: hex digits, ':' and '.' (an IPv6 or MAC address).
    const addr = matchAt(ADDR_RE, src, i) ?? '';
    if (addr.includes(':') || /^[0-9a-fA-F]{1,2}([-.][0-9a-fA-F]{1,2}){5}$/.test(addr)) {
      const cut = /^[0-9a-fA-F:.]+/.exec(addr)?.[0] ?? '';
      if (MAC_RE.test(addr) && !WORD_CHAR.test(src[i + addr.length] ?? '')) {
        out.push({ kind: 'mac', text: addr, col: start + 1 });
        i += addr.length;
        continue;
      }
      if (cut.includes(':') && parseIpv6(cut) && !WORD_CHAR.test(src[i + cut.length] ?? '')) {
        out.push({ kind: 'ipv6', text: cut, col: start + 1 });
        i += cut.length;
        continue;
      }
    }
    if (/[0-9]/.test(ch)) {
      const m = matchAt(NUM_RE, src, i) as string;
      if (/[A-Za-z_]/.test(src[i + m.length] ?? '')) {
        const word = /[^\s()]*/y;
        throw err(`bad number '${matchAt(word, src, i)}'`, i);
      }
      if (m.includes('.')) out.push({ kind: 'ipv4', text: m, col: start + 1 });
      else {
        const value = parseNumber(m);
        if (value === undefined) throw err(`number '${m}' out of range`, i);
        out.push({ kind: 'num', text: m, value, col: start + 1 });
      }
      i += m.length;
      continue;
    }
    if (/[A-Za-z_\\]/.test(ch)) {
      // Names may contain '-', '.' and digits (tcp-syn, icmp6-echo); a leading '\' escapes a keyword.
      const m = matchAt(NAME_RE, src, i);
      if (!m) throw err(`unexpected '${ch}'`, i);
      out.push({ kind: 'id', text: m, col: start + 1 });
      i += m.length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw err(`unexpected character '${ch}'`, i);
    out.push({ kind: 'op', text: op, col: start + 1 });
    i += op.length;
  }
  out.push({ kind: 'eof', text: '', col: src.length + 1 });
  return out;
}
