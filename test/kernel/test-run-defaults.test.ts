// progTestRun's defaults per program type, against the kernel: raw_tracepoint and syscall test runs refuse
// a repeat and a ctx_out (EINVAL), so by default neither is sent; a syscall program's context comes back
// through ctx_in; the packet types still run once by default and take their ctx_out.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import * as k from '../../src/kernel/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const BPF_F_SLEEPABLE = 1 << 4;

/** Load `text` as program type `type` (kernel number), run `fn` with its fd, close it. */
function withProgram<T>(type: number, text: string, fn: (fd: number) => T, flags = 0): T {
  const { fd } = k.progLoad({ type, insns: assemble(text), license: 'GPL', flags });
  try {
    return fn(fd);
  } finally {
    k.close(fd);
  }
}

describe.skipIf(!oracle)('progTestRun defaults per program type (BPF_PROG_TEST_RUN)', () => {
  it('raw_tracepoint: runs with its arguments and no repeat or ctx_out; either given is EINVAL', () => {
    const args = new Uint8Array(new BigUint64Array([41n, 1n]).buffer);
    const text = `
      r2 = *(u64 *)(r1 + 0)
      r3 = *(u64 *)(r1 + 8)
      r0 = r2
      r0 += r3
      exit`;
    withProgram(17, text, (fd) => {
      expect(k.progTestRun(fd, { ctx: args, type: 'raw_tracepoint' }).retval).toBe(42);
      expect(() => k.progTestRun(fd, { ctx: args, type: 'raw_tracepoint', repeat: 1 })).toThrow(/EINVAL/);
      // Without the type, ctx_out is sent (the packet types' default): the kernel refuses it.
      expect(() => k.progTestRun(fd, { ctx: args })).toThrow(/EINVAL/);
    });
  });

  it('syscall: runs with no repeat; the context the program wrote comes back through ctx_in', () => {
    const ctx = new Uint8Array(new Uint32Array([5, 0]).buffer);
    const text = `
      r2 = *(u32 *)(r1 + 0)
      r2 += 100
      *(u32 *)(r1 + 4) = r2
      r0 = 7
      exit`;
    withProgram(
      31,
      text,
      (fd) => {
        const r = k.progTestRun(fd, { ctx, type: 'syscall' });
        expect(r.retval).toBe(7);
        expect([...new Uint32Array(r.ctx!.slice().buffer)]).toEqual([5, 105]);
        expect(() => k.progTestRun(fd, { ctx, type: 'syscall', repeat: 2 })).toThrow(/EINVAL/);
      },
      BPF_F_SLEEPABLE,
    );
  });

  it('sched_cls: one run by default, ctx_out the size of ctx_in', () => {
    withProgram(3, 'r0 = *(u32 *)(r1 + 8)\n exit', (fd) => {
      const ctx = new Uint8Array(192);
      new DataView(ctx.buffer).setUint32(8, 9, true);
      const r = k.progTestRun(fd, { data: new Uint8Array(64), ctx, type: 'sched_cls' });
      expect(r.retval).toBe(9);
      expect(r.ctx!.length).toBe(192);
    });
  });
});
