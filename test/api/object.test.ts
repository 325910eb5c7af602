// BTF-typed maps and global variables on objects: the JS side of a loaded object reads like libbpf's
// skeletons (set constants before load, read counters as objects after).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getGlobal, getGlobals, globalVariables, loadObject, setGlobal } from '../../src/collection/index.js';
import { readObject } from '../../src/elf/index.js';
import { MapError, TsbpfError } from '../../src/errors.js';
import { XdpAction, XdpHook } from '../../src/hooks/xdp.js';
import { readCapture } from '../../src/net/index.js';
import { MapType } from '../../src/spec/maps.js';
import { udpTo as udpToPort } from './support/capture.js';

/** Packets and bytes of the IPv4 UDP datagrams to `port`, as the drop map should count them. */
const udpTo = (port: number) => {
  const { packets, bytes } = udpToPort(port);
  return { packets, bytes };
};

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const udpDrop = () => readObject(read('examples/xdp/udp_drop.o'), { file: 'udp_drop.o' });
const globalsSpec = () => readObject(read('test/fixtures/elf/globals.o'), { file: 'globals.o' });
const capture = readCapture(read('examples/xdp/iperf.pcap'));

function runOver(obj: ReturnType<typeof loadObject>, engine: 'interp' | 'jit' = 'jit'): number {
  const hook = new XdpHook(obj.program().runner(engine));
  let dropped = 0;
  for (const p of capture.packets) if (hook.run(p.data).verdict === XdpAction.DROP) dropped++;
  return dropped;
}

