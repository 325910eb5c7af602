// The error classes every module throws for user mistakes. Each carries structured fields (where, what)
// and a short message; the CLI prints `name: message` without a stack trace and exits non-zero.

/** Base of all errors caused by user input (bad bytecode, a malformed file, a rejected program ...). */
export class TsbpfError extends Error {
  override name = 'TsbpfError';
  constructor(
    message: string,
    /** Where it happened, e.g. `insn 12`, `foo.o: section xdp`, `capture.pcap: packet 7`. */
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}

/** Bytecode that cannot be decoded or encoded: unknown opcode, truncated input, bad register ... */
export class InvalidBytecodeError extends TsbpfError {
  override name = 'InvalidBytecodeError';
  constructor(
    readonly reason: string,
    /** Instruction slot index (lddw counts as two). */
    readonly index: number,
  ) {
    super(reason, `insn ${index}`);
  }
}

/** Assembler input that does not parse. `line` and `column` are 1-based. */
export class AsmSyntaxError extends TsbpfError {
  override name = 'AsmSyntaxError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly text: string,
  ) {
    super(`${reason}\n  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`, `line ${line}:${column}`);
  }
}

/** A run that stopped: bad memory access, instruction budget exceeded, division trap in checked mode ... */
export class RuntimeFault extends TsbpfError {
  override name = 'RuntimeFault';
  constructor(
    readonly reason: string,
    /** Instruction slot index of the faulting instruction. */
    readonly pc: number,
    /** The faulting address, when the fault is a memory access. */
    readonly address?: number,
  ) {
    super(address === undefined ? reason : `${reason} (address 0x${address.toString(16)})`, `insn ${pc}`);
  }
}

/**
 * A run stopped by a limit rather than a program error: its budget (instructions in checked mode, loop
 * iterations for verified programs) or its deadline. The program may be fine; give it more room to finish.
 */
export class RunLimitError extends RuntimeFault {
  override name = 'RunLimitError';
  constructor(
    reason: string,
    pc: number,
    /** Which limit: the budget, or the time. */
    readonly limit: 'budget' | 'timeout',
  ) {
    super(reason, pc);
  }
}

/** A file (ELF, pcap, BTF ...) that is malformed. `offset` is the byte offset when known. */
export class FormatError extends TsbpfError {
  override name = 'FormatError';
  constructor(
    readonly format: string,
    readonly reason: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? reason : `${reason} (at byte ${offset})`, format);
  }
}

/**
 * A program the JIT cannot turn into WebAssembly within the limits every engine enforces (a function's code
 * size, a br_table's length). The interpreter runs it; runners fall back to it on their own.
 */
export class JitLimitError extends TsbpfError {
  override name = 'JitLimitError';
  constructor(
    readonly reason: string,
    /** Instruction slot where the function that exceeds the limit begins. */
    readonly slot: number,
  ) {
    super(reason, `function at insn ${slot}`);
  }
}

/** Thrown to JavaScript callers when a map operation fails; `errno` is positive (ENOENT ...). */
export class MapError extends TsbpfError {
  override name = 'MapError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}
