// Programs over the limits WebAssembly engines put on one function, for the JIT's and the CLI's tests.
import { type Insn, insn } from '../../src/isa/index.js';

/** About `n` slots of straight-line ALU work: r0 = r1 * 3, then (r0 += 1, r0 &= 0x7fffffff) pairs. */
export function longProgram(n: number): Insn[] {
  const out = [insn(0xbf, 0, 1), insn(0x27, 0, 0, 0, 3)];
  while (out.length < n - 2) out.push(insn(0x07, 0, 0, 0, 1), insn(0x57, 0, 0, 0, 0x7fffffff));
  out.push(insn(0x95));
  return out;
}

/**
 * A loop entered in two places (irreducible) whose body is `blocks` conditional jumps to the next slot:
 * as many basic blocks, each one a target of the JIT's dispatch. The far jumps are `gotol`. r0 counts by
 * twos: to 10 from the loop's head, to 11 from its second entry (taken when r1 == 0); then r0 = `result`
 * when one is given.
 */
export function irreducibleLoop(blocks: number, result?: number): Insn[] {
  const head = 3;
  const second = head + 1 + blocks;
  const out = [insn(0xb7, 0, 0, 0, 0), insn(0x55, 1, 0, 1, 0), insn(0x06, 0, 0, 0, second - 3)];
  out.push(insn(0x07, 0, 0, 0, 1)); // head: r0 += 1
  for (let i = 0; i < blocks; i++) out.push(insn(0x15, 0, 0, 0, i)); // if r0 == i goto +0
  out.push(insn(0x07, 0, 0, 0, 1)); // second entry: r0 += 1
  out.push(insn(0x35, 0, 0, 1, 10)); // if r0 >= 10 goto +1
  out.push(insn(0x06, 0, 0, 0, head - (second + 3))); // gotol head
  if (result !== undefined) out.push(insn(0xb7, 0, 0, 0, result));
  out.push(insn(0x95));
  return out;
}
