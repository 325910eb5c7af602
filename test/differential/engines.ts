// The engines a differential test compares. The kernel (BPF_PROG_TEST_RUN) is the reference; every other
// engine runs the same generated XDP program on the same packet and must produce the same dump.
// Adding an engine is one entry in `ENGINES`.

import * as kernel from '../../src/kernel/index.js';
import { type Dump, type GeneratedProgram, readDump, testPacket } from '../support/gen.js';

export interface Engine {
  readonly name: string;
  /** Run the program on a copy of `testPacket()` and read the dump back. */
  run(program: GeneratedProgram): Dump;
}

/** The Linux kernel: load, test-run once, close. Throws VerifierRejectedError for refused programs. */
export const kernelEngine: Engine = {
  name: 'kernel',
  run(program) {
    const { fd } = kernel.progLoad({
      type: kernel.ProgType.XDP,
      insns: program.insns,
      license: 'GPL',
      name: `gen_${program.seed}`,
    });
    try {
      const packet = testPacket();
      const out = kernel.progTestRun(fd, { data: packet, dataOutSize: packet.length });
      return readDump(out.retval, out.data);
    } finally {
      kernel.close(fd);
    }
  },
};

/** Engines compared with the kernel. */
export const ENGINES: Engine[] = [];
