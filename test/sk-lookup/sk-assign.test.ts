// bpf_sk_assign with the prototype and rules of the calling type (test/fixtures/tc/sk_assign.c): sk_lookup
// may pass NULL (bpf_sk_lookup_assign: 0 for flags REPLACE/NO_REUSEPORT, EINVAL for others), tc must pass
// a socket (flags 0: EOPNOTSUPP, the test run's skb is not at tc ingress; others EINVAL). Verdicts, return
// codes and ctx out against the kernel on both engines; NULL from a tc program refused by both verifiers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { testRun } from '../../src/hooks/test-run.js';
import { rawKeys } from '../../src/maps/typed.js';
import { verify } from '../../src/verifier/index.js';
import { compareWithKernel } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/sk_assign.o';
const spec = () => readObject(readFileSync(FILE), { file: FILE });
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '-');

/** A struct bpf_sk_lookup for TCP over IPv4 to port 80. */
function lookupCtx(): Uint8Array {
  const ctx = new Uint8Array(72);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, 2, true);
  v.setUint32(12, 6, true);
  v.setUint32(60, 80, true);
  return ctx;
}

/** The return codes the program left in its map, slot by slot. */
function codes(map: { lookup(k: Uint8Array): Uint8Array | undefined; spec: unknown }): string[] {
  return [...rawKeys(map as never)].map((k) => `${hex(k)}=${hex(map.lookup(k))}`);
}

describe('bpf_sk_assign by program type', () => {
  it('sk_lookup: NULL is accepted, with the flags’ codes', () => {
    const obj = loadObject(spec(), { programs: ['assign_null'] });
    try {
      const r = testRun(obj.program('assign_null').runner('jit'), {
        dataIn: new Uint8Array(0),
        ctxIn: lookupCtx(),
      });
      expect(r.retval).toBe(1);
      const v = (i: number) => {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, i, true);
        return new DataView(obj.map('codes').lookup(key)!.buffer).getBigInt64(0, true);
      };
      expect([0, 1, 2, 3, 4, 5, 6].map(v)).toEqual([0n, 0n, 0n, 0n, -22n, -22n, 0n]);
    } finally {
      obj.close();
    }
  });

  it('tc: NULL is refused (a socket, checked against NULL)', () => {
    const text = `
      r2 = 0
      r3 = 0
      call 124
      r0 = 0
      exit`;
    const r = verify({ name: 'null_tc', type: 'sched_cls', insns: assemble(text), license: 'GPL' });
    expect(r.accepted).toBe(false);
    expect(r.diagnostics[0]!.message).toMatch(
      /argument 2 of sk_assign .* must be a socket, checked against NULL/,
    );
  });

  it.skipIf(!oracle)('the kernel agrees: verdicts, codes and ctx out on both engines', async () => {
    const kernel = await import('../../src/kernel/index.js');
    const { progLoad } = kernel;
    // tc with NULL: the kernel refuses it as well.
    const text = 'r2 = 0\n r3 = 0\n call 124\n r0 = 0\n exit';
    expect(() => progLoad({ type: 3, insns: assemble(text), license: 'GPL' })).toThrow(
      /R2 type=scalar expected=sock_common|EACCES/,
    );
    // sk_lookup: the same codes and ctx out.
    const kobj = kernel.loadKernelObject(spec(), { programs: ['assign_null'] });
    try {
      const k = kobj.program('assign_null').run({ dataIn: new Uint8Array(0), ctxIn: lookupCtx() });
      const want = codes(kobj.map('codes'));
      for (const engine of ['interp', 'jit'] as const) {
        const obj = loadObject(spec(), { programs: ['assign_null'], engine });
        try {
          const r = testRun(obj.program('assign_null').runner(engine), {
            dataIn: new Uint8Array(0),
            ctxIn: lookupCtx(),
          });
          expect(r.retval, engine).toBe(k.retval);
          expect(hex(r.ctxOut), engine).toBe(hex(k.ctxOut));
          expect(codes(obj.map('codes')), engine).toEqual(want);
        } finally {
          obj.close();
        }
      }
    } finally {
      kobj.close();
    }
    // tc with the test run's socket, over the captures.
    expect(await compareWithKernel(FILE, 'assign_tc')).toBeGreaterThan(100);
  });
});
