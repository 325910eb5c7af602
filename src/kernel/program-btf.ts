// What the kernel needs to know about a program's functions: a BTF object holding each function's FUNC
// type (and everything it refers to), with func_info saying where each function starts and line_info
// mapping slots to source lines. Global (non-static) functions are verified one by one against their
// BTF prototype, so the kernel refuses a program that has them without this ("missing btf func_info");
// line info makes the kernel's verifier log quote the C source.

import { Btf, BtfBuilder, Kind, Linkage } from '../btf/index.js';
import type { ProgramSpec } from '../spec/object.js';
import * as sys from './syscall.js';

export interface ProgramBtf {
  fd: number;
  funcInfo: { insn: number; typeId: number }[];
  lineInfo: { insn: number; fileNameOff: number; lineOff: number; line: number; column: number }[];
}

/**
 * Load the BTF of `p`'s functions into the kernel, or undefined when the object has no BTF or a function
 * lacks a type (the program is then loaded without BTF, as before). The caller closes `fd`.
 */
export function loadProgramBtf(btf: unknown, p: ProgramSpec): ProgramBtf | undefined {
  const funcs = p.funcInfo;
  if (!(btf instanceof Btf) || !funcs?.length || funcs.some((f) => f.typeId === undefined)) return undefined;
  const b = new BtfBuilder();
  // A function the reader did not count as global though its BTF says so (a __hidden one) goes in static,
  // as libbpf gives it: the kernel then verifies it with its caller.
  const funcInfo = funcs.map((f) => {
    const t = btf.types[f.typeId!];
    const hidden = f.insn > 0 && !f.global && t?.kind === Kind.FUNC && t.linkage === Linkage.GLOBAL;
    return { insn: f.insn, typeId: hidden ? b.func(t.name, b.copy(btf, t.type), 0) : b.copy(btf, f.typeId!) };
  });
  const lineInfo = (p.lineInfo ?? []).map((l) => ({
    insn: l.insn,
    fileNameOff: b.str(l.file),
    lineOff: b.str(l.source),
    line: l.line,
    column: l.column,
  }));
  let fd: number;
  try {
    fd = sys.btfLoad(b.encode());
  } catch {
    return undefined;
  }
  return { fd, funcInfo, lineInfo };
}
