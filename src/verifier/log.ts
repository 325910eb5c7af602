// What the user reads: a rejection as one diagnostic in plain words (instruction, disassembly, C source
// line, the branches that led there, register states), and at log level 2 a per-instruction trace.

import { formatInsn } from '../asm/index.js';
import type { Insn } from '../isa/index.js';
import type { LineInfo } from '../spec/object.js';
import type { PathNode } from './state.js';

/** A branch on the path to a rejected instruction: the jump, and whether it was taken. */
export interface PathStep {
  /** Slot of the conditional jump. */
  insn: number;
  /** Whether the jump was taken on this path. */
  taken: boolean;
  /** Source line of the jump, when line info is present. */
  line?: number;
}

/**
 * Why the verifier rejected a program: the instruction, a kind, the reason in words, the path and the
 * registers.
 */
export interface Diagnostic {
  /** Slot index of the offending instruction. */
  insn: number;
  /** Short machine-readable reason, e.g. `pkt_bounds`, `null_deref`, `uninit_stack`, `too_complex`. */
  kind: string;
  /** The reason in plain words. */
  message: string;
  /** Disassembly of the instruction. */
  disasm: string;
  /** C source position, when the program carries line info. */
  source?: { file: string; line: number; column: number; text: string };
  /** Branch decisions on the path that reached the instruction (oldest first, at most the last 32). */
  path: PathStep[];
  /** Register states of the current frame at the instruction, e.g. `R1=ctx(off=0) R10=fp0`. */
  regs: string;
}

/** Finds the line-info entry covering each slot (the last entry at or before it). */
export class SourceMap {
  private readonly sorted: LineInfo[];
  constructor(lineInfo: readonly LineInfo[] | undefined) {
    this.sorted = [...(lineInfo ?? [])].sort((a, b) => a.insn - b.insn);
  }
  at(insn: number): LineInfo | undefined {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let best: LineInfo | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.sorted[mid]!;
      if (e.insn <= insn) {
        best = e;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }
}

export function disasm(insns: readonly Insn[], pc: number): string {
  try {
    return formatInsn(insns, pc);
  } catch {
    const x = insns[pc]!;
    return `.insn 0x${x.code.toString(16)}, ${x.dst}, ${x.src}, ${x.off}, ${x.imm}`;
  }
}

export function pathSteps(path: PathNode | undefined, src: SourceMap, limit = 32): PathStep[] {
  const out: PathStep[] = [];
  for (let p = path; p && out.length < limit; p = p.prev) {
    const line = src.at(p.insn)?.line;
    out.push(line === undefined ? { insn: p.insn, taken: p.taken } : { insn: p.insn, taken: p.taken, line });
  }
  return out.reverse();
}

/** The rejection as readable text (several lines). */
export function formatDiagnostic(d: Diagnostic): string {
  const lines: string[] = [];
  const where = d.source ? ` (${d.source.file}:${d.source.line})` : '';
  lines.push(`insn ${d.insn}${where}: ${d.message}`);
  lines.push(`  ${d.insn}: ${d.disasm}`);
  if (d.source?.text) lines.push(`  source: ${d.source.text.trim()}`);
  if (d.path.length) {
    const steps = d.path.map(
      (s) => `${s.insn}${s.line !== undefined ? ` (line ${s.line})` : ''} ${s.taken ? 'taken' : 'not taken'}`,
    );
    lines.push(`  path: ${steps.join(', ')}`);
  }
  if (d.regs) lines.push(`  registers: ${d.regs}`);
  return lines.join('\n');
}
