import { describe, expect, it } from 'vitest';
import type { AsmOptions } from '../../src/asm/index.js';
import { assemble } from '../../src/asm/index.js';
import { AsmSyntaxError } from '../../src/errors.js';

function error(text: string, opts?: AsmOptions): AsmSyntaxError {
  try {
    assemble(text, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(AsmSyntaxError);
    return e as AsmSyntaxError;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('assembler errors name the line and column', () => {
  it.each<[string, number, number, RegExp]>([
    ['mov %r0, 1\n  ad %r1, 2', 2, 3, /unknown mnemonic 'ad' \(did you mean 'add'\?\)/],
    ['ldxw %r2, [%r1+4]\njgtt %r1, 0, +1', 2, 1, /did you mean 'jgt'/],
    ['mov %r12, 1', 1, 5, /invalid register '%r12'/],
    ['mov %rx, 1', 1, 5, /expected a register/],
    ['mov %r1, %q2', 1, 10, /expected an immediate, found '%q2'/],
    ['ldxw %r2, [%r1+40000]', 1, 15, /offset 40000 is out of range/],
    ['jeq %r1, 0, -40000', 1, 13, /jump offset -40000 is out of range/],
    ['mov %r1, 0x100000000', 1, 10, /does not fit in 32 bits/],
    ['lddw %r1, 0x10000000000000000', 1, 11, /does not fit in 64 bits/],
    ['ja nowhere\nexit', 1, 4, /undefined label 'nowhere'/],
    ['jne %r1, 0, lable\nlabel: exit', 1, 13, /undefined label 'lable' \(did you mean 'label'\?\)/],
    ['a: exit\na: exit', 2, 1, /duplicate label 'a'/],
    ['mov %r1, 12ab', 1, 10, /malformed number '12ab'/],
    ['mov %r1, 1 2', 1, 12, /unexpected '2' at end of instruction/],
    ['add %r1', 1, 8, /expected ',', found end of line/],
    ['lock inc [%r1], %r2', 1, 6, /unknown atomic operation 'inc'/],
    ['call no_such_helper', 1, 6, /unknown helper 'no_such_helper'.*call local/],
    ['movsx3232 %r1, %r2', 1, 1, /32-bit movsx takes 8 or 16 bits/],
    ['r1 = *(u24 *)(r2 + 0)', 1, 8, /expected u8, u16, u32, u64, s8, s16 or s32, found 'u24'/],
    ['if r1 <> r2 goto +1', 1, 8, /expected an immediate, found '>'/],
    ['if r1 =< r2 goto +1', 1, 7, /unknown comparison '='/],
    ['r1 = be16 r2', 1, 11, /works in place: expected r1, found r2/],
    ['r1 = my_map ll', 1, 6, /'my_map' is a symbol/],
    ['mov %r0, 1 @', 1, 12, /unexpected character '@'/],
  ])('%j', (text, line, column, message) => {
    const e = error(text);
    expect(e.message).toMatch(message);
    expect([e.line, e.column]).toEqual([line, column]);
    expect(e.message).toContain(`line ${line}:${column}`);
  });

  it('reports a jump beyond 16 bits to a far label', () => {
    const body = Array.from({ length: 40000 }, () => 'mov %r0, 0').join('\n');
    const e = error(`ja far\n${body}\nfar: exit`);
    expect(e.message).toMatch(/40000 slots away.*gotol/);
    expect(e.line).toBe(1);
    // gotol (ja32) reaches it.
    expect(assemble(`ja32 far\n${body}\nfar: exit`)[0]!.imm).toBe(40000);
  });

  it('rejects r11 in llvm syntax too', () => {
    expect(error('r11 = 1', { syntax: 'llvm' }).message).toMatch(/invalid register 'r11'/);
  });
});
