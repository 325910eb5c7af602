import { describe, expect, it } from 'vitest';
import {
  ByteWriter,
  ExternKind,
  ModuleBuilder,
  Op,
  putSleb32,
  putSleb64,
  putUleb,
  ValType,
} from '../../src/jit/wasm/index.js';

const { i32, i64 } = ValType;

describe('LEB128', () => {
  const uleb = (v: number) => [...new ByteWriter().u32(v).view()];
  const sleb = (v: number) => [...new ByteWriter().sleb(v).view()];
  const sleb64 = (v: bigint) => [...new ByteWriter().sleb64(v).view()];

  it('encodes unsigned values', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => uleb(-1)).toThrow(RangeError);
  });

  it('encodes signed values', () => {
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });

  it('writes the same bytes into a buffer at a position (the code generator fast path)', () => {
    const put = (f: (buf: Uint8Array, at: number) => number) => {
      const buf = new Uint8Array(16).fill(0xee);
      const end = f(buf, 3);
      expect([...buf.subarray(0, 3)]).toEqual([0xee, 0xee, 0xee]);
      expect(buf[end]).toBe(0xee);
      return [...buf.subarray(3, end)];
    };
    // Values around every LEB128 byte boundary, both signs, and random ones.
    const halves: number[] = [0, 1, -1, 0x7fffffff, -0x80000000];
    for (let k = 5; k < 32; k += 7) halves.push(2 ** k - 1, 2 ** k, -(2 ** k), -(2 ** k) - 1);
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return seed;
    };
    for (let i = 0; i < 40; i++) halves.push(rand(), rand() >> (i % 31));
    for (const v of halves) {
      const i32v = v | 0;
      expect(put((b, at) => putSleb32(b, at, i32v))).toEqual(sleb(i32v));
      expect(put((b, at) => putUleb(b, at, i32v >>> 0))).toEqual(uleb(i32v >>> 0));
      for (const hi of halves) {
        const value = (BigInt(hi | 0) << 32n) | BigInt(i32v >>> 0);
        expect(put((b, at) => putSleb64(b, at, i32v, hi | 0))).toEqual(sleb64(value));
      }
    }
  });

  it('encodes 64-bit values through the bigint path with the same bytes as the number path', () => {
    expect(sleb64(-1n)).toEqual([0x7f]);
    expect(sleb64(2n ** 63n - 1n)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
    expect(sleb64(-(2n ** 63n))).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]);
    // 2^64 - 1 is -1 modulo 2^64.
    expect(sleb64(2n ** 64n - 1n)).toEqual([0x7f]);
    for (const v of [0n, 5n, -5n, 2n ** 52n - 1n, -(2n ** 52n), 2n ** 40n + 3n]) {
      expect(sleb64(v)).toEqual(sleb(Number(v)));
    }
  });
});

/** Round-trip a value through an exported `i64 -> i64` function built by `body`. */
async function instantiate(m: ModuleBuilder, imports: WebAssembly.Imports = {}) {
  const bytes = m.toBytes();
  expect(WebAssembly.validate(bytes)).toBe(true);
  return (await WebAssembly.instantiate(bytes, imports)).instance.exports as Record<string, unknown>;
}

describe('module builder', () => {
  it('builds a valid empty module', () => {
    const bytes = new ModuleBuilder().toBytes();
    expect([...bytes.slice(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(WebAssembly.validate(bytes)).toBe(true);
  });

  it('deduplicates function types', () => {
    const m = new ModuleBuilder();
    expect(m.type([i64], [i64])).toBe(m.type([i64], [i64]));
    expect(m.type([i64], [i32])).not.toBe(m.type([i64], [i64]));
  });

  it('runs i64 arithmetic, locals, blocks and loops (sum 1..n)', async () => {
    const m = new ModuleBuilder();
    const { index, code } = m.func([i64], [i64], [[1, i64]]);
    // acc = 0; loop { if n == 0 break; acc += n; n -= 1 }
    code.block().loop();
    code.localGet(0).op(Op.i64_eqz).brIf(1);
    code.localGet(1).localGet(0).op(Op.i64_add).localSet(1);
    code.localGet(0).i64Const(1).op(Op.i64_sub).localSet(0);
    code.br(0).end().end();
    code.localGet(1);
    m.export('sum', ExternKind.func, index);
    const ex = await instantiate(m);
    expect((ex.sum as (n: bigint) => bigint)(100n)).toBe(5050n);
  });

  it('encodes large constants, if/else and br_table', async () => {
    const m = new ModuleBuilder();
    const { index, code } = m.func([i32], [i64]);
    code.block().block().block();
    code.localGet(0).brTable([0, 1], 2);
    code.end().i64Const(0x123456789abcdef0n).op(Op.return);
    code
      .end()
      .i64Const(-(2n ** 63n))
      .op(Op.return);
    code.end().localGet(0).i32Const(7).op(Op.i32_eq).if(ValType.i64).i64Const(-7).else().i64Const(42).end();
    m.export('f', ExternKind.func, index);
    const f = (await instantiate(m)).f as (x: number) => bigint;
    expect(f(0)).toBe(0x123456789abcdef0n);
    expect(f(1)).toBe(-(2n ** 63n));
    expect(f(7)).toBe(-7n);
    expect(f(99)).toBe(42n);
  });

  it('imports memory, functions and globals, and uses sign-extension ops', async () => {
    const m = new ModuleBuilder();
    const twice = m.importFunc('env', 'twice', [i32], [i32]);
    m.importMemory('env', 'memory', 1);
    const g = m.importGlobal('env', 'g', i64, true);
    const own = m.global(i32, true, 5);
    const { index, code } = m.func([i32], [i64]);
    // g = sext8(load8(addr)); store twice(own) at addr+4; return g
    code.localGet(0).mem(Op.i64_load8_u, 0).op(Op.i64_extend8_s).globalSet(g);
    code.localGet(0).globalGet(own).call(twice).mem(Op.i32_store, 2, 4);
    code.globalGet(g);
    m.export('f', ExternKind.func, index);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const global = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);
    const ex = await instantiate(m, { env: { memory, g: global, twice: (x: number) => 2 * x } });
    new Uint8Array(memory.buffer)[100] = 0xfe;
    expect((ex.f as (a: number) => bigint)(100)).toBe(-2n);
    expect(global.value).toBe(-2n);
    expect(new DataView(memory.buffer).getInt32(104, true)).toBe(10);
  });

  it('rejects imports after functions', () => {
    const m = new ModuleBuilder();
    m.func([], []);
    expect(() => m.importFunc('a', 'b', [], [])).toThrow(/imports must be added before/);
  });
});
