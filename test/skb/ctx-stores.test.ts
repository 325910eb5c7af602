// Context stores of tc programs against the kernel's: every writable __sk_buff field written with values
// at the edges of what the kernel keeps and read back into a map, and ctx out, on both engines, must be
// the kernel's. The kernel converts the stores (tc_index and tc_classid are 16 bits in the skb, a
// queue_mapping of 0xffff or more is not stored), and so does program preparation (src/vm/ctx-stores.ts).
// test/fixtures/tc/ctx_stores.c writes each field from cb[] of the context in; ctx_stores_paths.c has
// the converted stores where the program's shape changes (a queue_mapping register store in a subprogram
// called from a loop, beside a bpf_loop callback) and the immediate (BPF_ST) stores.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { testRun } from '../../src/hooks/test-run.js';
import { convertCtxStores } from '../../src/vm/ctx-stores.js';
import { prepareProgram } from '../../src/vm/program.js';
import { PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const spec = (file: string) => readObject(readFileSync(file), { file });
const packet = PACKETS.find((p) => p.length >= 60 && p[12] === 8 && p[13] === 0)!;

/**
 * cb[0] (tc_index, mark), cb[1] (tc_classid, priority), cb[2] (queue_mapping): 0, each field's largest
 * kept value, the first values the kernel cuts or leaves out, and the 32-bit extremes.
 */
const CASES: [number, number, number][] = [
  [0, 0, 0],
  [0x55, 0x1001, 2],
  [0xffff, 0xfffe, 0xfffe],
  [0x1_0000, 0x1_0001, 0xfffd],
  [0x12345, 0xabcdef, 0xffff],
  [0xffff_ffff, 0x1_0000, 0x1_0005],
  [0x8000_0000, 0xffff_ffff, 0xffff_ffff],
  [0x7fff_ffff, 0x8000_8000, 0x8000_0000],
];

const PROGRAMS = [
  { file: 'test/fixtures/tc/ctx_stores.o', name: 'ctx_stores', slots: 11 },
  { file: 'test/fixtures/tc/ctx_stores_paths.o', name: 'ctx_stores_paths', slots: 10 },
];

function ctxOf([a, b, c]: [number, number, number]): Uint8Array {
  const ctx = new Uint8Array(192);
  const v = new DataView(ctx.buffer);
  v.setUint32(40, 1, true);
  v.setUint32(48, a >>> 0, true);
  v.setUint32(52, b >>> 0, true);
  v.setUint32(56, c >>> 0, true);
  return ctx;
}

const slots = (map: { lookup(k: Uint8Array): Uint8Array | undefined }, n: number) =>
  Array.from({ length: n }, (_, i) => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, i, true);
    return new DataView(map.lookup(key)!.buffer).getBigUint64(0, true);
  });

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe.skipIf(!oracle)('__sk_buff stores against the kernel', () => {
  for (const { file, name, slots: count } of PROGRAMS) {
    it(`${name}: every slot read back and ctx out as BPF_PROG_TEST_RUN, both engines`, async () => {
      const kernel = await import('../../src/kernel/index.js');
      let compared = 0;
      for (const [n, c] of CASES.entries()) {
        const kobj = kernel.loadKernelObject(spec(file), { programs: [name] });
        let want: bigint[];
        let kctx: Uint8Array;
        try {
          const r = kobj.program(name).run({ dataIn: packet, ctxIn: ctxOf(c) });
          expect(r.retval, `case ${n}: kernel verdict`).toBe(0);
          kctx = r.ctxOut!;
          want = slots(kobj.map('back'), count);
        } finally {
          kobj.close();
        }
        for (const engine of ['interp', 'jit'] as const) {
          const obj = loadObject(spec(file), { programs: [name], engine });
          try {
            const r = testRun(obj.program(name).runner(engine), { dataIn: packet, ctxIn: ctxOf(c) });
            expect(hex(r.ctxOut), `case ${n} ${engine}: ctx out`).toBe(hex(kctx));
            expect(slots(obj.map('back'), count), `case ${n} ${engine}: slots`).toEqual(want);
            compared++;
          } finally {
            obj.close();
          }
        }
      }
      expect(compared).toBe(CASES.length * 2);
    });
  }
});

describe('convertCtxStores', () => {
  const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0) => ({ code, dst, src, off, imm });
  const STX_W = 0x63;
  const ST_W = 0x62;

  it('narrows tc_index and tc_classid stores to 16 bits in place, leaves other fields', () => {
    const prog = [ins(STX_W, 1, 2, 44), ins(ST_W, 1, 0, 72, -2), ins(STX_W, 1, 2, 8), ins(0x95)];
    const out = convertCtxStores(
      prog,
      new Map([
        [0, 'tc_index'],
        [1, 'tc_classid'],
        [2, 'mark'],
      ]),
    );
    expect(out.map((i) => i.code)).toEqual([0x6b, 0x6a, STX_W, 0x95]);
    expect(out[1]!.imm).toBe(-2);
  });

  it('queue_mapping immediates: below 0xffff a 16-bit store, 0xffff and up nothing, -1 kept', () => {
    const prog = [
      ins(ST_W, 1, 0, 12, 0xfffe),
      ins(ST_W, 1, 0, 12, 0xffff),
      ins(ST_W, 1, 0, 12, -1),
      ins(0x95),
    ];
    const out = convertCtxStores(
      prog,
      new Map([
        [0, 'queue_mapping'],
        [1, 'queue_mapping'],
        [2, 'queue_mapping'],
      ]),
    );
    expect(out.map((i) => i.code)).toEqual([0x6a, 0x05, 0x6a, 0x95]);
    expect(out[1]!.off).toBe(0);
  });

  it('a queue_mapping register store becomes a guarded 16-bit store; jumps, calls and function addresses follow', () => {
    // A branch and a backward jump over a converted store, a local call and a function address past one.
    const prog = [
      ins(0x15, 2, 0, 3), // 0: if r2 == 0 goto 4
      ins(0x85, 0, 1, 0, 4), // 1: call 6
      ins(STX_W, 1, 2, 12), // 2: queue_mapping = r2
      ins(0x05, 0, 0, -4), // 3: goto 0
      ins(0x18, 3, 4, 0, 1), // 4: lddw r3 = func 6
      ins(0, 0, 0, 0, 0),
      ins(STX_W, 1, 2, 12), // 6: queue_mapping = r2
      ins(0x95), // 7
    ];
    const out = convertCtxStores(
      prog,
      new Map([
        [2, 'queue_mapping'],
        [6, 'queue_mapping'],
      ]),
    );
    expect(out.length).toBe(10);
    expect(out[0]).toMatchObject({ code: 0x15, off: 4 }); // to old 4, now 5
    expect(out[1]).toMatchObject({ code: 0x85, imm: 5 }); // to old 6, now 7
    expect(out[2]).toMatchObject({ code: 0x35, dst: 2, off: 1, imm: 0xffff });
    expect(out[3]).toMatchObject({ code: 0x6b, dst: 1, src: 2, off: 12 });
    expect(out[4]).toMatchObject({ code: 0x05, off: -5 });
    expect(out[5]).toMatchObject({ code: 0x18, imm: 1 });
    expect(out[7]!.code).toBe(0x35);
    // prepareProgram takes the result: functions start at the moved call target.
    const p = prepareProgram(prog, [], {
      ctxStores: new Map([
        [2, 'queue_mapping'],
        [6, 'queue_mapping'],
      ]),
    });
    expect(p.functions).toEqual([0, 7]);
  });
});
