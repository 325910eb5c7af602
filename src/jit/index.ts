// The JIT, the public face (the package's `tsbpf/jit` entry, for those who embed the engines): eBPF ->
// WebAssembly on the runtime's linear memory (see compile.ts for the module's shape). Most users reach it
// through `createRunner(..., { engine: 'jit' })` from `tsbpf`.
export { type CompiledModule, generate, type JitOptions } from './compile.js';
export { runJitWithMemory } from './input.js';
export { compile, compileAsync, type JitProgram } from './program.js';