describe('typed maps from BTF', () => {
  it('gives struct values as objects keyed by a number, on both engines', () => {
    const expected = udpTo(5001);
    expect(expected.packets).toBeGreaterThan(0n);
    for (const engine of ['interp', 'jit'] as const) {
      const obj = loadObject(udpDrop());
      expect(runOver(obj, engine)).toBe(Number(expected.packets));
      const drops = obj.typedMap<number, { packets: bigint; bytes: bigint }>('drops');
      expect(drops.get(5001)).toEqual(expected);
      expect(drops.get(5002)).toBeUndefined();
      expect([...drops.keys()]).toEqual([5001]);
      expect(drops.size).toBe(1);
    }
  });

  it('sets values from objects, numbers accepted for u64 members, missing members zero', () => {
    const obj = loadObject(udpDrop());
    const drops = obj.typedMap('drops');
    drops.set(17, { packets: 1, bytes: 2n });
    drops.set(18, { packets: 5n });
    expect(drops.get(17)).toEqual({ packets: 1n, bytes: 2n });
    expect(drops.get(18)).toEqual({ packets: 5n, bytes: 0n });
    // The raw map holds the little-endian struct the C program reads.
    const raw = obj.map('drops').lookup(new Uint8Array([17, 0, 0, 0]))!;
    expect([...raw]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    expect(drops.delete(17)).toBe(true);
    expect(drops.delete(17)).toBe(false);
    expect(new Map(drops.entries())).toEqual(new Map([[18, { packets: 5n, bytes: 0n }]]));
  });

  it('rejects values that do not fit the BTF type, naming the member', () => {
    const drops = loadObject(udpDrop()).typedMap('drops');
    expect(() => drops.set(1, { packets: -1n << 70n })).toThrow(/packets.*does not fit/);
    expect(() => drops.set(1, { packts: 1n })).toThrow(/has no member packts/);
    expect(() => drops.set(2 ** 32, { packets: 1n })).toThrow(TsbpfError);
  });

  it('takes struct keys as objects (an LPM trie keyed { prefixlen, addr })', () => {
    const obj = loadObject(readObject(read('examples/xdp/lpm_block.o')));
    const blocklist = obj.typedMap<{ prefixlen: number; addr: number }, bigint>('blocklist');
    // addr is a __u32 holding network-order bytes: the number whose little-endian bytes are 10.77.0.0.
    const addr = new DataView(new Uint8Array([10, 77, 0, 0]).buffer).getUint32(0, true);
    blocklist.set({ prefixlen: 24, addr }, 0n);
    let expected = 0n;
    for (const { data } of capture.packets) {
      const ipv4 = data[12] === 0x08 && data[13] === 0x00 && data.length >= 34;
      if (ipv4 && data[26] === 10 && data[27] === 77 && data[28] === 0) expected++;
    }
    expect(expected).toBeGreaterThan(0n);
    expect(runOver(obj)).toBe(Number(expected));
    expect([...blocklist]).toEqual([[{ prefixlen: 24, addr }, expected]]);
  });

  it('falls back to codecs by size without BTF, and names the maps there are for an unknown one', () => {
    const obj = loadObject({
      license: 'GPL',
      programs: [],
      maps: [{ name: 'by_u64', type: MapType.HASH, keySize: 8, valueSize: 4, maxEntries: 4, flags: 0 }],
    });
    const m = obj.typedMap('by_u64');
    m.set(7, 9); // a number for a u64 key
    expect([...m]).toEqual([[7n, 9]]);
    expect(obj.globals()).toEqual({});
    expect(() => obj.typedMap('drops')).toThrow(/no map 'drops' \(maps: by_u64\)/);
  });

  it('gives per-CPU maps one typed value per CPU', () => {
    const spec = readObject(read('test/fixtures/elf/maps_btf.o'));
    const obj = loadObject(spec, { verify: false, programs: [], runtimeOptions: { cpus: 3 } });
    const counts = obj.typedMap<number, bigint[]>('percpu_counts');
    counts.set(2, [1n, 2n, 3n]);
    expect(counts.get(2)).toEqual([1n, 2n, 3n]);
    expect(() => counts.set(1, [1n])).toThrow(MapError);
  });
});

describe('global variables', () => {
  it('lists the variables of every data section with their places', () => {
    const vars = globalVariables(globalsSpec());
    const byName = Object.fromEntries(vars.map((v) => [v.name, v]));
    expect(byName.port_limit).toMatchObject({ map: '.rodata', size: 4 });
    expect(byName.counters).toMatchObject({ map: '.data', size: 16 });
    expect(byName.custom_counter).toMatchObject({ map: '.data.custom', offset: 0, size: 4 });
    expect(byName.dropped?.map).toBe('.bss');
  });

  it('reads initial values from the spec', () => {
    const spec = globalsSpec();
    expect(getGlobal(spec, 'port_limit')).toBe(5001);
    expect(getGlobal(spec, '.data:counters')).toEqual([1, 2, 3, 4]);
    expect(getGlobals(spec)).toMatchObject({
      greeting: 'hello',
      packets_seen: 7n,
      custom_counter: 99,
      dropped: 0n,
    });
  });

  it('sets a .rodata constant before load, and the program sees it', () => {
    const spec = udpDrop();
    expect(getGlobal(spec, 'blocked_port')).toBe(5001);
    setGlobal(spec, 'blocked_port', 5002);
    expect(getGlobal(spec, 'blocked_port')).toBe(5002);
    const obj = loadObject(spec);
    const expected = udpTo(5002);
    expect(runOver(obj)).toBe(Number(expected.packets));
    expect(obj.typedMap('drops').get(5002)).toEqual(expected);
    expect(obj.getGlobal('blocked_port')).toBe(5002);
    expect(() => obj.setGlobal('blocked_port', 1)).toThrow(/read-only after load.*setGlobal\(spec/);
  });

  it('reads and writes .data/.bss of a loaded object while the program runs', () => {
    // Unverified (checked mode): this test is about globals, not the verifier's view of bpf_printk.
    const obj = loadObject(globalsSpec(), { verify: false });
    obj.setGlobal('packets_seen', 100n);
    obj.setGlobal('counters', [0, 0, 0, 0]);
    const hook = new XdpHook(obj.program().runner());
    hook.run(new Uint8Array(61)); // 61 bytes: counters[1]++, last_len = 61, not above port_limit
    expect(obj.globals()).toMatchObject({ packets_seen: 101n, last_len: 61, counters: [0, 1, 0, 0] });
  });

  it('explains unknown, ambiguous and badly typed globals', () => {
    const spec = globalsSpec();
    expect(() => setGlobal(spec, 'nope', 1)).toThrow(/no global 'nope' \(globals: .*\.rodata:port_limit/);
    expect(() => setGlobal(spec, '.bss:port_limit', 1)).toThrow(/no global/);
    expect(() => setGlobal(spec, 'port_limit', 'many')).toThrow(
      /global \.rodata:port_limit.*expected an integer/,
    );
    expect(() => setGlobal(spec, 'greeting', 'far too long')).toThrow(/does not fit char\[8\]/);
    const noBtf = { ...spec, btf: undefined };
    expect(() => getGlobal(noBtf, 'port_limit')).toThrow(/has no BTF/);
  });
});
