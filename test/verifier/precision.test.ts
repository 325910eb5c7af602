// Where we are more precise than the kernel, and why that is sound. The one "only the kernel rejects"
// program of the agreement corpus (generated seed 43, mutant at insn 96) comes down to this rule:
//
// The kernel's check_stack_read_fixed_off keeps a spilled scalar's value on a narrow read (fewer than 8
// bytes) only when the read starts at the slot's low byte (bpf_stack_narrow_access_ok: off % 8 == 0 on
// little-endian); a narrow read at any other byte of a spilled register gives an unknown scalar, unless all
// of it is a spilled zero. We keep the bytes of a spilled constant wherever the read starts, so we know the
// loaded value exactly and may prove a later branch one-sided where the kernel explores both sides.
//
// The tests below check that our value is the one the program computes (the interpreter runs it), and,
// with the kernel, that the kernel does lose it at a non-zero slot offset and keeps it at offset 0.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { kernelOracle } from '../support/kernel.js';
import { closeMaps, kernelVerdict } from './kernel.js';
import { TEST_MAPS, verdict } from './support.js';

const oracle = kernelOracle();

const SIZES = { 1: 'u8', 2: 'u16', 4: 'u32' } as const;

/** Spill `c` at fp-8 and read `size` bytes at fp-8+`at` into r5. */
const fill = (c: bigint, at: number, size: 1 | 2 | 4) =>
  `r2 = ${c} ll\n *(u64 *)(r10 - 8) = r2\n r5 = *(${SIZES[size]} *)(r10 - ${8 - at})\n`;

/** Dereferences r5 (a number) unless r5 == v: accepted only if the verifier knows r5 is exactly v. */
const provesValue = (c: bigint, at: number, size: 1 | 2 | 4, v: bigint) =>
  `${fill(c, at, size)} r6 = ${v} ll\n if r5 == r6 goto +1\n r0 = *(u64 *)(r5 + 0)\n r0 = 2\n exit`;

function run(text: string): bigint {
  const rt = new Runtime();
  return new Interpreter(rt).run(rt.prepare(assemble(text), []), { args: [0] }).r0;
}

describe('narrow reads of a spilled constant', () => {
  it('give exactly the bytes the program reads, at every aligned offset and size', () => {
    let checked = 0;
    for (const c of [-752583529n, 0x1122334455667788n, -1n, 0x80n, 0n]) {
      for (const size of [1, 2, 4] as const) {
        for (let at = 0; at < 8; at += size) {
          const actual = run(`${fill(c, at, size)} r0 = r5\n exit`);
          expect(verdict(provesValue(c, at, size, actual)), `${c} at +${at} size ${size}`).toBe('accepted');
          // And not some other value: the dereference is reached when r5 is compared with a wrong one.
          expect(verdict(provesValue(c, at, size, actual + 1n))).toMatch(/^scalar_deref/);
          checked++;
        }
      }
    }
    expect(checked).toBe(5 * (8 + 4 + 2));
  });

  it.skipIf(!oracle)('the kernel loses the value at a non-zero offset in the slot, keeps it at 0', () => {
    try {
      const c = -752583529n; // 0xffffffff_d3247c97: the constant of generated seed 43
      const k = (text: string) => kernelVerdict(assemble(text), 'xdp', TEST_MAPS);
      const high = provesValue(c, 4, 4, 0xffffffffn);
      expect(k(high).reason).toMatch(/R5 invalid mem access 'scalar'/);
      expect(verdict(high)).toBe('accepted');
      expect(k(provesValue(c, 0, 4, 0xd3247c97n)).accepted).toBe(true);
      // A spilled zero stays zero at any offset (the kernel counts zero spill bytes).
      expect(k(provesValue(0n, 4, 4, 0n)).accepted).toBe(true);
    } finally {
      closeMaps();
    }
  });
});

describe('atomic fetch from a spilled constant', () => {
  // fp-16 holds c; r3 = atomic_fetch_add(fp-16, r3) gives c back; the dereference of r3 is reached only if
  // r3 is not c. The kernel (a fetch reads the slot like a load) accepts, and so must we.
  const fetch = (c: bigint, op: string) =>
    ` r1 = ${c} ll\n *(u64 *)(r10 - 16) = r1\n r3 = 7\n ${op}\n r6 = ${c} ll\n if r3 == r6 goto +1\n r0 = *(u64 *)(r3 + 0)\n r0 = 2\n exit`;

  it('gives the constant back (fetch_add, fetch_or, xchg) and the value the location held after', () => {
    for (const c of [-0x23fd13d4n, 5n, 0n]) {
      for (const op of [
        'r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)',
        'r3 = atomic_fetch_or((u64 *)(r10 - 16), r3)',
        'r3 = xchg_64(r10 - 16, r3)',
      ]) {
        expect(verdict(fetch(c, op)), `${c} ${op}`).toBe('accepted');
        expect(run(fetch(c, op))).toBe(2n);
      }
    }
    // After the atomic the slot is unknown: a second fetch proves nothing.
    const twice = fetch(
      5n,
      'r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)\n r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)',
    );
    expect(verdict(twice)).toMatch(/^scalar_deref/);
  });

  it.skipIf(!oracle)('the kernel agrees', () => {
    try {
      const k = (text: string) => kernelVerdict(assemble(text), 'xdp', TEST_MAPS);
      expect(k(fetch(-0x23fd13d4n, 'r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)')).accepted).toBe(true);
      expect(
        k(
          fetch(
            5n,
            'r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)\n r3 = atomic_fetch_add((u64 *)(r10 - 16), r3)',
          ),
        ).accepted,
      ).toBe(false);
    } finally {
      closeMaps();
    }
  });
});

describe('array lookup with a key in a spilled constant', () => {
  // Map 1 is an array of 4 entries; the key pointer is fp-8+at, key size 4; the value is dereferenced
  // without a NULL check, which is safe only if the lookup cannot fail.
  const lookup = (c: bigint, at: number) =>
    ` r1 = ${c} ll\n *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += ${-8 + at}\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit`;
  const cases: [bigint, number, boolean][] = [
    [3n, 4, true], // the key's bytes (0) and the whole constant (3) in range
    [3n, 0, false], // the key does not reach the top of the slot: not a constant for the kernel
    [4n, 4, false], // the whole constant out of range
    [0x500000003n, 4, false], // both out of range
    [0n, 0, false], // a spilled zero register is a spill, not zero bytes: the key is 4 of its 8 bytes
  ];

  it('is constant where the kernel says so, and in range both as the kernel reads it and as a lookup does', () => {
    for (const [c, at, ok] of cases)
      expect(verdict(lookup(c, at)), `${c} at +${at}`).toMatch(ok ? /^accepted/ : /^null_deref/);
  });

  it.skipIf(!oracle)('the kernel agrees on each', () => {
    try {
      for (const [c, at, ok] of cases) {
        expect(kernelVerdict(assemble(lookup(c, at)), 'xdp', TEST_MAPS).accepted, `${c} at +${at}`).toBe(ok);
      }
    } finally {
      closeMaps();
    }
  });
});
