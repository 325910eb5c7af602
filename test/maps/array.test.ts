import { describe, expect, it } from 'vitest';
import { type ArrayMap, Errno, UpdateFlag } from '../../src/maps/index.js';
import { arrayLayout } from '../../src/maps/registry.js';
import { allKeys, errnoOf, hex, make, spec, u32, u64 } from './util.js';

describe('array map', () => {
  it('starts zeroed, updates, and refuses NOEXIST, out-of-range keys and deletes like the kernel', () => {
    const m = make(spec('ARRAY', 4, 8, 4));
    expect(hex(m.lookup(u32(3)))).toBe('0000000000000000');
    expect(m.lookup(u32(4))).toBeUndefined();
    m.update(u32(1), u64(42));
    expect(hex(m.lookup(u32(1)))).toBe(hex(u64(42)));
    m.update(u32(1), u64(43), UpdateFlag.EXIST);
    expect(hex(m.lookup(u32(1)))).toBe(hex(u64(43)));
    expect(errnoOf(() => m.update(u32(1), u64(1), UpdateFlag.NOEXIST))).toBe(Errno.EEXIST);
    expect(errnoOf(() => m.update(u32(4), u64(1)))).toBe(Errno.E2BIG);
    expect(errnoOf(() => m.update(u32(0), u64(1), 3))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.update(u32(0), u64(1), UpdateFlag.F_LOCK))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.delete(u32(1)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => m.update(u32(0), u32(1)))).toBe(Errno.EINVAL);
  });

  it('iterates in index order; a missing key restarts at 0', () => {
    const m = make(spec('ARRAY', 4, 4, 3));
    expect(allKeys(m)).toEqual(['00000000', '01000000', '02000000']);
    expect(hex(m.nextKey(u32(99)))).toBe('00000000');
    expect(m.nextKey(u32(2))).toBeUndefined();
  });

  it('exposes its layout for inlined lookups and program pointers agree with it', () => {
    const m = make(spec('ARRAY', 4, 12, 5)) as ArrayMap;
    const layout = arrayLayout(m)!;
    expect(layout.valueStride).toBe(16);
    expect(layout.maxEntries).toBe(5);
    const key = m.space.allocate(4, 'scratch', 'k');
    m.space.view.setUint32(key.start, 3, true);
    expect(m.lookupPtr(key.start, 0)).toBe(layout.valuesBase + 3 * 16);
    m.space.view.setUint32(key.start, 5, true);
    expect(m.lookupPtr(key.start, 0)).toBe(0);
    expect(arrayLayout(make(spec('PERCPU_ARRAY', 4, 4, 2)))).toBeUndefined();
  });

  it('per-CPU: user space sees one 8-byte-rounded value per CPU; programs see their own', () => {
    const m = make(spec('PERCPU_ARRAY', 4, 4, 2), 3);
    expect(m.lookup(u32(0))!.length).toBe(24);
    const v = new Uint8Array(24);
    v[0] = 1;
    v[8] = 2;
    v[16] = 3;
    m.update(u32(1), v);
    expect(hex(m.lookup(u32(1)))).toBe(hex(v));
    const key = m.space.allocate(4, 'scratch', 'k');
    m.space.view.setUint32(key.start, 1, true);
    expect(m.space.bytes[m.lookupPtr(key.start, 2)]).toBe(3);
    const val = m.space.allocate(4, 'scratch', 'v');
    m.space.bytes[val.start] = 9;
    expect(m.updatePtr(key.start, val.start, 0, 1)).toBe(0);
    expect(hex(m.lookup(u32(1)))).toBe('010000000000000009000000000000000300000000000000');
    expect(errnoOf(() => m.update(u32(1), new Uint8Array(8)))).toBe(Errno.EINVAL);
  });

  it('frozen maps refuse user writes', () => {
    const m = make(spec('ARRAY', 4, 4, 1));
    m.freeze();
    expect(errnoOf(() => m.update(u32(0), u32(1)))).toBe(Errno.EPERM);
  });

  it('BPF_F_LOCK needs a spin lock in the value; updates never overwrite the lock word', () => {
    const m = make({ ...spec('ARRAY', 4, 8, 1), spinLockOffset: 4 });
    const key = m.space.allocate(4, 'scratch', 'k');
    m.space.view.setUint32(m.lookupPtr(key.start, 0) + 4, 1, true); // a program holds the lock
    m.update(u32(0), u64(0xffffffff00000007n), UpdateFlag.F_LOCK);
    expect(hex(m.lookup(u32(0)))).toBe('0700000001000000');
    expect(errnoOf(() => m.update(u32(0), u64(1), UpdateFlag.F_LOCK | UpdateFlag.NOEXIST))).toBe(
      Errno.EEXIST,
    );
  });
});
