// The JIT's own WebAssembly binary encoder.
export {
  type BlockType,
  Code,
  type FuncType,
  MAX_BR_TABLE_TARGETS,
  MAX_FUNCTION_BODY_BYTES,
  ModuleBuilder,
} from './module.js';
export { BLOCK_VOID, ExternKind, Op, Section, ValType } from './opcodes.js';
export { ByteWriter, putSleb32, putSleb64, putUleb } from './writer.js';
