// bpf_skb_load_bytes inline on the JIT (src/jit/inline-skb.ts): the module imports no helper for it, and
// its results at the edges (offset 0, the last whole load, one byte past, INT_MAX, past INT_MAX) are the
// interpreter's and the kernel's: the copied bytes or a zeroed buffer and -EFAULT.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { generate } from '../../src/jit/compile.js';
import type { ProgramSpec } from '../../src/spec/object.js';
import { Runtime } from '../../src/vm/runtime.js';
import { PACKETS, skbCtx } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

// The offset comes from skb->mark (ctx_in); eight bytes are loaded onto the stack (filled with 0x55 first,
// so a zeroed buffer shows). cb[0] = r0, cb[1]/cb[2] = the loaded bytes; the return value is r0.
const TEXT = `
  r6 = r1
  r1 = 0x5555555555555555 ll
  *(u64 *)(r10 - 8) = r1
  r2 = *(u32 *)(r6 + 8)
  r1 = r6
  r3 = r10
  r3 += -8
  r4 = 8
  call 26
  *(u32 *)(r6 + 48) = r0
  r1 = *(u32 *)(r10 - 8)
  *(u32 *)(r6 + 52) = r1
  r1 = *(u32 *)(r10 - 4)
  *(u32 *)(r6 + 56) = r1
  exit`;

const spec = (type: string): ProgramSpec => ({
  name: 'load8',
  section: type === 'sched_cls' ? 'tc' : 'socket',
  type,
  insns: assemble(TEXT),
  license: 'GPL',
});

const packet = PACKETS.find((p) => p.length >= 60)!;

describe('skb_load_bytes inline on the JIT', () => {
  it('imports no helper for it in verified code; checked code calls the helper', () => {
    const rt = new Runtime();
    const prog = rt.prepare(spec('sched_cls'));
    expect(generate(prog, rt, 4096).helperIds).not.toContain(26);
    expect(generate(prog, rt, 4096, { checked: true }).helperIds).toContain(26);
  });

  it('gives the interpreter’s results at every edge, ctx_out and return value', () => {
    const len = packet.length;
    for (const type of ['sched_cls', 'socket_filter']) {
      // socket_filter's data starts at the network header: its skb->len is 14 bytes shorter.
      const skbLen = type === 'sched_cls' ? len : len - 14;
      for (const off of [0, 1, skbLen - 8, skbLen - 7, skbLen, 0x7fff_ffff, 0x8000_0000, 0xffff_fff9]) {
        const ctx = skbCtx(len);
        new DataView(ctx.buffer).setUint32(8, off >>> 0, true);
        const runs = (['interp', 'jit'] as const).map((engine) => {
          const rt = new Runtime();
          const runner = createRunner(rt, rt.prepare(spec(type)), { engine, checked: false });
          const r = testRun(runner, { dataIn: packet, ctxIn: type === 'sched_cls' ? ctx : undefined });
          return { retval: r.retval, ctxOut: [...r.ctxOut.slice(48, 60)] };
        });
        expect(runs[1], `${type} offset ${off}`).toEqual(runs[0]);
      }
    }
  });

  it.skipIf(!oracle)('gives the kernel’s results (BPF_PROG_TEST_RUN) at every edge', async () => {
    const { progLoad, progTestRun, close } = await import('../../src/kernel/index.js');
    const { fd } = progLoad({ type: 3, insns: assemble(TEXT), license: 'GPL' });
    try {
      const len = packet.length;
      for (const off of [0, len - 8, len - 7, len, 0x7fff_ffff, 0x8000_0000]) {
        const ctx = skbCtx(len);
        new DataView(ctx.buffer).setUint32(8, off >>> 0, true);
        const kernel = progTestRun(fd, { data: packet, ctx });
        const rt = new Runtime();
        const runner = createRunner(rt, rt.prepare(spec('sched_cls')), { engine: 'jit', checked: false });
        const ours = testRun(runner, { dataIn: packet, ctxIn: ctx });
        expect(ours.retval, `offset ${off}`).toBe(kernel.retval);
        expect([...ours.ctxOut.slice(48, 60)], `offset ${off}`).toEqual([...kernel.ctx!.slice(48, 60)]);
      }
    } finally {
      close(fd);
    }
  });
});
