import { describe, expect, it } from 'vitest';
import {
  createMap,
  Errno,
  type FdArrayMap,
  KernelErrno,
  type LpmTrieMap,
  MapType,
  type PerfEventArrayMap,
  type QueueStackMap,
  type RingBufMap,
  typedMap,
  u64Codec,
  uintCodec,
} from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { errnoOf, hex, lpmKey, make, spec, u32 } from './util.js';

describe('LPM trie', () => {
  it('matches the longest prefix; ENOSPC when full; bad prefix lengths are EINVAL', () => {
    const m = make(spec('LPM_TRIE', 8, 4, 3, 1)) as LpmTrieMap;
    m.update(lpmKey(8, 10, 0, 0, 0), u32(8));
    m.update(lpmKey(16, 10, 1, 0, 0), u32(16));
    m.update(lpmKey(24, 10, 1, 2, 0), u32(24));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 2, 3)))).toBe(hex(u32(24)));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 9, 3)))).toBe(hex(u32(16)));
    expect(hex(m.lookup(lpmKey(32, 10, 9, 9, 3)))).toBe(hex(u32(8)));
    expect(m.lookup(lpmKey(32, 11, 1, 2, 3))).toBeUndefined();
    expect(errnoOf(() => m.update(lpmKey(4, 16, 0, 0, 0), u32(4)))).toBe(Errno.ENOSPC);
    expect(errnoOf(() => m.update(lpmKey(33, 10, 0, 0, 0), u32(1)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.update(lpmKey(8, 10, 0, 0, 0), u32(1), 1))).toBe(Errno.EEXIST);
    // Post-order iteration: more specific prefixes first.
    const order: string[] = [];
    for (let k = m.nextKey(undefined); k; k = m.nextKey(k)) order.push(hex(k)!);
    expect(order).toEqual([
      hex(lpmKey(24, 10, 1, 2, 0)),
      hex(lpmKey(16, 10, 1, 0, 0)),
      hex(lpmKey(8, 10, 0, 0, 0)),
    ]);
    m.delete(lpmKey(16, 10, 1, 0, 0));
    expect(hex(m.lookup(lpmKey(32, 10, 1, 9, 3)))).toBe(hex(u32(8)));
    expect(errnoOf(() => m.delete(lpmKey(16, 10, 1, 0, 0)))).toBe(Errno.ENOENT);
    expect(m.size).toBe(2);
  });
});

describe('queue and stack', () => {
  it('FIFO and LIFO order; BPF_EXIST overwrites the oldest when full', () => {
    const q = make(spec('QUEUE', 0, 4, 2)) as QueueStackMap;
    const s = make(spec('STACK', 0, 4, 2)) as QueueStackMap;
    for (const m of [q, s]) {
      m.update(new Uint8Array(0), u32(1));
      m.update(new Uint8Array(0), u32(2));
      expect(errnoOf(() => m.update(new Uint8Array(0), u32(3)))).toBe(Errno.E2BIG);
      expect(errnoOf(() => m.update(new Uint8Array(0), u32(3), 1))).toBe(Errno.EINVAL);
      m.update(new Uint8Array(0), u32(3), 2);
    }
    expect([hex(q.pop()), hex(q.pop()), q.pop()]).toEqual([hex(u32(2)), hex(u32(3)), undefined]);
    expect([hex(s.pop()), hex(s.pop()), s.pop()]).toEqual([hex(u32(3)), hex(u32(2)), undefined]);
    expect(errnoOf(() => q.delete(new Uint8Array(0)))).toBe(Errno.EINVAL);
  });
});

describe('program array and array of maps', () => {
  it('only BPF_ANY, E2BIG past the end, EINVAL delete past the end, ENOENT for empty slots', () => {
    const m = make(spec('PROG_ARRAY', 4, 4, 2)) as FdArrayMap;
    expect(m.lookup(u32(0))).toBeUndefined();
    m.update(u32(1), u32(7));
    expect(m.refAt(1)).toBe(7);
    expect(hex(m.lookup(u32(1)))).toBe(hex(u32(7)));
    expect(errnoOf(() => m.update(u32(0), u32(7), 1))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.update(u32(2), u32(7)))).toBe(Errno.E2BIG);
    expect(errnoOf(() => m.delete(u32(2)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.delete(u32(0)))).toBe(Errno.ENOENT);
    m.delete(u32(1));
    expect(m.refAt(1)).toBe(0);
  });
});

