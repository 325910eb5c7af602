// Spec before object: plain, editable descriptions of programs and maps, as parsed from an ELF file (or
// built in code). `loadObject()` turns a spec into live maps and programs inside a runtime (or the kernel).

import type { Btf } from '../btf/parse.js';
import type { Insn } from '../isa/index.js';
import type { MapSpec } from './maps.js';

/** Source position of one instruction, from BTF line info. */
export interface LineInfo {
  /** Slot index in `ProgramSpec.insns`. */
  insn: number;
  file: string;
  line: number;
  column: number;
  /** The source line's text, when the object carries it. */
  source: string;
}

/** A function of a program, from BTF func info: where it starts, its name and its prototype. */
export interface FuncInfo {
  /** Slot index where the function starts in `ProgramSpec.insns`. */
  insn: number;
  name: string;
  /** BTF type id of the function's prototype. */
  typeId?: number;
  /** A global (non-static) function: the kernel verifies it on its own, against its BTF prototype. */
  global?: boolean;
  /** A global function's parameters from BTF; undefined when a parameter is of a kind the kernel refuses. */
  params?: FuncParam[];
}

/** How the kernel types a global function's parameter: a number, or a pointer to `size` bytes. */
export type FuncParam = { kind: 'scalar' } | { kind: 'pointer'; size: number; struct?: string };

/**
 * A program ready to load. Relocations are applied and subprograms appended after the main function, so
 * `insns` is self-contained except for maps: a `lddw` with src MAP_FD (1) or MAP_VALUE (2) has in `imm`
 * the index of the map in the map array the program is loaded with (`ObjectSpec.maps` for programs of an
 * object); for MAP_VALUE the second slot's imm is the offset into the value.
 */
export interface ProgramSpec {
  /** Function symbol name (e.g. `xdp_drop_udp_5001`). */
  name: string;
  /** ELF section it came from (e.g. `xdp`, `kprobe/do_sys_open`), or '' for hand-built programs. */
  section: string;
  /** Program type name (see ./program-types.ts), inferred from the section like libbpf does. */
  type: string;
  /** Expected attach type / target when the section names one (e.g. kprobe function). */
  attachTo?: string;
  /**
   * The kernel's expected attach type (BPF_* lower-cased: `cgroup_inet4_connect`, `xdp_devmap` …); when
   * absent, the one the section name gives (see programTypeForSection).
   */
  attachType?: string;
  insns: Insn[];
  license: string;
  lineInfo?: LineInfo[];
  funcInfo?: FuncInfo[];
  /** Slots whose CO-RE relocation the target BTF could not satisfy (libbpf's poisoned call is there), and why. */
  corePoisoned?: { insn: number; reason: string }[];
  /**
   * The kernel functions the program calls: a kfunc call (`call` with src KFUNC, 2) has in `imm` an index
   * into this list, resolved by name where the program is loaded (the kernel back end: the BTF id).
   */
  kfuncs?: KfuncRef[];
  /** Typed kernel variables the program reads: a `lddw` with src BTF_ID (3) has in `imm` an index here. */
  ksyms?: KsymRef[];
}

/**
 * A kernel variable a program reads through its BTF id (a typed `__ksym` extern, e.g. `runqueues`): a
 * per-CPU variable of kernel type `type` (a struct name), reached through bpf_this_cpu_ptr/bpf_per_cpu_ptr.
 */
export interface KsymRef {
  name: string;
  type: string;
  weak?: boolean;
  /**
   * The kernel's symbol table (`/proc/kallsyms`, as the reader was given it) has no address for it: the
   * kernel refuses the load ("ldimm64 failed to find the address"), as kernels without KALLSYMS_ALL do.
   */
  noAddress?: boolean;
}

/** A kernel function a program calls (a `.ksyms` extern function); `weak`: `__weak`, may be missing. */
export interface KfuncRef {
  name: string;
  weak?: boolean;
}

/**
 * An initial slot of a program array or map-in-map from BTF `values` (`.values = { [1] = &prog }`),
 * resolved when the object is loaded: the slot `key` of map `map` gets program `program` or map `innerMap`.
 */
export interface MapSlot {
  map: string;
  key: number;
  program?: string;
  innerMap?: string;
}

/**
 * An object file as plain, editable data (programs, maps, license, BTF) that loadCollection turns into live
 * objects.
 */
export interface ObjectSpec {
  programs: ProgramSpec[];
  maps: MapSpec[];
  license: string;
  /** Parsed BTF of the object, when present (types for pretty-printing map contents). */
  btf?: Btf;
  /** Initial program-array / map-in-map slots (BTF `values`). */
  mapSlots?: MapSlot[];
  /** The `version` section (LINUX_VERSION_CODE for old kprobe loaders), when present. */
  kernelVersion?: number;
  /** Things the reader understood but did not apply (e.g. CO-RE relocations left as compiled). */
  warnings?: string[];
}
