import { describe, expect, it } from 'vitest';
import { Errno, type HashMap, UpdateFlag } from '../../src/maps/index.js';
import { allKeys, errnoOf, hex, make, spec, u32, u64 } from './util.js';

describe('hash maps', () => {
  it('flags, E2BIG when full (but replacing is fine), delete, insertion-order iteration', () => {
    const m = make(spec('HASH', 4, 8, 2)) as HashMap;
    m.update(u32(5), u64(1));
    expect(errnoOf(() => m.update(u32(5), u64(2), UpdateFlag.NOEXIST))).toBe(Errno.EEXIST);
    expect(errnoOf(() => m.update(u32(6), u64(2), UpdateFlag.EXIST))).toBe(Errno.ENOENT);
    m.update(u32(6), u64(2), UpdateFlag.NOEXIST);
    expect(errnoOf(() => m.update(u32(7), u64(3)))).toBe(Errno.E2BIG);
    m.update(u32(5), u64(9), UpdateFlag.EXIST);
    expect(hex(m.lookup(u32(5)))).toBe(hex(u64(9)));
    expect(allKeys(m)).toEqual(['05000000', '06000000']);
    expect(hex(m.nextKey(u32(77)))).toBe('05000000');
    expect(errnoOf(() => m.delete(u32(7)))).toBe(Errno.ENOENT);
    m.delete(u32(5));
    expect(m.size).toBe(1);
    m.update(u32(7), u64(3));
    expect(allKeys(m)).toEqual(['06000000', '07000000']);
    expect(errnoOf(() => m.update(u32(7), u64(3), 4))).toBe(Errno.EINVAL);
  });

  it('keeps value pointers stable and gives programs the value in linear memory', () => {
    const m = make(spec('HASH', 6, 4, 4));
    const key = m.space.allocate(6, 'scratch', 'k');
    m.space.write(key.start, new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(m.lookupPtr(key.start, 0)).toBe(0);
    m.update(new Uint8Array([1, 2, 3, 4, 5, 6]), u32(0xabcd));
    const p = m.lookupPtr(key.start, 0);
    expect(m.space.view.getUint32(p, true)).toBe(0xabcd);
    expect(m.space.regionAt(p, 4)?.kind).toBe('map_value');
    m.update(new Uint8Array([1, 2, 3, 4, 5, 6]), u32(7));
    expect(m.lookupPtr(key.start, 0)).toBe(p);
    expect(m.space.view.getUint32(p, true)).toBe(7);
  });

  it('per-CPU hash: a program insert sets its CPU, zeroes the others', () => {
    const m = make(spec('PERCPU_HASH', 4, 4, 4), 2);
    const key = m.space.allocate(4, 'scratch', 'k');
    const val = m.space.allocate(4, 'scratch', 'v');
    m.space.view.setUint32(key.start, 3, true);
    m.space.view.setUint32(val.start, 0x11, true);
    expect(m.updatePtr(key.start, val.start, 0, 1)).toBe(0);
    expect(hex(m.lookup(u32(3)))).toBe('00000000000000001100000000000000');
    expect(errnoOf(() => m.update(u32(3), new Uint8Array(16), UpdateFlag.F_LOCK))).toBe(Errno.EINVAL);
  });

  it('LRU: evicts the oldest unreferenced elements; program lookups protect an element', () => {
    const m = make(spec('LRU_HASH', 4, 4, 4));
    for (let i = 0; i < 4; i++) m.update(u32(i), u32(i));
    // Reference key 0 from a "program" lookup: it survives the next eviction.
    const key = m.space.allocate(4, 'scratch', 'k');
    m.space.view.setUint32(key.start, 0, true);
    expect(m.lookupPtr(key.start, 0)).not.toBe(0);
    // One CPU: the kernel frees clamp(4 / 1 / 2, 1, 128) = 2 nodes at a time, oldest unreferenced first.
    m.update(u32(10), u32(10));
    expect(allKeys(m).sort()).toEqual(['00000000', '03000000', '0a000000']);
    // The second freed node serves the next update without evicting.
    m.update(u32(3), u32(30), UpdateFlag.EXIST);
    expect(hex(m.lookup(u32(3)))).toBe('1e000000');
    expect(allKeys(m).length).toBe(3);
    // Updating an existing key takes a node first: with none free, the map evicts, then fails the flag check.
    m.update(u32(11), u32(11));
    expect(errnoOf(() => m.update(u32(0), u32(1), UpdateFlag.NOEXIST))).toBe(Errno.EEXIST);
  });

  it('hash of maps: values are inner maps (by handle address), checked against the template', () => {
    const space = make(spec('ARRAY', 4, 4, 1)).space;
    const inner = make(spec('ARRAY', 4, 4, 2), 1, space);
    const other = make(spec('ARRAY', 4, 8, 2), 1, space);
    const outer = make({ ...spec('HASH_OF_MAPS', 4, 4, 2), innerMap: inner.spec }, 1, space);
    outer.update(u32(1), u32(inner.addr));
    expect(errnoOf(() => outer.update(u32(2), u32(other.addr)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => outer.update(u32(2), u32(12345)))).toBe(Errno.EBADF);
    const key = space.allocate(4, 'scratch', 'k');
    space.view.setUint32(key.start, 1, true);
    expect(outer.lookupPtr(key.start, 0)).toBe(inner.addr);
    expect(errnoOf(() => make(spec('HASH_OF_MAPS', 4, 4, 2)))).toBe(Errno.EBADF);
  });
});
