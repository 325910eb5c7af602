// ELF constants used by BPF objects (the subset clang, libbpf and iproute2 produce).

export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

/** BPF relocation types (see the kernel's Documentation/bpf/llvm_reloc.rst). */
export const Reloc = {
  NONE: 0,
  /** lddw: 64-bit immediate split over two slots (maps, global data, function pointers). */
  R_BPF_64_64: 1,
  /** Data: 64-bit absolute address (`.maps` values arrays, debug info). */
  R_BPF_64_ABS64: 2,
  /** Data: 32-bit absolute address (debug info). */
  R_BPF_64_ABS32: 3,
  /** Like ABS32 but not resolved by a dynamic loader (.BTF, .BTF.ext). */
  R_BPF_64_NODYLD32: 4,
  /** call insn: imm is the callee's slot offset relative to the next slot. */
  R_BPF_64_32: 10,
} as const;
