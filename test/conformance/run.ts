// What every engine's conformance test does with a case: its program (mnemonic text or raw words), the
// instruction budget that stops a runaway case, and the reference run on the interpreter.
import { assemble } from '../../src/asm/index.js';
import { decode, type Insn } from '../../src/isa/index.js';
import { type MemoryRunResult, type Runtime, runWithMemory } from '../../src/vm/index.js';
import { type ConformanceCase, rawWordsToBytes } from '../support/conformance.js';

export const CONFORMANCE_BUDGET = 100_000;

export const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** The case's program: its raw words decoded, or its mnemonic assembly. */
export function caseProgram(c: ConformanceCase): Insn[] {
  return c.raw ? decode(rawWordsToBytes(c.raw)) : assemble(c.asm, { syntax: 'mnemonic' });
}

/** Run on the interpreter (checked, budgeted) with r1 = a copy of the case's memory, r2 = its length. */
export function interpretCase(rt: Runtime, c: ConformanceCase): MemoryRunResult {
  return runWithMemory(rt, rt.prepare(caseProgram(c)), c.mem, { budget: CONFORMANCE_BUDGET });
}
