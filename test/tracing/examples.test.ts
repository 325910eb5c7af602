// The examples in examples/trace run: C objects (libbpf macros), the assembler program, the TypeScript
// builder program and the decorator form.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { argumentHistogram } from '../../examples/trace/builder.js';
import { assemble } from '../../src/asm/index.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { probe } from '../../src/hooks/probe.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { log2HistogramsByGroup } from '../../src/tools/histogram.js';
import { Runtime } from '../../src/vm/runtime.js';

const dir = resolve(import.meta.dirname, '../../examples/trace');
const object = (name: string) => loadObject(readObject(readFileSync(join(dir, name))));
const u64s = (b: Uint8Array) =>
  Array.from({ length: b.length / 8 }, (_, i) =>
    new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8, true),
  );

describe('examples/trace', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`args.c: BPF_KPROBE reads PT_REGS_PARM1/2 (${engine})`, () => {
      const obj = object('args.o');
      const t = { f: (a: number, b: number) => a + b };
      const link = probe(t, 'f', obj.program(), { engine });
      expect(link.on).toBe('entry');
      for (let i = 0; i < 10; i++) t.f(i, -100);
      expect(u64s(obj.map('.bss').lookup(new Uint8Array(4))!)).toEqual([
        10n,
        BigInt.asUintN(64, 45n - 1000n),
      ]);
      link.detach();
    });
  }

  it('latency.c: a uretprobe section attaches on return and fills a histogram per probe id', () => {
    const obj = object('latency.o');
    const t = { a: (n: number) => n, b: (n: number) => n };
    const la = probe(t, 'a', obj.program());
    const lb = probe(t, 'b', obj.program());
    expect(la.on).toBe('return');
    for (let i = 0; i < 7; i++) t.a(i);
    for (let i = 0; i < 3; i++) t.b(i);
    const h = log2HistogramsByGroup(obj.map('hist'));
    expect(h.get(la.probeId)!.total).toBe(7);
    expect(h.get(lb.probeId)!.total).toBe(3);
  });

  it('calls.c: verified against the probe context and runs without faults', () => {
    const obj = object('calls.o');
    const t = { f: (x: number) => x * 3 };
    const link = probe(t, 'f', obj.program());
    const events = (obj.map('events') as unknown as { reader(): { poll(): Uint8Array[] } }).reader();
    t.f(14);
    const [e] = events.poll();
    expect(u64s(e!).slice(2)).toEqual([14n, 42n]);
    expect(link.errors).toBe(0);
  });

  it('slow_calls.s: counts slow calls and the maximum duration', async () => {
    const rt = new Runtime();
    const value = createMap(rt.space, {
      name: 'v',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 16,
      maxEntries: 1,
      flags: 0,
    });
    const insns = assemble(readFileSync(join(dir, 'slow_calls.s'), 'utf8'));
    const t = { wait: (ms: number) => new Promise((r) => setTimeout(r, ms)), quick: () => 1 };
    probe(t, 'wait', { insns, maps: [value], runtime: rt }, { on: 'return' });
    probe(t, 'quick', { insns, maps: [value], runtime: rt }, { on: 'return' });
    await t.wait(3);
    t.quick();
    const [slow, max] = u64s(value.lookup(new Uint8Array(4))!);
    expect(slow).toBe(1n);
    expect(max).toBeGreaterThanOrEqual(2_500_000n);
  });

  it('builder.ts: a linear histogram of the first argument', () => {
    const t = { size: (n: number) => n };
    const { link, histogram } = argumentHistogram(t, 'size');
    for (const n of [1, 5, 12, 99, 250, 37]) t.size(n);
    expect(histogram().counts).toEqual([2, 1, 0, 1, 0, 0, 0, 0, 0, 2]);
    link.detach();
  });

  it('decorator.ts: @probed and a tracepoint, with the decorator syntax compiled by TypeScript', async () => {
    const source = readFileSync(join(dir, 'decorator.ts'), 'utf8');
    const js = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    expect(js).toContain('__esDecorate');
    const generated = join(dir, '.decorator.generated.ts');
    writeFileSync(generated, js);
    try {
      const m = (await import(
        /* @vite-ignore */ generated
      )) as typeof import('../../examples/trace/decorator.js');
      const shop = new m.Shop();
      expect(shop.place('apples', 3)).toBe('3 x apples');
      shop.place('pears', 4);
      expect(u64s(m.totals.lookup(new Uint8Array(4))!)).toEqual([2n, 7n]);
      m.counted.detach();
      m.orderLink.detach();
      shop.place('plums', 5);
      expect(u64s(m.totals.lookup(new Uint8Array(4))!)).toEqual([2n, 7n]);
    } finally {
      rmSync(generated, { force: true });
    }
  });
});
