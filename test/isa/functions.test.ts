// Function boundaries: the one reading of where subprograms start (src/isa/functions.ts) that the
// verifier, the engines and the kernel back end's verdict counters share.
import { describe, expect, it } from 'vitest';
import { InvalidBytecodeError } from '../../src/errors.js';
import {
  AluOp,
  Class,
  functionTarget,
  type Insn,
  insn,
  isFunctionAddress,
  JmpOp,
  lddw,
  PseudoCall,
  PseudoLddw,
  Source,
  subprogramStarts,
} from '../../src/isa/index.js';

const EXIT = insn(Class.JMP | JmpOp.EXIT);
const mov = (dst: number, imm: number) => insn(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm);
const call = (rel: number) => insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.LOCAL, 0, rel);
const helper = (id: number) => insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, id);
const funcAddr = (dst: number, rel: number) => lddw(dst, BigInt(rel), PseudoLddw.FUNC);

function errorOf(f: () => unknown): InvalidBytecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidBytecodeError);
    return e as InvalidBytecodeError;
  }
  throw new Error('expected an InvalidBytecodeError');
}

describe('subprogramStarts', () => {
  it('is slot 0 alone for a program without calls or function addresses', () => {
    expect(subprogramStarts([mov(0, 2), helper(5), EXIT])).toEqual([0]);
    expect(subprogramStarts([])).toEqual([]);
  });

  it('adds call targets and function-address targets, ascending and once each', () => {
    const insns: Insn[] = [
      /* 0 */ ...funcAddr(2, 7), // -> 8
      /* 2 */ call(3), // -> 6
      /* 3 */ call(4), // -> 8 (again)
      /* 4 */ mov(0, 0),
      /* 5 */ EXIT,
      /* 6 */ call(-7), // -> 0 (main as a callee adds nothing)
      /* 7 */ EXIT,
      /* 8 */ mov(0, 1),
      /* 9 */ EXIT,
    ];
    expect(subprogramStarts(insns)).toEqual([0, 6, 8]);
  });

  it('reads a backward function address and a call into a later subprogram from a subprogram', () => {
    const insns: Insn[] = [
      /* 0 */ call(2), // -> 3
      /* 1 */ mov(0, 0),
      /* 2 */ EXIT,
      /* 3 */ call(1), // -> 5
      /* 4 */ EXIT,
      /* 5 */ ...funcAddr(1, -2), // -> 4 (a function address may name any instruction slot)
      /* 7 */ EXIT,
    ];
    expect(subprogramStarts(insns)).toEqual([0, 3, 4, 5]);
  });

  it('does not read the second half of an lddw as an instruction', () => {
    // The second slot of an lddw is data (the constant's high half): even dressed as a local call, it
    // names no function.
    const [lo, hi] = lddw(1, 0x1_0000_0000n);
    const fake = { ...hi!, code: Class.JMP | JmpOp.CALL, src: PseudoCall.LOCAL, imm: 5 };
    expect(subprogramStarts([lo!, fake, mov(0, 0), EXIT])).toEqual([0]);
  });

  it('refuses a target outside the program, naming the referring slot', () => {
    const e = errorOf(() => subprogramStarts([mov(0, 0), ...funcAddr(1, 40), EXIT]));
    expect(e.index).toBe(1);
    expect(e.reason).toBe('function pointer to 42 is not an instruction of the program');
    const back = errorOf(() => subprogramStarts([call(-5), EXIT]));
    expect(back.index).toBe(0);
    expect(back.reason).toBe('call to -4 is not an instruction of the program');
  });

  it('refuses a target in the second half of an lddw', () => {
    const e = errorOf(() => subprogramStarts([call(2), EXIT, ...lddw(0, 7n), EXIT]));
    expect(e.reason).toBe('call to 3 is not an instruction of the program');
    const f = errorOf(() => subprogramStarts([...funcAddr(1, 0), EXIT]));
    expect(f.index).toBe(0);
    expect(f.reason).toBe('function pointer to 1 is not an instruction of the program');
  });
});

describe('functionTarget', () => {
  it('is the target of local calls and function addresses only', () => {
    expect(functionTarget(call(4), 10)).toBe(15);
    expect(functionTarget(funcAddr(3, -2)[0], 10)).toBe(9);
    expect(isFunctionAddress(funcAddr(3, -2)[0])).toBe(true);
    expect(functionTarget(helper(4), 10)).toBeUndefined();
    expect(functionTarget(lddw(3, 4n, PseudoLddw.MAP_FD)[0], 10)).toBeUndefined();
    expect(functionTarget(insn(Class.JMP | JmpOp.JA, 0, 0, 4), 10)).toBeUndefined();
  });
});
