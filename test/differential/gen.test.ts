// The random program generator itself (no kernel needed): reproducible, structurally valid, and covering
// the instruction set the differential tests claim to cover.

import { describe, expect, it } from 'vitest';
import { checkProgram, encode, LDDW } from '../../src/isa/index.js';
import { DUMP_SIZE, generate, PACKET_SIZE } from '../support/gen.js';

describe('random program generator', () => {
  it('gives the same program for the same seed and different ones for different seeds', () => {
    expect(encode(generate(42).insns)).toEqual(encode(generate(42).insns));
    expect(encode(generate(42).insns)).not.toEqual(encode(generate(43).insns));
  });

  it('produces structurally valid programs with only forward jumps', () => {
    for (let seed = 0; seed < 300; seed++) {
      const { insns } = generate(seed, { size: 80, depth: 4 });
      expect(() => checkProgram(insns)).not.toThrow();
      insns.forEach((i, n) => {
        const cls = i.code & 0x07;
        if ((cls === 0x05 || cls === 0x06) && i.code !== 0x95) {
          expect(i.code === 0x06 ? i.imm : i.off, `slot ${n} of seed ${seed}`).toBeGreaterThanOrEqual(0);
        }
      });
    }
  });

  it('covers every ALU, jump, load/store, ldsx and atomic form over a few hundred seeds', () => {
    const codes = new Set<number>();
    const variants = new Set<string>();
    for (let seed = 0; seed < 500; seed++) {
      const p = generate(seed);
      for (let n = p.body[0]; n < p.body[1]; n++) {
        const i = p.insns[n]!;
        codes.add(i.code);
        const op = i.code & 0xf0;
        if ((i.code & 0x07) >= 0x04 && (op === 0x30 || op === 0x90)) variants.add(`${i.code}/off${i.off}`); // sdiv/smod
        if ((i.code & 0xf7) === 0xb4 || (i.code & 0xf7) === 0xb7) variants.add(`mov${i.code}/off${i.off}`); // movsx
        if ((i.code & 0xe7) === 0xc3) variants.add(`atomic${i.code}/${i.imm}`);
        if (i.code === LDDW) n++;
      }
    }
    const expected = [
      // ALU and ALU64, every op with K and X (neg: K only), end (le/be), bswap
      ...[0x04, 0x07].flatMap((cls) =>
        [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0].flatMap((op) => [
          cls | op,
          cls | op | 0x08,
        ]),
      ),
      0x84,
      0x87,
      0xd4,
      0xdc,
      0xd7,
      // JMP and JMP32 conditional ops with K and X, ja, gotol
      ...[0x05, 0x06].flatMap((cls) =>
        [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0].flatMap((op) => [
          cls | op,
          cls | op | 0x08,
        ]),
      ),
      0x05,
      0x06,
      // stx/st/ldx of every size, ldsx b/h/w, atomics w/dw, lddw
      ...[0x00, 0x08, 0x10, 0x18].flatMap((size) => [0x63 | size, 0x62 | size, 0x61 | size]),
      0x81,
      0x89,
      0x91,
      0xc3,
      0xdb,
      LDDW,
    ];
    expect(expected.filter((c) => !codes.has(c)).map((c) => c.toString(16))).toEqual([]);
    for (const cls of [0x04, 0x07]) {
      for (const op of [0x30, 0x90])
        for (const src of [0, 8]) expect(variants).toContain(`${cls | op | src}/off1`);
    }
    for (const off of [8, 16, 32]) expect(variants).toContain(`mov${0xbf}/off${off}`);
    for (const off of [8, 16]) expect(variants).toContain(`mov${0xbc}/off${off}`);
    for (const imm of [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]) {
      expect(variants).toContain(`atomic${0xc3}/${imm}`);
      expect(variants).toContain(`atomic${0xdb}/${imm}`);
    }
  });

  it('gives some programs bpf-to-bpf calls, every subprogram called, none when calls are off', () => {
    let withCalls = 0;
    for (let seed = 0; seed < 200; seed++) {
      const { insns, body } = generate(seed);
      const targets = new Set<number>();
      insns.forEach((i, n) => {
        if (i.code === 0x85 && i.src === 1) targets.add(n + 1 + i.imm);
      });
      if (targets.size === 0) continue;
      withCalls++;
      // subprograms start right after the main function's last exit and each one is a call target
      for (const t of targets) expect(t).toBeGreaterThan(body[1]);
      const starts = [...targets].sort((a, b) => a - b);
      expect(insns[starts[0]! - 1]!.code).toBe(0x95);
      expect(generate(seed, { calls: false }).insns.some((i) => i.code === 0x85)).toBe(false);
    }
    expect(withCalls).toBeGreaterThan(40);
    expect(withCalls).toBeLessThan(160);
  });

  it('fits its dump into the packet', () => {
    expect(DUMP_SIZE).toBeLessThanOrEqual(PACKET_SIZE);
  });
});
