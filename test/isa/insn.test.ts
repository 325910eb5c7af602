import { describe, expect, it } from 'vitest';
import { InvalidBytecodeError } from '../../src/errors.js';
import {
  AluOp,
  Class,
  checkProgram,
  decode,
  encode,
  insn,
  isValidOpcode,
  JmpOp,
  jumpTarget,
  LDDW,
  lddw,
  lddwValue,
  Source,
} from '../../src/isa/index.js';

const MOV64_K = Class.ALU64 | AluOp.MOV | Source.K;
const EXIT = Class.JMP | JmpOp.EXIT;

function errorOf(f: () => unknown): InvalidBytecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidBytecodeError);
    return e as InvalidBytecodeError;
  }
  throw new Error('expected an InvalidBytecodeError');
}

describe('slot encoding', () => {
  it('packs dst in the low nibble, src in the high nibble, little-endian off and imm', () => {
    const bytes = encode([insn(Class.STX | 0x60 | 0x18, 10, 1, -8, 0), insn(MOV64_K, 0, 0, 0, -2)]);
    expect([...bytes.slice(0, 8)]).toEqual([0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0]);
    expect([...bytes.slice(8)]).toEqual([0xb7, 0x00, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    expect(decode(bytes)).toEqual([insn(0x7b, 10, 1, -8, 0), insn(MOV64_K, 0, 0, 0, -2)]);
  });

  it('splits lddw over two slots and joins it back', () => {
    const prog = [...lddw(3, 0x1122334455667788n), insn(EXIT)];
    expect(prog[0]).toEqual(insn(LDDW, 3, 0, 0, 0x55667788));
    expect(prog[1]).toEqual(insn(0, 0, 0, 0, 0x11223344));
    expect(lddwValue(decode(encode(prog)), 0)).toBe(0x1122334455667788n);
    expect(lddwValue(lddw(0, -1n), 0)).toBe(0xffffffffffffffffn);
  });

  it('counts jump offsets in slots; gotol uses imm', () => {
    expect(jumpTarget(insn(Class.JMP | JmpOp.JA, 0, 0, 2), 5)).toBe(8);
    expect(jumpTarget(insn(Class.JMP32 | JmpOp.JA, 0, 0, 0, -3), 5)).toBe(3);
  });

  it('knows which opcodes exist', () => {
    expect(isValidOpcode(MOV64_K)).toBe(true);
    expect(isValidOpcode(Class.ALU64 | AluOp.NEG | Source.X)).toBe(false); // neg has no register form
    expect(isValidOpcode(Class.ALU64 | AluOp.END | Source.X)).toBe(false); // bswap is K only
    expect(isValidOpcode(Class.JMP32 | JmpOp.CALL)).toBe(false);
    expect(isValidOpcode(0x00)).toBe(false);
  });
});

describe('malformed bytecode names the instruction', () => {
  it('truncated input', () => {
    const e = errorOf(() => decode(new Uint8Array(12)));
    expect(e.index).toBe(1);
    expect(e.message).toMatch(/insn 1: .*not a multiple of 8/);
  });

  it('unknown opcode', () => {
    const bytes = encode([insn(MOV64_K), insn(0xff), insn(EXIT)]);
    const e = errorOf(() => decode(bytes));
    expect(e.index).toBe(1);
    expect(e.message).toMatch(/unknown opcode 0xff/);
  });

  it('register out of range', () => {
    const bytes = encode([insn(MOV64_K, 11), insn(EXIT)]);
    expect(errorOf(() => decode(bytes)).message).toMatch(/insn 0: invalid dst register r11/);
  });

  it('lddw without its second half', () => {
    expect(errorOf(() => decode(encode([insn(LDDW, 1, 0, 0, 1)]))).message).toMatch(
      /missing its second half/,
    );
    const e = errorOf(() => decode(encode([insn(LDDW, 1, 0, 0, 1), insn(EXIT)])));
    expect(e.index).toBe(0);
  });

  it('jumps outside the program or into lddw', () => {
    const out = [insn(Class.JMP | JmpOp.JA, 0, 0, 5), insn(EXIT)];
    expect(errorOf(() => checkProgram(out)).message).toMatch(/insn 0: jump to 6 is outside the program/);
    const back = [insn(EXIT), insn(Class.JMP | JmpOp.JEQ, 1, 0, -3)];
    expect(errorOf(() => checkProgram(back)).message).toMatch(/jump to -1/);
    const mid = [insn(Class.JMP | JmpOp.JA, 0, 0, 1), ...lddw(0, 1n), insn(EXIT)];
    expect(errorOf(() => checkProgram(mid)).message).toMatch(/middle of lddw/);
    expect(() => checkProgram([])).toThrow(/empty program/);
  });

  it('slots built in memory with fields no encoding holds', () => {
    const far = [
      insn(Class.JMP | JmpOp.JEQ, 1, 0, 0x8000),
      ...Array.from({ length: 0x8000 }, () => insn(EXIT)),
    ];
    expect(errorOf(() => checkProgram(far)).message).toBe('insn 0: offset 32768 does not fit 16 bits');
    const frac = [insn(MOV64_K, 0, 0, 0, 1.5), insn(EXIT)];
    expect(errorOf(() => checkProgram(frac)).message).toMatch(/insn 0: immediate 1.5 does not fit 32 bits/);
    const wide = [insn(EXIT), insn(MOV64_K, 0, 0, 0, 2 ** 32)];
    expect(errorOf(() => checkProgram(wide)).index).toBe(1);
    // The encodable extremes of an immediate pass: -2^31 and 2^32 - 1 (written unsigned).
    expect(() =>
      checkProgram([insn(MOV64_K, 0, 0, 0, -(2 ** 31)), insn(MOV64_K, 0, 0, 0, 2 ** 32 - 1), insn(EXIT)]),
    ).not.toThrow();
  });

  it('fields that do not fit when encoding', () => {
    expect(errorOf(() => encode([insn(MOV64_K, 0, 0, 0x8000)])).message).toMatch(/offset 32768 does not fit/);
    expect(errorOf(() => encode([insn(0x100)])).message).toMatch(/not a byte/);
  });
});
