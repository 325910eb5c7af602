// Map semantics against the Linux kernel through bpftool: the same operations on a kernel map and on
// ours must give the same results and the same errnos (iteration order compared where the kernel
// defines it: arrays and LPM tries; hash maps as sets).

import { afterAll, describe, expect, it } from 'vitest';
import { createMap, type MapBase, type MapSpec, MapType, mapTypeByName } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { kernelOracle } from '../support/kernel.js';
import { KernelMap, type Outcome, possibleCpus, SyscallMap } from './bpftool.js';
import { hex, lpmKey, u32 } from './util.js';

const oracle = kernelOracle();
const cpus = oracle ? possibleCpus() : 1;
const pins: { remove(): void }[] = [];
afterAll(() => {
  for (const p of pins) p.remove();
});

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function ours(f: () => unknown): Outcome {
  try {
    const v = f();
    return v instanceof Uint8Array ? { ok: true, value: hex(v) } : { ok: true };
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === undefined) throw e;
    return { ok: false, errno };
  }
}

/** Our lookup/getnext as an Outcome (missing = ENOENT, as the syscall reports it). */
function ourLookup(m: MapBase, key: Uint8Array): Outcome {
  const r = ours(() => m.lookup(key));
  return r.ok && r.value === undefined ? { ok: false, errno: 2 } : r;
}
function ourNext(m: MapBase, key?: Uint8Array): Outcome {
  const r = ours(() => m.nextKey(key));
  return r.ok && r.value === undefined ? { ok: false, errno: 2 } : r;
}

/** The spec both sides create, and ours created from it. */
function specOf(type: string, key: number, value: number, entries: number, flags: number): MapSpec {
  return {
    name: 't',
    type: mapTypeByName(type)!.type,
    keySize: key,
    valueSize: value,
    maxEntries: entries,
    flags,
  };
}
const ourMap = (spec: MapSpec): MapBase => createMap(new AddressSpace(1 << 20), spec, { cpus });

function pair(type: string, key: number, value: number, entries: number, flags = 0): [KernelMap, MapBase] {
  const k = KernelMap.create(type, key, value, entries, flags);
  if (typeof k === 'number') throw new Error(`kernel refused ${type}: errno ${k}`);
  pins.push(k);
  return [k, ourMap(specOf(type, key, value, entries, flags))];
}

/** A kernel map through the syscall (fast) and ours. */
async function fastPair(
  type: string,
  key: number,
  value: number,
  entries: number,
  flags = 0,
): Promise<[SyscallMap, MapBase]> {
  const spec = specOf(type, key, value, entries, flags);
  const k = await SyscallMap.create(spec);
  pins.push(k);
  return [k, ourMap(spec)];
}

/** Step `i` of a random sequence: update (op 0-1), delete or lookup `key` on both maps, same outcome. */
function randomStep(
  k: SyscallMap,
  m: MapBase,
  key: Uint8Array,
  value: Uint8Array,
  r: () => number,
  i: number,
): void {
  const op = Math.floor(r() * 4);
  const flags = Math.floor(r() * 3);
  const [kr, mr] =
    op <= 1
      ? [k.update(key, value, flags), ours(() => m.update(key, value, flags))]
      : op === 2
        ? [k.delete(key), ours(() => m.delete(key))]
        : [k.lookup(key), ourLookup(m, key)];
  expect(mr, `step ${i}: op ${op} key ${hex(key)} flags ${flags}`).toEqual(kr);
}

function dumpSet(m: MapBase): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (let k = m.nextKey(undefined); k; k = m.nextKey(k))
    out.push({ key: hex(k)!, value: hex(m.lookup(k))! });
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

function sortByKey(d: { key: string; value: string }[]): { key: string; value: string }[] {
  return [...d].sort((a, b) => a.key.localeCompare(b.key));
}

