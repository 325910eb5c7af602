// Test runs of raw_tracepoint and syscall programs (src/hooks/test-run-args.ts) against the kernel's
// BPF_PROG_TEST_RUN: the return value on several argument buffers, on both engines; the syscall buffer
// written back; and the kernel's refusals (data_in, a repeat count, an oversized ctx_in).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/index.js';
import { readObject } from '../../src/elf/index.js';
import * as kernel from '../../src/kernel/index.js';
import { programTypeFor } from '../../src/spec/program-types.js';
import { kernelOracle } from '../support/kernel.js';

const FILE = new URL('../fixtures/types/args_run.o', import.meta.url);
const spec = readObject(new Uint8Array(readFileSync(FILE)), { file: 'args_run.o' });
const oracle = kernelOracle();

const u64s = (...v: bigint[]) => {
  const b = new Uint8Array(8 * v.length);
  const d = new DataView(b.buffer);
  for (const [i, x] of v.entries()) d.setBigUint64(8 * i, x, true);
  return b;
};
/** struct sum_args { u32 a, b; u64 sum; u8 tag[4]; } padded to 24 bytes. */
const sumArgs = (a: number, b: number) => {
  const buf = new Uint8Array(24);
  const d = new DataView(buf.buffer);
  d.setUint32(0, a, true);
  d.setUint32(4, b, true);
  return buf;
};

const RAW_TP_CASES = [
  u64s(1n, 2n, 3n),
  u64s(0n, 0n, 0n),
  u64s(0xffffffffn, 7n, 0x1234n, 9n),
  u64s(5n, 1n << 40n, 3n),
];
const SYSCALL_CASES = [sumArgs(1, 2), sumArgs(9, 4), sumArgs(0xffffffff, 0xffffffff)];

function kernelRetval(name: string, ctx: Uint8Array): number {
  const p = spec.programs.find((x) => x.name === name)!;
  const { fd } = kernel.progLoad({
    type: programTypeFor(p.type)!.kernel,
    insns: p.insns,
    license: 'GPL',
    flags: p.type === 'syscall' ? 1 << 4 : 0,
  });
  try {
    return kernel.progTestRun(fd, { ctx, repeat: 0, ctxOutSize: 0 }).retval;
  } finally {
    kernel.close(fd);
  }
}

function ours(
  name: string,
  ctxIn: Uint8Array,
  engine: 'interp' | 'jit',
  extra: { dataIn?: Uint8Array; repeat?: number } = {},
) {
  const coll = loadCollection(spec, { programs: [name] });
  try {
    return coll
      .program(name)
      .run({ dataIn: extra.dataIn ?? new Uint8Array(0), ctxIn, repeat: extra.repeat ?? 0, engine });
  } finally {
    coll.close();
  }
}

describe('argument-buffer test runs', () => {
  it('the syscall program writes its buffer back, on both engines', () => {
    for (const engine of ['interp', 'jit'] as const) {
      const r = ours('ok_syscall_sum', sumArgs(9, 4), engine);
      expect(r.retval).toBe(1);
      const d = new DataView(r.ctxOut!.buffer, r.ctxOut!.byteOffset);
      expect(d.getBigUint64(8, true)).toBe(13n);
      expect([...r.ctxOut!.subarray(16, 18)]).toEqual([0x6f, 0x6b]);
    }
  });

  it('refuses what the kernel refuses: data_in, a repeat count, a ctx_in past 96 bytes (raw_tracepoint)', () => {
    expect(() => ours('ok_rawtp_mix', u64s(1n), 'jit', { dataIn: new Uint8Array(14) })).toThrow(
      /EINVAL.*no data_in/,
    );
    expect(() => ours('ok_rawtp_mix', u64s(1n, 2n, 3n), 'jit', { repeat: 1 })).toThrow(
      /EINVAL.*no repeat count/,
    );
    expect(() => ours('ok_rawtp_mix', new Uint8Array(104), 'jit')).toThrow(
      /EINVAL.*more than a raw_tracepoint test run takes \(96\)/,
    );
    expect(ours('ok_syscall_sum', new Uint8Array(104), 'jit').retval).toBe(2);
  });
});

describe.runIf(oracle)('argument-buffer test runs agree with BPF_PROG_TEST_RUN', () => {
  it('raw_tracepoint and syscall return values, both engines', () => {
    const rows: string[] = [];
    for (const [name, cases] of [
      ['ok_rawtp_mix', RAW_TP_CASES],
      ['ok_syscall_sum', SYSCALL_CASES],
    ] as const) {
      for (const ctx of cases) {
        const k = kernelRetval(name, ctx);
        for (const engine of ['interp', 'jit'] as const) {
          const r = ours(name, ctx, engine).retval;
          if (r !== k) rows.push(`${name} ${engine} ctx ${ctx.length} bytes: kernel ${k}, ours ${r}`);
        }
      }
    }
    expect(rows).toEqual([]);
  });

  it('the kernel refuses the same arguments', () => {
    const p = spec.programs.find((x) => x.name === 'ok_rawtp_mix')!;
    const { fd } = kernel.progLoad({ type: programTypeFor(p.type)!.kernel, insns: p.insns, license: 'GPL' });
    try {
      const attempt = (o: kernel.TestRunOptions) => {
        try {
          kernel.progTestRun(fd, { ctxOutSize: 0, ...o });
          return 'ran';
        } catch (e) {
          return (e as Error).message.includes('EINVAL') ? 'EINVAL' : (e as Error).message;
        }
      };
      expect(attempt({ ctx: u64s(1n, 2n, 3n), data: new Uint8Array(14), repeat: 0 })).toBe('EINVAL');
      expect(attempt({ ctx: u64s(1n, 2n, 3n), repeat: 1 })).toBe('EINVAL');
      expect(attempt({ ctx: new Uint8Array(104), repeat: 0 })).toBe('EINVAL');
      expect(attempt({ ctx: u64s(1n, 2n, 3n), repeat: 0 })).toBe('ran');
    } finally {
      kernel.close(fd);
    }
  });
});
