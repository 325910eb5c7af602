// The object's BTF as the kernel gets it: one BTF object per loaded collection, shared by its maps (key and
// value types: the kernel requires them for local storage, spin locks, timers, kptrs, list/rbtree heads)
// and its programs (func_info, line_info). Type ids are the object's own, unchanged, so what the program
// and its maps hold (MapSpec btf*TypeId, func_info, bpf_core_type_id_local results) names the same types in
// the kernel. Global (non-static) functions are verified one by one against their BTF prototype, so the
// kernel refuses a program that has them without this ("missing btf func_info"); line info makes the
// kernel's verifier log quote the C source.

import { Btf, BtfBuilder, type BtfType, Kind, Linkage } from '../btf/index.js';
import type { MapSpec } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import * as sys from './syscall.js';

export interface ProgramBtf {
  fd: number;
  funcInfo: { insn: number; typeId: number }[];
  lineInfo: { insn: number; fileNameOff: number; lineOff: number; line: number; column: number }[];
}

/** The object's BTF uploaded once; programs and maps refer to it by `fd` (the caller closes it). */
export interface ObjectBtf {
  fd: number;
  btf: Btf;
  /** String offsets of line-info file names and source lines in the uploaded BTF. */
  strings: Map<string, number>;
}

/**
 * The object's types, ids kept, edited only where the kernel's BTF checks refuse what clang leaves for
 * the loader: an extern VAR (a `__kconfig`/`__ksym` variable) becomes an allocated one where the reader
 * gave its DATASEC a layout (`.kconfig`), elsewhere a 4-byte INT of its name; an extern
 * FUNC a static one, a DATASEC left without a section (`.ksyms`, size 0) an empty anonymous struct, other
 * DATASECs get their variables in offset order; a function a program calls as static though its BTF says
 * global (`__hidden`) is made static, as the kernel then verifies it with its caller.
 */
function kernelTypes(btf: Btf, hidden: ReadonlySet<number>): (t: BtfType) => BtfType {
  // Variables of a DATASEC the reader laid out (`.kconfig`: a map's value) stay variables, allocated there.
  const placed = new Set<number>();
  for (const t of btf.types)
    if (t.kind === Kind.DATASEC && t.size > 0) for (const v of t.vars) placed.add(v.type);
  // Prototypes of extern functions (kfuncs): clang leaves their parameters unnamed, which the kernel refuses
  // of a FUNC's prototype ("Invalid arg#1"); they get names, as libbpf gives them.
  const externProtos = new Set<number>();
  for (const t of btf.types)
    if (t.kind === Kind.FUNC && t.linkage === Linkage.EXTERN) externProtos.add(t.type);
  return (t) => {
    switch (t.kind) {
      case Kind.FUNC_PROTO:
        if (!externProtos.has(t.id) || t.params.every((p) => p.name || !p.type)) return t;
        return { ...t, params: t.params.map((p, i) => (p.name || !p.type ? p : { ...p, name: `arg${i}` })) };
      case Kind.VAR:
        if (t.linkage !== Linkage.EXTERN) return t;
        return placed.has(t.id)
          ? { ...t, linkage: Linkage.GLOBAL }
          : { id: t.id, name: t.name, kind: Kind.INT, size: 4, encoding: 0, bitOffset: 0, bits: 32 };
      case Kind.FUNC:
        return t.linkage === Linkage.EXTERN || hidden.has(t.id) ? { ...t, linkage: Linkage.STATIC } : t;
      case Kind.DATASEC:
        if (t.size === 0) return { id: t.id, name: '', kind: Kind.STRUCT, size: 0, members: [] };
        return { ...t, vars: [...t.vars].sort((a, b) => a.offset - b.offset) };
      default:
        return t;
    }
  };
}

