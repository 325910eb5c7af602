// Every example XDP program over every captured packet, in the kernel (BPF_PROG_TEST_RUN) and in tsbpf
// (interpreter and JIT): the return value, the packet bytes out and, after the whole capture, the contents
// of every map must be identical.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadObject, setTailCallTarget } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { XDP_MAX_PACKET, XdpHook } from '../../src/hooks/xdp.js';
import { rawKeys } from '../../src/maps/typed.js';
import type { BpfMap } from '../../src/maps/types.js';
import { LinkType, readCapture } from '../../src/net/pcap.js';
import { MapType } from '../../src/spec/maps.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { XDP_EXAMPLE_SETUP, XDP_EXAMPLES } from '../support/examples.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

const CAPTURES = [
  'examples/xdp/iperf.pcap',
  'test/fixtures/pcap/crafted.pcap',
  'test/fixtures/pcap/real.pcap',
];
const packets = CAPTURES.flatMap((f) => {
  const c = readCapture(readFileSync(f), f);
  expect(c.linkType).toBe(LinkType.ETHERNET);
  // The kernel's XDP test run needs at least an Ethernet header and at most one page.
  return c.packets.map((p) => p.data).filter((d) => d.length >= 14 && d.length <= XDP_MAX_PACKET);
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const SETUP = XDP_EXAMPLE_SETUP;
const EXAMPLES = XDP_EXAMPLES;

/** Entries sorted by key, as hex, for maps whose contents are key/value pairs. */
function contents(map: { spec: BpfMap['spec'] } & Pick<BpfMap, 'lookup' | 'nextKey'>): string[] {
  const t = map.spec.type;
  if (t === MapType.RINGBUF || t === MapType.PROG_ARRAY || t === MapType.PERF_EVENT_ARRAY) return [];
  const out: string[] = [];
  for (const key of rawKeys(map as BpfMap)) out.push(`${hex(key)}=${hex(map.lookup(key)!)}`);
  return out.sort();
}

let compared = 0;
let mismatches = 0;
afterAll(() => {
  if (oracle)
    console.log(`examples vs kernel: ${compared} program×packet runs compared, ${mismatches} mismatches`);
});

describe.skipIf(!oracle)('example programs: tsbpf vs the kernel', async () => {
  const kernel = oracle ? await import('../../src/kernel/index.js') : undefined;

  for (const name of EXAMPLES) {
    const file = `examples/xdp/${name}.o`;
    const spec = (): ObjectSpec => readObject(readFileSync(file), { file });
    it(`${name}: verdicts, packets out and maps match over ${packets.length} packets`, () => {
      const kobj = kernel!.loadKernelObject(spec(), { objectName: name });
      try {
        const ours = (['interp', 'jit'] as const).map((engine) => ({
          engine,
          obj: loadObject(spec(), { verify: false }),
        }));
        for (const s of SETUP[name] ?? []) {
          const key = Buffer.from(s.key, 'hex');
          if (/^[0-9a-f]+$/.test(s.value)) {
            kobj.map(s.map).update(key, Buffer.from(s.value, 'hex'));
            for (const o of ours) o.obj.map(s.map).update(key, Buffer.from(s.value, 'hex'));
          } else {
            const value = new Uint8Array(4);
            new DataView(value.buffer).setUint32(0, kobj.program(s.value).fd, true);
            kobj.map(s.map).update(key, value);
            for (const o of ours) setTailCallTarget(o.obj, s.map, key.readUInt32LE(0), s.value);
          }
        }
        const entry = ours[0]!.obj.program().name;
        const hooks = ours.map((o) => new XdpHook(o.obj.program(entry).runner(o.engine)));
        for (const [i, data] of packets.entries()) {
          const k = kobj.program(entry).run({ dataIn: data });
          hooks.forEach((hook, e) => {
            const r = hook.run(data);
            compared++;
            const same = r.verdict === k.retval && hex(r.data) === hex(k.dataOut);
            if (!same) {
              mismatches++;
              expect.fail(
                `${name} packet ${i} (${ours[e]!.engine}): ours ${r.verdict} ${hex(r.data)}, kernel ${k.retval} ${hex(k.dataOut)}`,
              );
            }
          });
        }
        for (const [mapName, kmap] of kobj.maps) {
          const want = contents(kmap);
          for (const o of ours) {
            expect(contents(o.obj.map(mapName)), `${name}: map ${mapName} (${o.engine})`).toEqual(want);
          }
        }
      } finally {
        kobj.close();
      }
    });
  }
});
