// Hand-crafted hostile objects: each must give a FormatError that names the file and what is wrong.
import { describe, expect, it } from 'vitest';
import { readObject, writeObject } from '../../src/elf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError } from '../../src/errors.js';
import { insn } from '../../src/isa/index.js';
import { fixture } from './fixtures.js';

const base = () => fixture('maps_btf.o').slice();
const sectionHeader = (bytes: Uint8Array, name: string) => {
  const elf = parseElf(bytes, 'x.o');
  const s = elf.sections.find((x) => x.name === name)!;
  const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
  return { s, at: shoff + s.index * 64, v: new DataView(bytes.buffer) };
};
const expectFormat = (bytes: Uint8Array, re: RegExp) => {
  let err: unknown;
  try {
    readObject(bytes, { file: 'evil.o' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(re);
};

describe('hostile objects', () => {
  it('section extending past the end of the file', () => {
    const b = base();
    const { at, v } = sectionHeader(b, 'xdp');
    v.setBigUint64(at + 32, 0x7fffffffn, true);
    expectFormat(b, /^evil\.o: section \d+ \(offset \d+, size 2147483647\) extends past the end/);
  });

  it('overlapping sections', () => {
    const b = base();
    const xdp = sectionHeader(b, 'xdp');
    const tc = sectionHeader(b, 'tc');
    xdp.v.setBigUint64(tc.at + 24, BigInt(xdp.s.offset + 8), true);
    expectFormat(b, /sections \d+ and \d+ overlap/);
  });

  it('a legacy maps section of type NOBITS (a size, no bytes)', () => {
    // Found by the fuzz suite: the reader read definitions past its empty data (a RangeError caught only
    // by its safety net).
    const b = fixture('legacy_maps.o').slice();
    const { at, v } = sectionHeader(b, 'maps');
    v.setUint32(at + 4, 8, true); // sh_type = SHT_NOBITS
    expectFormat(
      b,
      /^evil\.o: section maps: map definitions need bytes, but the section has none in the file \(NOBITS\)$/,
    );
  });

  it('a huge section count', () => {
    const b = base();
    new DataView(b.buffer).setUint16(60, 0xfff0, true);
    expectFormat(b, /65520 section headers .* do not fit in the file/);
  });

  it('a huge BTF member count (vlen) does not allocate', () => {
    const b = base();
    const { s } = sectionHeader(b, '.BTF');
    const v = new DataView(b.buffer);
    const hdrLen = v.getUint32(s.offset + 4, true);
    const typeOff = v.getUint32(s.offset + 8, true);
    // First type of maps_btf is a PTR; make it a STRUCT with 65535 members.
    v.setUint32(s.offset + hdrLen + typeOff + 4, (4 << 24) | 0xffff, true);
    expectFormat(b, /^evil\.o: section \.BTF: type 1 is truncated/);
  });

  it('a BTF.ext record count that exceeds its block', () => {
    const b = base();
    const { s } = sectionHeader(b, '.BTF.ext');
    const v = new DataView(b.buffer);
    const hdrLen = v.getUint32(s.offset + 4, true);
    const funcOff = v.getUint32(s.offset + 8, true);
    v.setUint32(s.offset + hdrLen + funcOff + 4 + 4, 0x40000000, true);
    expectFormat(b, /section \.BTF\.ext: 1073741824 records for .* exceed the block/);
  });

  it('a relocation to a symbol in a non-code, non-map section', () => {
    const b = base();
    const elf = parseElf(b, 'x.o');
    const rel = elf.sections.find((x) => x.name === '.relxdp')!;
    const license = elf.symbols.find((x) => x.name === 'LICENSE')!;
    new DataView(b.buffer).setUint32(rel.offset + 12, license.index, true);
    expectFormat(
      b,
      /section xdp: instruction \d+: symbol LICENSE in section license is not a map or global data/,
    );
  });

  it('a relocation on an instruction that is neither lddw nor call', () => {
    const b = base();
    const rel = parseElf(b, 'x.o').sections.find((x) => x.name === '.relxdp')!;
    new DataView(b.buffer).setBigUint64(rel.offset, 0n, true);
    expectFormat(
      b,
      /section xdp: instruction 0: relocation against by_source on an instruction that is neither/,
    );
  });

  it('a misaligned relocation', () => {
    const b = base();
    const rel = parseElf(b, 'x.o').sections.find((x) => x.name === '.relxdp')!;
    new DataView(b.buffer).setBigUint64(rel.offset, 3n, true);
    expectFormat(b, /section xdp: relocation at 3 is not on an instruction/);
  });

  it('an unknown opcode in a program', () => {
    const b = base();
    const { s } = sectionHeader(b, 'tc');
    b[s.offset] = 0xff;
    expectFormat(b, /section tc: instruction 0: unknown opcode 0xff/);
  });

  it('a function symbol outside its section', () => {
    const b = base();
    const elf = parseElf(b, 'x.o');
    const symtab = elf.sections.find((x) => x.name === '.symtab')!;
    const sym = elf.symbols.find((x) => x.name === 'tc_count')!;
    new DataView(b.buffer).setBigUint64(symtab.offset + sym.index * 24 + 8, 0x10000n, true);
    expectFormat(b, /section tc: function tc_count \(8192\.\.\d+\) lies outside the section/);
  });

  it('a call into the middle of nowhere', () => {
    const prog = {
      name: 'p',
      section: 'xdp',
      type: 'xdp',
      license: '',
      insns: [insn(0x85, 0, 1, 0, 100), insn(0x95)],
    };
    expect(() => writeObject({ programs: [prog], maps: [], license: '' })).toThrow(
      /insn 0: call target 101 is outside/,
    );
  });

  it('warns, in one line, that CO-RE relocations are left as compiled when there is no target BTF', () => {
    expect(readObject(fixture('types.o')).warnings).toEqual([
      "1 CO-RE relocation(s) in 1 section(s) left as compiled: no target BTF (the object's own types are used)",
    ]);
  });
});
