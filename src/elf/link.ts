// Turn the functions of an object into self-contained programs: copy a program's function, append every
// function it calls (transitively: `.text` subprograms, bpf_loop callbacks taken by address), and apply
// relocations — calls become relative slot offsets, map references become map indices, global data
// references become (map index, offset) pairs, function addresses become `lddw src=FUNC`, calls to `__ksym`
// extern functions become kfunc calls (src KFUNC, imm an index into the program's kfunc list).

import type { BtfExt } from '../btf/ext.js';
import type { Btf } from '../btf/parse.js';
import { Kind, Linkage } from '../btf/types.js';
import { type FormatError, InvalidBytecodeError } from '../errors.js';
import { decode, type Insn, isLocalCall } from '../isa/index.js';
import { Class, JmpOp, LDDW, PseudoCall, PseudoLddw } from '../isa/opcodes.js';
import type { FuncInfo, FuncParam, KfuncRef, KsymRef, LineInfo } from '../spec/object.js';
import { Reloc, SHF_EXECINSTR, SHN_UNDEF, STT_FUNC, STT_SECTION } from './constants.js';
import type { Externs } from './externs.js';
import type { MapDef } from './maps.js';
import { type ElfFile, elfError, type Relocation, type Section } from './parse.js';

/** Distinct functions on one call chain; real programs stay far below (the kernel allows 8 frames). */
const MAX_CALL_DEPTH = 512;

/** BPF_COMPLEXITY_LIMIT_INSNS: no program the kernel accepts is longer. */
const MAX_PROGRAM_SLOTS = 1 << 20;

/** One function: a slot range of an executable section. */
export interface Func {
  name: string;
  section: Section;
  start: number;
  end: number;
  /** Hidden or internal visibility (`__hidden`): libbpf loads such a global function as static. */
  hidden?: boolean;
}

export interface Linked {
  insns: Insn[];
  lineInfo: LineInfo[];
  funcInfo: FuncInfo[];
  /** The kfuncs the program calls; a kfunc call's imm is an index here. */
  kfuncs: KfuncRef[];
  /** The typed kernel variables it reads; a `lddw` src BTF_ID's imm is an index here. */
  ksyms: KsymRef[];
}

/** Decoded executable sections and their functions, shared by every program of an object. */
export class CodeIndex {
  private readonly decoded = new Map<number, Insn[]>();
  private readonly funcs = new Map<number, Func[]>();

  constructor(
    readonly elf: ElfFile,
    private readonly maps: MapDef[],
    private readonly btf: Btf | undefined,
    private readonly ext: BtfExt | undefined,
    /** The object's `__kconfig` / `__ksym` externs (./externs.ts), resolved where they are loaded. */
    private readonly externs?: Externs,
  ) {}

  insnsOf(section: Section): Insn[] {
    let insns = this.decoded.get(section.index);
    if (!insns) {
      try {
        insns = decode(section.data);
      } catch (e) {
        if (e instanceof InvalidBytecodeError) {
          throw elfError(
            this.elf.file,
            `instruction ${e.index}: ${e.reason}`,
            section.name,
            section.offset + e.index * 8,
          );
        }
        throw e;
      }
      this.decoded.set(section.index, insns);
    }
    return insns;
  }

  /** Functions of an executable section from its STT_FUNC symbols; the whole section when it has none. */
  functionsOf(section: Section): Func[] {
    let list = this.funcs.get(section.index);
    if (list) return list;
    const count = this.insnsOf(section).length;
    const syms = this.elf
      .symbolsIn(section.index)
      .filter((s) => s.type === STT_FUNC)
      .sort((a, b) => a.value - b.value);
    list = [];
    for (let i = 0; i < syms.length; i++) {
      const s = syms[i]!;
      if (s.value % 8 !== 0 || s.size % 8 !== 0) {
        throw elfError(this.elf.file, `function ${s.name} is not aligned to instructions`, section.name);
      }
      const start = s.value / 8;
      const end = s.size > 0 ? start + s.size / 8 : (syms[i + 1]?.value ?? count * 8) / 8;
      if (start >= count || end > count || end <= start) {
        throw elfError(
          this.elf.file,
          `function ${s.name} (${start}..${end}) lies outside the section (${count} insns)`,
          section.name,
        );
      }
      list.push({ name: s.name, section, start, end, hidden: s.visibility === 1 || s.visibility === 2 });
    }
    if (list.length === 0 && count > 0) list.push({ name: section.name, section, start: 0, end: count });
    this.funcs.set(section.index, list);
    return list;
  }

