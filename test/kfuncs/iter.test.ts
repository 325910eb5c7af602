// Open-coded iterators (bpf_iter_num_*): a_iter_sum.c (a bpf_for-style sum, a bpf_repeat count, a table
// indexed by the iterator's numbers) run on both engines and by the kernel's BPF_PROG_TEST_RUN with the same
// argument blocks, ranges empty, reversed, past the kernel's bound and near INT_MIN included: the return value
// and the block written back are the kernel's. The verdicts are in verdicts.test.ts; here also how the
// verifier's loop converges.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/engine/runner.js';
import { progTestRun } from '../../src/kernel/syscall.js';
import { readCapture } from '../../src/net/index.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { verify } from '../../src/verifier/index.js';
import { kernelLoad, kernelRun } from '../corpus/measure.js';
import { SKB_CTX } from '../corpus/setup.js';
import { kernelOracle } from '../support/kernel.js';

const DIR = new URL('../fixtures/kfuncs/', import.meta.url);
const spec = (file: string) => readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file });

/** struct args: start, end, then sum, count, new_ret, repeats, weighted written by the program. */
const block = (start: number, end: number) =>
  new Uint8Array(new Int32Array([start, end, 0, 0, 0, 0, 0]).buffer);
const RANGES: [number, number][] = [
  [0, 10],
  [3, 3],
  [5, 2],
  [-5, 20],
  [0, 9_000_000], // more than the kernel's 8 Mi iterations: E2BIG
  [-2147483648, -2147483640],
  [12, 40],
  [0, 100_000],
];
const ARGS = RANGES.map(([s, e]) => block(s, e));
const words = (u: Uint8Array) => [...new Int32Array(u.slice().buffer)];

describe('bpf_iter_num in user space', () => {
  it('sums, counts and refuses ranges as the kernel defines them', () => {
    const coll = loadCollection(spec('a_iter_sum.o'));
    const run = (a: Uint8Array) => {
      const r = coll.program('iter_sum').run({ dataIn: new Uint8Array(0), ctxIn: a, engine: 'interp' });
      return { retval: r.retval, out: words(r.ctxOut!) };
    };
    // [0, 10): sum 45, 10 numbers, new returned 0, 5 repeats; table[i] = 3i + 1 for i < 10, weighted by i + 1.
    let w = 0;
    for (let i = 0; i < 10; i++) w += (3 * i + 1) * (i + 1);
    expect(run(ARGS[0]!)).toEqual({ retval: 10, out: [0, 10, 45, 10, 0, 5, w] });
    expect(run(ARGS[1]!).out.slice(2, 6)).toEqual([0, 0, 0, 5]);
    expect(run(ARGS[2]!).out.slice(2, 6)).toEqual([0, 0, -22, 5]); // -EINVAL
    expect(run(ARGS[4]!).out.slice(2, 6)).toEqual([0, 0, -7, 5]); // -E2BIG
    coll.close();
  });

  it("give the kernel's results on both engines", () => {
    const got = ENGINES.map((engine) => {
      // A collection per engine: the table in .bss keeps what earlier runs wrote, as in the kernel's run.
      const coll = loadCollection(spec('a_iter_sum.o'));
      try {
        return ARGS.map((a) => {
          const r = coll.program('iter_sum').run({ dataIn: new Uint8Array(0), ctxIn: a, engine });
          return [r.retval, words(r.ctxOut ?? new Uint8Array())];
        });
      } finally {
        coll.close();
      }
    });
    expect(got[1]).toEqual(got[0]);
    expect(got[0]![7]).toEqual([100_000, [0, 100_000, 4999950000 | 0, 100_000, 0, 5, expect.any(Number)]]);
    if (!kernelOracle()) return;
    const coll = loadCollection(spec('a_iter_sum.o'), { backend: 'kernel' });
    try {
      const p = coll.program('iter_sum') as unknown as { fd: number };
      const want = ARGS.map((a) => {
        const r = progTestRun(p.fd, { ctx: a, type: 'syscall' });
        return [r.retval, words(r.ctx ?? new Uint8Array())];
      });
      expect(want[0]![1]).toHaveLength(7);
      for (const g of got) expect(g).toEqual(want);
    } finally {
      coll.close();
    }
  });
});

