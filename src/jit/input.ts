// The user-space VM convention (r1 = a copy of the input memory, r2 = its length) on the JIT, as
// vm/input.ts runs it on the interpreter: for `tsbpf run`, the conformance plugin and tests.

import { loadInput, type MemoryRunResult } from '../vm/input.js';
import type { RunOptions } from '../vm/interpreter.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';
import type { JitOptions } from './compile.js';
import { compile } from './program.js';

/** Compile and run `prog` with r1 = a copy of `mem`, r2 = its length (checked mode unless told otherwise). */
export function runJitWithMemory(
  runtime: Runtime,
  prog: PreparedProgram,
  mem: Uint8Array,
  options: Omit<RunOptions, 'args' | 'trace'> & Pick<JitOptions, 'inlineHelpers'> = {},
): MemoryRunResult {
  const checked = options.checked ?? true;
  const jit = compile(prog, runtime, { checked, inlineHelpers: options.inlineHelpers });
  const input = loadInput(runtime, mem);
  try {
    const result = jit.execute({
      ...options,
      checked,
      args: input.args,
      invocation: { ...input.invocation, ...options.invocation },
    });
    return { ...result, memory: runtime.space.read(input.region.start, mem.length) };
  } finally {
    runtime.space.release(input.region);
  }
}
