// Legacy `maps` sections of every layout real objects use (issue 16): 16-byte records, 40-byte records
// (ovs, old samples) with static maps referenced through the section symbol, and what loads: our
// verifier accepts, the kernel accepts the same relocated program (src/kernel), and both back ends leave
// the same map contents after the same packets.
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { PseudoLddw } from '../../src/isa/opcodes.js';
import * as k from '../../src/kernel/index.js';
import { buildFrame } from '../../src/net/packet.js';
import { MapType } from '../../src/spec/maps.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';
import { fixture } from './fixtures.js';

const read = (name: string) => readObject(fixture(name), { file: name });

/** The map indices the program's lddw map references resolved to, in order. */
const mapRefs = (name: string) =>
  read(name)
    .programs[0]!.insns.filter((i) => i.code === 0x18 && i.src === PseudoLddw.MAP_FD)
    .map((i) => i.imm);

const frames = [60, 61, 64, 60, 99, 61].map((n) =>
  buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { sport: 1, dport: 2 }, payload: n - 42 }),
);

describe('legacy maps sections', () => {
  it('reads 40-byte records: the first five fields, the rest ignored', () => {
    expect(read('legacy_static.o').maps).toEqual([
      { name: 'hits', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 },
      { name: 'flows', type: MapType.HASH, keySize: 4, valueSize: 24, maxEntries: 64, flags: 0 },
    ]);
  });

  it('reads 16-byte records (no flags field)', () => {
    expect(read('legacy_maps16.o').maps).toEqual([
      { name: 'small', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 },
      { name: 'wide', type: MapType.ARRAY, keySize: 4, valueSize: 32, maxEntries: 1, flags: 0 },
    ]);
  });

  it('references through the section symbol resolve to the record at the lddw offset, not the first map', () => {
    // hits, flows (lookup), flows (update): with the offset ignored all three were map 0.
    expect(mapRefs('legacy_static.o')).toEqual([0, 1, 1]);
    expect(mapRefs('legacy_maps16.o')).toEqual([0, 1]);
    for (const name of ['legacy_static.o', 'legacy_maps16.o']) {
      const spec = read(name);
      const r = verify(spec.programs[0]!, { maps: spec.maps });
      expect(r.accepted, `${name}: ${r.diagnostics[0]?.message}`).toBe(true);
    }
  });

  it('a reference into the middle of a record names the offset', () => {
    const bytes = fixture('legacy_static.o').slice();
    // The second lddw's imm (0x28, the record of flows) moved 4 bytes into it.
    const spec = read('legacy_static.o');
    expect(spec.programs).toHaveLength(1);
    const text = Buffer.from(bytes);
    const at = text.indexOf(Buffer.from([0x18, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00]));
    expect(at).toBeGreaterThan(0);
    bytes[at + 4] = 0x2c;
    expect(() => readObject(bytes, { file: 'bent.o' })).toThrow(
      /offset 44 of section maps is not a map or global data/,
    );
  });

  it.skipIf(!kernelOracle())(
    'the kernel accepts the relocated program and ends with the same maps as user space',
    () => {
      for (const name of ['legacy_static.o', 'legacy_maps16.o']) {
        const user = loadObject(read(name));
        const kernel = k.loadKernelObject(read(name));
        try {
          const up = user.program();
          const kp = kernel.program();
          for (const f of frames)
            expect(up.run({ dataIn: f }).retval, name).toBe(kp.run({ dataIn: f }).retval);
          for (const m of read(name).maps) {
            const dump = (map: {
              nextKey(k?: Uint8Array): Uint8Array | undefined;
              lookup(k: Uint8Array): Uint8Array | undefined;
            }) => {
              const out: string[] = [];
              for (let key = map.nextKey(); key; key = map.nextKey(key))
                out.push(
                  `${Buffer.from(key).toString('hex')}=${Buffer.from(map.lookup(key)!).toString('hex')}`,
                );
              return out.sort();
            };
            expect(dump(user.map(m.name)), `${name} ${m.name}`).toEqual(dump(kernel.map(m.name)));
          }
        } finally {
          kernel.close();
        }
      }
    },
  );
});