  private funcAt(section: Section, slot: number, what: string): Func {
    if (!(section.flags & SHF_EXECINSTR)) {
      throw elfError(
        this.elf.file,
        `${what} targets section ${section.name}, which holds no code`,
        section.name,
      );
    }
    const f = this.functionsOf(section).find((fn) => slot >= fn.start && slot < fn.end);
    if (!f)
      throw elfError(this.elf.file, `${what} targets slot ${slot}, which is in no function`, section.name);
    return f;
  }

  /** Link `main` with everything it calls into one program. */
  link(main: Func): Linked {
    const out: Insn[] = [];
    const base = new Map<Func, number>();
    const kfuncs: KfuncRef[] = [];
    const ksyms: KsymRef[] = [];
    // Depth first, like libbpf: a callee is appended and relocated as soon as its first call is met, so
    // instruction indices match what the kernel sees for the same object.
    const place = (f: Func, depth: number): number => {
      let b = base.get(f);
      if (b === undefined) {
        if (out.length + f.end - f.start > MAX_PROGRAM_SLOTS) {
          throw elfError(
            this.elf.file,
            `program ${main.name} links to more than ${MAX_PROGRAM_SLOTS} instructions`,
            f.section.name,
          );
        }
        if (depth > MAX_CALL_DEPTH)
          throw elfError(this.elf.file, `calls nest deeper than ${MAX_CALL_DEPTH} functions`, f.section.name);
        b = out.length;
        base.set(f, b);
        const src = this.insnsOf(f.section);
        for (let i = f.start; i < f.end; i++) out.push({ ...src[i]! });
        this.relocate(f, b, out, (g) => place(g, depth + 1), kfuncs, ksyms);
      }
      return b;
    };
    place(main, 0);
    return { insns: out, ...this.debugInfo(base), kfuncs, ksyms };
  }

  private relocate(
    f: Func,
    b: number,
    out: Insn[],
    place: (f: Func) => number,
    kfuncs: KfuncRef[],
    ksyms: KsymRef[],
  ): void {
    const { elf } = this;
    const sec = f.section;
    const relocs = new Map<number, Relocation>();
    for (const r of elf.relocations.get(sec.index) ?? []) {
      if (r.offset < f.start * 8 || r.offset >= f.end * 8) continue;
      if (r.offset % 8 !== 0)
        throw elfError(elf.file, `relocation at ${r.offset} is not on an instruction`, sec.name);
      relocs.set(r.offset / 8, r);
    }
    const fail = (slot: number, msg: string) =>
      elfError(elf.file, `instruction ${slot}: ${msg}`, sec.name, sec.offset + slot * 8);
    for (let slot = f.start; slot < f.end; slot++) {
      const at = b + slot - f.start;
      const ins = out[at]!;
      const r = relocs.get(slot);
      if (ins.code === LDDW) {
        if (slot + 1 >= f.end) throw fail(slot, 'lddw is cut in half by the end of the function');
        let funcSection: Section | undefined;
        if (r) funcSection = this.relocateLddw(r, ins, out[at + 1]!, (msg) => fail(slot, msg), ksyms);
        else if (ins.src === PseudoLddw.FUNC) {
          funcSection = sec;
          ins.imm = slot + ins.imm + 1;
        }
        if (funcSection) {
          // ins.imm holds the absolute target slot in funcSection; make it relative to this program.
          const target = ins.imm;
          const callee = this.funcAt(funcSection, target, `function pointer at ${slot}`);
          ins.imm = place(callee) + (target - callee.start) - at - 1;
        }
        slot++;
        continue;
      }
      if (ins.code === (Class.JMP | JmpOp.CALL)) {
        if (r) {
          if (
            r.type !== Reloc.R_BPF_64_32 &&
            r.type !== Reloc.R_BPF_64_ABS32 &&
            r.type !== Reloc.R_BPF_64_NODYLD32
          ) {
            throw fail(slot, `unsupported relocation type ${r.type} on a call`);
          }
          if (r.symbol.shndx === SHN_UNDEF) {
            if (LIBC_MEM.has(r.symbol.name)) throw fail(slot, libcCallMessage(r.symbol.name));
            const kfunc = this.externs?.kfunc(r.symbol.name);
            if (!kfunc)
              throw fail(
                slot,
                `call to extern function ${r.symbol.name}, which is not a kfunc (declare it with __ksym) and no loader can resolve`,
              );
            // A kfunc call: imm indexes the program's kfunc list (resolved to a BTF id where it is loaded).
            let idx = kfuncs.findIndex((k) => k.name === kfunc.name);
            if (idx < 0) idx = kfuncs.push(kfunc) - 1;
            ins.src = PseudoCall.KFUNC;
            ins.imm = idx;
            ins.off = 0;
            continue;
          }
          if (ins.src !== PseudoCall.LOCAL)
            throw fail(slot, `relocated call to ${r.symbol.name} is not a local call`);
          const section = this.sectionOf(r, (m) => fail(slot, m));
          if (r.symbol.value % 8 !== 0) throw fail(slot, `call target ${r.symbol.name} is misaligned`);
          const target = r.symbol.value / 8 + ins.imm + 1;
          const callee = this.funcAt(section, target, `call at ${slot}`);
          ins.imm = place(callee) + (target - callee.start) - at - 1;
        } else if (isLocalCall(ins)) {
          const target = slot + ins.imm + 1;
          const callee = this.funcAt(sec, target, `call at ${slot}`);
          ins.imm = place(callee) + (target - callee.start) - at - 1;
        }
        continue;
      }
      if (r)
        throw fail(
          slot,
          `relocation against ${r.symbol.name} on an instruction that is neither lddw nor call`,
        );
    }
  }

