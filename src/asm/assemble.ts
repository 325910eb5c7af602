// The assembler driver: splits the text into lines, strips comments and llvm-objdump's address/byte
// columns, collects labels, parses each instruction in its syntax, then resolves label references.

import { AsmSyntaxError } from '../errors.js';
import { Class, type Insn, JmpOp } from '../isa/index.js';
import { parseLlvm, startsLlvm } from './llvm.js';
import { isMnemonic, parseMnemonic, suggest } from './mnemonic.js';
import type { AsmOptions, LabelRef, LineContext, Parsed } from './operands.js';
import { Cursor, type Token, tokenize } from './tokens.js';

/**
 * What assembleWithLabels gives: the slots, the slot index of each label and the source line of each slot.
 */
export interface Assembled {
  insns: Insn[];
  /** Label name → slot index. */
  labels: Map<string, number>;
  /** 1-based source line of each slot (both slots of lddw map to its line). */
  lines: number[];
}

type Syntax = 'llvm' | 'mnemonic';

interface Line {
  no: number;
  text: string;
  tokens: Token[];
  syntax?: Syntax;
}

/** Assemble text (either syntax, or both mixed line by line) into instruction slots. */
export function assemble(text: string, opts: AsmOptions = {}): Insn[] {
  return assembleWithLabels(text, opts).insns;
}

/** Assemble `text` as `assemble` does, keeping the labels and the source line of each slot. */
export function assembleWithLabels(text: string, opts: AsmOptions = {}): Assembled {
  const labels = new Map<string, number>();
  const insns: Insn[] = [];
  const lines: number[] = [];
  const refs: { ref: LabelRef; index: number; line: Line }[] = [];
  const pending: Line[] = [];

  // Pass 1: labels and the syntax of each line; labels are bound to slot indices in pass 2.
  const src = text.split('\n');
  for (let i = 0; i < src.length; i++) {
    const line = prepare(src[i]!, i + 1);
    if (line) pending.push(line);
  }
  const fallback: Syntax =
    opts.syntax && opts.syntax !== 'auto'
      ? opts.syntax
      : (pending.find((l) => l.syntax)?.syntax ?? 'mnemonic');

  for (const line of pending) {
    const cur = new Cursor(line.tokens, line.text, line.no);
    // Leading labels (`name:`); several may share a line with each other and an instruction.
    while (cur.peek()?.kind === 'id' && cur.is(':', 1)) {
      const name = cur.peek()!;
      if (labels.has(name.text)) cur.fail(`duplicate label '${name.text}'`, name.col);
      labels.set(name.text, insns.length);
      cur.pos += 2;
    }
    if (cur.atEnd()) continue;
    const first = cur.peek()!;
    // Directives of clang's assembly output (.text, .globl, .p2align ...) carry no instructions.
    if (first.kind === 'id' && first.text.startsWith('.') && first.text !== '.insn') continue;
    const syntax = opts.syntax && opts.syntax !== 'auto' ? opts.syntax : (line.syntax ?? fallback);
    const ctx: LineContext = { cur, opts };
    const parsed: Parsed = syntax === 'llvm' ? parseLlvm(ctx) : parseMnemonic(ctx);
    if (parsed.ref) refs.push({ ref: parsed.ref, index: insns.length, line });
    for (const ins of parsed.insns) {
      insns.push(ins);
      lines.push(line.no);
    }
  }

  // Pass 2: label references. `exit` with no such label means the first exit (the conformance suite's rule).
  const firstExit = insns.findIndex((ins) => ins.code === (Class.JMP | JmpOp.EXIT));
  for (const { ref, index, line } of refs) {
    const target = labels.get(ref.label) ?? (ref.label === 'exit' && firstExit >= 0 ? firstExit : undefined);
    if (target === undefined) {
      throw new AsmSyntaxError(
        `undefined label '${ref.label}'${suggest(ref.label, [...labels.keys()])}`,
        line.no,
        ref.col,
        line.text,
      );
    }
    const rel = target - (index + 1);
    if (ref.field === 'off' && (rel < -0x8000 || rel > 0x7fff)) {
      throw new AsmSyntaxError(
        `jump to '${ref.label}' is ${rel} slots away, beyond a 16-bit offset (use gotol)`,
        line.no,
        ref.col,
        line.text,
      );
    }
    insns[index]![ref.field] = rel;
  }
  return { insns, labels, lines };
}

const BLANK = (s: string) => ' '.repeat(s.length);

/**
 * Remove comments and the decorations of llvm-objdump output (address and raw-byte columns, `<f+0x10>`
 * annotations, relocation and header lines), keeping columns so errors point into the original line.
 * Returns undefined for lines without content.
 */
function prepare(raw: string, no: number): Line | undefined {
  const text = raw.replace(/\r$/, '');
  let body = text;
  const comment = /#|;|\/\//.exec(body);
  if (comment) body = body.slice(0, comment.index);
  if (/^\S.*:\s+file format /.test(body) || /^Disassembly of section /.test(body)) return undefined;
  if (/^\s*[0-9a-f]+:\s+R_[A-Z0-9_]+\s/.test(body)) return undefined; // objdump -r relocation line
  const header = /^([0-9a-f]+ )<([^>]+)>:\s*$/.exec(body); // objdump function header: a label
  if (header) body = `${BLANK(header[1]!)} ${header[2]}:`;
  body = body.replace(/^(\s*\d+:)((?:\s+[0-9a-f]{2}){8}(?:\s[0-9a-f]{2}){0,8})?(?=\s|$)/, BLANK);
  body = body.replace(/\s<[^<>]*>\s*$/, BLANK);
  if (body.trim() === '') return undefined;
  const tokens = tokenize(body, no);
  return { no, text, tokens, syntax: detect(tokens) };
}

/** The syntax of a line when it is unambiguous (`exit` and `call N` are the same in both). */
function detect(tokens: Token[]): Syntax | undefined {
  let i = 0;
  while (tokens[i]?.kind === 'id' && tokens[i + 1]?.text === ':') i += 2;
  const first = tokens[i];
  if (!first || first.kind === 'num') return undefined;
  const second = tokens[i + 1]?.text;
  if (startsLlvm(first.text, second)) return 'llvm';
  if (first.text === 'call') {
    if (second === 'local' || second?.startsWith('%')) return 'mnemonic';
    if (second === 'pc') return 'llvm';
    return undefined;
  }
  if (first.text === 'exit' || first.text === '.insn') return undefined;
  return isMnemonic(first.text.toLowerCase()) || first.text === 'lock' ? 'mnemonic' : undefined;
}
