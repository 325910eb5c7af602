import { describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R6 } from '../../src/asm/index.js';
import { probe, probed } from '../../src/hooks/probe.js';
import { ProbeCtx, ProbeFlag } from '../../src/hooks/probe-context.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { VerifierError } from '../../src/verifier/index.js';
import { Runtime } from '../../src/vm/runtime.js';

/** An array map whose single value holds `slots` u64 counters. */
function counters(rt: Runtime, slots: number) {
  const map = createMap(rt.space, {
    name: 'out',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: slots * 8,
    maxEntries: 1,
    flags: 0,
  });
  rt.registerMap(map);
  const read = (): bigint[] => {
    const v = map.lookup(new Uint8Array(4))!;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: slots }, (_, i) => dv.getBigUint64(i * 8, true));
  };
  return { map, read };
}

/** Copies context fields (by offset) into the counter value: out[i] = ctx[offsets[i]], and out[n] += 1. */
function copyFields(offsets: readonly number[]) {
  const b = new ProgramBuilder().ldMapValue(R6, 0);
  for (const [i, off] of offsets.entries()) b.ldx('u64', R2, R1, off).stx('u64', R6, i * 8, R2);
  return b
    .mov64(R2, 1)
    .atomic('add', 'u64', R6, offsets.length * 8, R2)
    .mov64(R0, 0)
    .exit()
    .build();
}

const ARGS = [ProbeCtx.arg1, ProbeCtx.arg2, ProbeCtx.arg3, ProbeCtx.arg4, ProbeCtx.arg5];

