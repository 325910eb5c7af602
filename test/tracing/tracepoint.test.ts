import { describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R6 } from '../../src/asm/index.js';
import { attachTracepoint, layoutSchema, tracepoint } from '../../src/hooks/tracepoint.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { Runtime } from '../../src/vm/runtime.js';

function valueMap(rt: Runtime, size: number) {
  const map = createMap(rt.space, {
    name: 'v',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: size,
    maxEntries: 1,
    flags: 0,
  });
  rt.registerMap(map);
  return { map, read: () => map.lookup(new Uint8Array(4))! };
}

describe('tracepoints', () => {
  it('lays out the schema with natural alignment after 8 common bytes', () => {
    const { fields, size } = layoutSchema('a:b', {
      flag: 'bool',
      rows: 'u32',
      name: 'char[5]',
      total: 'u64',
    });
    expect(fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['flag', 8, 1],
      ['rows', 12, 4],
      ['name', 16, 5],
      ['total', 24, 8],
    ]);
    expect(size).toBe(32);
    expect(() => layoutSchema('a:b', { x: 'u128' as 'u64' })).toThrow(/unknown type 'u128'/);
    expect(() => tracepoint('nocolon', {})).toThrow(/provider:name/);
  });

  for (const engine of ['interp', 'jit'] as const) {
    it(`passes fields to an attached program; fire is a no-op when detached (${engine})`, () => {
      const rt = new Runtime();
      const { map, read } = valueMap(rt, 24);
      const tp = tracepoint(`db:query_${engine}`, { rows: 'u32', table: 'char[8]', ms: 's64' });
      expect(tp.enabled).toBe(false);
      tp.fire(1, 'x', 2);
      expect(tp.fired).toBe(0);
      // Copy rows (u32 at 8), table (8 bytes at 12) and ms (at 24) into the map value; count fires.
      const prog = new ProgramBuilder()
        .ldMapValue(R6, 0)
        .ldx('u32', R2, R1, 8)
        .stx('u64', R6, 0, R2)
        .ldx('u32', R2, R1, 12)
        .stx('u32', R6, 8, R2)
        .ldx('u32', R2, R1, 16)
        .stx('u32', R6, 12, R2)
        .ldx('u64', R2, R1, 24)
        .stx('u64', R6, 16, R2)
        .mov64(R0, 0)
        .exit()
        .build();
      const link = attachTracepoint(
        `db:query_${engine}`,
        { insns: prog, maps: [map], runtime: rt },
        { engine },
      );
      expect(tp.enabled).toBe(true);
      tp.fire(17, 'users_table_long', -5);
      const v = read();
      const dv = new DataView(v.buffer, v.byteOffset);
      expect(dv.getBigUint64(0, true)).toBe(17n);
      expect(new TextDecoder().decode(v.subarray(8, 15))).toBe('users_t');
      expect(v[15]).toBe(0);
      expect(dv.getBigInt64(16, true)).toBe(-5n);
      expect(link.runs).toBe(1);
      link.detach();
      tp.fire(99, 'zz', 1);
      expect(dv.getBigUint64(0, true)).toBe(17n);
      expect(tp.fired).toBe(1);
    });
  }

  it('verifies programs against the record: no read past it, no writes', () => {
    const rt = new Runtime();
    tracepoint('db:small', { rows: 'u32' }); // record of 16 bytes
    const past = new ProgramBuilder().ldx('u64', R0, R1, 16).exit().build();
    const common = new ProgramBuilder().ldx('u64', R0, R1, 0).exit().build();
    const write = new ProgramBuilder().mov64(R2, 0).stx('u32', R1, 8, R2).mov64(R0, 0).exit().build();
    expect(() => attachTracepoint('db:small', { insns: past, runtime: rt })).toThrow(
      /outside the 16-byte context/,
    );
    expect(() => attachTracepoint('db:small', { insns: common, runtime: rt })).toThrow(
      /does not fall inside/,
    );
    expect(() => attachTracepoint('db:small', { insns: write, runtime: rt })).toThrow(/not writable/);
    expect(() => attachTracepoint('db:nope', { insns: past, runtime: rt })).toThrow(
      /no tracepoint 'db:nope'/,
    );
  });

  it('declares the same tracepoint once and prints its C struct', () => {
    const a = tracepoint('http:req', { status: 'u16', path: 'char[32]' });
    expect(tracepoint('http:req', { status: 'u16', path: 'char[32]' })).toBe(a);
    expect(() => tracepoint('http:req', { status: 'u32' })).toThrow(/another schema/);
    expect(a.cStruct()).toBe(
      'struct http_req_args {\n\t__u64 __common; /* not readable */\n\t__u16 status;\n\tchar path[32];\n};',
    );
  });
});
