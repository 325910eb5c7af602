// testRun against the kernel's BPF_PROG_TEST_RUN: the xdp_md context in and out, metadata before the
// packet, data_out from data_meta, and the kernel's refusals of bad contexts.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { createMap, MapType } from '../../src/maps/index.js';
import { buildFrame } from '../../src/net/packet.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelOracle, kernelRefusesHelper } from '../support/kernel.js';
import { arrayCounter } from '../support/programs.js';

// Grow the metadata by 8 bytes, stamp it, and return the old metadata length as the verdict's high bits.
const PROGRAM = `
  r6 = r1
  r7 = *(u32 *)(r6 + 0)
  r8 = *(u32 *)(r6 + 8)
  r7 -= r8
  r2 = -8
  r1 = r6
  call 54
  if r0 != 0 goto fail
  r2 = *(u32 *)(r6 + 8)
  r3 = *(u32 *)(r6 + 0)
  r4 = r2
  r4 += 8
  if r4 > r3 goto fail
  r5 = 0x11223344
  *(u32 *)(r2 + 0) = r5
  *(u32 *)(r2 + 4) = r7
  r0 = 2
  exit
fail:
  r0 = 0
  exit
`;

// The same context and metadata checks without bpf_xdp_adjust_meta, for kernels that refuse the helper:
// stamp metadata the test run was given, and return its length.
const NO_ADJUST = `
  r2 = *(u32 *)(r1 + 0)
  r3 = *(u32 *)(r1 + 8)
  r0 = r2
  r0 -= r3
  r4 = r3
  r4 += 4
  if r4 > r2 goto out
  r5 = 0x11223344
  *(u32 *)(r3 + 0) = r5
out:
  exit
`;

const packet = buildFrame({
  ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
  udp: { sport: 1, dport: 5001 },
  payload: new Uint8Array(18),
});

function xdpMd(fields: {
  data?: number;
  dataEnd: number;
  dataMeta?: number;
  ifindex?: number;
  rxq?: number;
}): Uint8Array {
  const ctx = new Uint8Array(24);
  const v = new DataView(ctx.buffer);
  v.setUint32(0, fields.data ?? 0, true);
  v.setUint32(4, fields.dataEnd, true);
  v.setUint32(8, fields.dataMeta ?? 0, true);
  v.setUint32(12, fields.ifindex ?? 0, true);
  v.setUint32(16, fields.rxq ?? 0, true);
  return ctx;
}

function ours(dataIn: Uint8Array, ctxIn?: Uint8Array, text = PROGRAM) {
  const rt = new Runtime();
  const prog = rt.prepare({
    name: 'meta',
    section: 'xdp',
    type: 'xdp',
    insns: assemble(text),
    license: 'GPL',
  });
  return testRun(createRunner(rt, prog, { engine: 'jit', checked: true }), { dataIn, ctxIn });
}

const withMeta = new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd, ...packet]);
const CASES: [string, Uint8Array, Uint8Array | undefined][] = [
  ['no context', packet, undefined],
  ['a context without metadata', packet, xdpMd({ dataEnd: packet.length, ifindex: 1 })],
  ['4 bytes of metadata in', withMeta, xdpMd({ data: 4, dataEnd: withMeta.length })],
];

describe('testRun context and metadata', () => {
  it('returns data from data_meta and the context with data = metadata length', () => {
    const r = ours(withMeta, xdpMd({ data: 4, dataEnd: withMeta.length }));
    expect(r.retval).toBe(2);
    const v = new DataView(r.ctxOut.buffer);
    expect(v.getUint32(0, true)).toBe(12);
    expect(v.getUint32(4, true)).toBe(12 + packet.length);
    expect([...r.dataOut.subarray(0, 12)]).toEqual([
      0x44, 0x33, 0x22, 0x11, 4, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd,
    ]);
  });

  it('refuses contexts the kernel refuses', () => {
    expect(() => ours(packet, xdpMd({ dataEnd: packet.length + 1 }))).toThrow(/data_end/);
    expect(() => ours(packet, xdpMd({ dataEnd: packet.length, dataMeta: 4 }))).toThrow(/data_meta must be 0/);
    expect(() => ours(withMeta, xdpMd({ data: 3, dataEnd: withMeta.length }))).toThrow(/multiple of 4/);
    expect(() => ours(packet, xdpMd({ dataEnd: packet.length, rxq: 1 }))).toThrow(/rx_queue_index/);
  });

  it.skipIf(!kernelOracle())('matches BPF_PROG_TEST_RUN (retval, data_out, ctx_out)', async () => {
    const { progLoad, progTestRun, close } = await import('../../src/kernel/index.js');
    const refused = await kernelRefusesHelper(6, 54);
    if (refused) console.warn(`[kernel oracle] ${refused}: comparing the program without it`);
    const text = refused ? NO_ADJUST : PROGRAM;
    const { fd } = progLoad({ type: 6, insns: assemble(text), license: 'GPL' });
    try {
      for (const [what, data, ctx] of CASES) {
        const k = progTestRun(fd, { data, ctx, ctxOutSize: ctx ? 24 : 0 });
        const r = ours(data, ctx, text);
        expect(r.retval, what).toBe(k.retval);
        expect(Buffer.from(r.dataOut).toString('hex'), what).toBe(Buffer.from(k.data).toString('hex'));
        if (ctx)
          expect(Buffer.from(r.ctxOut).toString('hex'), what).toBe(Buffer.from(k.ctx!).toString('hex'));
      }
    } finally {
      close(fd);
    }
  });
});

describe('testRun repeats', () => {
  // A counter in an array map: the program's runs are exactly the repeats (the warm-up before the clock
  // starts runs nothing of it), on every engine and mode, with a fresh runner (nothing compiled yet).
  // Reading the array map's value (lookup) changes nothing.
  const COUNTER = arrayCounter(0, 2);
  for (const engine of ['interp', 'jit'] as const) {
    for (const checked of [false, true]) {
      it(`${engine}${checked ? ', checked' : ''}: repeat N runs the program N times`, () => {
        const rt = new Runtime();
        const spec = {
          name: 'counts',
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: 8,
          maxEntries: 1,
          flags: 0,
        };
        const counts = createMap(rt.space, spec, { cpus: 1 });
        const prog = rt.prepare(
          { name: 'count', section: 'xdp', type: 'xdp', insns: assemble(COUNTER), license: 'GPL' },
          [counts],
        );
        const runner = createRunner(rt, prog, { engine, checked });
        const count = () => new DataView(counts.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true);
        let total = 0;
        for (const repeat of [1, 1, 7, 1000]) {
          // The clock's readings see how many runs had happened: the first of several runs before the
          // clock starts (it pays for compiling what it reaches), the others between its two readings.
          const seen: bigint[] = [];
          const clock = () => {
            seen.push(count() - BigInt(total));
            return seen.length * 1000;
          };
          const r = testRun(runner, { dataIn: packet, repeat, clock });
          expect(seen).toEqual(repeat > 1 ? [1n, BigInt(repeat)] : [0n, 1n]);
          expect(r.durationNs).toBe(1000 / (repeat > 1 ? repeat - 1 : 1));
          total += repeat;
          expect(r.retval).toBe(2);
          expect(r.repeat).toBe(repeat);
          expect(count()).toBe(BigInt(total));
        }
      });
    }
  }
});
