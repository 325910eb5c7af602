import { describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R3, R6 } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import {
  emitLog2Slot,
  LinearHistogram,
  Log2Histogram,
  log2Bounds,
  log2HistogramsByGroup,
  log2Slot,
} from '../../src/tools/histogram.js';
import { verify } from '../../src/verifier/index.js';
import { Runtime } from '../../src/vm/runtime.js';

describe('log2 histograms', () => {
  it('slots values by their bit length, and the bounds contain them', () => {
    const values = [0, 1, 2, 3, 4, 7, 8, 1023, 1024, 2047, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3];
    for (const v of values) {
      const s = log2Slot(v);
      expect(s).toBe(log2Slot(BigInt(v)));
      const { low, high } = log2Bounds(s);
      expect(v).toBeGreaterThanOrEqual(low);
      expect(v).toBeLessThanOrEqual(high);
    }
    expect(log2Slot(2n ** 64n - 1n)).toBe(64);
    expect(log2Slot(-5)).toBe(0);
  });

  it('prints in the BCC layout with stars scaled to the largest bucket', () => {
    const h = new Log2Histogram().add(1500, 12).add(3000, 6).add(5, 3);
    const text = h.format('ns');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('     ns                  : count     distribution');
    expect(lines[1]).toBe(`         1 -> 1          : 0        |${' '.repeat(40)}|`);
    expect(lines).toContain(`      1024 -> 2047       : 12       |${'*'.repeat(40)}|`);
    expect(lines).toContain(`      2048 -> 4095       : 6        |${'*'.repeat(20).padEnd(40)}|`);
    expect(lines).toContain(`         4 -> 7          : 3        |${'*'.repeat(10).padEnd(40)}|`);
    expect(lines.length).toBe(1 + 12);
    expect(h.total).toBe(21);
    expect(h.toJSON().buckets.reduce((a, b) => a + b.count, 0)).toBe(21);
    expect(new Log2Histogram().format()).toBe('');
    expect(
      new Log2Histogram()
        .add(2 ** 40)
        .format('ns')
        .split('\n')[0],
    ).toMatch(/^ {15}ns {27} : count/);
  });

  it('reads one histogram from an array map and groups from a hash map', () => {
    const rt = new Runtime();
    const arr = createMap(rt.space, {
      name: 'a',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 65,
      flags: 0,
    });
    const key = (...u32: number[]) => new Uint8Array(new Uint32Array(u32).buffer);
    const val = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
    arr.update(key(3), val(5));
    arr.update(key(10), val(2));
    const h = Log2Histogram.fromMap(arr);
    expect(h.counts[3]).toBe(5);
    expect(h.total).toBe(7);
    const hash = createMap(rt.space, {
      name: 'h',
      type: MapType.HASH,
      keySize: 8,
      valueSize: 8,
      maxEntries: 100,
      flags: 0,
    });
    hash.update(key(1, 4), val(2));
    hash.update(key(1, 5), val(3));
    hash.update(key(2, 4), val(7));
    const groups = log2HistogramsByGroup(hash);
    expect(groups.get(1)!.total).toBe(5);
    expect(groups.get(2)!.counts[4]).toBe(7);
  });

  for (const engine of ['interp', 'jit'] as const) {
    it(`emitLog2Slot computes log2Slot inside a verified program (${engine})`, () => {
      const rt = new Runtime();
      const out = createMap(rt.space, {
        name: 'o',
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: 8,
        maxEntries: 1,
        flags: 0,
      });
      rt.registerMap(out);
      const b = new ProgramBuilder().ldx('u64', R6, R1, 0);
      emitLog2Slot(b, R2, R6, R3);
      const insns = b.ldMapValue(R1, 0).stx('u64', R1, 0, R2).mov64(R0, 0).exit().build();
      expect(verify({ insns, type: 'kprobe' }, { maps: [out.spec] }).accepted).toBe(true);
      const prog = rt.prepare(insns, [out]);
      const runner = createRunner(rt, prog, { engine, checked: true });
      const ctx = rt.space.allocate(168, 'ctx', 'ctx', false);
      for (const v of [0n, 1n, 2n, 3n, 255n, 256n, 65535n, 2n ** 32n, 2n ** 63n + 1n, 2n ** 64n - 1n]) {
        rt.space.view.setBigUint64(ctx.start, v, true);
        runner.run(ctx.start);
        const got = out.lookup(new Uint8Array(4))!;
        expect(new DataView(got.buffer, got.byteOffset).getBigUint64(0, true)).toBe(BigInt(log2Slot(v)));
      }
    });
  }
});

describe('linear histograms', () => {
  it('clamps to the end buckets and prints from the first to the last non-empty bucket', () => {
    const h = new LinearHistogram(0, 10, 5).add(-3).add(5).add(15, 2).add(1000);
    expect(h.counts).toEqual([2, 2, 0, 0, 1]);
    const lines = h.format('ms').trimEnd().split('\n');
    expect(lines[0]).toBe('     ms            : count     distribution');
    expect(lines[1]).toBe(`         0        : 2        |${'*'.repeat(40)}|`);
    expect(lines.length).toBe(6);
    expect(() => new LinearHistogram(0, 0, 3)).toThrow(RangeError);
  });
});
