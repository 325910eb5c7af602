// The JIT: eBPF -> WebAssembly on the runtime's linear memory (see compile.ts for the module's shape).
export { buildCfg, type FunctionCfg } from './cfg.js';
export { type CompiledModule, generate, type JitOptions } from './compile.js';
export { runJitWithMemory } from './input.js';
export { compile, compileAsync, type JitProgram } from './program.js';
