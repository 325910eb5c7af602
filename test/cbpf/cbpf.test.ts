import { describe, expect, it } from 'vitest';
import {
  C,
  checkFilter,
  compileFilter,
  decodeFilter,
  encodeFilter,
  FilterSyntaxError,
  jump,
  parseDecimal,
  runFilter,
  stmt,
} from '../../src/cbpf/index.js';
import { FormatError, InvalidBytecodeError } from '../../src/errors.js';

describe('classic BPF', () => {
  it('encodes and decodes sock_filter records', () => {
    const p = compileFilter('tcp port 80');
    expect(decodeFilter(encodeFilter(p))).toEqual(p);
  });
  it('applies the kernel checker rules', () => {
    const ret = stmt(C.RET | C.K, 1);
    expect(() => checkFilter([stmt(C.ALU | C.DIV | C.K, 0), ret])).toThrow(/division by constant zero/);
    expect(() => checkFilter([stmt(C.LD | C.MEM, 16), ret])).toThrow(/scratch memory index 16/);
    expect(() => checkFilter([stmt(C.LD | C.MEM, 3), ret])).toThrow(/read before it is written/);
    expect(() => checkFilter([jump(C.JMP | C.JEQ | C.K, 1, 5, 0), ret])).toThrow(InvalidBytecodeError);
    expect(() => checkFilter([stmt(C.LD | C.IMM, 1)])).toThrow(/must end with a return/);
    expect(() => checkFilter([stmt(0xff), ret])).toThrow(/unknown classic BPF opcode/);
  });
  it('returns 0 on out-of-bounds loads and on division by zero X', () => {
    expect(runFilter([stmt(C.LD | C.W | C.ABS, 10), stmt(C.RET | C.K, 7)], new Uint8Array(12))).toBe(0);
    expect(
      runFilter([stmt(C.LD | C.IMM, 5), stmt(C.ALU | C.DIV | C.X), stmt(C.RET | C.K, 7)], new Uint8Array(1)),
    ).toBe(0);
  });
  it('points syntax errors at the column', () => {
    try {
      compileFilter('tcp and port 99999');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect((e as FilterSyntaxError).column).toBe(14);
    }
    expect(() => compileFilter('ip[0] / 0 = 1')).toThrow(/division by zero/);
    expect(() => compileFilter('(tcp')).toThrow(FilterSyntaxError);
  });
});

describe('parseDecimal (tcpdump -ddd text)', () => {
  it('refuses a bad count, a short line and fields wider than their bits with a FormatError', () => {
    expect(parseDecimal('1\n6 0 0 65535\n')).toEqual([{ code: 6, jt: 0, jf: 0, k: 65535 }]);
    for (const [text, why] of [
      ['x\n6 0 0 1', /instruction count/],
      ['2\n6 0 0 1', /the count says 2 instructions, the text has 1/],
      ['1\n6 0 0', /expected 'code jt jf k'/],
      ['1\n21 0 65536 1', /within 16, 8, 8 and 32 bits/],
      ['1\n6 0 0 4294967296', /within 16, 8, 8 and 32 bits/],
      ['1\n6 0 0 1.5', /expected 'code jt jf k'/],
    ] as const) {
      expect(() => parseDecimal(text), text).toThrow(FormatError);
      expect(() => parseDecimal(text), text).toThrow(why);
    }
  });
});
