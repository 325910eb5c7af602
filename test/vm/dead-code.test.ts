// Instructions no path reaches (the verifier proves a branch always taken) may be ones no engine can run:
// a write to r10, a byte swap of width 56, a call of an unknown helper. The kernel loads such programs
// (dead code becomes traps); so does loadObject for verified programs, on both engines. Unverified, they
// are still refused with the instruction named.

import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { ENGINES } from '../../src/engine/runner.js';
import { InvalidBytecodeError } from '../../src/errors.js';
import { type Insn, insn } from '../../src/isa/index.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelOracle } from '../support/kernel.js';

/** r0 = 0; if r0 == 0 goto +1; <dead>; r0 = 2; exit */
const withDead = (dead: Insn): Insn[] => [
  insn(0xb7, 0, 0, 0, 0),
  insn(0x15, 0, 0, 1, 0),
  dead,
  insn(0xb7, 0, 0, 0, 2),
  insn(0x95),
];

const DEAD: [string, Insn][] = [
  ['w10 <<= 2', insn(0x64, 10, 0, 0, 2)],
  ['a byte swap of width 56', insn(0xd4, 1, 0, 0, 56)],
  ['a call of helper 99999', insn(0x85, 0, 0, 0, 99999)],
  ['mod with offset 7', insn(0x97, 1, 0, 7, 3)],
];

describe('dead code the engines cannot run', () => {
  for (const [what, dead] of DEAD) {
    it(`${what}: a verified program loads and runs on both engines; unverified it is refused`, () => {
      const spec = {
        programs: [{ name: 'p', section: 'xdp', type: 'xdp', insns: withDead(dead), license: 'GPL' }],
        maps: [],
        license: 'GPL',
      };
      const obj = loadObject(spec);
      for (const engine of ENGINES) {
        const runner = obj.program().runner(engine);
        expect(runner.run32(0), engine).toBe(2);
      }
      expect(() => new Runtime().prepare(withDead(dead))).toThrow(InvalidBytecodeError);
      expect(() => loadObject(spec, { verify: false })).toThrow(/insn 2/);
    });
  }
});

describe.skipIf(!kernelOracle())('the kernel loads them too', () => {
  it('every program above is accepted by BPF_PROG_LOAD', async () => {
    const { progLoad, close } = await import('../../src/kernel/index.js');
    for (const [what, dead] of DEAD) {
      const { fd } = progLoad({ type: 6, insns: withDead(dead), license: 'GPL' });
      close(fd);
      expect(fd, what).toBeGreaterThan(0);
    }
  });
});