describe('probe on a JavaScript method', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`reads five arguments as u64 on entry (${engine})`, () => {
      const rt = new Runtime();
      const { map, read } = counters(rt, 7);
      const target = { f: (..._a: unknown[]) => 42 };
      const link = probe(
        target,
        'f',
        { insns: copyFields([...ARGS, ProbeCtx.argc]), maps: [map], runtime: rt },
        { engine },
      );
      expect(target.f(7, -1, 2n ** 63n + 5n, true, 'hello', 'ignored')).toBe(42);
      expect(read()).toEqual([7n, 2n ** 64n - 1n, 2n ** 63n + 5n, 1n, 5n, 6n, 1n]);
      target.f(new Uint8Array(12), 3.9, -3.9, false, null);
      expect(read()).toEqual([12n, 3n, 2n ** 64n - 3n, 0n, 0n, 5n, 2n]);
      expect(link.runs).toBe(2);
      expect(link.errors).toBe(0);
      link.detach();
    });

    it(`sees the return value, duration, flags and call id on return (${engine})`, () => {
      const rt = new Runtime();
      const { map, read } = counters(rt, 5);
      const target = {
        slow(n: number): number {
          const end = performance.now() + 2;
          while (performance.now() < end) {}
          return n * 2;
        },
      };
      const fields = [ProbeCtx.ret, ProbeCtx.duration, ProbeCtx.flags, ProbeCtx.callId];
      const entry = counters(rt, 2);
      const prog = { insns: copyFields(fields), maps: [map], runtime: rt };
      const e = probe(
        target,
        'slow',
        { insns: copyFields([ProbeCtx.callId]), maps: [entry.map], runtime: rt },
        { engine },
      );
      const r = probe(target, 'slow', prog, { on: 'return', engine });
      expect(target.slow(21)).toBe(42);
      const [ret, duration, flags, callId] = read();
      expect(ret).toBe(42n);
      expect(duration).toBeGreaterThanOrEqual(2_000_000n);
      expect(duration).toBeLessThan(2_000_000_000n);
      expect(flags).toBe(BigInt(ProbeFlag.RETURN));
      expect(callId).toBe(entry.read()[0]);
      e.detach();
      r.detach();
    });
  }

  it('restores the original function when the last probe is detached', () => {
    const rt = new Runtime();
    const { map, read } = counters(rt, 2);
    class Calc {
      add(a: number, b: number) {
        return a + b;
      }
    }
    const original = Calc.prototype.add;
    const c = new Calc();
    const prog = { insns: copyFields([ProbeCtx.arg2]), maps: [map], runtime: rt };
    const l1 = probe(Calc.prototype, 'add', prog);
    const l2 = probe(Calc.prototype, 'add', prog, { on: 'return' });
    expect(Calc.prototype.add).not.toBe(original);
    expect(c.add(1, 2)).toBe(3);
    expect(read()[1]).toBe(2n);
    l1.detach();
    expect(Calc.prototype.add).not.toBe(original);
    l2.detach();
    expect(Calc.prototype.add).toBe(original);
    expect(Object.hasOwn(Calc.prototype, 'add')).toBe(true);
    c.add(1, 2);
    expect(read()[1]).toBe(2n);
  });

  it('fires on exceptions and on settled promises, and keeps their outcome', async () => {
    const rt = new Runtime();
    const { map, read } = counters(rt, 3);
    const target = {
      boom(): never {
        throw new Error('boom');
      },
      async later(v: number) {
        await new Promise((r) => setTimeout(r, 5));
        return v + 1;
      },
    };
    const prog = { insns: copyFields([ProbeCtx.flags, ProbeCtx.duration]), maps: [map], runtime: rt };
    probe(target, 'boom', prog, { on: 'return' });
    expect(() => target.boom()).toThrow('boom');
    expect(read()[0]).toBe(BigInt(ProbeFlag.RETURN | ProbeFlag.THREW));
    probe(target, 'later', prog, { on: 'return' });
    await expect(target.later(1)).resolves.toBe(2);
    const [flags, duration, n] = read();
    expect(flags).toBe(BigInt(ProbeFlag.RETURN | ProbeFlag.ASYNC));
    expect(duration).toBeGreaterThanOrEqual(4_000_000n);
    expect(n).toBe(2n);
  });

  it('works as a standard decorator and detaches', () => {
    const rt = new Runtime();
    const { map, read } = counters(rt, 2);
    const p = probed({ insns: copyFields([ProbeCtx.arg1]), maps: [map], runtime: rt });
    // What `class Service { @p handle(n) {...} }` does (vitest's transform does not lower decorators;
    // examples/trace/decorator.ts uses the syntax and is type-checked by tsc).
    class Service {
      handle(n: number) {
        return n + 1;
      }
    }
    Service.prototype.handle = p(Service.prototype.handle, {
      kind: 'method',
      name: 'handle',
    } as ClassMethodDecoratorContext);
    const s = new Service();
    expect(s.handle(41)).toBe(42);
    expect(read()[0]).toBe(41n);
    p.detach();
    s.handle(1);
    expect(read()[0]).toBe(41n);
  });

  it('rejects probe programs that read beyond the context or write to it', () => {
    const rt = new Runtime();
    const beyond = new ProgramBuilder().ldx('u64', R0, R1, 168).exit().build();
    const write = new ProgramBuilder()
      .mov64(R2, 1)
      .stx('u64', R1, ProbeCtx.ret, R2)
      .mov64(R0, 0)
      .exit()
      .build();
    const target = { f: () => 1 };
    const original = target.f;
    expect(() => probe(target, 'f', { insns: beyond, runtime: rt })).toThrow(VerifierError);
    expect(() => probe(target, 'f', { insns: beyond, runtime: rt })).toThrow(/outside the 168-byte context/);
    expect(() => probe(target, 'f', { insns: write, runtime: rt })).toThrow(/not writable|write/);
    expect(target.f).toBe(original);
  });

  it('refuses what is not a function and programs of another type', () => {
    const target = { x: 3 } as Record<string, unknown>;
    const insns = new ProgramBuilder().mov64(R0, 0).exit().build();
    expect(() => probe(target, 'x', { insns })).toThrow(/not a function/);
  });
});