describe('ring buffer', () => {
  it("reserves with the kernel's header, submits, discards, wraps, and drops when full", () => {
    const rb = make(spec('RINGBUF', 0, 0, 4096)) as RingBufMap;
    const reader = rb.reader();
    const p = rb.reserve(5);
    expect(p).toBe(rb.data.start + 8);
    expect(rb.space.view.getUint32(p - 8, true)).toBe(0x80000005);
    rb.space.write(p, new Uint8Array([1, 2, 3, 4, 5]));
    expect(reader.poll()).toEqual([]); // still busy
    rb.commit(p, false, 0);
    expect(reader.poll().map((d) => hex(d))).toEqual(['0102030405']);
    const d = rb.reserve(8);
    rb.commit(d, true, 0);
    expect(reader.poll()).toEqual([]);
    expect(rb.query(0)).toBe(0n);
    expect(rb.query(1)).toBe(4096n);
    // Fill: 4096-byte ring holds at most 4095 bytes of records.
    let n = 0;
    while (rb.reserve(100) !== 0) n++;
    expect(n).toBe(Math.floor(4095 / 112) - 0);
    expect(rb.dropped).toBe(1);
    expect(reader.lost).toBe(1);
  });

  it('keeps records intact when they wrap past the end of the ring', () => {
    const rb = make(spec('RINGBUF', 0, 0, 4096)) as RingBufMap;
    const r = rb.reader();
    let seq = 0;
    for (let round = 0; round < 50; round++) {
      const sizes = [100, 333, 1000, 7];
      for (const size of sizes) {
        const p = rb.reserve(size);
        expect(p).not.toBe(0);
        for (let i = 0; i < size; i++) rb.space.bytes[p + i] = (seq + i) & 0xff;
        rb.commit(p, false, 0);
        seq++;
      }
      const got = r.poll();
      expect(got.map((d) => d.length)).toEqual(sizes);
      got.forEach((d, j) => {
        const first = seq - sizes.length + j;
        expect(d.every((b, i) => b === ((first + i) & 0xff))).toBe(true);
      });
    }
    expect(rb.producerPos).toBeGreaterThan(4096 * 10);
    expect(rb.consumerPos).toBe(rb.producerPos);
  });

  it('delivers records to callbacks and to an async iterator', async () => {
    const rb = make(spec('RINGBUF', 0, 0, 4096)) as RingBufMap;
    const seen: string[] = [];
    const cb = rb.reader().onRecord((d) => seen.push(hex(d)!));
    const src = rb.space.allocate(4, 'scratch', 'src');
    rb.space.write(src.start, u32(0xaabbccdd));
    expect(rb.output(src.start, 4, 0)).toBe(0);
    expect(rb.output(src.start, 4, 4)).toBe(-Errno.EINVAL);
    await Promise.resolve();
    expect(seen).toEqual(['ddccbbaa']);
    cb.close();
    const it = rb.reader();
    const got: string[] = [];
    const done = (async () => {
      for await (const d of it) {
        got.push(hex(d)!);
        if (got.length === 2) break;
      }
    })();
    rb.output(src.start, 2, 0);
    rb.output(src.start, 3, 0);
    await done;
    expect(got).toEqual(['ddcc', 'ddccbb']);
  });
});

describe('perf event array', () => {
  it('outputs per CPU, counts lost samples when a buffer is full, and checks the index', () => {
    const m = make(spec('PERF_EVENT_ARRAY', 4, 4, 2)) as PerfEventArrayMap;
    const src = m.space.allocate(64, 'scratch', 'src');
    expect(m.output(0, 0xffffffffn, src.start, 8)).toBe(-Errno.ENOENT);
    const r = m.reader({ cpus: 2, pagesPerCpu: 1 });
    expect(m.output(1, 0xffffffffn, src.start, 8)).toBe(0);
    expect(m.output(1, 0n, src.start, 8)).toBe(-KernelErrno.EOPNOTSUPP);
    expect(m.output(0, 5n, src.start, 8)).toBe(-Errno.E2BIG);
    let ok = 0;
    while (m.output(0, 0xffffffffn, src.start, 60) === 0) ok++;
    expect(ok).toBe(Math.floor(4096 / (8 + 64)));
    m.output(0, 0xffffffffn, src.start, 60);
    const recs = r.poll();
    expect(recs.filter((x) => x.data).length).toBe(ok + 1);
    expect(recs.find((x) => x.lost !== undefined)).toEqual({ cpu: 0, lost: 2 });
    expect(r.lost).toBe(2);
  });
});

describe('typed view', () => {
  it('reads like a Map with number, bigint and per-CPU codecs', () => {
    const space = new AddressSpace(1 << 20);
    const h = typedMap<number, bigint>(
      createMap(space, { name: 'h', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 }),
    );
    h.set(1, 10n).set(2, 20n);
    expect(h.get(1)).toBe(10n);
    expect(h.has(3)).toBe(false);
    expect([...h]).toEqual([
      [1, 10n],
      [2, 20n],
    ]);
    expect(h.delete(1)).toBe(true);
    expect(h.delete(1)).toBe(false);
    expect(h.size).toBe(1);
    const pc = typedMap<number, number[]>(
      createMap(
        space,
        { name: 'p', type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 },
        { cpus: 3 },
      ),
    );
    pc.set(1, [1, 2, 3]);
    expect(pc.get(1)).toEqual([1, 2, 3]);
    expect([...pc.keys()]).toEqual([0, 1]);
    expect(() => pc.set(0, [1])).toThrow(/3 per-CPU values/);
    expect(() => h.set(-1, 1n)).toThrow(/does not fit/);
    expect(uintCodec(2).decode(new Uint8Array([1, 2]))).toBe(0x201);
    expect(u64Codec.encode(5n).length).toBe(8);
    expect(errnoOf(() => pc.clear())).toBe(Errno.EINVAL);
  });
});
