import { describe, expect, it } from 'vitest';
import { formatValue, parseBtf, parseBtfExt, parseValue } from '../../src/btf/index.js';
import { KIND_NAMES, Kind } from '../../src/btf/types.js';
import { readObject } from '../../src/elf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError } from '../../src/errors.js';
import { FIXTURES, fixture, fixturePath, fixtureSource, run } from '../elf/fixtures.js';
import { kernelOracle } from '../support/kernel.js';

const section = (name: string, sec: string) =>
  parseElf(fixture(name), name).sections.find((s) => s.name === sec)!.data;
const btfOf = (name: string) => parseBtf(section(name, '.BTF'), `${name}: .BTF`);

describe('parseBtf agrees with bpftool btf dump', () => {
  const oracle = kernelOracle();
  for (const name of FIXTURES) {
    it.skipIf(!oracle)(name, () => {
      const btf = btfOf(name);
      const lines = run('bpftool', ['btf', 'dump', 'file', fixturePath(name)])
        .split('\n')
        .filter((l) => l.startsWith('['));
      expect(btf.types.length - 1).toBe(lines.length);
      for (const line of lines) {
        const m = /^\[(\d+)\] (\w+) '([^']*)'(?:.* size=(\d+))?(?:.* nr_elems=(\d+))?(?:.* vlen=(\d+))?/.exec(
          line,
        )!;
        const t = btf.type(Number(m[1]));
        const summary = [KIND_NAMES[t.kind], t.name || '(anon)'];
        expect(summary, line).toEqual([m[2], m[3]]);
        if (m[4] !== undefined && 'size' in t) expect(t.size, line).toBe(Number(m[4]));
        if (m[5] !== undefined && t.kind === Kind.ARRAY) expect(t.nelems, line).toBe(Number(m[5]));
        if (m[6] !== undefined && t.kind === Kind.STRUCT) expect(t.members.length, line).toBe(Number(m[6]));
      }
    });
  }
});

describe('parseBtf', () => {
  it('parses every kind clang emits: bitfields, ENUM64, DECL_TAG, TYPE_TAG, FLOAT, unions', () => {
    const btf = btfOf('types.o');
    const record = btf.byName('record', Kind.STRUCT)!;
    expect(record.size).toBe(80);
    const flags = btf.byName('flags', Kind.STRUCT)!;
    expect(flags.members.map((m) => [m.name, m.bitOffset, m.bitSize])).toEqual([
      ['low', 0, 3],
      ['mid', 3, 5],
      ['neg', 8, 6],
      ['on', 14, 1],
    ]);
    expect(btf.byName('big', Kind.ENUM64)!.values.map((v) => v.value)).toEqual([1n, 0x100000000n]);
    expect(btf.byName('fixture', Kind.DECL_TAG)).toMatchObject({ type: record.id, componentIdx: -1 });
    expect(btf.byName('user', Kind.TYPE_TAG)).toBeDefined();
    expect(btf.byName('double', Kind.FLOAT)!.size).toBe(8);
    expect(btf.typeName(record.members.find((m) => m.name === 'name')!.type)).toBe('char[8]');
  });

  it('rejects every truncation of a .BTF section with a FormatError', () => {
    const data = section('maps_btf.o', '.BTF');
    for (let n = 0; n < data.length; n += 7) {
      expect(() => parseBtf(data.subarray(0, n), 'cut.BTF')).toThrow(FormatError);
    }
  });

  it('reports reference cycles instead of looping', () => {
    // One TYPEDEF (kind 8) whose target is itself.
    const bytes = new Uint8Array(24 + 12 + 1);
    const v = new DataView(bytes.buffer);
    v.setUint16(0, 0xeb9f, true);
    bytes[2] = 1;
    v.setUint32(4, 24, true);
    v.setUint32(12, 12, true);
    v.setUint32(16, 12, true);
    v.setUint32(20, 1, true);
    v.setUint32(24 + 4, 8 << 24, true);
    v.setUint32(24 + 8, 1, true);
    const btf = parseBtf(bytes, 'loop.BTF');
    expect(() => btf.sizeof(1)).toThrow(/loop\.BTF: type 1 is a cycle/);
    v.setUint32(24 + 8, 5, true);
    expect(() => parseBtf(bytes, 'dangling.BTF')).toThrow(/type 1 refers to missing type 5/);
  });

  it("holds ints, enums and floats to the kernel's size rules; an int's value is 128 bits at most", () => {
    // Found by the fuzz suite: an int of 65,284 bytes with no bit count took 250 ms to format, and 2.4 s
    // of CPU for one mutated section (a value read as a 522,272-bit BigInt, byte by byte).
    const one = (kind: number, size: number, extra?: number) => {
      const bytes = new Uint8Array(24 + 12 + (extra === undefined ? 0 : 4) + 1);
      const v = new DataView(bytes.buffer);
      v.setUint16(0, 0xeb9f, true);
      bytes[2] = 1;
      v.setUint32(4, 24, true);
      v.setUint32(12, bytes.length - 25, true);
      v.setUint32(16, bytes.length - 25, true);
      v.setUint32(20, 1, true);
      v.setUint32(24 + 4, kind << 24, true);
      v.setUint32(24 + 8, size, true);
      if (extra !== undefined) v.setUint32(24 + 12, extra, true);
      return bytes;
    };
    const INT = Kind.INT;
    expect(() => parseBtf(one(INT, 16, 129), 'x')).toThrow(
      'x: type 1: an int of 129 bits with its offset (at most 128) (at byte 24)',
    );
    expect(() => parseBtf(one(INT, 16, (100 << 16) | 40), 'x')).toThrow(/an int of 140 bits with its offset/);
    expect(() => parseBtf(one(INT, 2, 32), 'x')).toThrow(
      'x: type 1: an int of 32 bits in 2 bytes (at byte 24)',
    );
    expect(() => parseBtf(one(INT, 4, 0x10000020), 'x')).toThrow(/invalid int data 0x10000020/);
    expect(() => parseBtf(one(Kind.ENUM, 3), 'x')).toThrow(
      'x: type 1: an enum of 3 bytes (1, 2, 4 or 8) (at byte 24)',
    );
    expect(() => parseBtf(one(Kind.FLOAT, 6), 'x')).toThrow(
      'x: type 1: a float of 6 bytes (2, 4, 8, 12 or 16) (at byte 24)',
    );
    // The kernel takes an int of any size with no bit count: its value is its first 16 bytes at most.
    const huge = parseBtf(one(INT, 65284, 0), 'x');
    expect(formatValue(huge, 1, new Uint8Array(65284).fill(0xff))).toBe((1n << 128n) - 1n);
    expect(parseValue(huge, 1, (1n << 128n) - 1n).subarray(0, 17)).toEqual(
      Uint8Array.of(...new Array(16).fill(0xff), 0),
    );
  });
});

