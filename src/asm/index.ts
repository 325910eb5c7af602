// The assembler, disassembler and program builder: text or code in, `Insn[]` out, and back.
export { type Assembled, assemble, assembleWithLabels } from './assemble.js';
export { type DisasmOptions, disassemble, formatInsn, type Syntax } from './disasm.js';
export type { AsmOptions } from './operands.js';
