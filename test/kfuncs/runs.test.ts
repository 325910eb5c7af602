// Kfuncs run in user space (the cpumask kfuncs, allocated in the address space and freed on release), on
// both engines, against BPF_PROG_TEST_RUN of the same syscall programs: the return value and the context
// the program writes back are the kernel's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/engine/runner.js';
import { possibleCpus } from '../../src/kernel/index.js';
import { progTestRun } from '../../src/kernel/syscall.js';
import { liveKfuncObjects } from '../../src/kfuncs/index.js';
import { readCapture } from '../../src/net/index.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelLoad, kernelRun } from '../corpus/measure.js';
import { SKB_CTX } from '../corpus/setup.js';
import { kernelOracle } from '../support/kernel.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const DIR = new URL('../fixtures/kfuncs/', import.meta.url);
const spec = (file: string) => readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file });

const le32 = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);

/** cpumask_ops' argument blocks: a's bits, b's bits, a cpu to probe; 20 result words after them. */
const ARGS = [
  [0b1011, 0b0110, 1],
  [0, 0, 0],
  [0b11, 0b11, 5],
  [1, 0xffffffff, 70000],
  [0xffffffff, 0b10, 31],
].map(([a, b, probe]) => new Uint8Array([...le32(a!, b!, probe!), ...new Uint8Array(20 * 4)]));

/** The kernel's run of program `name` of `file` with each argument block: the return value and the block out. */
function kernelRuns(file: string, name: string, args: Uint8Array[]): { retval: number; ctx: Uint8Array }[] {
  const coll = loadCollection(spec(file), { backend: 'kernel' });
  try {
    const p = coll.program(name) as unknown as { fd: number };
    return args.map((a) => {
      const r = progTestRun(p.fd, { ctx: a, type: 'syscall' });
      return { retval: r.retval, ctx: r.ctx ?? new Uint8Array() };
    });
  } finally {
    coll.close();
  }
}

describe('cpumask kfuncs in user space', () => {
  it("count only CPUs below nr_cpu_ids (the runtime's CPUs), as the kernel does", () => {
    const coll = loadCollection(spec('a_cpumask_ops.o'), { runtime: new Runtime({ cpus: 2 }) });
    const r = coll
      .program('cpumask_ops')
      .run({ dataIn: new Uint8Array(0), ctxIn: ARGS[0]!, engine: 'interp' });
    expect(r.retval).toBe(0);
    // a = {0,1,3}, b = {1,2} on 2 CPUs: weight_a 2, weight_b 1, first_a 0, first_zero_a 2 (none: nr_cpu_ids),
    // first_and 1, test_cpu(1, a) 1, and_any 1, weights of and/or/xor 1, 2, 1, equal 0, intersects 1,
    // subset 0, empty 0, full 1.
    const w = [...new Uint32Array((r.ctxOut ?? new Uint8Array(92)).slice().buffer)];
    expect(w.slice(3, 18)).toEqual([2, 1, 0, 2, 1, 1, 1, 1, 2, 1, 0, 1, 0, 0, 1]);
    coll.close();
  });

  it("give the kernel's results on both engines, and free every mask they create", () => {
    const cpus = kernelOracle() ? possibleCpus() : 2;
    const runtime = new Runtime({ cpus });
    const coll = loadCollection(spec('a_cpumask_ops.o'), { runtime });
    const got = ENGINES.map((engine) =>
      ARGS.map((a) => {
        const r = coll.program('cpumask_ops').run({ dataIn: new Uint8Array(0), ctxIn: a, engine });
        return { retval: r.retval, ctx: r.ctxOut ?? new Uint8Array() };
      }),
    );
    const words = (u: Uint8Array) => [...new Uint32Array(u.slice().buffer)];
    expect(got[1]).toEqual(got[0]);
    expect(liveKfuncObjects(runtime.space)).toBe(0);
    if (!kernelOracle()) return;
    const want = kernelRuns('a_cpumask_ops.o', 'cpumask_ops', ARGS);
    expect(want[0]!.ctx).toHaveLength(ARGS[0]!.length);
    for (const g of got)
      expect(g.map((x) => [x.retval, words(x.ctx)])).toEqual(want.map((x) => [x.retval, words(x.ctx)]));
    coll.close();
  });

  it('run a program whose missing __weak kfunc is on a dead path, as the kernel runs it', () => {
    const s = spec('a_weak_missing.o');
    expect(s.programs[0]!.kfuncs).toEqual([
      { name: 'bpf_tsbpf_no_such_kfunc', weak: true },
      { name: 'bpf_rcu_read_lock' },
      { name: 'bpf_rcu_read_unlock' },
    ]);
    const coll = loadCollection(s);
    for (const engine of ENGINES)
      expect(coll.program('weak_missing').run({ dataIn: new Uint8Array(0), engine }).retval).toBe(7);
    coll.close();
    if (!kernelOracle()) return;
    expect(kernelRuns('a_weak_missing.o', 'weak_missing', [new Uint8Array(8)])[0]!.retval).toBe(7);
  });
});

const FRAMES = readCapture(
  new Uint8Array(readFileSync(new URL('../fixtures/pcap/crafted.pcap', import.meta.url))),
)
  .packets.map((p) => p.data)
  // Frames both test runs take (the skb test run wants Ethernet and IPv4 headers).
  .filter((f) => f.length >= 34);

describe('dynptr kfuncs in user space', () => {
  it.each([
    ['a_dynptr_tc.o', 'dynptr_tc', SKB_CTX],
    ['a_dynptr_xdp.o', 'dynptr_xdp', undefined],
  ] as const)(
    "%s over crafted.pcap: the kernel's verdicts, packets and context on both engines",
    (file, name, ctxIn) => {
      const coll = loadCollection(spec(file));
      const got = ENGINES.map((engine) =>
        FRAMES.map((f) => {
          const r = coll.program(name).run({ dataIn: f, engine, ...(ctxIn ? { ctxIn } : {}) });
          return {
            retval: r.retval,
            dataOut: hex(r.dataOut),
            ctxOut: ctxIn ? hex(r.ctxOut ?? new Uint8Array()) : '',
          };
        }),
      );
      coll.close();
      expect(got[1]).toEqual(got[0]);
      // More than one outcome over the capture: the slices read what the frames hold.
      expect(new Set(got[0]!.map((r) => r.retval)).size).toBeGreaterThan(1);
      if (!kernelOracle()) return;
      const k = kernelLoad(`../kfuncs/${file}`);
      try {
        const pin = [...k.verdicts.values()][0]!.pin!;
        const want = FRAMES.map((f) => {
          const r = kernelRun(pin, f, ctxIn);
          if ('error' in r) throw new Error(r.error);
          return {
            retval: r.retval,
            dataOut: hex(r.dataOut),
            ctxOut: ctxIn ? hex(r.ctxOut ?? new Uint8Array()) : '',
          };
        });
        expect(got[0]).toEqual(want);
      } finally {
        k.release();
      }
    },
  );
});
