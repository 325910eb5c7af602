import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { type Insn, insn } from '../../src/isa/index.js';

const one = (line: string): Insn => {
  const out = assemble(line, { syntax: 'mnemonic' });
  expect(out).toHaveLength(1);
  return out[0]!;
};

describe('mnemonic syntax', () => {
  it.each<[string, Insn]>([
    ['mov %r0, 1', insn(0xb7, 0, 0, 0, 1)],
    ['mov r0, -1', insn(0xb7, 0, 0, 0, -1)],
    ['mov32 %r1, 0xffffffff', insn(0xb4, 1, 0, 0, -1)],
    ['add32 %r1, %r2', insn(0x0c, 1, 2)],
    ['add64 %r1, %r2', insn(0x0f, 1, 2)],
    ['sub %r3, 0x10', insn(0x17, 3, 0, 0, 16)],
    ['sdiv %r1, %r2', insn(0x3f, 1, 2, 1)],
    ['smod32 %r1, -3', insn(0x94, 1, 0, 1, -3)],
    ['arsh32 %r9, 31', insn(0xc4, 9, 0, 0, 31)],
    ['neg %r3', insn(0x87, 3)],
    ['neg32 %r3', insn(0x84, 3)],
    ['movsx864 %r1, %r2', insn(0xbf, 1, 2, 8)],
    ['movsx832 %r1, %r2', insn(0xbc, 1, 2, 8)],
    ['movsx1632 %r1, %r2', insn(0xbc, 1, 2, 16)],
    ['movsx1664 %r1, %r2', insn(0xbf, 1, 2, 16)],
    ['movsx3264 %r1, %r2', insn(0xbf, 1, 2, 32)],
    ['movsx8 %r1, %r2', insn(0xbf, 1, 2, 8)],
    ['be16 %r9', insn(0xdc, 9, 0, 0, 16)],
    ['le32 %r1', insn(0xd4, 1, 0, 0, 32)],
    ['swap64 %r2', insn(0xd7, 2, 0, 0, 64)],
    ['ldxw %r2, [%r1+4]', insn(0x61, 2, 1, 4)],
    ['ldxdw %r2, [%r10 - 8]', insn(0x79, 2, 10, -8)],
    ['ldxb %r2, [%r1]', insn(0x71, 2, 1, 0)],
    ['ldxsb %r2, [%r1+1]', insn(0x91, 2, 1, 1)],
    ['ldxsh %r2, [%r1+2]', insn(0x89, 2, 1, 2)],
    ['ldxsw %r2, [%r1+0x10]', insn(0x81, 2, 1, 16)],
    ['stxdw [%r10-8], %r1', insn(0x7b, 10, 1, -8)],
    ['stw [%r1+2], 5', insn(0x62, 1, 0, 2, 5)],
    ['stb [%r1-32768], -1', insn(0x72, 1, 0, -32768, -1)],
    ['ja +2', insn(0x05, 0, 0, 2)],
    ['ja -1', insn(0x05, 0, 0, -1)],
    ['ja32 +70000', insn(0x06, 0, 0, 0, 70000)],
    ['jgt %r3, %r2, +13', insn(0x2d, 3, 2, 13)],
    ['jne32 %r1, 0, -3', insn(0x56, 1, 0, -3)],
    ['jsle %r1, -5, +1', insn(0xd5, 1, 0, 1, -5)],
    ['jset32 %r1, %r2, +0', insn(0x4e, 1, 2)],
    ['lock add [%r1+0], %r2', insn(0xdb, 1, 2, 0, 0x00)],
    ['lock fetch add32 [%r1], %r2', insn(0xc3, 1, 2, 0, 0x01)],
    ['lock or [%r1+8], %r2', insn(0xdb, 1, 2, 8, 0x40)],
    ['lock fetch and [%r1+8], %r2', insn(0xdb, 1, 2, 8, 0x51)],
    ['lock fetch xor32 [%r1+8], %r2', insn(0xc3, 1, 2, 8, 0xa1)],
    ['lock xchg [%r10-8], %r3', insn(0xdb, 10, 3, -8, 0xe1)],
    ['lock cmpxchg32 [%r10-8], %r3', insn(0xc3, 10, 3, -8, 0xf1)],
    ['ldabsw 4', insn(0x20, 0, 0, 0, 4)],
    ['ldabsh 12', insn(0x28, 0, 0, 0, 12)],
    ['ldindb %r1, 4', insn(0x50, 0, 1, 0, 4)],
    ['call 5', insn(0x85, 0, 0, 0, 5)],
    ['call %r3', insn(0x8d, 3)],
    ['call runtime 7', insn(0x85, 0, 2, 0, 7)],
    ['exit', insn(0x95)],
    ['.insn 0x07, 1, 2, 3, 4', insn(0x07, 1, 2, 3, 4)],
  ])('%s', (line, expected) => {
    expect(one(line)).toEqual(expected);
  });

  it('assembles lddw into two slots, with pseudo sources', () => {
    expect(assemble('lddw %r0, 0x1122334455667788')).toEqual([
      insn(0x18, 0, 0, 0, 0x55667788),
      insn(0, 0, 0, 0, 0x11223344),
    ]);
    expect(assemble('lddw %r1, -1')).toEqual([insn(0x18, 1, 0, 0, -1), insn(0, 0, 0, 0, -1)]);
    expect(assemble('lddw %r1, map_fd(3)')).toEqual([insn(0x18, 1, 1, 0, 3), insn(0, 0, 0, 0, 0)]);
    expect(assemble('lddw %r1, map_by_fd(3)')).toEqual([insn(0x18, 1, 1, 0, 3), insn(0, 0, 0, 0, 0)]);
    expect(assemble('lddw %r1, map_value(3, 16)')).toEqual([insn(0x18, 1, 2, 0, 3), insn(0, 0, 0, 0, 16)]);
  });

  it('resolves labels forward and backward, `exit` as the first exit, and call local', () => {
    const p = assemble(`
      mov %r0, 0          # comment
      jne32 %r1, 0, skip  ; another comment
      ja32 skip           // and another
    back:
      add %r0, 1
    skip: jeq %r0, 3, exit
      ja back
      call local fn
      exit
    fn:
      mov %r0, 7
      exit`);
    expect(p[1]).toEqual(insn(0x56, 1, 0, 2));
    expect(p[2]).toEqual(insn(0x06, 0, 0, 0, 1));
    expect(p[4]).toEqual(insn(0x15, 0, 0, 2, 3)); // to the first exit at 7
    expect(p[5]).toEqual(insn(0x05, 0, 0, -3));
    expect(p[6]).toEqual(insn(0x85, 0, 1, 0, 1));
  });

  it('counts lddw as two slots when resolving labels', () => {
    const p = assemble('ja end\nlddw %r1, 5\nend: exit');
    expect(p[0]!.off).toBe(2);
  });

  it('calls helpers by name, with or without the bpf_ prefix (kernel UAPI ids)', () => {
    expect(assemble('call bpf_map_lookup_elem\ncall ktime_get_ns\ncall ringbuf_output')).toEqual([
      insn(0x85, 0, 0, 0, 1),
      insn(0x85, 0, 0, 0, 5),
      insn(0x85, 0, 0, 0, 130),
    ]);
    expect(assemble('call map_update_elem', { syntax: 'llvm' })).toEqual([insn(0x85, 0, 0, 0, 2)]);
  });

  it('accepts upper-case mnemonics and CRLF line ends', () => {
    expect(assemble('MOV %r0, 1\r\nEXIT\r\n')).toEqual([insn(0xb7, 0, 0, 0, 1), insn(0x95)]);
  });

  it('accepts r11-r15 only when asked to (negative tests of bytecode checkers)', () => {
    expect(() => assemble('mov %r11, 1')).toThrow(/invalid register '%r11'/);
    expect(assemble('mov %r11, 1', { allowBadRegisters: true })[0]!.dst).toBe(11);
  });
});
