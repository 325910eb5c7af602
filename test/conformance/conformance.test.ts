// Runs every conformance file on the interpreter (checked mode, as for unverified programs), and checks
// that the files together exercise every opcode of the instruction set.
import { describe, expect, it } from 'vitest';
import { type Insn, isValidOpcode, LDDW } from '../../src/isa/index.js';
import { Runtime } from '../../src/vm/index.js';
import { type ConformanceCase, conformanceFiles, loadConformanceFile } from '../support/conformance.js';
import { caseProgram, hex, interpretCase } from './run.js';

const execute = (rt: Runtime, c: ConformanceCase): bigint => interpretCase(rt, c).r0;

const files = conformanceFiles();

describe.each(files.map((f) => [f.split('/').pop()!, f]))('%s', (_name, file) => {
  const rt = new Runtime();
  for (const c of loadConformanceFile(file)) {
    it(c.name, () => {
      if (c.error !== undefined) expect(() => execute(rt, c)).toThrow(c.error);
      else expect(hex(execute(rt, c))).toBe(hex(c.result!));
    });
  }
});

describe('conformance coverage', () => {
  it('has at least one file per instruction class', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it('exercises every valid opcode', () => {
    const used = new Set<number>();
    for (const file of files) {
      for (const c of loadConformanceFile(file)) {
        let insns: Insn[];
        try {
          insns = caseProgram(c);
        } catch {
          continue; // a case about malformed bytecode
        }
        for (let i = 0; i < insns.length; i++) {
          used.add(insns[i]!.code);
          if (insns[i]!.code === LDDW) i++;
        }
      }
    }
    const missing: string[] = [];
    for (let op = 0; op < 256; op++) if (isValidOpcode(op) && !used.has(op)) missing.push(hex(BigInt(op)));
    expect(missing).toEqual([]);
  });
});
