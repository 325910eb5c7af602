// The flow dissector's test run (src/hooks/flow-dissector.ts) against the kernel's BPF_PROG_TEST_RUN on the
// clang-built fixtures of test/fixtures/tc/flow_dissect.c over the bundled captures, on both engines: the
// keys the kernel fills before the run, the clamps after it, bpf_skb_load_bytes without an skb, ctx_in.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { TestRunError, testRun } from '../../src/hooks/test-run.js';
import { kernelOracle } from '../support/kernel.js';
import { compareWithKernel, PACKETS } from './tc-kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/flow_dissect.o';
const ENGINES = ['interp', 'jit'] as const;

function object() {
  return loadObject(readObject(readFileSync(FILE), { file: FILE }));
}

function frame(type: number, payload: number[]): Uint8Array {
  return new Uint8Array([...new Array(12).fill(0), type >> 8, type & 0xff, ...payload]);
}
const IP4 = [0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
const UDP = [0x12, 0x34, 0x56, 0x78, 0, 8, 0, 0];
const udp4 = frame(0x0800, [...IP4, ...UDP]);
const vlan = frame(0x8100, [0, 5, 0x08, 0x00, ...IP4, ...UDP]);
const arp = frame(0x0806, new Array(28).fill(0));
const keysOf = (b: Uint8Array) => {
  const v = new DataView(b.buffer, b.byteOffset);
  return {
    nhoff: v.getUint16(0, true),
    thoff: v.getUint16(2, true),
    addrProto: v.getUint16(4, true),
    ipProto: b[9],
    nProto: v.getUint16(10, false),
    sport: v.getUint16(12, false),
    dport: v.getUint16(14, false),
    flags: v.getUint32(48, true),
  };
};

describe('the flow dissector test run', () => {
  for (const engine of ENGINES) {
    it(`fills the keys the kernel fills before the run (${engine})`, () => {
      const o = object();
      const r = testRun(o.program('flow_seen').runner(engine), { dataIn: vlan });
      expect(r.retval).toBe(vlan.length); // data_end - data: the whole frame from its Ethernet header
      expect(r.dataOut.length).toBe(56);
      const seen = o.map('seen').lookup(new Uint8Array(4))!;
      // Zeroed, then nhoff = thoff = ETH_HLEN, n_proto the EtherType as it stands (the VLAN tag's).
      expect(keysOf(seen)).toEqual({
        nhoff: 14,
        thoff: 14,
        addrProto: 0,
        ipProto: 0,
        nProto: 0x8100,
        sport: 0,
        dport: 0,
        flags: 0,
      });
      expect(seen.subarray(16, 48).every((b) => b === 0)).toBe(true);
      expect(r.ctxOut).toEqual(new Uint8Array(56));
    });

    it(`returns the keys the program wrote, clamped as the kernel clamps them (${engine})`, () => {
      const o = object();
      const run = (dataIn: Uint8Array) => testRun(o.program('flow_parse').runner(engine), { dataIn });
      const a = run(udp4);
      expect(a.retval).toBe(0); // BPF_OK
      expect(keysOf(a.dataOut)).toMatchObject({ nhoff: 14, thoff: 34, addrProto: 0x0800, ipProto: 17 });
      expect(keysOf(a.dataOut)).toMatchObject({ sport: 0x1234, dport: 0x5678 });
      const b = run(vlan);
      expect(keysOf(b.dataOut)).toMatchObject({ nhoff: 18, thoff: 38, nProto: 0x0800, dport: 0x5678 });
      // nhoff 0xfff0 and thoff 3 come back as the frame's length (42), the clamps' bounds.
      const c = run(arp);
      expect(c.retval).toBe(2); // BPF_DROP
      expect(keysOf(c.dataOut)).toMatchObject({ nhoff: 42, thoff: 42 });
      // bpf_skb_load_bytes: no skb behind a test run's context, so -EFAULT and a cleared buffer.
      const load = o.map('loads').lookup(new Uint8Array(4))!;
      expect(new DataView(load.buffer, load.byteOffset).getBigInt64(0, true)).toBe(-14n);
      expect(load.subarray(8).every((x) => x === 0)).toBe(true);
    });

    it(`takes flags from ctx_in and refuses what the kernel refuses (${engine})`, () => {
      const o = object();
      const run = (dataIn: Uint8Array, ctxIn?: Uint8Array, repeat?: number) =>
        testRun(o.program('flow_seen').runner(engine), { dataIn, ctxIn, repeat });
      const ctx = new Uint8Array(56);
      new DataView(ctx.buffer).setUint32(48, 0x80000007, true);
      const r = run(udp4, ctx, 3);
      expect(r.ctxOut).toEqual(ctx);
      expect(keysOf(o.map('seen').lookup(new Uint8Array(4))!).flags).toBe(0x80000007);
      const errno = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(TestRunError);
          return (e as TestRunError).errno;
        }
        return 0;
      };
      const bad = new Uint8Array(56);
      bad[0] = 1;
      expect(errno(() => run(udp4, bad))).toBe(22);
      expect(() => run(udp4, bad)).toThrow(/byte 0 is set \(only flags/);
      const long = new Uint8Array(60);
      long[58] = 1;
      expect(errno(() => run(udp4, long))).toBe(7); // E2BIG
      expect(errno(() => run(udp4, new Uint8Array(60)))).toBe(0);
      expect(errno(() => run(udp4.subarray(0, 13)))).toBe(22);
      expect(errno(() => run(new Uint8Array(4097)))).toBe(22);
      expect(run(new Uint8Array(4096)).retval).toBe(4096);
    });

    it(`starts every repeat from fresh keys and clamps after each run (${engine})`, () => {
      const r = testRun(object().program('flow_count').runner(engine), { dataIn: udp4, repeat: 5 });
      expect(r.retval).toBe(1);
      expect(keysOf(r.dataOut)).toMatchObject({ nhoff: 15, thoff: 15 }); // thoff 14 clamped up to nhoff
      expect(r.repeat).toBe(5);
    });
  }

  it.skipIf(!oracle)('matches BPF_PROG_TEST_RUN with repeats (keys reset before every run)', async () => {
    const kernel = await import('../../src/kernel/index.js');
    const spec = readObject(readFileSync(FILE), { file: FILE });
    const kobj = kernel.loadKernelObject(spec, { objectName: 'flow_count', programs: ['flow_count'] });
    try {
      for (const repeat of [1, 2, 7]) {
        const k = kobj.program('flow_count').run({ dataIn: vlan, repeat, dataOutSize: 56 });
        for (const engine of ENGINES) {
          const r = testRun(object().program('flow_count').runner(engine), { dataIn: vlan, repeat });
          expect(r.retval, `repeat ${repeat} (${engine})`).toBe(k.retval);
          expect(Buffer.from(r.dataOut).toString('hex')).toBe(Buffer.from(k.dataOut!).toString('hex'));
        }
      }
    } finally {
      kobj.close();
    }
  });

  for (const name of ['flow_seen', 'flow_parse', 'flow_count']) {
    it.skipIf(!oracle)(
      `${name} matches BPF_PROG_TEST_RUN over the captures (retval, keys, maps)`,
      async () => {
        const n = await compareWithKernel(FILE, name, [...PACKETS, udp4, vlan, arp], [false]);
        expect(n).toBe(2 * (PACKETS.length + 3));
      },
    );
  }

  it.skipIf(!oracle)('matches BPF_PROG_TEST_RUN on ctx_in (flags, refusals) and ctx_out', async () => {
    const kernel = await import('../../src/kernel/index.js');
    const spec = readObject(readFileSync(FILE), { file: FILE });
    const kobj = kernel.loadKernelObject(spec, { objectName: 'flow_ctx', programs: ['flow_seen'] });
    try {
      const cases: Uint8Array[] = [];
      for (const [size, at, value] of [
        [56, 48, 1],
        [56, 50, 0xff],
        [40, 0, 0],
        [60, 0, 0],
        [56, 0, 1],
        [56, 52, 1],
        [60, 58, 1],
        [64, 48, 4],
      ]) {
        const c = new Uint8Array(size);
        c[at] = value;
        cases.push(c);
      }
      for (const [i, ctxIn] of cases.entries()) {
        let k: { retval: number; dataOut?: Uint8Array; ctxOut?: Uint8Array } | undefined;
        let refused = 0;
        try {
          k = kobj.program('flow_seen').run({ dataIn: udp4, ctxIn, ctxOutSize: 56 });
        } catch (e) {
          refused = (e as { errno?: number }).errno ?? -1;
        }
        for (const engine of ENGINES) {
          const what = `ctx case ${i} (${engine})`;
          const run = () => testRun(object().program('flow_seen').runner(engine), { dataIn: udp4, ctxIn });
          if (!k) {
            expect(() => run(), what).toThrow(TestRunError);
            try {
              run();
            } catch (e) {
              expect((e as TestRunError).errno, what).toBe(refused);
            }
            continue;
          }
          const r = run();
          expect(r.retval, what).toBe(k.retval);
          expect(Buffer.from(r.dataOut).toString('hex'), what).toBe(Buffer.from(k.dataOut!).toString('hex'));
          expect(Buffer.from(r.ctxOut).toString('hex'), what).toBe(Buffer.from(k.ctxOut!).toString('hex'));
        }
      }
    } finally {
      kobj.close();
    }
  });
});
