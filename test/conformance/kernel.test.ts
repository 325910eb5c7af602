// The kernel as an oracle for the expected values written in the conformance files: every case without
// input memory that the kernel verifier accepts as an XDP program is test-run in the kernel, and its
// return value (the low 32 bits of r0, as XDP returns a u32) must match the file. Cases the verifier
// refuses (division by a zero immediate, unbounded loops, reads of r1 as data ...) are counted, not run.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import * as kernel from '../../src/kernel/index.js';
import { conformanceFiles, loadConformanceFile } from '../support/conformance.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

describe('conformance expectations against the kernel', () => {
  it.skipIf(!oracle)('agree with BPF_PROG_TEST_RUN on every case the verifier accepts', () => {
    const mismatches: string[] = [];
    let compared = 0;
    let refused = 0;
    for (const file of conformanceFiles()) {
      for (const c of loadConformanceFile(file)) {
        if (c.result === undefined || c.raw || c.mem.length > 0 || /ldabs|ldind/.test(c.asm)) continue;
        let fd: number;
        try {
          fd = kernel.progLoad({
            type: kernel.ProgType.XDP,
            insns: assemble(c.asm),
            license: 'GPL',
            name: 'conf',
          }).fd;
        } catch (e) {
          // E2BIG: the verifier gave up on the program's complexity (the long loops).
          if (
            e instanceof kernel.VerifierRejectedError ||
            (e instanceof kernel.KernelError && e.errno === 7)
          ) {
            refused++;
            continue;
          }
          throw e;
        }
        try {
          const out = kernel.progTestRun(fd, { data: new Uint8Array(64) });
          compared++;
          const want = c.result & 0xffffffffn;
          if (BigInt(out.retval >>> 0) !== want)
            mismatches.push(`${c.name}: kernel ${out.retval >>> 0}, file ${want}`);
        } finally {
          kernel.close(fd);
        }
      }
    }
    console.log(`[conformance/kernel] compared ${compared} cases, ${refused} refused by the verifier`);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(200);
  });
});