describe('.BTF.ext', () => {
  it('parses func_info, line_info and CO-RE relocations per section', () => {
    const btf = btfOf('types.o');
    const ext = parseBtfExt(section('types.o', '.BTF.ext'), btf);
    const sec = 'kprobe/do_nanosleep';
    expect(ext.funcInfo.get(sec)).toEqual([{ insnOff: 0, typeId: btf.byName('read_task', Kind.FUNC)!.id }]);
    expect(ext.lineInfo.get(sec)!.length).toBeGreaterThan(3);
    const relo = ext.coreRelos.get(sec)!;
    // t->tgid: FIELD_BYTE_OFFSET (kind 0) of member 1 of struct task_like.
    expect(relo).toContainEqual({
      insnOff: expect.any(Number),
      typeId: btf.byName('task_like', Kind.STRUCT)!.id,
      accessStr: '0:1',
      kind: 0,
    });
  });

  it('maps every instruction with line info to the source line clang embedded', () => {
    for (const name of FIXTURES) {
      const src = fixtureSource(name);
      for (const p of readObject(fixture(name), { file: name }).programs) {
        expect(p.lineInfo?.length, `${name} ${p.name}`).toBeGreaterThan(0);
        for (const l of p.lineInfo!) {
          expect(l.file.endsWith(name.replace('.o', '.c')), l.file).toBe(true);
          expect(l.source.trim(), `${name}:${l.line}`).toBe(src[l.line - 1]!.trim());
          expect(l.insn).toBeLessThan(p.insns.length);
        }
      }
    }
  });

  it('puts a statement on its line and column', () => {
    const prog = readObject(fixture('globals.o')).programs[0]!;
    const src = fixtureSource('globals.o');
    const line = src.findIndex((l) => l.includes('packets_seen++')) + 1;
    const hit = prog.lineInfo!.find((l) => l.source.includes('packets_seen++'))!;
    // clang places the increment at its operator: 1-based column of `++`.
    expect([hit.line, hit.column]).toEqual([line, src[line - 1]!.indexOf('++') + 1]);
  });
});
