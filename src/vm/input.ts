// The convention of user-space VMs (uBPF, rbpf, the bpf_conformance suite): r1 points at a copy of the
// input memory and r2 holds its length. The memory doubles as the packet for legacy LD_ABS/LD_IND loads.
// Shared by `tsbpf run`, the conformance plugin and the conformance tests of every engine.

import type { Region } from '../memory/address-space.js';
import { Interpreter, type RunOptions, type RunResult } from './interpreter.js';
import type { PreparedProgram } from './program.js';
import type { Runtime } from './runtime.js';

/** Input bytes copied into a runtime's memory, with the registers and invocation a run over them needs. */
export interface InputMemory {
  region: Region;
  /** r1 and r2 for the run. */
  args: [number, number];
  /** The Invocation fields (ctx, packet) for the run. */
  invocation: { ctx: number; packet: Region };
}

/** Copy `mem` into a fresh writable 'input' region of the runtime (release it with space.release). */
export function loadInput(runtime: Runtime, mem: Uint8Array): InputMemory {
  const region = runtime.space.allocate(mem.length, 'input', 'input memory');
  runtime.space.write(region.start, mem);
  return { region, args: [region.start, mem.length], invocation: { ctx: region.start, packet: region } };
}

/** What runWithMemory gives: the run's result and the input memory after it. */
export interface MemoryRunResult extends RunResult {
  /** The input memory after the run (programs may write to it). */
  memory: Uint8Array;
}

/** Interpret `prog` with r1 = a copy of `mem`, r2 = its length (checked mode unless told otherwise). */
export function runWithMemory(
  runtime: Runtime,
  prog: PreparedProgram,
  mem: Uint8Array,
  options: Omit<RunOptions, 'args'> = {},
): MemoryRunResult {
  const input = loadInput(runtime, mem);
  try {
    const result = new Interpreter(runtime).run(prog, {
      ...options,
      args: input.args,
      invocation: { ...input.invocation, ...options.invocation },
    });
    return { ...result, memory: runtime.space.read(input.region.start, mem.length) };
  } finally {
    runtime.space.release(input.region);
  }
}
