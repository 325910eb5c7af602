// Every conformance file on the JIT, compared with the expected results and with the interpreter on the
// same runtime: checked mode (as for unverified programs: same faults, same memory) and unchecked mode.
import { describe, expect, it } from 'vitest';
import { runJitWithMemory } from '../../src/jit/index.js';
import { Runtime } from '../../src/vm/index.js';
import { CONFORMANCE_BUDGET, caseProgram, hex, interpretCase } from '../conformance/run.js';
import { type ConformanceCase, conformanceFiles, loadConformanceFile } from '../support/conformance.js';

/** Run on the JIT with r1 = a copy of the case's memory, r2 = its length; r0 and the memory after. */
function jitRun(rt: Runtime, c: ConformanceCase, checked = true): { r0: bigint; memory: Uint8Array } {
  return runJitWithMemory(rt, rt.prepare(caseProgram(c)), c.mem, {
    checked,
    budget: checked ? CONFORMANCE_BUDGET : undefined,
  });
}

function faultOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'no error';
}

describe.each(conformanceFiles().map((f) => [f.split('/').pop()!, f]))('%s on the JIT', (_name, file) => {
  const rt = new Runtime();
  for (const c of loadConformanceFile(file)) {
    it(c.name, () => {
      if (c.error !== undefined) {
        expect(() => jitRun(rt, c)).toThrow(c.error);
        // Same error (kind, message, instruction) as the interpreter.
        const interp = faultOf(() => interpretCase(rt, c));
        expect(faultOf(() => jitRun(rt, c))).toBe(interp);
        return;
      }
      const got = jitRun(rt, c);
      expect(hex(got.r0)).toBe(hex(c.result!));
      const ref = interpretCase(rt, c);
      expect(got.memory).toEqual(ref.memory);
      // The unchecked JIT (for verified programs) computes the same on programs that do not fault.
      const fast = jitRun(rt, c, false);
      expect(hex(fast.r0)).toBe(hex(c.result!));
      expect(fast.memory).toEqual(ref.memory);
    });
  }
});