  private sectionOf(r: Relocation, fail: (m: string) => FormatError): Section {
    const s = this.elf.sections[r.symbol.shndx];
    if (!s || r.symbol.shndx === SHN_UNDEF)
      throw fail(`symbol ${r.symbol.name} is undefined (externs are unsupported)`);
    return s;
  }

  /**
   * lddw relocations: map, global data or function address. For a function address it returns the code
   * section and leaves the absolute target slot in `ins.imm`.
   */
  private relocateLddw(
    r: Relocation,
    ins: Insn,
    hi: Insn,
    fail: (m: string) => FormatError,
    ksyms: KsymRef[],
  ): Section | undefined {
    if (r.type !== Reloc.R_BPF_64_64 && r.type !== Reloc.R_BPF_64_ABS64) {
      throw fail(`unsupported relocation type ${r.type} on lddw`);
    }
    const sym = r.symbol;
    if (sym.shndx === SHN_UNDEF) {
      this.relocateExtern(sym.name, ins, hi, fail, ksyms);
      return undefined;
    }
    const section = this.sectionOf(r, fail);
    if (section.flags & SHF_EXECINSTR) {
      // A function address (bpf_loop callback): the target slot becomes a relative offset once placed.
      const off = sym.value + ins.imm;
      if (off % 8 !== 0) throw fail(`function address ${sym.name}+${ins.imm} is not on an instruction`);
      ins.src = PseudoLddw.FUNC;
      ins.imm = off / 8;
      return section;
    }
    // A static map is referenced through its section's symbol, the record's offset in the lddw's imm
    // (old clang, ovs): the map is the record that starts there, not the section's first.
    const at = sym.type === STT_SECTION ? sym.value + ins.imm : sym.value;
    const idx = this.maps.findIndex((m) => m.section === section.index && (m.isData || m.offset === at));
    if (idx < 0) {
      const what =
        sym.type === STT_SECTION
          ? `offset ${at} of section ${section.name}`
          : `symbol ${sym.name} in section ${section.name}`;
      throw fail(`${what} is not a map or global data`);
    }
    const def = this.maps[idx]!;
    if (def.isData) {
      const off = ins.imm + sym.value;
      if (off < 0 || off > def.spec.valueSize) throw fail(`offset ${off} is outside ${def.spec.name}`);
      ins.src = PseudoLddw.MAP_VALUE;
      ins.imm = idx;
      hi.imm = off;
    } else {
      ins.src = PseudoLddw.MAP_FD;
      ins.imm = idx;
      hi.imm = 0;
    }
    return undefined;
  }