describe.skipIf(!oracle)('maps against the kernel (bpftool)', () => {
  it('creation checks: the same specs are refused with the same errno', () => {
    const cases: [string, number, number, number, number][] = [
      ['array', 4, 4, 0, 0],
      ['array', 8, 4, 1, 0],
      ['array', 4, 0, 1, 0],
      ['array', 4, 4, 1, 0x1],
      ['percpu_array', 4, 40000, 1, 0],
      ['hash', 0, 4, 1, 0],
      ['hash', 4, 0, 1, 0],
      ['hash', 4, 4, 0, 0],
      ['hash', 4, 4, 1, 0x2],
      ['hash', 4, 4, 1, 0x1],
      ['hash', 600, 4, 1, 0],
      ['hash', 4, 4, 1, 0x40],
      ['array', 4, 4, 1, 0x88],
      ['lru_hash', 4, 4, 4, 0x1],
      ['percpu_hash', 4, 40000, 1, 0],
      ['lpm_trie', 8, 4, 4, 0],
      ['lpm_trie', 4, 4, 4, 1],
      ['lpm_trie', 261, 4, 4, 1],
      ['lpm_trie', 8, 0, 4, 1],
      ['lpm_trie', 8, 4, 0, 1],
      ['queue', 4, 4, 4, 0],
      ['queue', 0, 0, 4, 0],
      ['stack', 0, 4, 0, 0],
      ['ringbuf', 0, 0, 4096, 0],
      ['ringbuf', 0, 0, 4095, 0],
      ['ringbuf', 0, 0, 2048, 0],
      ['ringbuf', 4, 0, 4096, 0],
      ['prog_array', 4, 8, 4, 0],
      ['prog_array', 4, 4, 4, 0x80],
      ['perf_event_array', 4, 4, 4, 0],
      ['devmap', 4, 4, 4, 0],
      ['devmap', 4, 8, 4, 0],
      ['devmap', 4, 12, 4, 0],
      ['devmap', 4, 4, 4, 0x80],
      ['devmap_hash', 4, 8, 4, 0],
      ['devmap_hash', 8, 4, 4, 0],
      ['cpumap', 4, 4, 4, 0],
      ['cpumap', 4, 4, 4, 0x8],
      ['cpumap', 4, 4, 100000, 0],
      ['xskmap', 4, 4, 4, 0],
      ['xskmap', 4, 8, 4, 0],
    ];
    const results: string[] = [];
    for (const [type, key, value, entries, flags] of cases) {
      const k = KernelMap.create(type, key, value, entries, flags);
      const kernel = typeof k === 'number' ? k : 0;
      if (typeof k !== 'number') k.remove();
      const mine = ours(() => void ourMap(specOf(type, key, value, entries, flags)));
      results.push(
        `${type} k${key} v${value} n${entries} f${flags}: kernel ${kernel} ours ${mine.ok ? 0 : mine.errno}`,
      );
      expect(mine.ok ? 0 : mine.errno, results[results.length - 1]).toBe(kernel);
    }
  });

  it('array: updates, flags, range, delete and iteration', () => {
    const [k, m] = pair('array', 4, 4, 3);
    const ops: [string, Outcome, Outcome][] = [];
    const step = (name: string, kr: Outcome, mr: Outcome) => ops.push([name, kr, mr]);
    for (const [key, flags] of [
      [0, 0],
      [1, 2],
      [2, 1],
      [3, 0],
      [7, 2],
    ] as const) {
      step(
        `update ${key}/${flags}`,
        k.update(u32(key), u32(key + 10), flags),
        ours(() => m.update(u32(key), u32(key + 10), flags)),
      );
    }
    for (const key of [0, 1, 2, 3]) {
      step(`lookup ${key}`, k.lookup(u32(key)), ourLookup(m, u32(key)));
      step(
        `delete ${key}`,
        k.delete(u32(key)),
        ours(() => m.delete(u32(key))),
      );
      step(`getnext ${key}`, k.getnext(u32(key)), ourNext(m, u32(key)));
    }
    step('getnext first', k.getnext(), ourNext(m));
    for (const [name, kr, mr] of ops) expect(mr, name).toEqual(kr);
  });

  it('hash: random operations give the same results, E2BIG when full, same contents', async () => {
    const [k, m] = await fastPair('hash', 4, 8, 8);
    const r = rng(7);
    for (let i = 0; i < 400; i++) {
      const key = u32(Math.floor(r() * 12));
      const value = new Uint8Array(8).map(() => Math.floor(r() * 256));
      randomStep(k, m, key, value, r, i);
    }
    expect(dumpSet(m)).toEqual(sortByKey(k.dump()));
    // A missing key restarts iteration at the first key (whichever the map iterates first).
    const first = k.getnext(u32(0xdeadbeef));
    expect(first).toEqual(k.getnext());
    expect(ourNext(m, u32(0xdeadbeef))).toEqual(ourNext(m));
  });

  for (const entries of [4, 16, 40, 300]) {
    it(`lru_hash (${entries} entries): the kernel's eviction, including updates that evict and then fail`, async () => {
      const [k, m] = await fastPair('lru_hash', 4, 4, entries);
      const r = rng(entries);
      const space = entries * 2;
      const hist: string[] = [];
      for (let i = 0; i < entries * 8; i++) {
        const key = u32(Math.floor(r() * space));
        const op = Math.floor(r() * 10);
        const flags = op === 9 ? 1 + Math.floor(r() * 2) : 0;
        const [kr, mr] =
          op < 8 || op === 9
            ? [k.update(key, u32(i), flags), ours(() => m.update(key, u32(i), flags))]
            : [k.delete(key), ours(() => m.delete(key))];
        hist.push(
          `${i}: ${op >= 8 && op !== 9 ? 'delete' : 'update'} ${hex(key)} flags ${flags}: ${JSON.stringify(kr)}`,
        );
        if (hist.length > 20) hist.shift();
        expect(mr, `step ${i}\n${hist.join('\n')}`).toEqual(kr);
        if (entries <= 40 || i % 64 === 63)
          expect(dumpSet(m), `contents after step ${i}\n${hist.join('\n')}`).toEqual(sortByKey(k.dump()));
      }
      expect(dumpSet(m)).toEqual(sortByKey(k.dump()));
    });
  }

  for (const entries of [8, 33, 200]) {
    it(`lru_hash with BPF_F_NO_COMMON_LRU (${entries} entries): per-CPU lists, same evictions`, async () => {
      const [k, m] = await fastPair('lru_hash', 4, 4, entries, 2);
      const r = rng(entries * 3);
      const hist: string[] = [];
      for (let i = 0; i < Math.min(entries * 10, 600); i++) {
        const key = u32(Math.floor(r() * entries * 2));
        const op = Math.floor(r() * 10);
        const flags = op === 9 ? 1 + Math.floor(r() * 2) : 0;
        const [kr, mr] =
          op === 8
            ? [k.delete(key), ours(() => m.delete(key))]
            : [k.update(key, u32(i), flags), ours(() => m.update(key, u32(i), flags))];
        hist.push(
          `${i}: ${op === 8 ? 'delete' : 'update'} ${hex(key)} flags ${flags}: ${JSON.stringify(kr)} K=${k
            .dump()
            .map((e) => e.key.slice(0, 2))
            .join(',')}`,
        );
        if (hist.length > 12) hist.shift();
        expect(mr, `step ${i}\n${hist.join('\n')}`).toEqual(kr);
        if (entries <= 40 || i % 50 === 49) {
          expect(dumpSet(m), `contents after step ${i}\n${hist.join('\n')}`).toEqual(sortByKey(k.dump()));
        }
      }
    });
  }

  for (const type of ['percpu_hash', 'lru_percpu_hash'] as const) {
    it(`${type}: random operations with one value per CPU`, async () => {
      const [k, m] = await fastPair(type, 4, 4, 16);
      const r = rng(type.length);
      for (let i = 0; i < 200; i++) {
        const key = u32(Math.floor(r() * 24));
        const value = new Uint8Array(8 * cpus).map((_, j) => (j % 8 < 4 ? Math.floor(r() * 256) : 0));
        randomStep(k, m, key, value, r, i);
      }
      expect(dumpSet(m)).toEqual(sortByKey(k.dump()));
    });
  }

  it('lpm_trie: longest-prefix lookups, flags, ENOSPC when full, deletes and the kernel iteration order', async () => {
    const [k, m] = await fastPair('lpm_trie', 8, 4, 12, 1);
    const prefixes: [number, number[]][] = [
      [16, [192, 168, 0, 0]],
      [24, [192, 168, 0, 0]],
      [24, [192, 168, 1, 0]],
      [24, [192, 168, 128, 0]],
      [8, [10, 0, 0, 0]],
      [32, [10, 1, 2, 3]],
      [0, [0, 0, 0, 0]],
      [20, [172, 16, 0, 0]],
      [12, [172, 16, 0, 0]],
      [25, [192, 168, 1, 128]],
      [9, [10, 128, 0, 0]],
      [31, [10, 1, 2, 2]],
      [30, [10, 1, 2, 0]],
      [24, [192, 168, 0, 77]],
    ];
    const check = (label: string, kr: Outcome, mr: Outcome) => expect(mr, label).toEqual(kr);
    prefixes.forEach(([p, a], i) => {
      const key = lpmKey(p, ...a);
      check(
        `insert ${p}/${a}`,
        k.update(key, u32(i), 0),
        ours(() => m.update(key, u32(i), 0)),
      );
    });
    check(
      'noexist existing',
      k.update(lpmKey(16, 192, 168, 0, 0), u32(1), 1),
      ours(() => m.update(lpmKey(16, 192, 168, 0, 0), u32(1), 1)),
    );
    check(
      'exist missing',
      k.update(lpmKey(17, 1, 0, 0, 0), u32(1), 2),
      ours(() => m.update(lpmKey(17, 1, 0, 0, 0), u32(1), 2)),
    );
    check(
      'bad prefixlen',
      k.update(lpmKey(33, 1, 0, 0, 0), u32(1), 0),
      ours(() => m.update(lpmKey(33, 1, 0, 0, 0), u32(1), 0)),
    );
    const iterate = (): void => {
      let kk: Outcome = k.getnext();
      let mm: Outcome = ourNext(m);
      for (let n = 0; n < 40; n++) {
        check(`getnext #${n}`, kk, mm);
        if (!kk.ok) break;
        const key = Uint8Array.from(Buffer.from(kk.value!, 'hex'));
        kk = k.getnext(key);
        mm = ourNext(m, key);
      }
    };
    iterate();
    const r = rng(3);
    for (let i = 0; i < 60; i++) {
      const addr = [
        [192, 168],
        [10, 1],
        [172, 16],
        [10, 128],
      ][Math.floor(r() * 4)]!.concat([Math.floor(r() * 256), Math.floor(r() * 256)]);
      check(`lookup ${addr}`, k.lookup(lpmKey(32, ...addr)), ourLookup(m, lpmKey(32, ...addr)));
    }
    for (const i of [1, 0, 5, 9, 11, 3]) {
      const [p, a] = prefixes[i]!;
      check(
        `delete ${p}/${a}`,
        k.delete(lpmKey(p, ...a)),
        ours(() => m.delete(lpmKey(p, ...a))),
      );
      check(
        `delete again ${p}/${a}`,
        k.delete(lpmKey(p, ...a)),
        ours(() => m.delete(lpmKey(p, ...a))),
      );
      iterate();
    }
    check('missing key next', k.getnext(lpmKey(7, 1, 2, 3, 4)), ourNext(m, lpmKey(7, 1, 2, 3, 4)));
    for (const plen of [0, 8, 24, 33, 0xffffffff]) {
      check(
        `lookup prefixlen ${plen}`,
        k.lookup(lpmKey(plen, 10, 1, 2, 3)),
        ourLookup(m, lpmKey(plen, 10, 1, 2, 3)),
      );
      check(
        `delete prefixlen ${plen}`,
        k.delete(lpmKey(plen, 99, 1, 2, 3)),
        ours(() => m.delete(lpmKey(plen, 99, 1, 2, 3))),
      );
    }
    check('next of bad prefixlen', k.getnext(lpmKey(40, 1, 2, 3, 4)), ourNext(m, lpmKey(40, 1, 2, 3, 4)));
  });

  for (const type of ['queue', 'stack'] as const) {
    it(`${type}: push, pop, peek, full and empty`, () => {
      const [k, m] = pair(type, 0, 4, 3);
      const q = m as unknown as { pop(): Uint8Array | undefined };
      const check = (label: string, kr: Outcome, mr: Outcome) => expect(mr, label).toEqual(kr);
      const none = (v: Uint8Array | undefined): Outcome =>
        v ? { ok: true, value: hex(v) } : { ok: false, errno: 2 };
      for (let i = 1; i <= 4; i++)
        check(
          `push ${i}`,
          k.push(u32(i)),
          ours(() => m.update(new Uint8Array(0), u32(i))),
        );
      check('peek', k.take('peek'), none(m.lookup(new Uint8Array(0))));
      for (let i = 0; i < 4; i++) check(`pop ${i}`, k.take('pop'), none(q.pop()));
    });
  }

  it('percpu_array and percpu_hash: one value per possible CPU', () => {
    for (const type of ['percpu_array', 'percpu_hash'] as const) {
      const [k, m] = pair(type, 4, 4, 2);
      const one = u32(0x01020304);
      const all = new Uint8Array(8 * cpus);
      for (let c = 0; c < cpus; c++) all.set(one, c * 8);
      expect(
        ours(() => m.update(u32(1), all)),
        type,
      ).toEqual(k.update(u32(1), one));
      expect(ourLookup(m, u32(1)), type).toEqual(k.lookup(u32(1)));
      expect(ourLookup(m, u32(0)), type).toEqual(k.lookup(u32(0)));
    }
    expect(MapType.PERCPU_HASH).toBe(5);
  });
});
