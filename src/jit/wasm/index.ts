// The JIT's own WebAssembly binary encoder.
export { type BlockType, Code, type FuncType, ModuleBuilder } from './module.js';
export { BLOCK_VOID, ExternKind, Op, Section, ValType } from './opcodes.js';
export { ByteWriter, putSleb32, putSleb64, putUleb } from './writer.js';
