// Map memory: what a map may take is charged against the address space's limit when it is created
// (ENOMEM past it, before anything is allocated) and given back when it closes; what it takes is in
// proportion to its elements, not to max_entries (hash, LRU, LPM, queue/stack), while arrays take theirs
// whole. A small object asking for a huge map fails at once instead of running the machine out of memory.

import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  createMap,
  Errno,
  type MapBase,
  MapError,
  type MapSpec,
  type PerfEventArrayMap,
  type QueueStackMap,
} from '../../src/maps/index.js';
import { AddressSpace, DEFAULT_MAP_MEMORY_LIMIT } from '../../src/memory/address-space.js';
import { loadObject } from '../../src/node/load.js';
import { Runtime } from '../../src/vm/runtime.js';
import { errnoOf, hex, lpmKey, spec, u32, u64 } from './util.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function mapError(f: () => unknown): MapError {
  try {
    f();
  } catch (e) {
    if (e instanceof MapError) return e;
    throw e;
  }
  throw new Error('expected a MapError');
}

/** JS memory (heap and array buffers) and the wasm memory's size around `f`. */
function measure<T>(space: AddressSpace, f: () => T): { result: T; js: number; wasm: number } {
  const before = process.memoryUsage();
  const wasm0 = space.memory.buffer.byteLength;
  const result = f();
  const after = process.memoryUsage();
  return {
    result,
    js: after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers),
    wasm: space.memory.buffer.byteLength - wasm0,
  };
}

