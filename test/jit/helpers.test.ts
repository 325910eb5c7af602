// Helpers on the JIT against the interpreter: imported calls (unsigned arguments, errors), the inline
// array-map lookup, clock and random source, callx, tail calls (including the limit) and callbacks.
import { describe, expect, it } from 'vitest';
import { RuntimeFault } from '../../src/errors.js';
import type { HelperDef, HelperEnv, NumberHelper } from '../../src/helpers/types.js';
import { Class, type Insn, insn, JmpOp, lddw, Mode, Size, Source } from '../../src/isa/index.js';
import { compile } from '../../src/jit/index.js';
import { createMap } from '../../src/maps/index.js';
import { MapType } from '../../src/spec/maps.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const calls = new Map<number, number>();
function helper(
  id: number,
  name: string,
  args: HelperDef['proto']['args'],
  call: HelperDef['call'],
): HelperDef {
  return {
    id,
    name,
    proto: { ret: 'integer', args },
    call: (env, ...r) => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      return call(env, ...r);
    },
  };
}
const HELPERS = new Map<number, HelperDef>(
  [
    helper(1, 'map_lookup_elem', ['const_map_ptr', 'map_key'], (env, map, key) =>
      BigInt(env.mapAt(Number(map))?.lookupPtr(Number(key), env.cpu) ?? 0),
    ),
    helper(5, 'ktime_get_ns', [], (env) => env.nowNs()),
    helper(7, 'get_prandom_u32', [], (env) => BigInt(env.random32())),
    helper(12, 'tail_call', ['ctx', 'const_map_ptr', 'scalar'], (env: HelperEnv, _ctx, _map, id) => {
      env.invocation.tailCall = Number(id);
      return 0n;
    }),
    helper(181, 'loop', ['scalar', 'func', 'ptr_to_stack_or_null', 'scalar'], (env, n, fn, ctx) => {
      let i = 0n;
      while (i < n) {
        const stop = env.callback(Number(fn), i, ctx, 0n, 0n, 0n);
        i++;
        if (stop === 1n) break;
      }
      return i;
    }),
    helper(200, 'sum5', ['scalar', 'scalar', 'scalar', 'scalar', 'scalar'], (_env, a, b, c, d, e) => {
      if (a < 0n) throw new Error('arguments must arrive unsigned');
      return a + b + c + d + e;
    }),
    helper(201, 'broken', [], () => {
      throw new Error('boom');
    }),
  ].map((h) => [h.id, h]),
);
const lookup = (id: number) => HELPERS.get(id);

const ALU64 = Class.ALU64;
const mov = (dst: number, imm: number) => insn(ALU64 | 0xb0, dst, 0, 0, imm);
const movr = (dst: number, src: number) => insn(ALU64 | 0xb0 | Source.X, dst, src);
const add = (dst: number, imm: number) => insn(ALU64 | 0x00, dst, 0, 0, imm);
const call = (id: number) => insn(Class.JMP | JmpOp.CALL, 0, 0, 0, id);
const exit = insn(Class.JMP | JmpOp.EXIT);

/** A registered array map of four u64 counters. */
function counterMap(rt: Runtime, name: string) {
  const map = createMap(rt.space, {
    name,
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 4,
    flags: 0,
  });
  rt.registerMap(map);
  return map;
}

function setup(fixedClock = 1_000_000n) {
  const rt = new Runtime({ clock: () => fixedClock, seed: 7 });
  return { rt, map: counterMap(rt, 'counts') };
}

/** r0 (or the fault) of both engines, checked and unchecked JIT. */
function both(insns: Insn[], args: number[] = [], checked = false) {
  const a = setup();
  const b = setup();
  const run = (f: () => bigint) => {
    try {
      return `0x${f().toString(16)}`;
    } catch (e) {
      return String(e);
    }
  };
  const interp = run(
    () => new Interpreter(a.rt).run(a.rt.prepare(insns, [a.map], { helpers: lookup }), { args, checked }).r0,
  );
  const jit = run(
    () =>
      compile(b.rt.prepare(insns, [b.map], { helpers: lookup }), b.rt, { checked }).execute({ args, checked })
        .r0,
  );
  return { interp, jit, a, b };
}