/** Functions some program calls as static though their BTF says global (a `__hidden` one). */
function hiddenFuncs(btf: Btf, programs: readonly ProgramSpec[]): Set<number> {
  const out = new Set<number>();
  for (const p of programs) {
    for (const f of p.funcInfo ?? []) {
      if (f.typeId === undefined || f.insn === 0 || f.global) continue;
      const t = btf.types[f.typeId];
      if (t?.kind === Kind.FUNC && t.linkage === Linkage.GLOBAL) out.add(f.typeId);
    }
  }
  return out;
}

/**
 * Upload `spec`'s BTF (with every program's line-info strings) once for the whole object, or undefined
 * when the object has no BTF. Throws the kernel's error (a KernelError with its BTF log) when refused.
 */
export function loadObjectBtf(spec: ObjectSpec): ObjectBtf | undefined {
  const btf = spec.btf;
  if (!(btf instanceof Btf) || btf.base) return undefined;
  const b = new BtfBuilder();
  b.copyAll(btf, kernelTypes(btf, hiddenFuncs(btf, spec.programs)));
  const strings = new Map<string, number>();
  for (const p of spec.programs) {
    for (const l of p.lineInfo ?? []) {
      for (const s of [l.file, l.source]) if (!strings.has(s)) strings.set(s, b.str(s));
    }
  }
  return { fd: sys.btfLoad(b.encode()), btf, strings };
}

/** Key and value type ids of `m` for BPF_MAP_CREATE, when they are valid in `obj` and agree with the sizes. */
export function mapBtfIds(
  obj: ObjectBtf | undefined,
  m: MapSpec,
): { btfFd: number; btfKeyTypeId: number; btfValueTypeId: number } | undefined {
  if (!obj || m.innerMap || !m.btfValueTypeId) return undefined;
  const fits = (id: number | undefined, size: number): boolean => {
    if (!id) return true;
    try {
      return obj.btf.sizeof(id) === size;
    } catch {
      return false;
    }
  };
  // A map given sizes other than its types' (a loader-sized value, a .kconfig section) goes without BTF.
  if (!fits(m.btfKeyTypeId, m.keySize) || !fits(m.btfValueTypeId, m.valueSize)) return undefined;
  return { btfFd: obj.fd, btfKeyTypeId: m.btfKeyTypeId ?? 0, btfValueTypeId: m.btfValueTypeId };
}

/**
 * func_info and line_info of `p` against the object's uploaded BTF, or undefined when a function lacks a
 * type (the program is then loaded without BTF, as before).
 */
export function programBtfInfo(obj: ObjectBtf | undefined, p: ProgramSpec): ProgramBtf | undefined {
  const funcs = p.funcInfo;
  if (!obj || !funcs?.length || funcs.some((f) => f.typeId === undefined)) return undefined;
  return {
    fd: obj.fd,
    funcInfo: funcs.map((f) => ({ insn: f.insn, typeId: f.typeId! })),
    lineInfo: (p.lineInfo ?? []).map((l) => ({
      insn: l.insn,
      fileNameOff: obj.strings.get(l.file) ?? 0,
      lineOff: obj.strings.get(l.source) ?? 0,
      line: l.line,
      column: l.column,
    })),
  };
}

/**
 * The fallback when the kernel refuses the whole object's BTF: only `p`'s functions (renumbered), for
 * func_info and line_info, or undefined when the object has no BTF or a function lacks a type. The caller
 * closes `fd`.
 */
export function loadProgramBtf(btf: unknown, p: ProgramSpec): ProgramBtf | undefined {
  const funcs = p.funcInfo;
  if (!(btf instanceof Btf) || !funcs?.length || funcs.some((f) => f.typeId === undefined)) return undefined;
  const b = new BtfBuilder();
  const hidden = hiddenFuncs(btf, [p]);
  const funcInfo = funcs.map((f) => {
    const t = btf.types[f.typeId!];
    return {
      insn: f.insn,
      typeId:
        t?.kind === Kind.FUNC && hidden.has(f.typeId!)
          ? b.func(t.name, b.copy(btf, t.type), 0)
          : b.copy(btf, f.typeId!),
    };
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
