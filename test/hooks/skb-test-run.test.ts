// The skb test run (sched_cls and the other __sk_buff types) against the kernel's BPF_PROG_TEST_RUN on
// clang-built fixtures (test/fixtures/tc) over the bundled captures: what the kernel builds from data_in
// (every readable __sk_buff field), what it takes from ctx_in and refuses, what comes back in ctx_out.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { TestRunError, testRun } from '../../src/hooks/test-run.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelOracle } from '../support/kernel.js';
import { compareWithKernel, PACKETS, skbCtx } from './tc-kernel.js';

const oracle = kernelOracle();
const FIXTURES = 'test/fixtures/tc';

function program(file: string, name: string, engine: 'interp' | 'jit' = 'jit') {
  const path = `${FIXTURES}/${file}.o`;
  return loadObject(readObject(readFileSync(path), { file: path }), { programs: [name] })
    .program(name)
    .runner(engine);
}

const udp = PACKETS.find((p) => p.length > 14 + 112 && p[12] === 8 && p[13] === 0 && p[23] === 17)!;

describe('the skb test run', () => {
  it('builds the __sk_buff the kernel builds (fields read by the program, written into the packet)', () => {
    const r = testRun(program('ctx_fields', 'ctx_fields'), { dataIn: udp });
    const v = new DataView(r.dataOut.buffer, r.dataOut.byteOffset + 14);
    const at = (i: number) => v.getUint32(4 * i, true);
    expect(at(0)).toBe(udp.length); // len
    expect(at(4)).toBe(0x0008); // protocol: htons(ETH_P_IP)
    expect(at(10)).toBe(1); // ifindex: loopback
    expect(at(18)).toBe(0); // wire_len: no context in
    expect(r.retval).toBe(0);
  });

  it('takes the fields the kernel takes from ctx_in and refuses the others', () => {
    const run = (ctxIn: Uint8Array) => testRun(program('ctx_fields', 'ctx_fields'), { dataIn: udp, ctxIn });
    const good = run(skbCtx(udp.length));
    expect(new DataView(good.ctxOut.buffer).getUint32(8, true)).toBe(0x1002); // mark + 1
    const set = (offset: number, value: number, size = 192) => {
      const c = new Uint8Array(size);
      new DataView(c.buffer).setUint32(offset, value, true);
      return c;
    };
    for (const [offset, name] of [
      [0, 'len'],
      [16, 'protocol'],
      [44, 'tc_index'],
      [68, 'hash'],
      [168, 'sk'],
    ] as const) {
      expect(() => run(set(offset, 1)), name).toThrow(new RegExp(`${name} must be 0`));
    }
    expect(() => run(set(40, 7))).toThrow(/ifindex 7 is no device/);
    expect(() => run(set(160, udp.length - 1))).toThrow(/wire_len/);
    expect(() => run(set(164, 65536))).toThrow(/gso_segs/);
    const long = new Uint8Array(200);
    long[199] = 1;
    expect(() => run(long)).toThrow(TestRunError);
    try {
      run(long);
    } catch (e) {
      expect((e as TestRunError).code).toBe('E2BIG');
    }
    expect(() => testRun(program('ctx_fields', 'ctx_fields'), { dataIn: new Uint8Array(3713) })).toThrow(
      /more than an skb test run takes/,
    );
  });

  it.skipIf(!oracle)('matches BPF_PROG_TEST_RUN: the __sk_buff in, the fields and ctx_out', async () => {
    const n = await compareWithKernel(`${FIXTURES}/ctx_fields.o`, 'ctx_fields');
    expect(n).toBeGreaterThan(100);
  });

  for (const [file, name, what] of [
    ['parse_load', 'parse_load', 'bpf_skb_load_bytes, a hash map, TC_ACT_SHOT/UNSPEC'],
    ['socket_len', 'socket_len', 'socket_filter: data from the network header, 14 zero bytes in front out'],
    ['kinds', 'cg_ingress', 'cgroup_skb: the socket fields, the MAC header behind data'],
    ['kinds', 'act', 'sched_act'],
    ['kinds', 'lwt', 'lwt_in'],
    ['kinds', 'ctx_writes', 'every writable field written and read back'],
  ] as const) {
    it.skipIf(!oracle)(`${name} matches BPF_PROG_TEST_RUN (${what})`, async () => {
      expect(await compareWithKernel(`${FIXTURES}/${file}.o`, name)).toBeGreaterThan(100);
    });
  }

  it.skipIf(!oracle)(
    'legacy packet loads (LD_ABS, LD_IND) read from skb->data, as in the kernel',
    async () => {
      const { progLoad, progTestRun, close } = await import('../../src/kernel/index.js');
      const text = `
      r6 = r1
      r0 = *(u8 *)skb[0]
      r7 = r0
      r0 = *(u16 *)skb[12]
      r7 <<= 16
      r7 |= r0
      r2 = 2
      r0 = *(u32 *)skb[r2 + 0]
      r0 ^= r7
      exit`;
      let compared = 0;
      for (const [type, number] of [
        ['socket_filter', 1],
        ['sched_cls', 3],
      ] as const) {
        const { fd } = progLoad({ type: number, insns: assemble(text), license: 'GPL' });
        try {
          for (const engine of ['interp', 'jit'] as const) {
            const rt = new Runtime();
            const prog = rt.prepare({
              name: 'ld',
              section: type,
              type,
              insns: assemble(text),
              license: 'GPL',
            });
            const runner = createRunner(rt, prog, { engine, checked: false });
            for (const [i, p] of PACKETS.entries()) {
              let kernel: number | string;
              try {
                kernel = progTestRun(fd, { data: p }).retval;
              } catch {
                kernel = 'refused';
              }
              let ours: number | string;
              try {
                ours = testRun(runner, { dataIn: p }).retval;
              } catch {
                ours = 'refused';
              }
              expect(ours, `${type} (${engine}) packet ${i}`).toBe(kernel);
              compared++;
            }
          }
        } finally {
          close(fd);
        }
      }
      expect(compared).toBeGreaterThan(400);
    },
  );

  it.skipIf(!oracle)("matches the kernel's refusals of a __sk_buff in (errno)", async () => {
    const { loadKernelObject } = await import('../../src/kernel/index.js');
    const path = `${FIXTURES}/ctx_fields.o`;
    const kobj = loadKernelObject(readObject(readFileSync(path), { file: path }), {
      programs: ['ctx_fields'],
    });
    try {
      for (const [offset, value, size] of [
        [0, 1, 192],
        [4, 1, 192],
        [12, 1, 192],
        [44, 1, 192],
        [72, 1, 192],
        [84, 1, 192],
        [144, 1, 192],
        [168, 1, 192],
        [180, 1, 192],
        [160, 10, 192],
        [160, 70000, 192],
        [164, 65536, 192],
        [40, 99, 192],
        [196, 1, 200],
      ] as const) {
        const ctxIn = new Uint8Array(size);
        new DataView(ctxIn.buffer).setUint32(offset, value, true);
        let kernelErrno = 0;
        try {
          kobj.program('ctx_fields').run({ dataIn: udp, ctxIn });
        } catch (e) {
          kernelErrno = (e as { errno: number }).errno;
        }
        let ours = 0;
        try {
          testRun(program('ctx_fields', 'ctx_fields'), { dataIn: udp, ctxIn });
        } catch (e) {
          ours = (e as TestRunError).errno;
        }
        expect(ours, `field at ${offset} = ${value}`).toBe(kernelErrno);
        expect(ours).not.toBe(0);
      }
    } finally {
      kobj.close();
    }
  });
});
