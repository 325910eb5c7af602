import { describe, expect, it } from 'vitest';
import { assemble, BuilderError, ProgramBuilder, R0, R1, R2, R3, R6, R10 } from '../../src/asm/index.js';
import { checkProgram } from '../../src/isa/index.js';

describe('ProgramBuilder', () => {
  it('builds the same slots as the assembler, with labels resolved at build', () => {
    const built = new ProgramBuilder()
      .mov64(R0, 0)
      .ldx('u32', R2, R1, 4)
      .ldx('u32', R3, R1, 0)
      .jgt(R3, R2, 'drop')
      .mov32(R0, 2)
      .ja('out')
      .label('drop')
      .mov64(R0, R1)
      .label('out')
      .exit()
      .build();
    expect(built).toEqual(
      assemble(`
        mov %r0, 0
        ldxw %r2, [%r1+4]
        ldxw %r3, [%r1]
        jgt %r3, %r2, drop
        mov32 %r0, 2
        ja out
      drop:
        mov %r0, %r1
      out:
        exit`),
    );
    checkProgram(built);
  });

  it('covers stores, atomics, lddw, maps, byte swaps, sign extension, calls and 32-bit jumps', () => {
    const built = new ProgramBuilder()
      .st('u64', R10, -8, 7)
      .stx('u16', R10, -10, R1)
      .atomic('fetch_add', 'u64', R10, -8, R2)
      .atomic('cmpxchg', 'u32', R10, -16, R3)
      .lddw(R1, 0x1122334455667788n)
      .ldMap(R1, 3)
      .ldMapValue(R2, 1, 16)
      .be(R1, 16)
      .bswap(R2, 64)
      .movsx64(R3, R2, 32)
      .movsx32(R3, R2, 8)
      .ldx('s16', R6, R10, -10)
      .sdiv64(R6, -3)
      .neg32(R6)
      .call(7)
      .call('bpf_map_lookup_elem')
      .callLocal('fn')
      .callx(R2)
      .jsle32(R6, R1, 'fn')
      .gotol(1)
      .ret(0)
      .label('fn')
      .ret(R6)
      .build();
    expect(built).toEqual(
      assemble(`
        stdw [%r10-8], 7
        stxh [%r10-10], %r1
        lock fetch add [%r10-8], %r2
        lock cmpxchg32 [%r10-16], %r3
        lddw %r1, 0x1122334455667788
        lddw %r1, map_fd(3)
        lddw %r2, map_value(1, 16)
        be16 %r1
        swap64 %r2
        movsx3264 %r3, %r2
        movsx832 %r3, %r2
        ldxsh %r6, [%r10-10]
        sdiv %r6, -3
        neg32 %r6
        call 7
        call 1
        call local fn
        call %r2
        jsle32 %r6, %r1, fn
        ja32 +1
        mov %r0, 0
        exit
      fn:
        mov %r0, %r6
        exit`),
    );
  });

  it('throws typed errors for undefined and duplicate labels and out-of-range values', () => {
    expect(() => new ProgramBuilder().ja('nowhere').exit().build()).toThrow(
      /insn 0: undefined label 'nowhere'/,
    );
    expect(() => new ProgramBuilder().label('a').label('a')).toThrow(BuilderError);
    expect(() => new ProgramBuilder().mov64(R0, 2 ** 33)).toThrow(/does not fit in 32 bits/);
    expect(() => new ProgramBuilder().ldx('u8', R0, R1, 40000)).toThrow(/offset 40000/);
    expect(() => new ProgramBuilder().call('no_such_helper')).toThrow(/unknown helper 'no_such_helper'/);
    const far = new ProgramBuilder().ja('end');
    for (let i = 0; i < 40000; i++) far.mov64(R0, 0);
    expect(() => far.label('end').exit().build()).toThrow(/beyond a 16-bit jump/);
  });

  it('rejects wrong operands at compile time', () => {
    const b = new ProgramBuilder();
    // @ts-expect-error R10 (the frame pointer) is not a destination of arithmetic.
    b.mov64(R10, 1);
    // @ts-expect-error nor of loads.
    b.ldx('u32', R10, R1, 0);
    // @ts-expect-error u24 is not an access size.
    b.stx('u24', R10, -4, R1);
    // @ts-expect-error 32-bit movsx takes 8 or 16 bits.
    b.movsx32(R1, R2, 32);
    // @ts-expect-error a plain number is not a register for stores.
    b.stx('u32', 10, -4, R1);
    expect(b.length).toBe(5); // the calls still run at run time; the type checker is what rejects them
  });
});
