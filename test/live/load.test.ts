// `loadObject(file, { backend })` from tsbpf/node: one code path over both back ends. The same packets
// run through each (the user-space XDP hook, the kernel's BPF_PROG_TEST_RUN) and the maps read back
// through the same API agree.

import { describe, expect, it } from 'vitest';
import type { LoadedObject } from '../../src/collection/userspace.js';
import { XdpHook } from '../../src/hooks/xdp.js';
import type { KernelObject } from '../../src/kernel/object.js';
import { buildFrame } from '../../src/net/packet.js';
import { loadObject, type ObjectMaps, ringBuffer } from '../../src/node/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const example = (name: string) => new URL(`../../examples/xdp/${name}`, import.meta.url).pathname;

const udp = (dport: number, payload: number) =>
  buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { sport: 4000, dport }, payload });
const syn = (dport: number) =>
  buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, tcp: { sport: 4000, dport, flags: 0x02 } });

/** The packets every test sends, and what runs them on each back end. */
const PACKETS = [udp(5001, 100), udp(5002, 50), udp(5001, 20), syn(80), udp(5001, 0)];

function runUserspace(obj: LoadedObject): number[] {
  const hook = new XdpHook(obj.program().runner('jit'));
  return PACKETS.map((p) => hook.run(p).verdict);
}

function runKernel(obj: KernelObject): number[] {
  return PACKETS.map((p) => obj.program().run({ dataIn: p }).retval);
}

/** Backend-independent: read what udp_drop counted. */
function drops(obj: ObjectMaps): unknown[] {
  const m = obj.typedMap<number, { packets: bigint; bytes: bigint }>('drops');
  return [...m.entries()].map(([port, v]) => [port, v.packets, v.bytes]);
}

const expectedDrops = [[5001, 3n, BigInt(PACKETS[0]!.length + PACKETS[2]!.length + PACKETS[4]!.length)]];

describe('loadObject(file, { backend })', () => {
  it('userspace (the default): verified, runnable, maps through the common API', () => {
    const obj = loadObject(example('udp_drop.o'));
    expect(runUserspace(obj)).toEqual([1, 2, 1, 2, 1]);
    expect(drops(obj)).toEqual(expectedDrops);
    expect(obj.map('drops').spec.maxEntries).toBe(64);
  });

  it('names a missing file and refuses an unknown backend', () => {
    expect(() => loadObject('/nonexistent/x.o')).toThrow(/\/nonexistent\/x\.o: cannot read: no such file/);
    expect(() => loadObject(example('udp_drop.o'), { backend: 'gpu' as 'userspace' })).toThrow(
      /unknown backend 'gpu'/,
    );
  });

  it('userspace verifier options pass through (verify: false loads unverified, checked)', () => {
    const obj = loadObject(example('udp_drop.o'), { verify: false });
    expect(obj.program().verified).toBeUndefined();
    expect(obj.program().runner('jit').checked).toBe(true);
    expect(runUserspace(obj)).toEqual([1, 2, 1, 2, 1]);
  });

  it('ring buffers drain the same way (userspace)', () => {
    const obj = loadObject(example('syn_events.o'));
    const hook = new XdpHook(obj.program().runner('jit'));
    for (const p of PACKETS) hook.run(p);
    const records: Uint8Array[] = [];
    const ring = ringBuffer(obj, 'syn_ring');
    expect(ring.drain((r) => records.push(r))).toBe(1);
    expect(new DataView(records[0]!.buffer, records[0]!.byteOffset).getUint16(18, true)).toBe(80);
    expect(() => ringBuffer(loadObject(example('udp_drop.o')), 'drops')).toThrow(
      /'drops' is not a ring buffer/,
    );
  });

  it.skipIf(!oracle)('kernel: same verdicts, same map contents, same ring-buffer records', () => {
    const obj = loadObject(example('udp_drop.o'), { backend: 'kernel' });
    try {
      expect(runKernel(obj)).toEqual(runUserspace(loadObject(example('udp_drop.o'))));
      expect(drops(obj)).toEqual(expectedDrops);
      // libbpf-style global data map name in the kernel, from the file name
      expect(obj.maps.has('.rodata')).toBe(true);
    } finally {
      obj.close();
    }
    const events = loadObject(example('syn_events.o'), { backend: 'kernel' });
    try {
      for (const p of PACKETS) events.program().run({ dataIn: p });
      const records: Uint8Array[] = [];
      const ring = ringBuffer(events, 'syn_ring');
      expect(ring.drain((r) => records.push(r))).toBe(1);
      ring.close();
      expect(new DataView(records[0]!.buffer, records[0]!.byteOffset).getUint16(18, true)).toBe(80);
    } finally {
      events.close();
    }
  });
});
