// The verdict counters the kernel back end adds to XDP programs (src/kernel/verdicts.ts), checked without
// a kernel: the instrumented program runs in the user-space interpreter, which runs the same bytecode.
import { describe, expect, it } from 'vitest';
import { Class, type Insn, insn, JmpOp, lddw, PseudoLddw, subprogramStarts } from '../../src/isa/index.js';
import { instrumentVerdicts, sumVerdicts, VERDICT_MAP } from '../../src/kernel/verdicts.js';
import { createMap } from '../../src/maps/index.js';
import type { ProgramSpec } from '../../src/spec/object.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const EXIT = insn(Class.JMP | JmpOp.EXIT);
const mov = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const call = (rel: number) => insn(Class.JMP | JmpOp.CALL, 0, 1, 0, rel);

/** Main returns what sub1 returns (2) or 1; it also takes sub2's address. Two exits in main. */
const PROGRAM: Insn[] = [
  ...lddw(7, 8n, PseudoLddw.FUNC), // 0-1: r7 = &sub2 (slot 9)
  call(4), // 2: r0 = sub1() (slot 7)
  insn(Class.JMP | JmpOp.JEQ, 0, 0, 2, 2), // 3: if r0 == 2 goto 6
  mov(0, 1), // 4
  EXIT, // 5
  EXIT, // 6
  mov(0, 2), // 7: sub1
  EXIT, // 8
  mov(0, 3), // 9: sub2
  EXIT, // 10
];

const spec = (insns: Insn[]): ProgramSpec => ({
  name: 'p',
  type: 'xdp',
  section: 'xdp',
  insns,
  license: 'GPL',
});

describe('instrumentVerdicts', () => {
  it('moves the subprograms past the epilogue and keeps calls and function addresses on them', () => {
    const out = instrumentVerdicts(spec(PROGRAM), 0).insns;
    const shift = out.length - PROGRAM.length;
    expect(subprogramStarts(PROGRAM)).toEqual([0, 7, 9]);
    expect(subprogramStarts(out)).toEqual([0, 7 + shift, 9 + shift]);
    // Main's two exits became jumps to the epilogue, which ends main with the only exit before sub1.
    expect(out.slice(0, 7 + shift).filter((i) => i.code === EXIT.code)).toHaveLength(1);
  });

  it('counts the verdict in its per-CPU slot and returns it unchanged', () => {
    const rt = new Runtime();
    const counters = createMap(rt.space, VERDICT_MAP, { cpus: rt.cpus });
    const p = rt.prepare(instrumentVerdicts(spec(PROGRAM), 0), [counters]);
    const interp = new Interpreter(rt);
    for (let k = 0; k < 3; k++) expect(interp.run(p).r0).toBe(2n);
    const slots = Array.from({ length: VERDICT_MAP.maxEntries }, (_, slot) => {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, slot, true);
      return counters.lookup(key);
    });
    const totals = sumVerdicts(slots);
    expect(totals).toEqual({ ABORTED: 0n, DROP: 0n, PASS: 3n, TX: 0n, REDIRECT: 0n, OTHER: 0n });
  });
});
