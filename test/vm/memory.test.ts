// The address space's allocator: alignment, and the gaps alignment leaves reused.
import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';

describe('AddressSpace.allocate', () => {
  it('places a region at the alignment asked for and keeps the gap before it free', () => {
    const space = new AddressSpace();
    const a = space.allocate(24, 'scratch', 'a');
    const b = space.allocate(100, 'packet', 'b', true, 64);
    expect(b.base % 64).toBe(0);
    expect(b.base).toBeGreaterThan(a.base);
    // The 8-aligned gap between a and b is handed out again.
    const c = space.allocate(8, 'scratch', 'c');
    expect(c.base).toBe(a.base + 24);
    expect(c.base + 8).toBeLessThanOrEqual(b.base);
    expect(space.regionAt(b.base, 100)).toBe(b);
  });

  it('takes an aligned start inside a freed block, leaving both ends free', () => {
    const space = new AddressSpace();
    space.allocate(8, 'scratch', 'pad');
    const big = space.allocate(1000, 'scratch', 'big');
    space.release(big);
    const aligned = space.allocate(100, 'scratch', 'aligned', true, 256);
    expect(aligned.base % 256).toBe(0);
    expect(aligned.base).toBeGreaterThanOrEqual(big.base);
    expect(aligned.base + 104).toBeLessThanOrEqual(big.base + big.capacity);
    const before = space.allocate(aligned.base - big.base, 'scratch', 'before');
    expect(before.base).toBe(big.base);
    const after = space.allocate(8, 'scratch', 'after');
    expect(after.base).toBe(aligned.base + 104);
  });

  it('rejects an alignment that is not a power of two of at least 8', () => {
    const space = new AddressSpace();
    for (const align of [0, 4, 12, 3.5]) {
      expect(() => space.allocate(8, 'scratch', 'x', true, align)).toThrow(/alignment/);
    }
  });
});

describe('AddressSpace views', () => {
  it('bytes, view, words and buffer all follow the memory when it grows', () => {
    const space = new AddressSpace(128 * 1024);
    const a = space.allocate(16, 'scratch', 'a');
    space.view.setInt32(a.start, -5, true);
    expect(space.words[a.start >> 2]).toBe(-5);
    const before = space.buffer;
    expect(before).toBe(space.memory.buffer);
    // More than the initial memory: it grows, and the old buffer is detached.
    const big = space.allocate(1024 * 1024, 'scratch', 'big');
    expect(space.buffer).not.toBe(before);
    expect(space.buffer).toBe(space.memory.buffer);
    expect(space.words.length).toBe(space.buffer.byteLength / 4);
    expect(space.bytes.length).toBe(space.buffer.byteLength);
    space.bytes[big.end - 1] = 0x7f;
    expect(new Uint8Array(space.buffer, big.end - 1, 1)[0]).toBe(0x7f);
    expect(space.words[a.start >> 2]).toBe(-5);
  });
});
