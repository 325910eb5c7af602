// The JIT against the Linux kernel on the random XDP programs of test/support/gen.ts: verdict, every
// register, the random stack area and the checksum of intermediate results must agree. (The interpreter
// runs the same comparison in test/differential; this one needs no interpreter in between.)
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/jit/index.js';
import { Runtime } from '../../src/vm/index.js';
import { kernelEngine } from '../differential/engines.js';
import { type Dump, type GeneratedProgram, generate, readDump, testPacket } from '../support/gen.js';
import { kernelOracle } from '../support/kernel.js';

const PROGRAMS = Number(process.env.TSBPF_JIT_KERNEL_PROGRAMS ?? 500);
const oracle = kernelOracle();

/** The unchecked JIT (these programs pass the kernel's verifier) over an xdp_md laid out as the hook does. */
function jitEngine() {
  const rt = new Runtime();
  const space = rt.space;
  const data = testPacket();
  const packet = space.allocate(data.length, 'packet', 'packet');
  const ctx = space.allocate(24, 'ctx', 'xdp_md', false);
  return (program: GeneratedProgram): Dump => {
    space.write(packet.start, data);
    space.view.setUint32(ctx.start, packet.start, true);
    space.view.setUint32(ctx.start + 4, packet.end, true);
    space.view.setUint32(ctx.start + 8, packet.start, true);
    const r0 = compile(rt.prepare(program.insns), rt).run32(ctx.start);
    return readDump(r0, space.read(packet.start, data.length));
  };
}

describe.skipIf(!oracle)('JIT vs kernel: random programs', () => {
  it(`${PROGRAMS} programs agree`, () => {
    const jit = jitEngine();
    const bad: string[] = [];
    for (let i = 0; i < PROGRAMS; i++) {
      const program = generate(0x717 + i, { size: 40 + (i % 40) });
      const want = kernelEngine.run(program);
      const got = jit(program);
      try {
        expect(got).toEqual(want);
      } catch {
        if (bad.length < 5) bad.push(`seed ${program.seed}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
