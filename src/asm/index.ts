// The assembler, disassembler and program builder: text or code in, `Insn[]` out, and back. The package's
// `tsbpf/asm` entry.

export { AsmSyntaxError } from '../errors.js';
export { helperIdByName, kernelHelperId } from '../spec/helper-names.js';
export { type Assembled, assemble, assembleWithLabels } from './assemble.js';
export {
  type AtomicOpName,
  BuilderError,
  type LoadSize,
  type MemSize,
  type Operand,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  type Register,
  type RegNum,
  type Target,
  type WritableRegister,
} from './builder.js';
export { type DisasmOptions, disassemble, formatInsn, type Syntax } from './disasm.js';
export type { AsmOptions } from './operands.js';
