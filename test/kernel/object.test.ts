// Objects loaded into the kernel: maps created and filled, .rodata frozen, map references relocated to
// file descriptors, programs test-run, the same typed map API as user space, and an XDP link on a veth
// pair in private network namespaces with real UDP traffic.

import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { MapError } from '../../src/errors.js';
import * as k from '../../src/kernel/index.js';
import { buildFrame } from '../../src/net/packet.js';
import { kernelOracle } from '../support/kernel.js';
import { createVethPair, type VethPair } from './veth.js';

const oracle = kernelOracle();
const UDP_DROP = new URL('../../examples/xdp/udp_drop.o', import.meta.url).pathname;
const XDP_DROP = 1;
const XDP_PASS = 2;

const udp = (dport: number, payload = 18) =>
  buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { sport: 40000, dport }, payload });
const tcp = (dport: number) =>
  buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, tcp: { sport: 40000, dport } });
const openFds = () => readdirSync('/proc/self/fd').length;

interface DropStats {
  packets: bigint;
  bytes: bigint;
}
const statsCodec = {
  encode(v: DropStats) {
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, v.packets, true);
    d.setBigUint64(8, v.bytes, true);
    return b;
  },
  decode(b: Uint8Array): DropStats {
    const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { packets: d.getBigUint64(0, true), bytes: d.getBigUint64(8, true) };
  },
};

