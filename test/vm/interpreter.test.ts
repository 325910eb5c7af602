// Interpreter features beyond single instructions: helpers, tail calls, callbacks, map references,
// checked and unchecked memory, budget, tracing.
import { describe, expect, it } from 'vitest';
import { InvalidBytecodeError, RuntimeFault } from '../../src/errors.js';
import type { HelperDef, HelperEnv } from '../../src/helpers/types.js';
import { type Insn, insn, lddw } from '../../src/isa/index.js';
import { createMap } from '../../src/maps/index.js';
import type { RuntimeMap } from '../../src/maps/types.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { type HelperLookup, Interpreter, Runtime } from '../../src/vm/index.js';

const EXIT = insn(0x95);
const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const movReg = (dst: number, src: number) => insn(0xbf, dst, src);
const call = (id: number) => insn(0x85, 0, 0, 0, id);
const prog = (...parts: (Insn | Insn[])[]): Insn[] => parts.flat();

function helper(id: number, name: string, argc: number, call: HelperDef['call']): HelperDef {
  return { id, name, proto: { ret: 'integer', args: new Array(argc).fill('anything') }, call };
}

function lookupOf(...defs: HelperDef[]): HelperLookup {
  return (id) => defs.find((d) => d.id === id);
}

describe('helper calls', () => {
  it('passes r1-r5 as unsigned 64-bit values and returns r0', () => {
    const seen: bigint[] = [];
    const h = helper(1000, 'collect', 5, (_env, a, b, c, d, e) => {
      seen.push(a, b, c, d, e);
      return -2n;
    });
    const rt = new Runtime();
    const p = rt.prepare(prog(mov(1, 1), mov(2, -1), mov(3, 3), mov(4, 4), mov(5, 5), call(1000), EXIT), [], {
      helpers: lookupOf(h),
    });
    const r = new Interpreter(rt).run(p);
    expect(seen).toEqual([1n, (1n << 64n) - 1n, 3n, 4n, 5n]);
    expect(r.r0).toBe((1n << 64n) - 2n);
  });

  it('rejects an unknown helper at prepare time with the slot index', () => {
    const rt = new Runtime();
    const err = (() => {
      try {
        rt.prepare(prog(mov(0, 0), call(4242), EXIT), [], { helpers: () => undefined });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidBytecodeError);
    expect((err as InvalidBytecodeError).index).toBe(1);
    expect((err as Error).message).toContain('unknown helper function 4242');
  });

  it('callx calls the helper whose id is in the register', () => {
    const h = helper(7, 'seven', 0, () => 77n);
    const rt = new Runtime();
    const p = rt.prepare(prog(mov(3, 7), insn(0x8d, 3), EXIT), [], { helpers: lookupOf(h) });
    expect(new Interpreter(rt).run(p).r0).toBe(77n);
  });

  it('turns an exception thrown by a helper into a RuntimeFault at the call', () => {
    const h = helper(9, 'broken', 0, () => {
      throw new Error('boom');
    });
    const rt = new Runtime();
    const p = rt.prepare(prog(mov(0, 0), call(9), EXIT), [], { helpers: lookupOf(h) });
    expect(() => new Interpreter(rt).run(p)).toThrow(/insn 1: helper broken failed: boom/);
  });

  it('gives helpers the runtime as environment (memory, cpu, trace)', () => {
    const h = helper(11, 'poke', 1, (env: HelperEnv, addr) => {
      env.space.view.setUint32(Number(addr), 0xdeadbeef, true);
      env.trace(`cpu ${env.cpu}`);
      return 0n;
    });
    const rt = new Runtime({ cpus: 2 });
    const p = rt.prepare(
      prog(movReg(1, 10), insn(0x07, 1, 0, 0, -8), call(11), insn(0x61, 0, 10, -8), EXIT),
      [],
      { helpers: lookupOf(h) },
    );
    const r = new Interpreter(rt).run(p, { cpu: 1 });
    expect(r.r0).toBe(0xdeadbeefn);
    expect(rt.traceLines).toEqual(['cpu 1']);
  });
});

describe('tail calls', () => {
  it('continues in the target program with the context in r1, up to 33 times', () => {
    const rt = new Runtime();
    let target = 0;
    const tail = helper(12, 'tail_call', 3, (env) => {
      if (env.invocation.tailCalls >= 33) return -2n;
      env.invocation.tailCall = target;
      return 0n;
    });
    const helpers = lookupOf(tail);
    // The target counts its runs in the context (r1) and tail-calls itself; when refused, returns the count.
    const loop = rt.prepare(
      prog(
        insn(0x61, 2, 1, 0), // r2 = *(u32 *)(r1)
        insn(0x07, 2, 0, 0, 1),
        insn(0x63, 1, 2, 0), // *(u32 *)(r1) = r2
        movReg(6, 1),
        call(12),
        insn(0x61, 0, 6, 0),
        EXIT,
      ),
      [],
      { helpers },
    );
    target = rt.registerProgram(loop);
    const entry = rt.prepare(prog(call(12), mov(0, -1), EXIT), [], { helpers });
    const ctx = rt.space.allocate(8, 'ctx', 'test ctx');
    const r = new Interpreter(rt).run(entry, { args: [ctx.start] });
    // 33 tail calls succeed; the 34th is refused and the last program returns its counter.
    expect(r.r0).toBe(33n);
    expect(rt.invocation.tailCalls).toBe(33);
  });
});

describe('callbacks', () => {
  it('runs a subprogram through HelperEnv.callback (bpf_loop-style) with its own frame', () => {
    const rt = new Runtime();
    const loop = helper(181, 'loop', 4, (env, n, fn, ctx) => {
      let i = 0n;
      for (; i < n; i++) if (env.callback(Number(fn), i, ctx, 0n, 0n, 0n) !== 0n) break;
      return i;
    });
    // main: *(u64*)(r10-8) = 0; loop(5, cb, r10-8); r0 = stack value * 1000 + iterations; r6 preserved.
    const insns = prog(
      insn(0x7a, 10, 0, -8, 0),
      mov(6, 1000),
      mov(1, 5),
      lddw(2, 0n, 4), // func pointer, patched below
      movReg(3, 10),
      insn(0x07, 3, 0, 0, -8),
      call(181),
      movReg(7, 0),
      insn(0x79, 0, 10, -8),
      insn(0x2f, 0, 6), // r0 *= r6
      insn(0x0f, 0, 7),
      EXIT,
      // cb(i, ctx): *ctx += i; clobber r6; return 0
      insn(0x79, 4, 2, 0),
      insn(0x0f, 4, 1),
      insn(0x7b, 2, 4, 0),
      mov(6, 0),
      mov(0, 0),
      EXIT,
    );
    insns[3]!.imm = 13 - 4; // lddw at slot 3 (two slots): the callback starts at slot 13 = 3 + 1 + imm
    const p = rt.prepare(insns, [], { helpers: lookupOf(loop) });
    expect(p.functions).toContain(13);
    const r = new Interpreter(rt).run(p);
    expect(r.r0).toBe((0n + 1n + 2n + 3n + 4n) * 1000n + 5n);
  });
});

describe('map references', () => {
  function fakeMap(addr: number, valueAddr: number, spec: Partial<MapSpec> = {}): RuntimeMap {
    return {
      spec: { name: 'm', type: 2, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0, ...spec },
      addr,
      lookupPtr: () => valueAddr,
      updatePtr: () => 0,
      deletePtr: () => 0,
      lookup: () => undefined,
      update: () => {},
      delete: () => {},
      nextKey: () => undefined,
      freeze: () => {},
      close: () => {},
    };
  }

  it('resolves lddw map_fd to the handle address and map_value to the value address + offset', () => {
    const rt = new Runtime();
    const handle = rt.space.allocate(8, 'map', 'map m');
    const value = rt.space.allocate(16, 'map_value', 'map m value');
    const m = fakeMap(handle.start, value.start);
    const [a, b] = lddw(1, 1n, 1);
    b.imm = 0;
    const [c, d] = lddw(2, 0n, 2);
    d.imm = 12;
    a.imm = 0;
    c.imm = 0;
    const p = rt.prepare([a, b, c, d, insn(0x7a, 2, 0, 0, 5), insn(0x61, 0, 2, 0), EXIT], [m]);
    expect(rt.mapAt(handle.start)).toBe(m);
    expect(p.insns[0]!.imm).toBe(handle.start);
    expect(p.insns[2]!.imm).toBe(value.start + 12);
    expect(() => new Interpreter(rt).run(p)).toThrow(/out of bounds of map m value/);
  });

  it('rejects a map index beyond the maps given', () => {
    const rt = new Runtime();
    expect(() => rt.prepare([...lddw(1, 3n, 1), EXIT], [])).toThrow(
      /refers to map 3, but the program was given 0/,
    );
  });

  it('faults on dereferencing a map handle in checked mode', () => {
    const rt = new Runtime();
    const handle = rt.space.allocate(8, 'map', 'map m');
    const m = fakeMap(handle.start, 0);
    const p = rt.prepare([...lddw(1, 0n, 1), insn(0x79, 0, 1, 0), EXIT], [m]);
    expect(() => new Interpreter(rt).run(p)).toThrow(/map m is a map handle/);
  });
});

describe('checked and unchecked memory', () => {
  it('faults on a write to a read-only region, naming the slot and address', () => {
    const rt = new Runtime();
    const rodata = createMap(
      rt.space,
      {
        name: '.rodata',
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: 8,
        maxEntries: 1,
        flags: 0,
        readonly: true,
      },
      { cpus: 1 },
    );
    const value = rt.space.regionAt(rodata.lookupPtr(rt.space.allocate(4, 'scratch', 'key').start, 0))!;
    const p = rt.prepare(prog(insn(0x72, 1, 0, 0, 1), EXIT), [rodata]);
    try {
      new Interpreter(rt).run(p, { args: [value.start] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RuntimeFault);
      expect((e as RuntimeFault).pc).toBe(0);
      expect((e as RuntimeFault).address).toBe(value.start);
      expect((e as Error).message).toContain('map .rodata value is read-only');
    }
  });

  it('does not check regions in unchecked mode, but stays inside the wasm memory', () => {
    const rt = new Runtime();
    const p = rt.prepare(prog(insn(0x71, 0, 1, 0x100), EXIT));
    expect(new Interpreter(rt).run(p, { checked: false, args: [0] }).r0).toBe(0n);
    expect(() => new Interpreter(rt).run(p, { checked: true, args: [0] })).toThrow(/unmapped memory/);
    const beyond = rt.space.memory.buffer.byteLength;
    expect(() => new Interpreter(rt).run(p, { checked: false, args: [beyond] })).toThrow(
      /outside the address space/,
    );
  });
});

describe('budget, counting and tracing', () => {
  const body = prog(mov(0, 1), insn(0x07, 0, 0, 0, 1), EXIT);

  it('counts executed instructions and stops exactly at the budget', () => {
    const rt = new Runtime();
    const p = rt.prepare(body);
    expect(new Interpreter(rt).run(p, { budget: 3 }).instructions).toBe(3);
    expect(() => new Interpreter(rt).run(p, { budget: 2 })).toThrow(
      /insn 2: instruction budget of 2 exhausted/,
    );
  });

  it('calls the trace hook before each instruction with the registers', () => {
    const rt = new Runtime();
    const p = rt.prepare(body);
    const events: string[] = [];
    const r = new Interpreter(rt).run(p, { trace: (e) => events.push(`${e.pc}:${e.reg(0)}:${e.insn.code}`) });
    expect(events).toEqual(['0:0:183', '1:1:7', '2:2:149']);
    expect(r.r0).toBe(2n);
  });

  it('runs each CPU on its own stack', () => {
    const rt = new Runtime({ cpus: 2 });
    const p = rt.prepare(prog(movReg(0, 10), EXIT));
    const vm = new Interpreter(rt);
    const top0 = vm.run(p, { cpu: 0 }).r0;
    const top1 = vm.run(p, { cpu: 1 }).r0;
    expect(top0).not.toBe(top1);
    expect(rt.space.regionAt(Number(top1) - 8, 8)?.kind).toBe('stack');
    expect(() => vm.run(p, { cpu: 2 })).toThrow(RangeError);
  });
});
