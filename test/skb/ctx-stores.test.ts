// Context stores of a tc program against the kernel's (test/fixtures/tc/ctx_stores.c): each writable
// __sk_buff field written from cb[] of the context in and read back into a map, and ctx out, on both
// engines. Values within what the kernel keeps agree; at the edges the kernel converts the stores (tc_index
// and tc_classid are 16 bits in the skb, a queue_mapping of 0xffff or more is not stored), which this code
// does not yet do: those slots are listed (KNOWN), so the test fails when either side changes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { testRun } from '../../src/hooks/test-run.js';
import { PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/ctx_stores.o';
const NAME = 'ctx_stores';
const spec = () => readObject(readFileSync(FILE), { file: FILE });
const packet = PACKETS.find((p) => p.length >= 60 && p[12] === 8 && p[13] === 0)!;

/** cb[0] (tc_index, mark), cb[1] (tc_classid, priority), cb[2] (queue_mapping). */
const CASES: [number, number, number][] = [
  [0x55, 0x1001, 2],
  [0xffff, 0xfffe, 0xfffe],
  [0x12345, 0xabcdef, 0xffff],
  [0xffff_ffff, 0x1_0000, 0x1_0005],
];

/** Slots whose values differ from the kernel's today, by case: the stores the kernel converts. */
const KNOWN: Record<number, number[]> = { 0: [3], 1: [3], 2: [0, 1, 2, 3], 3: [0, 1, 2, 3] };

function ctxOf([a, b, c]: [number, number, number]): Uint8Array {
  const ctx = new Uint8Array(192);
  const v = new DataView(ctx.buffer);
  v.setUint32(40, 1, true);
  v.setUint32(48, a >>> 0, true);
  v.setUint32(52, b >>> 0, true);
  v.setUint32(56, c >>> 0, true);
  return ctx;
}

const slots = (map: { lookup(k: Uint8Array): Uint8Array | undefined }) =>
  Array.from({ length: 11 }, (_, i) => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, i, true);
    return new DataView(map.lookup(key)!.buffer).getBigUint64(0, true);
  });

describe.skipIf(!oracle)('__sk_buff stores against the kernel', () => {
  it('every writable field read back and ctx out as BPF_PROG_TEST_RUN, but the listed conversions', async () => {
    const kernel = await import('../../src/kernel/index.js');
    for (const [n, c] of CASES.entries()) {
      const kobj = kernel.loadKernelObject(spec(), { programs: [NAME] });
      let want: bigint[];
      let kctx: Uint8Array;
      try {
        kctx = kobj.program(NAME).run({ dataIn: packet, ctxIn: ctxOf(c) }).ctxOut!;
        want = slots(kobj.map('back'));
      } finally {
        kobj.close();
      }
      for (const engine of ['interp', 'jit'] as const) {
        const obj = loadObject(spec(), { programs: [NAME], engine });
        try {
          const r = testRun(obj.program(NAME).runner(engine), { dataIn: packet, ctxIn: ctxOf(c) });
          expect(Buffer.from(r.ctxOut).toString('hex'), `case ${n} ${engine}: ctx out`).toBe(
            Buffer.from(kctx).toString('hex'),
          );
          const got = slots(obj.map('back'));
          const differ = got.flatMap((x, i) => (x === want[i] ? [] : [i]));
          expect(differ, `case ${n} ${engine}: slots ${got} (kernel ${want})`).toEqual(KNOWN[n] ?? []);
        } finally {
          obj.close();
        }
      }
    }
  });
});
