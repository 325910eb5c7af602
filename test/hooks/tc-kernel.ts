// The differential harness of the skb fixtures (test/fixtures/tc): one program of a clang-built object
// run over the bundled captures in the kernel (BPF_PROG_TEST_RUN) and in tsbpf on both engines, with and
// without a `struct __sk_buff` in; the return value, data_out, ctx_out and, after every packet, the
// contents of every map must be identical.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { TestRunError, testRun } from '../../src/hooks/test-run.js';
import { rawKeys } from '../../src/maps/typed.js';
import type { BpfMap } from '../../src/maps/types.js';
import { LinkType, readCapture } from '../../src/net/pcap.js';
import { MapType } from '../../src/spec/maps.js';

/** The skb test run's largest data_in (a page less the headroom and skb_shared_info). */
const SKB_MAX = 4096 - 64 - 320;

const CAPTURES = [
  'examples/xdp/iperf.pcap',
  'test/fixtures/pcap/crafted.pcap',
  'test/fixtures/pcap/real.pcap',
];

/** Every Ethernet packet of the bundled captures an skb test run takes. */
export const PACKETS: Uint8Array[] = CAPTURES.flatMap((f) => {
  const c = readCapture(readFileSync(f), f);
  if (c.linkType !== LinkType.ETHERNET) throw new Error(`${f}: not an Ethernet capture`);
  return c.packets.map((p) => p.data).filter((d) => d.length >= 14 && d.length <= SKB_MAX);
});

/** A `struct __sk_buff` in with every field the kernel takes set (mark, priority, cb, tstamp, gso …). */
export function skbCtx(len: number, seed = 1): Uint8Array {
  const ctx = new Uint8Array(192);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, 0x1000 + seed, true); // mark
  v.setUint32(32, 6, true); // priority
  v.setUint32(36, 3, true); // ingress_ifindex
  v.setUint32(40, 1, true); // ifindex: loopback
  for (let i = 0; i < 5; i++) v.setUint32(48 + 4 * i, (seed << 8) + i, true); // cb
  v.setBigUint64(152, 1_000_000n + BigInt(seed), true); // tstamp
  v.setUint32(160, len + 4, true); // wire_len
  v.setUint32(164, 2, true); // gso_segs
  v.setUint32(176, 1400, true); // gso_size
  v.setBigUint64(184, 77n, true); // hwtstamp
  return ctx;
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '-');

function contents(map: Pick<BpfMap, 'spec' | 'lookup' | 'nextKey'>): string[] {
  const t = map.spec.type;
  // Maps of references (programs, cgroups, perf buffers) and rings have no values to compare.
  if (
    t === MapType.RINGBUF ||
    t === MapType.PROG_ARRAY ||
    t === MapType.PERF_EVENT_ARRAY ||
    t === MapType.CGROUP_ARRAY
  )
    return [];
  const out: string[] = [];
  for (const key of rawKeys(map as BpfMap)) out.push(`${hex(key)}=${hex(map.lookup(key)!)}`);
  return out.sort();
}

/** Compare one program with the kernel over `packets`; returns the number of runs compared. */
export async function compareWithKernel(
  file: string,
  program: string,
  packets: readonly Uint8Array[] = PACKETS,
  withCtx: readonly boolean[] = [false, true],
): Promise<number> {
  const kernel = await import('../../src/kernel/index.js');
  const spec = () => readObject(readFileSync(file), { file });
  const kobj = kernel.loadKernelObject(spec(), { objectName: program.slice(0, 15), programs: [program] });
  let compared = 0;
  try {
    const ours = (['interp', 'jit'] as const).map((engine) => ({
      engine,
      obj: loadObject(spec(), { programs: [program] }),
    }));
    const kprog = kobj.program(program);
    for (const [i, data] of packets.entries()) {
      for (const ctx of withCtx) {
        const ctxIn = ctx ? skbCtx(data.length, i) : undefined;
        let k: ReturnType<typeof kprog.run> | undefined;
        let refused = 0;
        try {
          k = kprog.run({ dataIn: data, ctxIn, dataOutSize: 70000 });
        } catch (e) {
          refused = (e as { errno?: number }).errno ?? -1;
        }
        for (const o of ours) {
          const what = `${program} packet ${i}${ctx ? ' with ctx' : ''} (${o.engine})`;
          const run = () => testRun(o.obj.program(program).runner(o.engine), { dataIn: data, ctxIn });
          if (!k) {
            // The kernel refused the run: so must we, with its errno.
            expect(run, what).toThrow(TestRunError);
            try {
              run();
            } catch (e) {
              expect((e as TestRunError).errno, `${what}: errno`).toBe(refused);
            }
            compared++;
            continue;
          }
          const r = run();
          expect(r.retval, `${what}: retval`).toBe(k.retval);
          expect(hex(r.dataOut), `${what}: data_out`).toBe(hex(k.dataOut));
          if (ctx)
            expect(hex(r.ctxOut).match(/.{8}/g), `${what}: ctx_out`).toEqual(hex(k.ctxOut).match(/.{8}/g));
          compared++;
        }
        for (const [name, kmap] of kobj.maps) {
          const want = contents(kmap);
          for (const o of ours) {
            const got = contents(o.obj.map(name));
            // The entries that differ only, so that a failure names the helper call's slot.
            const kernelHas = want.filter((e) => !got.includes(e)).join(' ');
            const what = `${program} packet ${i}: map ${name} (${o.engine}); the kernel has ${kernelHas}`;
            expect(
              got.filter((e) => !want.includes(e)),
              what,
            ).toEqual([]);
            expect(got.length, what).toBe(want.length);
          }
        }
      }
    }
  } finally {
    kobj.close();
  }
  return compared;
}