describe.skipIf(!oracle)('objects in the kernel', () => {
  it('loads udp_drop.o: drops port 5001, passes the rest, counts through the typed map API', () => {
    const obj = k.loadKernelObject(UDP_DROP);
    try {
      expect([...obj.maps.keys()].sort()).toEqual(['.rodata', 'drops']);
      expect(k.mapInfo(obj.map('.rodata').fd).name).toBe('udp_drop.rodata');
      const prog = obj.program('xdp_udp_drop');
      expect(obj.program('xdp')).toBe(prog); // by section name too, as LoadedObject.program
      const frame = udp(5001);
      expect(prog.run({ dataIn: frame }).retval).toBe(XDP_DROP);
      expect(prog.run({ dataIn: udp(5001, 100) }).retval).toBe(XDP_DROP);
      expect(prog.run({ dataIn: udp(5002) }).retval).toBe(XDP_PASS);
      expect(prog.run({ dataIn: tcp(5001) }).retval).toBe(XDP_PASS);

      const drops = obj.map('drops').typed<number, DropStats>({ value: statsCodec });
      expect([...drops.entries()]).toEqual([
        [5001, { packets: 2n, bytes: BigInt(frame.length + udp(5001, 100).length) }],
      ]);
      expect(drops.get(5002)).toBeUndefined();
      drops.set(7, { packets: 1n, bytes: 2n });
      expect(drops.size).toBe(2);
      expect(drops.delete(7)).toBe(true);
      expect(drops.delete(7)).toBe(false);

      // .rodata is frozen after load: user space can read it but not write it
      const rodata = obj.map('.rodata');
      expect(rodata.lookup(new Uint8Array(4))).toEqual(new Uint8Array([0x89, 0x13]));
      expect(() => rodata.update(new Uint8Array(4), new Uint8Array([0, 0]))).toThrow(MapError);
    } finally {
      obj.close();
    }
  });

  it('global data can be set before load (blocked_port = 5002)', () => {
    const port = new Uint8Array([5002 & 0xff, 5002 >> 8]);
    const obj = k.loadKernelObject(UDP_DROP, {
      mapContents: { '.rodata': [{ key: new Uint8Array(4), value: port }] },
    });
    try {
      expect(obj.program().run({ dataIn: udp(5002) }).retval).toBe(XDP_DROP);
      expect(obj.program().run({ dataIn: udp(5001) }).retval).toBe(XDP_PASS);
    } finally {
      obj.close();
    }
  });

  it('a program the kernel refuses: VerifierRejectedError with the log, nothing left open', () => {
    const spec = readObject(readFileSync(UDP_DROP));
    const prog = spec.programs[0]!;
    // the first instruction (`w0 = 2`) becomes `w0 = w9`: r9 is not initialised at entry
    expect(prog.insns[0]).toMatchObject({ code: 0xb4, dst: 0, imm: 2 });
    const insns = [{ code: 0xbc, dst: 0, src: 9, off: 0, imm: 0 }, ...prog.insns.slice(1)];
    const broken = { ...spec, programs: [{ ...prog, insns }] };
    const before = openFds();
    let caught: unknown;
    try {
      k.loadKernelObject(broken, { logLevel: 1 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(k.VerifierRejectedError);
    expect((caught as k.VerifierRejectedError).log).toMatch(/R9 !read_ok/);
    // our verifier's explanation rides along, naming the same register
    expect((caught as k.VerifierRejectedError).explanation).toMatch(/insn 0.*\b[rR]9\b/s);
    expect(openFds()).toBe(before);
  });

  it('a map reference outside the object is a typed error', () => {
    const spec = readObject(readFileSync(UDP_DROP));
    const noMaps = { ...spec, maps: [] };
    expect(() => k.loadKernelObject(noMaps)).toThrow(/refers to map \d, but the object has 0 map/);
  });
});

describe.skipIf(!oracle)('XDP link on a veth pair in private namespaces', () => {
  let net: VethPair;
  beforeAll(() => {
    net = createVethPair(`tsbpf${process.pid}o`, 77);
  });
  afterAll(() => net?.remove());

  it('attaches udp_drop to the receiving veth, counts the datagrams to 5001, detaches on close', () => {
    const obj = k.loadKernelObject(UDP_DROP);
    try {
      const link = k.withNetns(net.nsB, () => obj.program().attachXdp('vb'));
      try {
        expect(net.ip('-n', net.nsB, 'link', 'show', 'vb')).toMatch(/prog\/xdp id \d+/);
        const send = (port: number, n: number) =>
          net.exec(
            net.nsA,
            'bash',
            '-c',
            `for i in $(seq ${n}); do echo datagram > /dev/udp/${net.addrB}/${port}; done`,
          );
        send(5001, 7);
        send(5002, 3);
        const drops = obj.map('drops').typed<number, DropStats>({ value: statsCodec });
        expect(drops.get(5001)?.packets).toBe(7n);
        expect(drops.get(5002)).toBeUndefined();
      } finally {
        link.close();
      }
      expect(net.ip('-n', net.nsB, 'link', 'show', 'vb')).not.toMatch(/xdp/);
    } finally {
      obj.close();
    }
  });

  it('an unknown interface name in the namespace is a typed error', () => {
    const obj = k.loadKernelObject(UDP_DROP);
    try {
      expect(() => k.withNetns(net.nsB, () => obj.program().attachXdp('eth-nope'))).toThrow(
        /ENODEV.*no interface eth-nope/,
      );
    } finally {
      obj.close();
    }
  });
});

describe.skipIf(!oracle)('kernel ring buffer', () => {
  it('reads the events syn_events.o submits, in order, and only once', () => {
    const obj = k.loadKernelObject(new URL('../../examples/xdp/syn_events.o', import.meta.url).pathname);
    const ring = obj.map('syn_ring').ringBuffer();
    try {
      const syn = (sport: number) =>
        buildFrame({ ipv4: { src: '10.1.2.3', dst: '10.4.5.6' }, tcp: { sport, dport: 80, flags: 0x02 } });
      const ack = buildFrame({
        ipv4: { src: '10.1.2.3', dst: '10.4.5.6' },
        tcp: { sport: 1, dport: 80, flags: 0x10 },
      });
      for (const frame of [syn(1000), ack, syn(1001), syn(1002)])
        expect(obj.program().run({ dataIn: frame }).retval).toBe(XDP_PASS);
      expect(ring.available).toBe(3 * (8 + 24));
      const events = ring.poll().map((r) => {
        const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
        return {
          len: r.length,
          saddr: v.getUint32(8, false),
          sport: v.getUint16(16, true),
          dport: v.getUint16(18, true),
        };
      });
      expect(events).toEqual(
        [1000, 1001, 1002].map((sport) => ({ len: 24, saddr: 0x0a010203, sport, dport: 80 })),
      );
      expect(ring.poll()).toEqual([]);
      expect(ring.available).toBe(0);
      obj.program().run({ dataIn: syn(2000) });
      expect(ring.drain(() => {})).toBe(1);
    } finally {
      ring.close();
      obj.close();
    }
  });

  it('a map of another type is not a ring buffer', () => {
    const obj = k.loadKernelObject(UDP_DROP);
    try {
      expect(() => obj.map('drops').ringBuffer()).toThrow(/not a ring buffer/);
    } finally {
      obj.close();
    }
  });
});

describe.skipIf(!oracle)('verdict counters', () => {
  it('counts udp_drop verdicts without changing them', () => {
    const obj = k.loadKernelObject(UDP_DROP, { countVerdicts: true });
    try {
      const frames = [udp(5001), udp(5002), tcp(5001), udp(5001), new Uint8Array(14)];
      expect(frames.map((f) => obj.program().run({ dataIn: f }).retval)).toEqual([
        XDP_DROP,
        XDP_PASS,
        XDP_PASS,
        XDP_DROP,
        XDP_PASS,
      ]);
      expect(obj.verdicts()).toEqual({ ABORTED: 0n, DROP: 2n, PASS: 3n, TX: 0n, REDIRECT: 0n, OTHER: 0n });
    } finally {
      obj.close();
    }
  });

  it('instruments a program with bpf-to-bpf calls (subprograms move, calls follow)', () => {
    const file = new URL('../../examples/xdp/bpf_calls.o', import.meta.url).pathname;
    const plain = k.loadKernelObject(file);
    const counted = k.loadKernelObject(file, { countVerdicts: true });
    try {
      const spec = counted.program().spec;
      expect(spec.insns.length).toBe(plain.program().spec.insns.length + 15);
      const frames = [udp(53), udp(8080), tcp(60000), new Uint8Array(20)];
      for (const f of frames)
        expect(counted.program().run({ dataIn: f }).retval).toBe(plain.program().run({ dataIn: f }).retval);
      // both objects counted the same port classes: the subprograms ran in the instrumented one too
      const classes = (o: k.KernelObject) => [...o.map('port_class').typed<number, bigint>().values()];
      expect(classes(counted)).toEqual(classes(plain));
      expect(classes(counted).reduce((a, b) => a + b, 0n)).toBe(3n);
      expect(counted.verdicts().PASS).toBe(BigInt(frames.length));
    } finally {
      plain.close();
      counted.close();
    }
  });
});

describe.skipIf(!oracle)('every example object in the kernel', () => {
  const dir = new URL('../../examples/xdp/', import.meta.url).pathname;
  const objects = readdirSync(dir).filter((f) => f.endsWith('.o'));

  it('loads each example: maps created, programs accepted by the kernel verifier', () => {
    expect(objects.length).toBeGreaterThanOrEqual(9);
    for (const file of objects) {
      const obj = k.loadKernelObject(`${dir}${file}`);
      try {
        expect(obj.programs.size, file).toBe(obj.spec.programs.length);
        expect(obj.maps.size, file).toBe(obj.spec.maps.length);
      } finally {
        obj.close();
      }
    }
  });

  it('tail calls through a program array (tail_call.o)', () => {
    const obj = k.loadKernelObject(`${dir}tail_call.o`);
    try {
      obj.setTailCall('jt', 17, 'xdp_on_udp');
      obj.setTailCall('jt', 6, 'xdp_on_tcp');
      const dispatch = obj.program('xdp_dispatch');
      const icmp = buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, icmp: { type: 8 } });
      expect([udp(53), tcp(80), icmp].map((f) => dispatch.run({ dataIn: f }).retval)).toEqual([
        XDP_DROP,
        XDP_PASS,
        XDP_PASS,
      ]);
      expect([...obj.map('handled').typed<number, bigint>().values()]).toEqual([1n, 1n]);
    } finally {
      obj.close();
    }
  });
});