// r6 = key; *(u32 *)(r10 - 4) = r6; r0 = lookup(map, &key); miss -> -1; hit -> ++*value.
const counter: Insn[] = [
  movr(6, 1),
  insn(Class.STX | Mode.MEM | Size.W, 10, 6, -4),
  ...lddw(1, 0n, 1),
  movr(2, 10),
  add(2, -4),
  call(1),
  insn(Class.JMP | JmpOp.JEQ, 0, 0, 5, 0),
  insn(Class.LDX | Mode.MEM | Size.DW, 7, 0, 0),
  add(7, 1),
  insn(Class.STX | Mode.MEM | Size.DW, 0, 7, 0),
  movr(0, 7),
  exit,
  mov(0, -1),
  exit,
];

describe('helpers on the JIT', () => {
  it('inlines array-map lookups with the same results and map contents as the interpreter', () => {
    const rt = setup().rt;
    const map = counterMap(rt, 'c');
    const jit = compile(rt.prepare(counter, [map], { helpers: lookup }), rt);
    calls.set(1, 0);
    const results = [0, 1, 1, 3, 4, 7, 3].map((k) => jit.run(k));
    expect(results).toEqual([1n, 1n, 2n, 1n, 2n ** 64n - 1n, 2n ** 64n - 1n, 2n]);
    expect(calls.get(1)).toBe(0); // never left wasm
    const ref = setup();
    const interp = new Interpreter(ref.rt);
    const prog = ref.rt.prepare(counter, [ref.map], { helpers: lookup });
    const want = [0, 1, 1, 3, 4, 7, 3].map((k) => interp.run(prog, { args: [k], checked: false }).r0);
    expect(results).toEqual(want);
    for (let k = 0; k < 4; k++) {
      const key = new Uint8Array(new Uint32Array([k]).buffer);
      expect(map.lookup(key)).toEqual(ref.map.lookup(key));
    }
  });

  it('looks up other constant maps through a direct typed import, with the same results', () => {
    const results: bigint[][] = [];
    for (const engine of ['jit', 'interp']) {
      const rt = new Runtime();
      const spec = { name: 'h', type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 };
      const map = createMap(rt.space, spec);
      rt.registerMap(map);
      for (const k of [1, 5])
        map.update(new Uint8Array(new Uint32Array([k]).buffer), new Uint8Array(8).fill(k));
      const prog = rt.prepare(counter, [map], { helpers: lookup });
      calls.set(1, 0);
      if (engine === 'jit') {
        const jit = compile(prog, rt);
        results.push([0, 1, 5, 5, 9].map((k) => jit.run(k)));
        expect(calls.get(1)).toBe(0);
      } else {
        const interp = new Interpreter(rt);
        results.push([0, 1, 5, 5, 9].map((k) => interp.run(prog, { args: [k], checked: false }).r0));
      }
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]![1]).toBe(0x0101010101010102n);
  });

  it('inlines plain hash-map lookups for every key size up to 64 bytes, through growth and deletes', () => {
    // r0 = lookup(map, key) where key byte i = (r1 + i) & 0xff; hit -> the u64 value, miss -> -1.
    const program = (size: number): Insn[] => {
      const body: Insn[] = [];
      for (let i = 0; i < size; i++) {
        body.push(movr(3, 1), add(3, i), insn(Class.STX | Mode.MEM | Size.B, 10, 3, -72 + i));
      }
      return [
        ...body,
        ...lddw(1, 0n, 1),
        movr(2, 10),
        add(2, -72),
        call(1),
        insn(Class.JMP | JmpOp.JEQ, 0, 0, 2, 0),
        insn(Class.LDX | Mode.MEM | Size.DW, 0, 0, 0),
        exit,
        mov(0, -1),
        exit,
      ];
    };
    const keyOf = (k: number, size: number) => Uint8Array.from({ length: size }, (_, i) => (k + i) & 0xff);
    const valueFor = (k: number) => new Uint8Array(new BigUint64Array([BigInt(k) * 1000n + 7n]).buffer);
    for (const size of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 20, 64, 65]) {
      const engines = ['jit', 'interp'].map((engine) => {
        const rt = new Runtime();
        const spec = {
          name: 'h',
          type: MapType.HASH,
          keySize: size,
          valueSize: 8,
          maxEntries: 256,
          flags: 0,
        };
        const map = createMap(rt.space, spec);
        rt.registerMap(map);
        const prog = rt.prepare(program(size), [map], { helpers: lookup });
        if (engine === 'interp') {
          const interp = new Interpreter(rt);
          return { map, run: (k: number) => interp.run(prog, { args: [k], checked: false }).r0 };
        }
        const jit = compile(prog, rt);
        // Longer keys go through a typed import of the map's lookup; shorter ones never leave wasm.
        const imports = WebAssembly.Module.imports(new WebAssembly.Module(new Uint8Array(jit.wasm))).map(
          (i) => i.name,
        );
        expect(imports.some((name) => name.startsWith('map_lookup_'))).toBe(size > 64);
        return { map, run: (k: number) => jit.run(k) };
      });
      calls.set(1, 0);
      const sweep = () => engines.map((e) => Array.from({ length: 256 }, (_, k) => e.run(k)));
      // Compiled against an empty map: entries added afterwards grow the index (the table moves).
      for (let k = 0; k < 256; k += 2) for (const e of engines) e.map.update(keyOf(k, size), valueFor(k));
      const [full, fullRef] = sweep();
      expect(full).toEqual(fullRef);
      expect(full![10]).toBe(10_007n);
      expect(full![11]).toBe(2n ** 64n - 1n);
      for (let k = 0; k < 256; k += 6) for (const e of engines) e.map.delete(keyOf(k, size));
      const [thinned, thinnedRef] = sweep();
      expect(thinned).toEqual(thinnedRef);
      expect(thinned![12]).toBe(2n ** 64n - 1n);
      expect(thinned![14]).toBe(14_007n);
      expect(calls.get(1)).toBe(512); // the interpreter's two sweeps; the JIT calls no helper
    }
  });

  it('calls the number form of a helper with the same argument and result conversions on both engines', () => {
    // Returns one argument, picked by r4 (0: the word, 1: the u32, 2: the s32, 3: word / 3, a fraction).
    const numbers: NumberHelper = {
      args: ['word', 'u32', 's32', 'u32'],
      call: (_env, w, u, s, pick) => [w, u, s, w / 3][pick]!,
    };
    const pick: HelperDef = {
      id: 210,
      name: 'pick',
      proto: { ret: 'integer', args: ['anything', 'anything', 'anything', 'anything'] },
      numbers,
      call: () => {
        throw new Error('engines must call the number form');
      },
    };
    const helpers = (id: number) => (id === 210 ? pick : undefined);
    const values = [
      0n,
      1n,
      -1n,
      2n ** 53n + 1n,
      -(2n ** 53n) - 3n,
      2n ** 63n,
      0xffffffffn,
      0x1_8000_0001n,
      12345n,
    ];
    for (const v of values) {
      for (let which = 0; which < 4; which++) {
        // r1 = r2 = r3 = v (lddw), r4 = which; r0 = pick(...)
        const prog: Insn[] = [
          ...lddw(1, BigInt.asUintN(64, v)),
          movr(2, 1),
          movr(3, 1),
          mov(4, which),
          call(210),
          exit,
        ];
        const rt = new Runtime();
        const p = rt.prepare(prog, [], { helpers });
        const interp = new Interpreter(rt).run(p, { checked: false }).r0;
        const jit = compile(p, rt).run();
        expect(jit, `${v} pick ${which}`).toBe(interp);
        const w = Number(BigInt.asIntN(64, v));
        const want = [w, Number(v & 0xffffffffn), Number(BigInt.asIntN(32, v)), w / 3][which]!;
        expect(interp).toBe(BigInt.asUintN(64, BigInt(Math.trunc(want))));
      }
    }
  });

  it('calls the helper in checked mode (no inlining) with the same results', () => {
    for (const k of [0, 3, 4]) {
      const { interp, jit } = both(counter, [k], true);
      expect(jit).toBe(interp);
    }
  });

  it('reads the runtime clock and random source like the interpreter', () => {
    // r6 = prandom; r7 = prandom; r0 = ktime; r0 ^= r6; r0 += r7
    const prog = [
      call(7),
      movr(6, 0),
      call(7),
      movr(7, 0),
      call(5),
      insn(ALU64 | 0xa0 | Source.X, 0, 6),
      insn(ALU64 | Source.X, 0, 7),
      exit,
    ];
    const { interp, jit } = both(prog);
    expect(jit).toBe(interp);
    expect(interp).not.toBe('0x0');
  });

  it('passes arguments unsigned and returns 64-bit results (call and callx)', () => {
    const args = [...lddw(1, -5n), mov(2, 1), mov(3, 2), mov(4, 3), ...lddw(5, 2n ** 63n)];
    for (const tail of [
      [call(200), exit],
      [mov(8, 200), insn(Class.JMP | JmpOp.CALL | Source.X, 8), exit],
    ]) {
      const { interp, jit } = both([...args, ...tail]);
      expect(jit).toBe(`0x${BigInt.asUintN(64, -5n + 6n + 2n ** 63n).toString(16)}`);
      expect(jit).toBe(interp);
    }
    const unknown = both([mov(8, 999), insn(Class.JMP | JmpOp.CALL | Source.X, 8), exit]);
    expect(unknown.jit).toContain('callx to unknown helper 999');
    expect(unknown.jit).toBe(unknown.interp);
  });

  it('turns a helper exception into the same RuntimeFault', () => {
    const { interp, jit } = both([mov(0, 1), call(201), exit]);
    expect(jit).toBe('RuntimeFault: insn 1: helper broken failed: boom');
    expect(jit).toBe(interp);
  });

  it('runs bpf_loop callbacks one frame deeper, checked and unchecked', () => {
    // main: *(u64 *)(r10 - 8) = 0; loop(10, cb, r10 - 8, 0); r0 = *(u64 *)(r10 - 8)
    // cb(i, ctx): *(u64 *)ctx += i; r0 = i == 6 (stop after index 6)
    const prog = [
      insn(Class.ST | Mode.MEM | Size.DW, 10, 0, -8, 0),
      mov(1, 10),
      ...lddw(2, 7n, 4), // slot 2: FUNC -> slot 2 + 1 + 7 = 10
      movr(3, 10),
      add(3, -8),
      mov(4, 0),
      call(181),
      insn(Class.LDX | Mode.MEM | Size.DW, 0, 10, -8),
      exit,
      // slot 10: the callback
      insn(Class.LDX | Mode.MEM | Size.DW, 3, 2, 0),
      insn(ALU64 | Source.X, 3, 1),
      insn(Class.STX | Mode.MEM | Size.DW, 2, 3, 0),
      mov(0, 0),
      insn(Class.JMP | JmpOp.JNE, 1, 0, 1, 6),
      mov(0, 1),
      exit,
    ];
    for (const checked of [false, true]) {
      const { interp, jit } = both(prog, [], checked);
      expect(jit).toBe(`0x${(0 + 1 + 2 + 3 + 4 + 5 + 6).toString(16)}`);
      expect(jit).toBe(interp);
    }
  });

  it('tail-calls registered programs, falls through on a missing one, and stops after 33', () => {
    const make = (rt: Runtime) => {
      const target = rt.prepare([movr(0, 1), add(0, 1000), exit], [], { helpers: lookup });
      const targetId = rt.registerProgram(target);
      // r3 = id; tail_call(ctx, 0, id); r0 = 99 (only reached when the tail call failed)
      const caller = (id: number) =>
        rt.prepare([mov(2, 0), mov(3, id), call(12), mov(0, 99), exit], [], { helpers: lookup });
      return { targetId, caller };
    };
    const rt = new Runtime();
    const { targetId, caller } = make(rt);
    expect(compile(caller(targetId), rt).run(5)).toBe(1005n);
    expect(compile(caller(77), rt).run(5)).toBe(99n);

    // A program that tail-calls itself: 33 calls go through, the 34th falls through.
    // r6 counts in the stack of frame 0, which a tail call keeps: *(u64 *)(r10 - 8) += 1
    const selfCall = (id: number) => [
      insn(Class.LDX | Mode.MEM | Size.DW, 6, 10, -8),
      add(6, 1),
      insn(Class.STX | Mode.MEM | Size.DW, 10, 6, -8),
      mov(2, 0),
      mov(3, id),
      call(12),
      insn(Class.LDX | Mode.MEM | Size.DW, 0, 10, -8),
      exit,
    ];
    const results: string[] = [];
    for (const engine of ['interp', 'jit']) {
      const r = new Runtime();
      const id = r.registerProgram(r.prepare([exit]));
      // Re-register: ids are positions, so prepare the real program under the same id by registering first.
      const prog = r.prepare(selfCall(id + 1), [], { helpers: lookup });
      expect(r.registerProgram(prog)).toBe(id + 1);
      const frames = r.stackFrames(0);
      r.space.bytes.fill(0, frames[0]!.start, frames[0]!.end);
      const r0 =
        engine === 'interp'
          ? new Interpreter(r).run(prog, { checked: false }).r0
          : compile(prog, r).execute({ checked: false }).r0;
      results.push(`${r0} ${r.invocation.tailCalls}`);
    }
    expect(results[1]).toBe('34 33');
    expect(results[1]).toBe(results[0]);
  });

  it('reports faults from inside helpers with the instruction index', () => {
    const rt = setup().rt;
    const jit = compile(rt.prepare([mov(0, 1), call(201), exit], [], { helpers: lookup }), rt);
    expect(() => jit.run32(0)).toThrow(RuntimeFault);
  });
});