  /** An lddw of an extern variable: a slot of the `.kconfig` map, or a kernel symbol's address. */
  private relocateExtern(
    name: string,
    ins: Insn,
    hi: Insn,
    fail: (m: string) => FormatError,
    ksyms: KsymRef[],
  ): void {
    const target = this.externs?.resolve(name);
    if (!target)
      throw fail(`extern ${name} is neither a __kconfig nor a __ksym variable (no loader fills it)`);
    if (target.kind === 'btf_var') {
      let idx = ksyms.findIndex((k) => k.name === name);
      if (idx < 0) idx = ksyms.push(target.ksym) - 1;
      ins.src = PseudoLddw.BTF_ID;
      ins.imm = idx;
      hi.imm = 0;
      return;
    }
    if (target.kind === 'kconfig') {
      const idx = this.maps.indexOf(this.externs!.kconfig!.def);
      ins.src = PseudoLddw.MAP_VALUE;
      hi.imm = target.offset + ins.imm;
      ins.imm = idx;
      return;
    }
    ins.src = 0;
    ins.imm = Number(BigInt.asIntN(32, target.address));
    hi.imm = Number(BigInt.asIntN(32, target.address >> 32n));
  }

  /** Line and function info of the placed functions, re-based to program slots. */
  private debugInfo(base: Map<Func, number>): { lineInfo: LineInfo[]; funcInfo: FuncInfo[] } {
    const lineInfo: LineInfo[] = [];
    const funcInfo: FuncInfo[] = [];
    for (const [f, b] of base) {
      const lines = this.ext?.lineInfo.get(f.section.name) ?? [];
      for (const l of lines) {
        const slot = l.insnOff / 8;
        if (slot >= f.start && slot < f.end) {
          lineInfo.push({
            insn: b + slot - f.start,
            file: l.file,
            line: l.line,
            column: l.column,
            source: l.source,
          });
        }
      }
      const fi = this.ext?.funcInfo.get(f.section.name)?.find((x) => x.insnOff / 8 === f.start);
      const info: FuncInfo = { insn: b, name: f.name };
      if (fi) {
        info.typeId = fi.typeId;
        const t = this.btf?.types[fi.typeId];
        if (t && t.kind === Kind.FUNC && t.name) info.name = t.name;
        // A hidden global function is verified with its caller, as libbpf marks it static in the BTF it loads.
        if (t && t.kind === Kind.FUNC && t.linkage === Linkage.GLOBAL && !f.hidden) {
          info.global = true;
          const params = this.btf && globalParams(this.btf, t.type);
          if (params) info.params = params;
        }
      }
      funcInfo.push(info);
    }
    lineInfo.sort((a, b) => a.insn - b.insn);
    funcInfo.sort((a, b) => a.insn - b.insn);
    return { lineInfo, funcInfo };
  }
}

/** A global function's parameters as the kernel types them, or undefined for a kind it does not take. */
function globalParams(btf: Btf, protoId: number): FuncParam[] | undefined {
  const proto = btf.type(protoId);
  if (proto.kind !== Kind.FUNC_PROTO) return undefined;
  const out: FuncParam[] = [];
  for (const p of proto.params) {
    const t = btf.resolve(p.type);
    if (t.kind === Kind.INT || t.kind === Kind.ENUM || t.kind === Kind.ENUM64) out.push({ kind: 'scalar' });
    else if (t.kind === Kind.PTR) {
      const to = btf.resolve(t.type);
      if (to.kind === Kind.STRUCT || to.kind === Kind.UNION)
        out.push({ kind: 'pointer', size: to.size, struct: to.name });
      else if (to.kind === Kind.INT || to.kind === Kind.ENUM || to.kind === Kind.ENUM64)
        out.push({ kind: 'pointer', size: to.size });
      else return undefined;
    } else return undefined;
  }
  return out;
}

/** The libc memory functions clang calls when it does not inline the builtin (old objects, -O0, big sizes). */
const LIBC_MEM = new Set(['memset', 'memcpy', 'memmove', 'memcmp']);

/**
 * Why a call to a libc memory function cannot load, and what to do: there is no such function in the
 * kernel, and libbpf refuses the object too ("failed to find BTF for extern").
 */
function libcCallMessage(name: string): string {
  return (
    `call to extern function ${name}: BPF programs have no libc ${name} (the kernel and libbpf refuse the ` +
    `call too); rebuild with clang -O2 and a constant size so that clang inlines it (__builtin_${name}), ` +
    'or write the loop'
  );
}
