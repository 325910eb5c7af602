// Where a program's functions start. A program is its main function followed by its subprograms, and
// nothing in the bytecode marks where one ends and the next begins: a function starts where something
// refers to it. Those references are slot 0 (the main function), the target of every bpf-to-bpf call
// (`call local`) and of every lddw that loads a function's address (src=BPF_PSEUDO_FUNC: a callback for
// bpf_loop, for_each_map_elem …), as the kernel's add_subprog_and_kfunc reads them. The verifier, both
// engines and the kernel back end's instrumentation all take their function boundaries from here.

import { InvalidBytecodeError } from '../errors.js';
import { type Insn, isLocalCall } from './insn.js';
import { LDDW, PseudoLddw } from './opcodes.js';

/** Is this slot an lddw of a function's address (src=BPF_PSEUDO_FUNC)? */
export const isFunctionAddress = (ins: Insn): boolean => ins.code === LDDW && ins.src === PseudoLddw.FUNC;

/**
 * The slot the instruction at `i` names as a function: the target of a local call or of a function
 * address (both relative to the next slot, as jumps are); undefined for any other instruction.
 */
export function functionTarget(ins: Insn, i: number): number | undefined {
  return isLocalCall(ins) || isFunctionAddress(ins) ? i + 1 + ins.imm : undefined;
}

const SECOND_HALF = 1;
const START = 2;

/**
 * Slots where the program's functions start, ascending: 0, then every local-call and function-address
 * target. Throws InvalidBytecodeError naming the referring slot when a target is no instruction of the
 * program (outside it, or the second half of an lddw). Two passes over the slots, no sort.
 */
export function subprogramStarts(insns: readonly Insn[]): number[] {
  const n = insns.length;
  if (n === 0) return [];
  const mark = new Uint8Array(n);
  for (let i = 0; i + 1 < n; i++) if (insns[i]!.code === LDDW) mark[++i] = SECOND_HALF;
  mark[0] |= START;
  let count = 1;
  for (let i = 0; i < n; i++) {
    const ins = insns[i]!;
    const t = functionTarget(ins, i);
    if (t !== undefined) {
      if (t < 0 || t >= n || mark[t]! & SECOND_HALF) {
        const what = isLocalCall(ins) ? 'call' : 'function pointer';
        throw new InvalidBytecodeError(`${what} to ${t} is not an instruction of the program`, i);
      }
      if (!(mark[t]! & START)) count++;
      mark[t] = mark[t]! | START;
    }
    if (ins.code === LDDW) i++;
  }
  const starts = new Array<number>(count);
  for (let i = 0, k = 0; k < count; i++) if (mark[i]! & START) starts[k++] = i;
  return starts;
}