describe('creation limits', () => {
  it('a hash map of 0xffffffff entries fails at once with E2BIG, allocating nothing', () => {
    const space = new AddressSpace(1 << 20);
    const huge = spec('HASH', 4, 8, 0xffffffff);
    const t0 = performance.now();
    const { result: err, js, wasm } = measure(space, () => mapError(() => createMap(space, huge)));
    const ms = performance.now() - t0;
    expect(err.errno).toBe(Errno.E2BIG);
    expect(err.message).toMatch(/map 't_hash' \(hash\): max_entries 4294967295 above the kernel's 134217728/);
    expect(ms).toBeLessThan(100);
    expect(wasm).toBe(0);
    expect(js).toBeLessThan(4 * MiB);
    expect(space.mapMemoryCharged).toBe(0);
  });

  it('so do its LRU, per-CPU and map-in-map variants, and a per-CPU LRU rounded past the limit', () => {
    const space = new AddressSpace(1 << 20);
    for (const [type, flags] of [
      ['LRU_HASH', 0],
      ['LRU_HASH', 2],
      ['PERCPU_HASH', 0],
      ['LRU_PERCPU_HASH', 0],
      ['HASH', 1],
    ] as const) {
      expect(
        errnoOf(() => createMap(space, spec(type, 4, 8, 0xffffffff, flags), { cpus: 4 })),
        type,
      ).toBe(Errno.E2BIG);
    }
    // 2^27 - 1 entries on 4 CPUs round up to 2^27: fine; 2^27 + 1 is not.
    const edge = spec('LRU_HASH', 4, 8, 2 ** 27 + 1, 2);
    expect(errnoOf(() => createMap(space, edge, { cpus: 4 }))).toBe(Errno.E2BIG);
    const inner = spec('ARRAY', 4, 4, 1);
    const outer = { ...spec('HASH_OF_MAPS', 4, 4, 2 ** 27 + 1), innerMap: inner };
    expect(errnoOf(() => createMap(space, outer))).toBe(Errno.E2BIG);
  });

  it('arrays, queues and ring buffers the address space cannot hold are ENOMEM at once', () => {
    const space = new AddressSpace(1 << 20);
    for (const s of [
      spec('ARRAY', 4, 8, 0xffffffff),
      spec('ARRAY', 4, 1, 0x80000000),
      spec('PERCPU_ARRAY', 4, 8, 2 ** 26),
      spec('PROG_ARRAY', 4, 4, 0xffffffff),
      spec('DEVMAP', 4, 8, 0xffffffff),
      spec('QUEUE', 0, 8, 0xffffffff),
      spec('RINGBUF', 0, 0, 2 ** 31),
      spec('LPM_TRIE', 8, 8, 0xffffffff, 1),
    ]) {
      const t0 = performance.now();
      const err = mapError(() => createMap(space, s, { cpus: 2 }));
      expect(err.errno, s.name).toBe(Errno.ENOMEM);
      expect(performance.now() - t0, s.name).toBeLessThan(100);
    }
    expect(space.memory.buffer.byteLength).toBeLessThanOrEqual(1 << 20);
    expect(space.mapMemoryCharged).toBe(0);
  });
});

describe('the map memory limit', () => {
  it('refuses a map over the limit with ENOMEM naming the map, its size, the limit and the option', () => {
    const space = new AddressSpace(1 << 20);
    expect(space.mapMemoryLimit).toBe(DEFAULT_MAP_MEMORY_LIMIT);
    // 40 Mi entries of 8 bytes: 320 MiB, within the 1 GiB address space but over the 256 MiB limit.
    const err = mapError(() => createMap(space, spec('ARRAY', 4, 8, 40 * 1024 * 1024)));
    expect(err.errno).toBe(Errno.ENOMEM);
    expect(err.message).toMatch(
      /^map 't_array': an array of 41943040 entries needs 320\.0 MiB, over the map memory limit of 256\.0 MiB \(0 B charged to other maps\); raise RuntimeOptions\.mapMemoryLimit \(or AddressSpace\.mapMemoryLimit\), or lower max_entries$/,
    );
    expect(space.memory.buffer.byteLength).toBeLessThanOrEqual(1 << 20);
  });

  it('counts the maps already there, and gives their memory back when they close', () => {
    const space = new AddressSpace(1 << 20);
    space.mapMemoryLimit = 64 * MiB;
    const big = spec('ARRAY', 4, 8, 5 * MiB); // 40 MiB of values
    const a = createMap(space, big);
    expect(space.mapMemoryCharged).toBeGreaterThanOrEqual(40 * MiB);
    expect(space.mapMemoryCharged).toBeLessThan(41 * MiB);
    expect(a.memoryCharged).toBe(space.mapMemoryCharged);
    const err = mapError(() => createMap(space, { ...big, name: 'second' }));
    expect(err.errno).toBe(Errno.ENOMEM);
    expect(err.message).toMatch(
      /map 'second'.*needs 40\.0 MiB.*limit of 64\.0 MiB \(40\.0 MiB charged to other maps\)/,
    );
    a.close();
    expect(space.mapMemoryCharged).toBe(0);
    a.close(); // twice: nothing more given back
    expect(space.mapMemoryCharged).toBe(0);
    const b = createMap(space, { ...big, name: 'second' });
    b.update(u32(5 * MiB - 1), u64(7));
    expect(hex(b.lookup(u32(5 * MiB - 1)))).toBe(hex(u64(7)));
    b.close();
    expect(space.mapMemoryCharged).toBe(0);
  });

  it('a map whose initial contents fail is closed and uncharged', () => {
    const space = new AddressSpace(1 << 20);
    const s: MapSpec = { ...spec('HASH', 4, 4, 16), contents: [{ key: u32(1), value: new Uint8Array(3) }] };
    expect(errnoOf(() => createMap(space, s))).toBe(Errno.EINVAL);
    expect(space.mapMemoryCharged).toBe(0);
  });

  it('is a runtime option, at most the address space; a bigger space and limit hold a bigger map', () => {
    expect(() => new Runtime({ mapMemoryLimit: -1 })).toThrow(
      /mapMemoryLimit must be a number of bytes >= 0, got -1/,
    );
    expect(() => new Runtime({ mapMemoryLimit: Number.NaN })).toThrow(RangeError);
    expect(new Runtime({ mapMemoryLimit: 64 * GiB }).space.mapMemoryLimit).toBe(GiB);
    const small = new Runtime({ mapMemoryLimit: MiB });
    expect(errnoOf(() => createMap(small.space, spec('ARRAY', 4, 8, 256 * 1024)))).toBe(Errno.ENOMEM);
    // 2^25 entries of 8 bytes (256 MiB) over the default limit; fine when the user says so.
    const wide = spec('ARRAY', 4, 8, 2 ** 25);
    expect(errnoOf(() => createMap(new Runtime().space, wide))).toBe(Errno.ENOMEM);
    const rt = new Runtime({ space: new AddressSpace(1 << 20, 2 * GiB), mapMemoryLimit: 2 * GiB });
    const m = createMap(rt.space, wide);
    m.update(u32(2 ** 25 - 1), u64(9));
    expect(hex(m.lookup(u32(2 ** 25 - 1)))).toBe(hex(u64(9)));
    m.close();
    expect(rt.space.mapMemoryCharged).toBe(0);
  });

  it('charges perf buffers as they open and gives them back on delete and close', () => {
    const space = new AddressSpace(1 << 20);
    space.mapMemoryLimit = 16 * MiB;
    const m = createMap(space, spec('PERF_EVENT_ARRAY', 4, 4, 4)) as PerfEventArrayMap;
    const fixed = space.mapMemoryCharged;
    m.reader({ cpus: 2, pagesPerCpu: 8 });
    const opened = space.mapMemoryCharged - fixed;
    expect(opened).toBeGreaterThan(2 * 8 * 4096);
    // Reopening slot 0 replaces its buffer's charge.
    m.open(0, 0, 8 * 4096);
    expect(space.mapMemoryCharged - fixed).toBe(opened);
    const err = mapError(() => m.open(2, 2, 4096 * 4096));
    expect(err.errno).toBe(Errno.ENOMEM);
    expect(err.message).toMatch(
      /map 't_perf_event_array': a perf buffer of 16777216 bytes needs .* use smaller buffers$/,
    );
    expect(space.mapMemoryCharged - fixed).toBe(opened);
    m.delete(u32(1));
    expect(space.mapMemoryCharged - fixed).toBe(opened / 2);
    m.close();
    expect(space.mapMemoryCharged).toBe(0);
  });

  it('the Node loader lets maps take a quarter of the machine, within the address space', () => {
    const obj = loadObject('examples/xdp/udp_drop.o');
    expect(obj.runtime.space.mapMemoryLimit).toBe(
      Math.min(Math.floor(totalmem() / 4), obj.runtime.space.maxBytes),
    );
    expect(obj.runtime.space.mapMemoryCharged).toBeGreaterThan(0);
    const own = loadObject('examples/xdp/udp_drop.o', { runtimeOptions: { mapMemoryLimit: 4 * MiB } });
    expect(own.runtime.space.mapMemoryLimit).toBe(4 * MiB);
  });
});

describe('memory follows the elements', () => {
  // Space for the charge of maps of 2^24 entries; what they take stays small.
  const bigSpace = (): AddressSpace => {
    const space = new AddressSpace(1 << 20, 4 * GiB - 65536);
    space.mapMemoryLimit = 4 * GiB;
    return space;
  };

  function tenElements(s: MapSpec, put: (m: MapBase, i: number) => void): { js: number; wasm: number } {
    const space = bigSpace();
    const {
      js,
      wasm,
      result: m,
    } = measure(space, () => {
      const m = createMap(space, s, { cpus: 2 });
      for (let i = 0; i < 10; i++) put(m, i);
      return m;
    });
    expect(space.mapMemoryCharged).toBeGreaterThan(s.maxEntries * 8);
    m.close();
    expect(space.mapMemoryCharged).toBe(0);
    return { js, wasm };
  }

  for (const [type, flags] of [
    ['HASH', 0],
    ['HASH', 1],
    ['PERCPU_HASH', 0],
    ['LRU_HASH', 0],
    ['LRU_HASH', 2],
    ['LRU_PERCPU_HASH', 0],
  ] as const) {
    it(`${type}${flags ? ` (flags ${flags})` : ''} of 2^24 entries holding 10: little memory, fast`, () => {
      const t0 = performance.now();
      const { js, wasm } = tenElements(spec(type, 4, 8, 2 ** 24, flags), (m, i) => {
        m.update(u32(i), new Uint8Array(m.userValueSize).fill(i));
        expect(hex(m.lookup(u32(i)))).toBe(hex(new Uint8Array(m.userValueSize).fill(i)));
      });
      expect(performance.now() - t0).toBeLessThan(500);
      expect(wasm).toBeLessThanOrEqual(256 * 1024);
      expect(js).toBeLessThan(4 * MiB);
    });
  }

  it('LPM_TRIE of 2^20 entries holding 10: little memory', () => {
    // Trie nodes are JS objects (~750 bytes an element at most): 2^24 would be charged 12 GiB.
    const { js, wasm } = tenElements(spec('LPM_TRIE', 8, 8, 2 ** 20, 1), (m, i) => {
      m.update(lpmKey(32, 10, 0, 0, i), u64(i));
      expect(hex(m.lookup(lpmKey(32, 10, 0, 0, i)))).toBe(hex(u64(i)));
    });
    expect(wasm).toBeLessThanOrEqual(256 * 1024);
    expect(js).toBeLessThan(4 * MiB);
  });

  it('QUEUE and STACK of 2^24 entries holding 10: little memory', () => {
    for (const type of ['QUEUE', 'STACK'] as const) {
      const { js, wasm } = tenElements(spec(type, 0, 8, 2 ** 24), (m, i) =>
        m.update(new Uint8Array(0), u64(i)),
      );
      expect(wasm, type).toBeLessThanOrEqual(256 * 1024);
      expect(js, type).toBeLessThan(4 * MiB);
    }
  });

  it('a hash map filled to max_entries still reports E2BIG, and its slots are reused after deletes', () => {
    const space = new AddressSpace(1 << 20);
    const m = createMap(space, spec('HASH', 4, 8, 1000));
    for (let i = 0; i < 1000; i++) m.update(u32(i), u64(i));
    expect(errnoOf(() => m.update(u32(1000), u64(0)))).toBe(Errno.E2BIG);
    const wasm = space.memory.buffer.byteLength;
    const live = Array.from({ length: 1000 }, (_, i) => i);
    let next = 1000;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i += 2) m.delete(u32(live[i]!));
      for (let i = 0; i < 1000; i += 2) {
        live[i] = next++;
        m.update(u32(live[i]!), u64(i));
      }
    }
    expect(space.memory.buffer.byteLength).toBe(wasm);
    const keys: number[] = [];
    for (let k = m.nextKey(undefined); k; k = m.nextKey(k))
      keys.push(new DataView(k.buffer).getUint32(0, true));
    expect(keys.sort((x, y) => x - y)).toEqual([...live].sort((x, y) => x - y));
  });
});

