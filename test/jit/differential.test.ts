// Differential tests, interpreter vs JIT: (1) the kernel-differential XDP programs of test/support/gen.ts
// (verified shape) on the unchecked JIT, dumps compared; (2) random unverified programs with arbitrary
// control flow on the checked JIT: same r0 or the same fault (message and instruction), same stack.
import { describe, expect, it } from 'vitest';
import { buildCfg } from '../../src/jit/cfg.js';
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
      const ref = interp.run(prepared, { args: [ctx.start], invocation: { packet } });
      const want = readDump(Number(ref.r0 & 0xffffffffn), rt.space.read(packet.start, size));
      reset();
      const jit = compile(prepared, rt);
      const r0 = jit.run32(ctx.start);
      const got = readDump(r0, rt.space.read(packet.start, size));
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });

  it('agree through the batch entry (main inlined in the loop), each run on its own copy of the packet', () => {
    const space = rt.space;
    const n = 4;
    const data = testPacket();
    const copies = Array.from({ length: n }, (_, i) => ({
      packet: space.allocate(data.length, 'packet', `packet ${i}`),
      ctx: space.allocate(XDP_MD_SIZE, 'ctx', `xdp_md ${i}`, false),
    }));
    const ctxs = space.allocate(4 * n, 'scratch', 'ctxs');
    const out = space.allocate(4 * n, 'scratch', 'verdicts');
    let inlined = 0;
    for (let seed = 401; seed <= 600; seed++) {
      const program = generate(seed, { size: 60 });
      const prepared = rt.prepare(program.insns);
      reset();
      const ref = interp.run(prepared, { args: [ctx.start], invocation: { packet } });
      const want = readDump(Number(ref.r0 & 0xffffffffn), rt.space.read(packet.start, size));
      for (const [i, c] of copies.entries()) {
        space.write(c.packet.start, data);
        space.view.setUint32(c.ctx.start, c.packet.start, true);
        space.view.setUint32(c.ctx.start + 4, c.packet.end, true);
        space.view.setUint32(c.ctx.start + 8, c.packet.start, true);
        space.view.setUint32(ctxs.start + 4 * i, c.ctx.start, true);
      }
      const jit = compile(prepared, rt);
      if (jit.inlineBatch) inlined++;
      jit.runBatch(ctxs.start, n, out.start);
      for (const [i, c] of copies.entries()) {
        const got = readDump(space.view.getUint32(out.start + 4 * i, true), space.read(c.packet.start, size));
        expect(got, `seed ${seed}, run ${i}`).toEqual(want);
      }
    }
    expect(inlined).toBe(200);
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

  it('agree through the unchecked batch entry (main inlined, irreducible graphs too) where the run ends well', () => {
    const ctxs = rt.space.allocate(4, 'scratch', 'ctxs');
    const out = rt.space.allocate(4, 'scratch', 'verdicts');
    let compared = 0;
    let irreducible = 0;
    for (let seed = 3000; seed < 4500; seed++) {
      const insns = randomProgram(seed, 40, 2);
      const prepared = rt.prepare(insns);
      const want = outcome(rt, () => interp.run(prepared, { budget: BUDGET }).r0);
      if (!want.r0) continue;
      const jit = compile(prepared, rt);
      if (!jit.inlineBatch) continue;
      // Unchecked runs do not clear the stack; these unverified programs may read it.
      for (const f of rt.stackFrames(0)) rt.space.bytes.fill(0, f.start, f.end);
      jit.runBatch(ctxs.start, 1, out.start);
      expect(rt.space.view.getUint32(out.start, true), `seed ${seed}`).toBe(
        Number(BigInt(want.r0) & 0xffffffffn),
      );
      compared++;
      if (!buildCfg(insns, 0, prepared.functions[1] ?? insns.length).reducible) irreducible++;
    }
    expect(compared).toBeGreaterThan(400);
    expect(irreducible).toBeGreaterThan(10);
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
