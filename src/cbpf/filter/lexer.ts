// Tokens of the pcap-filter language. Addresses are recognised by shape: a MAC (six hex groups),
// an IPv6 address (anything parseIpv6 accepts), a dotted IPv4 address or network, or a number
// (decimal, 0x hex, 0-prefixed octal).

import { TsbpfError } from '../../errors.js';
import { parseIpv6 } from '../../net/addr.js';

/** A filter expression that does not parse or compile. `column` is 1-based. */
export class FilterSyntaxError extends TsbpfError {
  override name = 'FilterSyntaxError';
  constructor(
    readonly reason: string,
    readonly column: number,
    readonly text: string,
  ) {
    super(`${reason}\n  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`, `filter column ${column}`);
  }
}

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

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const err = (why: string, at: number) => new FilterSyntaxError(why, at + 1, src);
  while (i < src.length) {
    const ch = src[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    // Address-shaped words first: hex digits, ':' and '.' (an IPv6 or MAC address).
    const addr = /^[0-9a-fA-F:.-]+/.exec(src.slice(i))?.[0] ?? '';
    if (addr.includes(':') || /^[0-9a-fA-F]{1,2}([-.][0-9a-fA-F]{1,2}){5}$/.test(addr)) {
      const cut = /^[0-9a-fA-F:.]+/.exec(addr)?.[0] ?? '';
      if (MAC_RE.test(addr) && !/[A-Za-z0-9_]/.test(src[i + addr.length] ?? '')) {
        out.push({ kind: 'mac', text: addr, col: start + 1 });
        i += addr.length;
        continue;
      }
      if (cut.includes(':') && parseIpv6(cut) && !/[A-Za-z0-9_]/.test(src[i + cut.length] ?? '')) {
        out.push({ kind: 'ipv6', text: cut, col: start + 1 });
        i += cut.length;
        continue;
      }
    }
    if (/[0-9]/.test(ch)) {
      const m = /^(0[xX][0-9a-fA-F]+|\d+(\.\d+)*)/.exec(src.slice(i))?.[0] as string;
      if (/[A-Za-z_]/.test(src[i + m.length] ?? ''))
        throw err(`bad number '${src.slice(i).split(/[\s()]/)[0]}'`, i);
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
      const m = /^\\?[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*/.exec(src.slice(i))?.[0];
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
