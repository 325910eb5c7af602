// Stack liveness in pruning: a stack slot no later path reads does not keep two states apart, and every
// way a later path depends on a slot (a read, a read several checkpoints further, a partial overwrite)
// keeps them apart.

import { describe, expect, it } from 'vitest';
import { check, verdict } from './support.js';

/** Two paths that leave `a` or `b` at fp-8, then `tail`. */
const twoPaths = (tail: string, a = 1, b = 2) => `
  r2 = *(u32 *)(r1 + 12)
  if r2 == 0 goto +3
  r3 = ${a}
  *(u64 *)(r10 - 8) = r3
  goto +2
  r3 = ${b}
  *(u64 *)(r10 - 8) = r3
  r3 = 0
  ${tail}`;

/** Branches on an unknown value, so that checkpoints come between the join and what follows. */
const branches = (n: number) =>
  Array.from({ length: n }, () => 'r4 = *(u32 *)(r1 + 16)\n if r4 > 7 goto +1\n r0 = 1\n r4 = 0').join('\n');

const deref = 'r0 = *(u64 *)(r3 + 0)'; // r3 is a number: reaching this is an error

describe('stack liveness', () => {
  it('prunes states that differ only in a slot nothing reads later', () => {
    const processed = (tail: string, a: number, b: number) => {
      const r = check(twoPaths(tail, a, b));
      expect(r.accepted).toBe(true);
      return r.insnsProcessed;
    };
    const tail = `${branches(10)}\n r0 = 2\n exit`;
    // As cheap as when both paths leave the same value ...
    expect(processed(tail, 1, 2)).toBe(processed(tail, 1, 1));
    // ... and cheaper than when the slot is read at the end, which keeps the paths apart.
    const read = `${branches(10)}\n r5 = *(u64 *)(r10 - 8)\n r0 = 2\n exit`;
    expect(processed(read, 1, 2)).toBeGreaterThan(processed(read, 1, 1) + 20);
  });

  it('keeps them apart when the slot is read right after the join', () => {
    expect(
      verdict(twoPaths(`r5 = *(u64 *)(r10 - 8)\n if r5 != 2 goto +1\n ${deref}\n r0 = 2\n exit`)),
    ).toMatch(/^scalar_deref/);
  });

  it('keeps them apart when the slot is read several checkpoints later', () => {
    const tail = `${branches(6)}\n r5 = *(u64 *)(r10 - 8)\n if r5 != 2 goto +1\n ${deref}\n r0 = 2\n exit`;
    expect(verdict(twoPaths(tail))).toMatch(/^scalar_deref/);
  });

  it('keeps them apart when a partial overwrite leaves bytes that depend on the old content', () => {
    // fp-8 holds 0 on one path and 2^32 on the other: after writing its low half, the high half reads
    // as 0 on the first path and as 1 on the second.
    const prog = `
      r2 = *(u32 *)(r1 + 12)
      if r2 == 0 goto +3
      r3 = 0
      *(u64 *)(r10 - 8) = r3
      goto +2
      r3 = 0x100000000 ll
      *(u64 *)(r10 - 8) = r3
      r3 = 0
      ${branches(3)}
      *(u32 *)(r10 - 8) = 7
      r5 = *(u32 *)(r10 - 4)
      if r5 == 0 goto +1
      ${deref}
      r0 = 2
      exit`;
    expect(verdict(prog)).toMatch(/^scalar_deref/);
  });

  it('a slot written again before any read does not keep states apart', () => {
    const tail = `r5 = 9\n *(u64 *)(r10 - 8) = r5\n ${branches(6)}\n r5 = *(u64 *)(r10 - 8)\n r0 = 2\n exit`;
    expect(check(twoPaths(tail, 1, 2)).insnsProcessed).toBe(check(twoPaths(tail, 1, 1)).insnsProcessed);
  });
});
