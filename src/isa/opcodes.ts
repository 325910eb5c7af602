// Opcode fields of the eBPF instruction set (RFC 9669), as const objects with literal types.
//
// The 8-bit opcode is split by instruction class:
//
//   arithmetic and jump classes      load and store classes
//   +------+---+-----+               +------+------+-----+
//   | op:4 |s:1|cls:3|               |mode:3|size:2|cls:3|
//   +------+---+-----+               +------+------+-----+
//    7    4  3  2   0                 7    5 4    3 2   0
//
// `s` is the source: K (the 32-bit immediate) or X (the src register).

/** Instruction class: the low three bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;
export type Class = (typeof Class)[keyof typeof Class];

/** Operand source for arithmetic and jumps (bit 3). For END it selects the byte order instead. */
export const Source = { K: 0x00, X: 0x08 } as const;
export type Source = (typeof Source)[keyof typeof Source];

/** Arithmetic operations (bits 4-7 of ALU and ALU64 opcodes). */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Byte-order selector of END in the source bit: TO_LE (ALU class), TO_BE (ALU class), or bswap (ALU64, K). */
export const Endian = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** Jump operations (bits 4-7 of JMP and JMP32 opcodes). */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;
export type JmpOp = (typeof JmpOp)[keyof typeof JmpOp];

/** Access size of loads and stores (bits 3-4). */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = (typeof Size)[keyof typeof Size];

/** Bytes accessed for each Size. */
export const SIZE_BYTES: Readonly<Record<number, 1 | 2 | 4 | 8>> = {
  [Size.W]: 4,
  [Size.H]: 2,
  [Size.B]: 1,
  [Size.DW]: 8,
};

/** Addressing mode of loads and stores (bits 5-7). ABS and IND are the legacy packet loads. */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Atomic operations, held in the immediate of STX|ATOMIC. FETCH may be or-ed into ADD/OR/AND/XOR. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
} as const;

/** Source-register values that give lddw (LD|IMM|DW) a special meaning. */
export const PseudoLddw = {
  /** A 64-bit immediate. */
  IMM64: 0,
  /** imm is a map file descriptor (or index before relocation): the register gets the map. */
  MAP_FD: 1,
  /** imm is a map fd, next imm an offset into its (single) value: the register gets a value pointer. */
  MAP_VALUE: 2,
  /** imm is a BTF id of a kernel variable. */
  BTF_ID: 3,
  /** Like MAP_FD, with imm an index into the program's map array. */
  MAP_IDX: 5,
  /** Like MAP_VALUE, with imm an index into the program's map array. */
  MAP_IDX_VALUE: 6,
  /** imm is a relative instruction offset of a subprogram: the register gets a function pointer. */
  FUNC: 4,
} as const;

/** Source-register values of JMP|CALL. */
export const PseudoCall = {
  /** imm is a helper id. */
  HELPER: 0,
  /** imm is a relative instruction offset of a local function (bpf-to-bpf call). */
  LOCAL: 1,
  /** imm is a BTF id of a kernel function. */
  KFUNC: 2,
} as const;

/** Mask of the class bits. */
export const CLASS_MASK = 0x07;
/** Mask of the op bits of ALU/JMP opcodes. */
export const OP_MASK = 0xf0;
/** Mask of the source bit. */
export const SRC_MASK = 0x08;
/** Mask of the size bits of load/store opcodes. */
export const SIZE_MASK = 0x18;
/** Mask of the mode bits of load/store opcodes. */
export const MODE_MASK = 0xe0;

/** Opcode of the first half of lddw. */
export const LDDW = Class.LD | Size.DW | Mode.IMM; // 0x18

/** Register numbers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 frame pointer. */
export const Reg = {
  R0: 0,
  R1: 1,
  R2: 2,
  R3: 3,
  R4: 4,
  R5: 5,
  R6: 6,
  R7: 7,
  R8: 8,
  R9: 9,
  R10: 10,
} as const;
export type Reg = (typeof Reg)[keyof typeof Reg];
/** The frame pointer register, r10 (read-only). */
export const FRAME_POINTER = 10;
/** Registers r0 to r10. */
export const REGISTER_COUNT = 11;

/** Size of one stack frame in bytes. */
export const STACK_SIZE = 512;
/** Deepest bpf-to-bpf call chain, counting the main program. */
export const MAX_CALL_FRAMES = 8;
/** Bytes per encoded instruction slot. */
export const INSN_SIZE = 8;

/** The class bits of an opcode (BPF_CLASS). */
export const classOf = (code: number): number => code & CLASS_MASK;
/** Whether a class is ALU or ALU64. */
export const isAluClass = (cls: number): boolean => cls === Class.ALU || cls === Class.ALU64;
/** Whether a class is JMP or JMP32. */
export const isJmpClass = (cls: number): boolean => cls === Class.JMP || cls === Class.JMP32;
