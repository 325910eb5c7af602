// A prepared program's function starts come from the ISA's one reading (subprogramStarts), so the
// interpreter's callback check, the JIT's functions and the verifier's subprograms agree.
import { describe, expect, it } from 'vitest';
import { InvalidBytecodeError } from '../../src/errors.js';
import { Class, type Insn, insn, JmpOp, lddw, PseudoLddw, subprogramStarts } from '../../src/isa/index.js';
import { prepareProgram } from '../../src/vm/program.js';

const EXIT = insn(Class.JMP | JmpOp.EXIT);
const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const call = (rel: number) => insn(Class.JMP | JmpOp.CALL, 0, 1, 0, rel);
/** lddw of a function pointer to slot `target`, placed at slot `at`. */
const funcPointer = (dst: number, at: number, target: number): Insn[] =>
  lddw(dst, BigInt(target - at - 1), PseudoLddw.FUNC);

function refusal(insns: Insn[]): InvalidBytecodeError {
  try {
    prepareProgram(insns);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidBytecodeError);
    return e as InvalidBytecodeError;
  }
  throw new Error('expected prepareProgram to refuse the program');
}

describe('prepared functions', () => {
  it('are the subprogram starts: calls, function pointers, in slot order', () => {
    const insns: Insn[] = [
      ...funcPointer(2, 0, 9), // 0-1
      call(4), // 2 -> 7
      mov(0, 0), // 3
      EXIT, // 4
      mov(0, 1), // 5 (dead code between functions belongs to main)
      EXIT, // 6
      call(1), // 7 -> 9
      EXIT, // 8
      mov(0, 0), // 9
      EXIT, // 10
    ];
    const p = prepareProgram(insns);
    expect(p.functions).toEqual([0, 7, 9]);
    expect(p.functions).toEqual(subprogramStarts(insns));
  });

  it('refuse a function pointer into the second half of an lddw, naming the slot', () => {
    // Before the starts came from one place, prepare accepted this pointer and listed slot 5 as a function.
    const e = refusal([...funcPointer(2, 0, 5), mov(0, 0), EXIT, ...lddw(3, 1n), EXIT]);
    expect(e.index).toBe(0);
    expect(e.message).toBe('insn 0: function pointer to 5 is not an instruction of the program');
  });

  it('refuse a function pointer outside the program', () => {
    const e = refusal([mov(0, 0), ...funcPointer(2, 1, 50), EXIT]);
    expect(e.index).toBe(1);
    expect(e.reason).toBe('function pointer to 50 is not an instruction of the program');
  });
});
