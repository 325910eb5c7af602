// bpf_override_return writes the return register of a pt_regs context. An unverified program (checked mode)
// can hand it any context: the write must stay in that context's own region, never land in the memory
// after a smaller context (an XDP batch's next context: found by the escape fuzz target).
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { RuntimeFault } from '../../src/errors.js';
import { XdpBatch } from '../../src/hooks/xdp-batch.js';
import { Runtime } from '../../src/vm/runtime.js';

describe('override_return in checked mode', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`refuses an XDP context, leaving the neighbour context untouched (${engine})`, () => {
      const rt = new Runtime();
      const prog = rt.prepare({
        name: 'o',
        section: 'xdp',
        type: 'xdp',
        insns: assemble('r2 = -1\ncall 58\nr0 = 2\nexit'),
        license: 'GPL',
      });
      const batch = new XdpBatch(createRunner(rt, prog, { engine, checked: true }), 2);
      const packets = [new Uint8Array(64).fill(1), new Uint8Array(64).fill(2)];
      expect(() => batch.run(packets)).toThrow(RuntimeFault);
      expect(() => batch.run(packets)).toThrow(
        /override_return: the context at 0x[0-9a-f]+ is not a writable pt_regs/,
      );
    });
  }
});
