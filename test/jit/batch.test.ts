// The batch entry point: N XDP contexts laid out in memory, verdicts written to an output array, in one
// call (wasm loop for helper-free programs, JS loop with a per-packet hook otherwise).
import { describe, expect, it } from 'vitest';
import type { HelperDef } from '../../src/helpers/types.js';
import { Class, insn, JmpOp, Mode, Size } from '../../src/isa/index.js';
import { compile } from '../../src/jit/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

// r2 = data_end; r1 = data; if data + 1 > data_end: return 0; return *(u8 *)data & 3 (a verdict 0-3)
const firstByte = [
  insn(Class.LDX | Mode.MEM | Size.W, 2, 1, 4),
  insn(Class.LDX | Mode.MEM | Size.W, 1, 1, 0),
  insn(Class.ALU64 | 0xb0, 0, 0, 0, 0),
  insn(Class.ALU64 | 0xbf, 3, 1),
  insn(Class.ALU64 | 0x07, 3, 0, 0, 1),
  insn(Class.JMP | JmpOp.JGT | 0x08, 3, 2, 2),
  insn(Class.LDX | Mode.MEM | Size.B, 0, 1, 0),
  insn(Class.ALU64 | 0x57, 0, 0, 0, 3),
  insn(Class.JMP | JmpOp.EXIT),
];

function layout(rt: Runtime, n: number) {
  const space = rt.space;
  const ctxs = space.allocate(4 * n, 'scratch', 'ctxs').start;
  const out = space.allocate(4 * n, 'scratch', 'verdicts').start;
  const packets = [];
  for (let i = 0; i < n; i++) {
    const pkt = space.allocate(i % 7, 'packet', `packet ${i}`); // lengths 0..6
    space.bytes.fill((i * 37) & 0xff, pkt.start, pkt.end);
    const ctx = space.allocate(24, 'ctx', `xdp_md ${i}`, false);
    space.view.setUint32(ctx.start, pkt.start, true);
    space.view.setUint32(ctx.start + 4, pkt.end, true);
    space.view.setUint32(ctxs + 4 * i, ctx.start, true);
    packets.push({ pkt, ctx: ctx.start });
  }
  const verdicts = () => Array.from({ length: n }, (_, i) => space.view.getUint32(out + 4 * i, true));
  return { ctxs, out, packets, verdicts };
}

describe('batch runs', () => {
  it('writes the same verdicts as single runs and as the interpreter', () => {
    const rt = new Runtime();
    const prog = rt.prepare(firstByte);
    const jit = compile(prog, rt);
    const { ctxs, out, packets, verdicts } = layout(rt, 300);
    jit.runBatch(ctxs, 300, out);
    const interp = new Interpreter(rt);
    const want = packets.map(({ ctx }) => Number(interp.run(prog, { args: [ctx], checked: false }).r0));
    expect(verdicts()).toEqual(want);
    expect(packets.map(({ ctx }) => jit.run32(ctx))).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(2);
  });

  it('calls the per-packet hook with the invocation in place, in the checked engine too', () => {
    const rt = new Runtime();
    const seen: number[] = [];
    // A helper returning the packet length of the current invocation: needs per-packet state.
    const pktLen: HelperDef = {
      id: 300,
      name: 'pkt_len',
      proto: { ret: 'integer', args: [] },
      call: (env) => BigInt((env.invocation.packet?.end ?? 0) - (env.invocation.packet?.start ?? 0)),
    };
    const prog = rt.prepare([insn(Class.JMP | JmpOp.CALL, 0, 0, 0, 300), insn(Class.JMP | JmpOp.EXIT)], [], {
      helpers: (id) => (id === 300 ? pktLen : undefined),
    });
    const { ctxs, out, packets, verdicts } = layout(rt, 20);
    for (const checked of [false, true]) {
      seen.length = 0;
      const jit = compile(prog, rt, { checked });
      jit.runBatch(ctxs, 20, out, (i, ctx) => {
        seen.push(ctx);
        rt.invocation.packet = packets[i]!.pkt;
      });
      expect(seen).toEqual(packets.map((p) => p.ctx));
      expect(verdicts()).toEqual(packets.map((_, i) => i % 7));
    }
  });
});