describe('queue and stack rings grow as they fill', () => {
  for (const type of ['QUEUE', 'STACK'] as const) {
    it(`${type}: random pushes and pops through growth and wrap-around agree with a list`, () => {
      const max = 3000;
      const m = createMap(new AddressSpace(1 << 20), spec(type, 0, 12, max)) as QueueStackMap;
      const model: number[] = [];
      let x = 12345;
      const rnd = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) / 2 ** 32;
      };
      const value = (n: number) => {
        const v = new Uint8Array(12);
        new DataView(v.buffer).setUint32(4, n, true);
        return v;
      };
      let n = 0;
      for (let step = 0; step < 30000; step++) {
        // Mostly pushes early on (the ring doubles), then a mix (it wraps), with overwrites when full.
        const push = rnd() < (step < 10000 ? 0.8 : 0.5);
        if (push) {
          const flags = model.length === max && rnd() < 0.5 ? 2 : 0;
          const r = errnoOf(() => m.update(new Uint8Array(0), value(n), flags));
          if (model.length === max && flags === 0) expect(r).toBe(Errno.E2BIG);
          else {
            expect(r).toBe(0);
            if (model.length === max) model.shift(); // BPF_EXIST drops the oldest
            model.push(n);
          }
          n++;
        } else {
          const got = m.pop();
          const want = type === 'QUEUE' ? model.shift() : model.pop();
          expect(hex(got), `step ${step}`).toBe(want === undefined ? undefined : hex(value(want)));
        }
        expect(m.size).toBe(model.length);
      }
    });
  }
});
