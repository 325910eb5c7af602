// Line tokenizer and cursor shared by both assembly syntaxes. Tokens keep their 1-based column so every
// syntax error can point at the offending spot.

import { AsmSyntaxError } from '../errors.js';

export type TokenKind = 'id' | 'num' | 'p';

export interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column in the source line. */
  col: number;
  /** Value of a number token. */
  value?: bigint;
}

// Longest operators first so `<<=` wins over `<<` and `<`.
const PUNCT = [
  '<<=',
  '>>=',
  '==',
  '!=',
  '>=',
  '<=',
  '+=',
  '-=',
  '*=',
  '/=',
  '|=',
  '&=',
  '^=',
  '%=',
  '<<',
  '>>',
];
const SINGLE = '=+-*/()[],:<>&|^%!~';
// Sticky patterns matched in place (no substring copies): this loop runs for every line of a listing.
const ID = /%?[A-Za-z_.$][\w.$]*/y;
const NUM = /(0[xX][0-9a-fA-F]+|0[bB][01]+|\d+)(?![\w.$])/y;
const WORD = /[\w.$]+/y;

function matchAt(re: RegExp, line: string, i: number): string | undefined {
  re.lastIndex = i;
  return re.exec(line)?.[0];
}

/** Split one line (comments already removed) into tokens. `%r1` is one identifier token. */
export function tokenize(line: string, lineNo: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const id = c === '%' && !/[A-Za-z]/.test(line[i + 1] ?? '') ? undefined : matchAt(ID, line, i);
    if (id) {
      out.push({ kind: 'id', text: id, col: i + 1 });
      i += id.length;
      continue;
    }
    if (c >= '0' && c <= '9') {
      const num = matchAt(NUM, line, i);
      if (!num) throw new AsmSyntaxError(`malformed number '${matchAt(WORD, line, i)}'`, lineNo, i + 1, line);
      out.push({ kind: 'num', text: num, col: i + 1, value: BigInt(num) });
      i += num.length;
      continue;
    }
    const op = PUNCT.find((p) => line.startsWith(p, i)) ?? (SINGLE.includes(c) ? c : undefined);
    if (!op) throw new AsmSyntaxError(`unexpected character '${c}'`, lineNo, i + 1, line);
    out.push({ kind: 'p', text: op, col: i + 1 });
    i += op.length;
  }
  return out;
}

/** A read position over one line's tokens; every failure is an AsmSyntaxError at the right column. */
export class Cursor {
  pos = 0;
  constructor(
    readonly tokens: Token[],
    readonly line: string,
    readonly lineNo: number,
  ) {}

  peek(ahead = 0): Token | undefined {
    return this.tokens[this.pos + ahead];
  }

  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  /** Column of the current token (or just past the end of the line). */
  col(): number {
    return this.peek()?.col ?? this.line.trimEnd().length + 1;
  }

  fail(reason: string, col = this.col()): never {
    throw new AsmSyntaxError(reason, this.lineNo, col, this.line);
  }

  next(what: string): Token {
    const t = this.peek();
    if (!t) this.fail(`expected ${what}, found end of line`);
    this.pos++;
    return t;
  }

  /** Is the current token the punctuation or identifier `text`? */
  is(text: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t !== undefined && t.kind !== 'num' && t.text === text;
  }

  accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.pos++;
    return true;
  }

  expect(text: string): Token {
    const t = this.peek();
    if (!t || t.kind === 'num' || t.text !== text) {
      this.fail(`expected '${text}'${t ? `, found '${t.text}'` : ', found end of line'}`);
    }
    this.pos++;
    return t;
  }

  ident(what: string): Token {
    const t = this.peek();
    if (t?.kind !== 'id') this.fail(`expected ${what}${t ? `, found '${t.text}'` : ', found end of line'}`);
    this.pos++;
    return t;
  }

  /** An integer with an optional sign. Returns the value and the column where it started. */
  integer(what: string): { value: bigint; col: number } {
    const col = this.col();
    let sign = 1n;
    if (this.accept('-')) sign = -1n;
    else this.accept('+');
    const t = this.peek();
    if (t?.kind !== 'num') this.fail(`expected ${what}${t ? `, found '${t.text}'` : ', found end of line'}`);
    this.pos++;
    return { value: sign * t.value!, col };
  }

  isInteger(): boolean {
    const t = this.peek();
    if (t?.kind === 'num') return true;
    return (this.is('-') || this.is('+')) && this.peek(1)?.kind === 'num';
  }

  end(): void {
    const t = this.peek();
    if (t) this.fail(`unexpected '${t.text}' at end of instruction`);
  }
}
