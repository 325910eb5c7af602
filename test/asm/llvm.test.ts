import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { type Insn, insn } from '../../src/isa/index.js';

const one = (line: string): Insn => {
  const out = assemble(line, { syntax: 'llvm' });
  expect(out).toHaveLength(1);
  return out[0]!;
};

describe('llvm syntax', () => {
  it.each<[string, Insn]>([
    ['r0 = 1', insn(0xb7, 0, 0, 0, 1)],
    ['w0 = w1', insn(0xbc, 0, 1)],
    ['r1 = -0x7', insn(0xb7, 1, 0, 0, -7)],
    ['w1 += 0xffffffff', insn(0x04, 1, 0, 0, -1)],
    ['r2 = *(u32 *)(r1 + 0x4)', insn(0x61, 2, 1, 4)],
    ['w2 = *(u8 *)(r1 - 1)', insn(0x71, 2, 1, -1)],
    ['*(u64 *)(r10 - 8) = r1', insn(0x7b, 10, 1, -8)],
    ['*(u16 *)(r10 - 8) = w1', insn(0x6b, 10, 1, -8)],
    ['*(u32 *)(r1 + 0x8) = -0x5', insn(0x62, 1, 0, 8, -5)],
    ['r1 = *(s8 *)(r2 + 0)', insn(0x91, 1, 2, 0)],
    ['r1 = *(s32 *)(r2 + 0)', insn(0x81, 1, 2, 0)],
    ['if r3 > r2 goto +13', insn(0x2d, 3, 2, 13)],
    ['if w1 s< 5 goto -2', insn(0xc6, 1, 0, -2, 5)],
    ['if r1 & 0x10 goto +0x3 <f+0x20>', insn(0x45, 1, 0, 3, 16)],
    ['if r1 s>= r2 goto +1', insn(0x7d, 1, 2, 1)],
    ['goto +1', insn(0x05, 0, 0, 1)],
    ['gotol -0x7', insn(0x06, 0, 0, 0, -7)],
    ['call 1', insn(0x85, 0, 0, 0, 1)],
    ['call -0x1', insn(0x85, 0, 1, 0, -1)],
    ['call pc+0x3', insn(0x85, 0, 1, 0, 3)],
    ['call helper -0x3', insn(0x85, 0, 0, 0, -3)],
    ['call kfunc 0x10', insn(0x85, 0, 2, 0, 16)],
    ['callx r2', insn(0x8d, 2)],
    ['r1 = be16 r1', insn(0xdc, 1, 0, 0, 16)],
    ['r1 = le64 r1', insn(0xd4, 1, 0, 0, 64)],
    ['r1 = bswap32 r1', insn(0xd7, 1, 0, 0, 32)],
    ['lock *(u64 *)(r1 + 0) += r2', insn(0xdb, 1, 2, 0, 0x00)],
    ['lock *(u32 *)(r1 - 0x10) ^= w2', insn(0xc3, 1, 2, -16, 0xa0)],
    ['r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)', insn(0xdb, 1, 0, 0, 0x01)],
    ['w2 = atomic_fetch_or((u32 *)(r1 - 0x10), w2)', insn(0xc3, 1, 2, -16, 0x41)],
    ['r0 = cmpxchg_64(r1 + 0, r0, r2)', insn(0xdb, 1, 2, 0, 0xf1)],
    ['w0 = cmpxchg32_32(r1 + 0, w0, w2)', insn(0xc3, 1, 2, 0, 0xf1)],
    ['r2 = xchg_64(r1 + 0, r2)', insn(0xdb, 1, 2, 0, 0xe1)],
    ['r1 = -r1', insn(0x87, 1)],
    ['w1 = -w1', insn(0x84, 1)],
    ['r1 s>>= 3', insn(0xc7, 1, 0, 0, 3)],
    ['r1 s/= r2', insn(0x3f, 1, 2, 1)],
    ['w1 s%= 7', insn(0x94, 1, 0, 1, 7)],
    ['r1 = (s8)r2', insn(0xbf, 1, 2, 8)],
    ['w1 = (s16)w2', insn(0xbc, 1, 2, 16)],
    ['r1 = (s32)r2', insn(0xbf, 1, 2, 32)],
    ['r0 = *(u16 *)skb[0xc]', insn(0x28, 0, 0, 0, 12)],
    ['r0 = *(u8 *)skb[r3]', insn(0x50, 0, 3, 0, 0)],
    ['r0 = *(u32 *)skb[r3 + 0x4]', insn(0x40, 0, 3, 0, 4)],
    ['exit', insn(0x95)],
  ])('%s', (line, expected) => {
    expect(one(line)).toEqual(expected);
  });

  it('assembles lddw forms', () => {
    expect(assemble('r0 = 0x1122334455667788 ll')).toEqual([
      insn(0x18, 0, 0, 0, 0x55667788),
      insn(0, 0, 0, 0, 0x11223344),
    ]);
    expect(assemble('r1 = -0x1 ll')).toEqual([insn(0x18, 1, 0, 0, -1), insn(0, 0, 0, 0, -1)]);
    expect(assemble('ld_pseudo r1, 0x2, 0x3, 0x10')).toEqual([insn(0x18, 1, 2, 0, 3), insn(0, 0, 0, 0, 16)]);
    expect(assemble('r1 = map_fd(4) ll')).toEqual([insn(0x18, 1, 1, 0, 4), insn(0, 0, 0, 0, 0)]);
  });

  it('skips the address and byte columns, headers and relocations of llvm-objdump output', () => {
    const dump = `
p.o:\tfile format elf64-bpf

Disassembly of section xdp:

0000000000000000 <prog>:
; int prog(void *ctx) {
       0:\t18 01 00 00 05 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x5 ll
\t\t0000000000000000:  R_BPF_64_64\tm
       2:\t15 01 01 00 00 00 00 00\tif r1 == 0x0 goto +0x1 <prog+0x20>
       3:\t85 10 00 00 ff ff ff ff\tcall -0x1
       4:\t95 00 00 00 00 00 00 00\texit`;
    const p = assemble(dump);
    expect(p).toEqual([
      insn(0x18, 1, 0, 0, 5),
      insn(0, 0, 0, 0, 0),
      insn(0x15, 1, 0, 1, 0),
      insn(0x85, 0, 1, 0, -1),
      insn(0x95),
    ]);
  });

  it('reads clang -S output: directives skipped, labels and calls by function name', () => {
    const s = `
\t.text
\t.globl\tprog                            # -- Begin function prog
\t.p2align\t3
prog:                                   # @prog
# %bb.0:
\tr1 = 0x0
\tif r1 == 0x0 goto LBB0_2
\tcall sub
LBB0_2:
\texit
sub:
\tw0 = 1
\texit`;
    expect(assemble(s)).toEqual([
      insn(0xb7, 1),
      insn(0x15, 1, 0, 1),
      insn(0x85, 0, 1, 0, 1),
      insn(0x95),
      insn(0xb4, 0, 0, 0, 1),
      insn(0x95),
    ]);
  });

  it('mixes syntaxes line by line in auto mode', () => {
    expect(assemble('mov %r0, 1\nr0 += 2\nexit')).toEqual([
      insn(0xb7, 0, 0, 0, 1),
      insn(0x07, 0, 0, 0, 2),
      insn(0x95),
    ]);
  });
});
