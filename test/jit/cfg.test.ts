// Control-flow translation: loops, irreducible graphs (dispatch fallback), fall-off blocks, and programs
// large or deep enough to break a recursive structurer, all run against the interpreter.
import { describe, expect, it } from 'vitest';
import { InvalidBytecodeError } from '../../src/errors.js';
import { Class, type Insn, insn, JmpOp, Source } from '../../src/isa/index.js';
import { buildCfg } from '../../src/jit/cfg.js';
import { compile } from '../../src/jit/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const mov = (dst: number, imm: number) => insn(Class.ALU64 | 0xb0, dst, 0, 0, imm);
const add = (dst: number, imm: number) => insn(Class.ALU64 | 0x00, dst, 0, 0, imm);
const jeq = (dst: number, imm: number, off: number) => insn(Class.JMP | JmpOp.JEQ, dst, 0, off, imm);
const jlt = (dst: number, imm: number, off: number) => insn(Class.JMP | JmpOp.JLT, dst, 0, off, imm);
const exit = insn(Class.JMP | JmpOp.EXIT);

const rt = new Runtime();
const interp = new Interpreter(rt);

/** r0 from the interpreter and from the JIT, unchecked and checked, for each r1. */
function agree(insns: Insn[], inputs: number[]): bigint[] {
  const prog = rt.prepare(insns);
  const fast = compile(prog, rt);
  const checked = compile(prog, rt, { checked: true });
  return inputs.map((r1) => {
    const want = interp.run(prog, { args: [r1], budget: 10_000_000 }).r0;
    expect(fast.run(r1), `r1=${r1}`).toBe(want);
    expect(checked.execute({ args: [r1], budget: 10_000_000 }).r0, `r1=${r1} checked`).toBe(want);
    return want;
  });
}

describe('control flow', () => {
  it('finds blocks, loop headers and reducibility', () => {
    // 0: r0 = 0; 1: r0 += 1; 2: if r0 < 10 goto 1; 3: exit
    const loop = [mov(0, 0), add(0, 1), jlt(0, 10, -2), exit];
    const cfg = buildCfg(loop, 0, loop.length);
    expect(cfg.blocks.map((b) => [b.start, b.end, b.term])).toEqual([
      [0, 1, 'goto'],
      [1, 3, 'cond'],
      [3, 4, 'exit'],
    ]);
    expect([...cfg.loopHeader]).toEqual([0, 1, 0]);
    expect(cfg.reducible).toBe(true);
    expect(agree(loop, [0])).toEqual([10n]);
  });

  it('runs an irreducible loop (two entries) through the dispatch fallback', () => {
    // if r1 == 0 goto B; A: r0 += 1; B: r0 += 2; if r0 < 20 goto A; exit
    const prog = [mov(0, 0), jeq(1, 0, 1), add(0, 1), add(0, 2), jlt(0, 20, -3), exit];
    expect(buildCfg(prog, 0, prog.length).reducible).toBe(false);
    expect(agree(prog, [0, 1, 5])).toEqual([20n, 21n, 21n]);
  });

  it('handles nested loops, a conditional jump to the next instruction and jumps to exit', () => {
    // for (i = 0; i < 5; i++) for (j = 0; j < 7; j++) r0 += j ^ i
    const prog = [
      mov(0, 0),
      mov(6, 0), // i
      mov(7, 0), // j
      insn(Class.ALU64 | 0xb0 | Source.X, 8, 7),
      insn(Class.ALU64 | 0xa0 | Source.X, 8, 6),
      insn(Class.ALU64 | Source.X, 0, 8),
      jeq(8, 3, 0), // jump to the next instruction either way
      add(7, 1),
      jlt(7, 7, -6),
      add(6, 1),
      jlt(6, 5, -9),
      jeq(1, 42, 1),
      exit,
      add(0, 1000),
      exit,
    ];
    const [a, b] = agree(prog, [0, 42]);
    expect(b! - a!).toBe(1000n);
  });

  it('faults when execution runs off the end, at the slot after the program', () => {
    const prog = [mov(0, 1), jeq(1, 0, -2)];
    const jit = compile(rt.prepare(prog), rt, { checked: true });
    expect(() => jit.execute({ args: [1] })).toThrow('insn 2: execution ran past the end of the program');
  });

  it("runs on each CPU's own stack, as the interpreter does", () => {
    const multi = new Runtime({ cpus: 2 });
    // r0 = r10 of a nested call: main calls f, f returns its frame pointer.
    const prog = multi.prepare([
      insn(Class.JMP | JmpOp.CALL, 0, 1, 0, 1),
      exit,
      insn(Class.ALU64 | 0xb0 | Source.X, 0, 10),
      exit,
    ]);
    const jit = compile(prog, multi);
    const ref = new Interpreter(multi);
    const seen = new Set<bigint>();
    for (const cpu of [0, 1, 0]) {
      const want = ref.run(prog, { cpu, checked: false }).r0;
      expect(jit.execute({ cpu }).r0).toBe(want);
      seen.add(want);
    }
    expect(seen.size).toBe(2);
  });

  it('rejects a jump from one function into another with a typed error naming the slot', () => {
    // 0: call +2 (function at 3); 1: ja +2 (into the function's body); 2: exit; 3: r0 = 1; 4: r0 += 1; 5: exit
    const prog = [
      insn(Class.JMP | JmpOp.CALL, 0, 1, 0, 2),
      insn(Class.JMP | JmpOp.JA, 0, 0, 2),
      exit,
      mov(0, 1),
      add(0, 1),
      exit,
    ];
    expect(() => compile(rt.prepare(prog), rt)).toThrow(InvalidBytecodeError);
    expect(() => compile(rt.prepare(prog), rt)).toThrow('insn 1: jump to 4 leaves the function at 0..2');
  });

  it('compiles 10,000-slot programs: a chain of forward jumps, a deep if-nest, and a thousand loops', () => {
    // Every instruction may jump to the last exit: 10,000 merge edges into one block.
    const chain: Insn[] = [mov(0, 0)];
    for (let k = 0; k < 4999; k++) chain.push(add(0, 1), jeq(1, k, 2 * (4999 - k) - 2));
    chain.push(exit);
    expect(agree(chain, [0, 17, 4998, 99999])).toEqual([1n, 18n, 4999n, 4999n]);

    // if (r1 != k) { if (r1 != k+1) { ... } }: 5,000 levels of nesting.
    const nest: Insn[] = [mov(0, 0)];
    const n = 5000;
    for (let k = 0; k < n; k++) nest.push(insn(Class.JMP | JmpOp.JEQ, 1, 0, 2 * (n - k), k), add(0, 1));
    nest.push(exit, add(0, 100000), exit);
    expect(nest.length).toBeGreaterThan(10_000);
    expect(agree(nest, [3, n + 5])).toEqual([100003n, BigInt(n)]);

    // A thousand consecutive small loops.
    const loops: Insn[] = [mov(0, 0)];
    for (let k = 0; k < 1000; k++) loops.push(mov(2, 0), add(0, 1), add(2, 1), jlt(2, 3, -3));
    loops.push(exit);
    expect(agree(loops, [0])).toEqual([3000n]);
  });
});