/** a_iter_nested's block: n, then pairs, products (8-aligned), steps. */
const nested = (n: number) => new Uint8Array(new Int32Array([n, 0, 0, 0, 0, 0]).buffer);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const FRAMES = readCapture(
  new Uint8Array(readFileSync(new URL('../fixtures/pcap/crafted.pcap', import.meta.url))),
)
  .packets.map((p) => p.data)
  .filter((f) => f.length >= 34);

describe('nested iterators and an iterator in a tc program', () => {
  it("count pairs as the kernel's run does, on both engines", () => {
    const NS = [0, 1, 2, 5, 30, -3];
    const coll = loadCollection(spec('a_iter_nested.o'));
    const got = ENGINES.map((engine) =>
      NS.map((n) => {
        const r = coll.program('iter_nested').run({ dataIn: new Uint8Array(0), ctxIn: nested(n), engine });
        return [r.retval, hex(r.ctxOut ?? new Uint8Array())];
      }),
    );
    coll.close();
    expect(got[1]).toEqual(got[0]);
    // n = 30: 435 pairs i > j, sum of i * j over them 90335, 30 outer steps.
    expect(got[0]![4]![0]).toBe(435);
    expect(words(new Uint8Array(Buffer.from(got[0]![4]![1] as string, 'hex')))).toEqual([
      30, 435, 90335, 0, 30, 0,
    ]);
    if (!kernelOracle()) return;
    const k = loadCollection(spec('a_iter_nested.o'), { backend: 'kernel' });
    try {
      const p = k.program('iter_nested') as unknown as { fd: number };
      const want = NS.map((n) => {
        const r = progTestRun(p.fd, { ctx: nested(n), type: 'syscall' });
        return [r.retval, hex(r.ctx ?? new Uint8Array())];
      });
      expect(got[0]).toEqual(want);
    } finally {
      k.close();
    }
  });

  it("a_iter_tc over crafted.pcap: the kernel's return values and context on both engines", () => {
    const coll = loadCollection(spec('a_iter_tc.o'));
    const got = ENGINES.map((engine) =>
      FRAMES.map((f) => {
        const r = coll.program('iter_tc').run({ dataIn: f, engine, ctxIn: SKB_CTX });
        return { retval: r.retval, ctxOut: hex(r.ctxOut ?? new Uint8Array()) };
      }),
    );
    coll.close();
    expect(got[1]).toEqual(got[0]);
    expect(new Set(got[0]!.map((r) => r.retval)).size).toBeGreaterThan(1);
    if (!kernelOracle()) return;
    const k = kernelLoad('../kfuncs/a_iter_tc.o');
    try {
      const pin = [...k.verdicts.values()][0]!.pin!;
      const want = FRAMES.map((f) => {
        const r = kernelRun(pin, f, SKB_CTX);
        if ('error' in r) throw new Error(r.error);
        return { retval: r.retval, ctxOut: hex(r.ctxOut ?? new Uint8Array()) };
      });
      expect(got[0]).toEqual(want);
    } finally {
      k.release();
    }
  });
});

describe('bpf_iter_num loops in the verifier', () => {
  it('converge: the sum loop is proven for any number of iterations within a bounded cost', () => {
    const s = spec('a_iter_sum.o');
    const r = verify(s.programs[0]!, { maps: s.maps });
    expect(r.accepted, r.log).toBe(true);
    // The kernel processes 92 instructions; tsbpf re-walks the 16-step table loop after each of the few
    // iterations it needs to converge. Without convergence the loop would run to the 1M-instruction limit.
    expect(r.insnsProcessed).toBeLessThan(5000);
  });
});
