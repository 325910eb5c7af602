// Differential tests, interpreter vs JIT: (1) the kernel-differential XDP programs of test/support/gen.ts
// (verified shape) on the unchecked JIT, dumps compared; (2) random unverified programs with arbitrary
// control flow on the checked JIT: same r0 or the same fault (message and instruction), same stack.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/jit/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { generate, readDump, testPacket } from '../support/gen.js';
import { randomProgram } from './random-cfg.js';

const XDP_MD_SIZE = 24;

function xdpSetup(rt: Runtime) {
  const space = rt.space;
  const data = testPacket();
  const packet = space.allocate(data.length, 'packet', 'packet');
  const ctx = space.allocate(XDP_MD_SIZE, 'ctx', 'xdp_md', false);
  const reset = () => {
    space.write(packet.start, data);
    space.view.setUint32(ctx.start, packet.start, true);
    space.view.setUint32(ctx.start + 4, packet.end, true);
    space.view.setUint32(ctx.start + 8, packet.start, true);
  };
  return { packet, ctx, reset, size: data.length };
}

describe('generated XDP programs (test/support/gen.ts): interpreter vs unchecked JIT', () => {
  const rt = new Runtime();
  const interp = new Interpreter(rt);
  const { packet, ctx, reset, size } = xdpSetup(rt);
  it('agree on 400 programs (verdict, registers, stack, checksum)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const program = generate(seed, { size: 60 });
      const prepared = rt.prepare(program.insns);
      reset();
      const ref = interp.run(prepared, { args: [ctx.start] });
      const want = readDump(Number(ref.r0 & 0xffffffffn), rt.space.read(packet.start, size));
      reset();
      const jit = compile(prepared, rt);
      const r0 = jit.run32(ctx.start);
      const got = readDump(r0, rt.space.read(packet.start, size));
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });
});

type Outcome = { r0?: string; fault?: string; stack: string };

function outcome(rt: Runtime, run: () => bigint): Outcome {
  const frames = rt.stackFrames(0).slice(0, 3);
  let o: Omit<Outcome, 'stack'>;
  try {
    o = { r0: `0x${run().toString(16)}` };
  } catch (e) {
    o = { fault: `${(e as Error).name}: ${(e as Error).message}` };
  }
  const stack = frames
    .map((f) => Buffer.from(rt.space.read(f.start, f.end - f.start)).toString('hex'))
    .join('|');
  return { ...o, stack };
}

describe('random control flow: interpreter vs checked JIT', () => {
  const rt = new Runtime();
  const interp = new Interpreter(rt);
  const BUDGET = 3000;
  it('agree on 1500 programs with loops, irreducible jumps, calls and faults', () => {
    const kinds = { ok: 0, fault: 0, budget: 0, highBits: 0 };
    for (let seed = 1; seed <= 1500; seed++) {
      const insns = randomProgram(seed, 20 + (seed % 40), 1 + (seed % 3));
      const prepared = rt.prepare(insns);
      const want = outcome(rt, () => interp.run(prepared, { budget: BUDGET }).r0);
      const jit = compile(prepared, rt, { checked: true });
      const got = outcome(rt, () => jit.execute({ budget: BUDGET }).r0);
      expect(got, `seed ${seed}`).toEqual(want);
      if (want.r0) kinds.ok++;
      else if (want.fault?.includes('budget')) kinds.budget++;
      else kinds.fault++;
      if (want.fault?.includes('outside the 32-bit address space')) kinds.highBits++;
    }
    // The generator must reach all three outcomes, or the comparison proves little.
    expect(kinds.ok).toBeGreaterThan(200);
    expect(kinds.budget).toBeGreaterThan(50);
    expect(kinds.fault).toBeGreaterThan(50);
    expect(kinds.highBits).toBeGreaterThan(5);
  });

  it('count the same instructions as the interpreter', () => {
    for (let seed = 2000; seed < 2300; seed++) {
      const prepared = rt.prepare(randomProgram(seed, 40, 2));
      let want: number;
      try {
        want = interp.run(prepared, { budget: BUDGET }).instructions;
      } catch {
        continue;
      }
      expect(
        compile(prepared, rt, { checked: true }).execute({ budget: BUDGET }).instructions,
        `seed ${seed}`,
      ).toBe(want);
    }
  });
});
