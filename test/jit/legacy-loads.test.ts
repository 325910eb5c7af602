// Legacy packet loads (LD_ABS/LD_IND) inline in wasm: the packet the JIT caches per run must be the
// invocation's, in every entry point, and out-of-bounds behaviour must be the interpreter's.
import { describe, expect, it } from 'vitest';
import { Class, insn, JmpOp, Mode, PseudoCall, Size } from '../../src/isa/index.js';
import { compile } from '../../src/jit/index.js';
import type { Region } from '../../src/memory/address-space.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const ABS = Class.LD | Mode.ABS;
const IND = Class.LD | Mode.IND;
// r7 = pkt[0] & 7; r0 = be16(pkt[r7 + 1]) + r7 * 0x10000; r0 ^= be32(pkt[2]) (each may end the run with 0)
const filter = [
  insn(ABS | Size.B, 0, 0, 0, 0),
  insn(Class.ALU64 | 0xb0 | 0x08, 7, 0), // r7 = r0
  insn(Class.ALU64 | 0x50, 7, 0, 0, 7), // r7 &= 7
  insn(IND | Size.H, 0, 7, 0, 1),
  insn(Class.ALU64 | 0xb0 | 0x08, 6, 7),
  insn(Class.ALU64 | 0x60, 6, 0, 0, 16), // r6 <<= 16
  insn(Class.ALU64 | 0x00 | 0x08, 6, 0), // r6 += r0
  insn(ABS | Size.W, 0, 0, 0, 2),
  insn(Class.ALU64 | 0xa0 | 0x08, 0, 6), // r0 ^= r6
  insn(Class.JMP | JmpOp.EXIT),
];

function packets(rt: Runtime, n: number): Region[] {
  const out: Region[] = [];
  for (let i = 0; i < n; i++) {
    const p = rt.space.allocate(i % 13, 'packet', `packet ${i}`, false); // 0..12 bytes: many out of bounds
    for (let k = p.start; k < p.end; k++) rt.space.bytes[k] = (i * 31 + k * 7) & 0xff;
    out.push(p);
  }
  return out;
}

describe('legacy packet loads on the JIT', () => {
  const rt = new Runtime();
  const interp = new Interpreter(rt);
  const prog = rt.prepare(filter);
  const pkts = packets(rt, 60);
  const expected = pkts.map((packet) =>
    Number(interp.run(prog, { args: [0], checked: false, invocation: { packet } }).r0 & 0xffffffffn),
  );

  it('agree with the interpreter per run (execute, run32 over invocation defaults)', () => {
    expect(expected.filter((v) => v !== 0).length).toBeGreaterThan(10); // in-bounds runs exist
    expect(expected.filter((v) => v === 0).length).toBeGreaterThan(5); // and out-of-bounds ones
    for (const checked of [false, true]) {
      const jit = compile(prog, rt, { checked });
      pkts.forEach((packet, i) => {
        expect(Number(jit.execute({ args: [0], invocation: { packet } }).r0)).toBe(expected[i]);
        rt.invocationDefaults = { packet };
        try {
          expect(jit.run32(0)).toBe(expected[i]);
        } finally {
          rt.invocationDefaults = {};
        }
      });
    }
  });

  it('a batch gives each run its own packet (wasm loop and JS loop)', () => {
    const n = pkts.length;
    const ctxs = rt.space.allocate(4 * n, 'scratch', 'ctxs', false).start;
    const out = rt.space.allocate(4 * n, 'scratch', 'verdicts', false).start;
    for (const checked of [false, true]) {
      const jit = compile(prog, rt, { checked });
      rt.space.bytes.fill(0xee, out, out + 4 * n);
      jit.runBatch(ctxs, n, out, (i) => {
        rt.invocation.packet = pkts[i];
      });
      const got = Array.from({ length: n }, (_, i) => rt.space.view.getUint32(out + 4 * i, true));
      expect(got).toEqual(expected);
    }
  });

  it('out of bounds inside a subprogram faults as in the interpreter; no packet faults too', () => {
    const withCall = [
      insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.LOCAL, 0, 1),
      insn(Class.JMP | JmpOp.EXIT),
      insn(ABS | Size.W, 0, 0, 0, 100),
      insn(Class.JMP | JmpOp.EXIT),
    ];
    const p = rt.prepare(withCall);
    const packet = pkts[12]!;
    const fault = (run: () => unknown) => {
      try {
        run();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no fault';
    };
    const jit = compile(p, rt);
    const want = fault(() => interp.run(p, { args: [0], checked: false, invocation: { packet } }));
    expect(want).toMatch(/out of bounds inside a function/);
    expect(fault(() => jit.execute({ args: [0], invocation: { packet } }))).toBe(want);
    const none = fault(() => interp.run(prog, { args: [0], checked: false }));
    expect(none).toMatch(/without a packet/);
    expect(fault(() => compile(prog, rt).execute({ args: [0] }))).toBe(none);
  });
});
