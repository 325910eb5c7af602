// Read an ELF BPF object (as clang and libbpf produce it) into an ObjectSpec: maps first (legacy `maps`,
// BTF `.maps`, then global data — libbpf's order), then one ProgramSpec per function of each program
// section, linked with the subprograms it calls.

import { applyCoreRelocations, CoreContext, type CoreRelocation } from '../btf/core/relocate.js';
import { type CoreTargetInput, coreTarget } from '../btf/core/target.js';
import { type BtfExt, parseBtfExt } from '../btf/ext.js';
import { type Btf, parseBtf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { FormatError, TsbpfError } from '../errors.js';
import type { MapSlot, ObjectSpec, ProgramSpec } from '../spec/object.js';
import { programTypeForSection } from '../spec/sections.js';
import { SHF_EXECINSTR, SHT_PROGBITS } from './constants.js';
import { defaultExternValues, Externs, type ExternValues } from './externs.js';
import { mapKptrs } from './kptrs.js';
import { CodeIndex } from './link.js';
import { btfMaps, dataMap, isDataSection, isLegacyMapsSection, legacyMaps, type MapDef } from './maps.js';
import { type ElfFile, type ElfSymbol, elfError, parseElf } from './parse.js';
import {
  applyStructOpsTargets,
  isStructOpsSection,
  type StructOpsTargets,
  structOpsMaps,
} from './struct-ops.js';

/** Sum of the linked programs' sizes accepted from one object (4x the kernel's 1M-insn program limit). */
const MAX_TOTAL_SLOTS = 1 << 22;

/** Options of readObject. */
export interface ReadOptions {
  /** File name used in error messages. */
  file?: string;
  /**
   * The BTF CO-RE relocations are resolved against (a kernel's types: parsed, `.BTF` bytes, or a target
   * with module BTFs). Default: the host's — under Node on Linux the running kernel's
   * /sys/kernel/btf/vmlinux — else none, and the relocations stay as compiled (a warning says so).
   */
  btf?: CoreTargetInput;
  /**
   * Link only these programs (function names, or section names): what a loader that loads one program does,
   * so that a sibling that cannot be linked (a call to libc's memset …) does not stop it. Default: all.
   */
  programs?: readonly string[];
  /**
   * Values of the object's `__kconfig` and `__ksym` externs (src/elf/externs.ts). Default: the running
   * kernel's under Node (src/node/externs.ts); elsewhere none, and only `__weak` externs load (as 0).
   */
  externs?: ExternValues;
}

/** Parse an ELF object. Throws FormatError (naming file, section, offset) for malformed input. */
export function readObject(bytes: Uint8Array, options: ReadOptions = {}): ObjectSpec {
  const file = options.file ?? 'ELF';
  try {
    return build(parseElf(bytes, file), options);
  } catch (e) {
    // Anything that escaped the explicit checks is still a malformed file, not a crash.
    if (e instanceof TsbpfError) throw e;
    if (e instanceof RangeError || e instanceof TypeError)
      throw elfError(file, `malformed object (${e.message})`);
    throw e;
  }
}

function build(elf: ElfFile, options: ReadOptions): ObjectSpec {
  const { btf: targetInput, programs: only } = options;
  const section = (name: string) => elf.sectionNamed(name);
  const license = readLicense(elf);
  const btf = readBtf(elf);
  const ext = btf ? readExt(elf, btf) : undefined;

  const slots: MapSlot[] = [];
  const defs: MapDef[] = [];
  for (const s of elf.sections) if (isLegacyMapsSection(s.name)) defs.push(...legacyMaps(elf, s));
  const maps = section('.maps');
  if (maps) defs.push(...btfMaps(elf, maps, btf, slots));
  for (const s of elf.sections) {
    if (!isDataSection(s)) continue;
    const d = dataMap(elf, s, btf);
    if (d) defs.push(d);
  }
  // libbpf creates the .kconfig map after the global data maps.
  const externs = new Externs(elf, btf, options.externs ?? defaultExternValues());
  if (externs.kconfig) defs.push(externs.kconfig.def);
  // ... and the struct_ops maps last; each names the programs of its function-pointer members.
  const structOps: StructOpsTargets = new Map();
  for (const s of elf.sections)
    if (isStructOpsSection(s.name)) defs.push(...structOpsMaps(elf, s, btf, structOps));
  checkUniqueNames(elf, defs);
  // Value fields bpf_kptr_xchg may move pointers through (the verifier reads them; ./kptrs.ts).
  for (const d of defs) {
    const kptrs = btf && d.spec.btfValueTypeId ? mapKptrs(btf, d.spec.btfValueTypeId) : [];
    if (kptrs.length > 0) d.spec.kptrs = kptrs;
  }

  const code = new CodeIndex(elf, defs, btf, ext, externs);
  const poisons = new Map<string, Map<number, string>>();
  const warnings = btf && ext ? relocateCore(elf, code, btf, ext, targetInput, poisons) : [];
  const programs: ProgramSpec[] = [];
  let totalSlots = 0;
  for (const s of elf.sections) {
    if (s.type !== SHT_PROGBITS || !(s.flags & SHF_EXECINSTR) || s.name === '.text' || s.size === 0) continue;
    const inferred = programTypeForSection(s.name);
    for (const fn of code.functionsOf(s)) {
      if (only && !only.includes(fn.name) && !only.includes(s.name)) continue;
      const linked = linkNamed(code, fn);
      // Each program carries its own copy of its subprograms; a hostile call graph must not multiply them.
      totalSlots += linked.insns.length;
      if (totalSlots > MAX_TOTAL_SLOTS) {
        throw elfError(elf.file, `linked programs exceed ${MAX_TOTAL_SLOTS} instructions`, s.name);
      }
      const p: ProgramSpec = {
        name: fn.name,
        section: s.name,
        type: inferred?.type ?? 'unspec',
        insns: linked.insns,
        license,
      };
      if (inferred?.attachTo !== undefined) p.attachTo = inferred.attachTo;
      if (linked.lineInfo.length > 0) p.lineInfo = linked.lineInfo;
      if (ext) p.funcInfo = linked.funcInfo;
      if (poisons.size > 0) notePoisoned(code, p, poisons);
      if (linked.kfuncs.length > 0) p.kfuncs = linked.kfuncs;
      if (linked.ksyms.length > 0) p.ksyms = linked.ksyms;
      programs.push(p);
    }
  }

  applyStructOpsTargets(programs, structOps);
  const spec: ObjectSpec = { programs, maps: defs.map((d) => d.spec), license };
  if (btf) spec.btf = btf;
  if (slots.length > 0) spec.mapSlots = slots;
  if (warnings.length > 0) spec.warnings = warnings;
  const version = section('version');
  if (version && version.size >= 4) {
    spec.kernelVersion = new DataView(version.data.buffer, version.data.byteOffset, 4).getUint32(0, true);
  }
  return spec;
}

/** `code.link(fn)`, its errors naming the program (a section may hold several). */
function linkNamed(code: CodeIndex, fn: Parameters<CodeIndex['link']>[0]): ReturnType<CodeIndex['link']> {
  try {
    return code.link(fn);
  } catch (e) {
    if (e instanceof FormatError)
      throw new FormatError(e.format, `${e.reason} (program ${fn.name})`, e.offset);
    throw e;
  }
}

/**
 * Apply the CO-RE relocations of every code section, in place on the decoded sections before any program
 * is linked (so a subprogram shared by several programs is relocated once, as libbpf relocates each copy
 * alike). Returns the warnings: each poisoned relocation, or the one line saying none were applied for
 * want of a target.
 */
function relocateCore(
  elf: ElfFile,
  code: CodeIndex,
  btf: Btf,
  ext: BtfExt,
  input: CoreTargetInput | undefined,
  poisons: Map<string, Map<number, string>>,
): string[] {
  const sections = [...ext.coreRelos].filter(([, list]) => list.length > 0);
  if (sections.length === 0) return [];
  const target = coreTarget(input);
  if (!target) {
    const n = sections.reduce((sum, [, list]) => sum + list.length, 0);
    return [
      `${n} CO-RE relocation(s) in ${sections.length} section(s) left as compiled: no target BTF (the object's own types are used)`,
    ];
  }
  const ctx = new CoreContext(btf, target);
  const warnings: string[] = [];
  for (const [name, list] of sections) {
    const section = elf.sectionNamed(name);
    if (!section || !(section.flags & SHF_EXECINSTR))
      throw elfError(elf.file, `CO-RE relocations name section ${name}, which holds no code`, '.BTF.ext');
    const relos: CoreRelocation[] = list.map((r) => {
      if (r.insnOff % 8 !== 0)
        throw elfError(elf.file, `a CO-RE relocation at byte ${r.insnOff} is not on an instruction`, name);
      return { insn: r.insnOff / 8, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind };
    });
    for (const o of applyCoreRelocations(code.insnsOf(section), relos, ctx, `${elf.file}: section ${name}`)) {
      if (!o.poisoned) continue;
      if (!poisons.has(name)) poisons.set(name, new Map());
      poisons.get(name)!.set(o.insn, `${o.reason} (${o.what})`);
      warnings.push(
        `section ${name} insn ${o.insn}: ${o.reason} (${o.what}): poisoned, the verifier refuses it if reached`,
      );
    }
  }
  return warnings;
}

/**
 * Record in `p.corePoisoned`, in the program's slots, the poisoned relocations of the functions linked into
 * it (each function's section slots shift by where it was placed: its func_info entry).
 */
function notePoisoned(code: CodeIndex, p: ProgramSpec, poisons: Map<string, Map<number, string>>): void {
  const out: { insn: number; reason: string }[] = [];
  const funcs = p.funcInfo ?? [];
  funcs.forEach((fi, i) => {
    const end = funcs[i + 1]?.insn ?? p.insns.length;
    for (const [name, slots] of poisons) {
      const section = code.elf.sectionNamed(name)!;
      const f = code.functionsOf(section).find((x) => x.name === fi.name);
      if (!f) continue;
      for (const [slot, reason] of slots) {
        const at = fi.insn + slot - f.start;
        if (slot >= f.start && slot < f.end && at < end) out.push({ insn: at, reason });
      }
    }
  });
  if (out.length > 0) p.corePoisoned = out.sort((a, b) => a.insn - b.insn);
}

function readLicense(elf: ElfFile): string {
  const s = elf.sectionNamed('license');
  if (!s || s.size === 0) return '';
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s.data : s.data.subarray(0, end));
}

function readBtf(elf: ElfFile): Btf | undefined {
  const s = elf.sectionNamed('.BTF');
  if (!s) return undefined;
  const btf = parseBtf(s.data, `${elf.file}: section .BTF`);
  fixupDatasecs(elf, btf);
  return btf;
}

/**
 * clang leaves DATASEC sizes and variable offsets at 0 (they are link-time values); fill them from the
 * ELF section sizes and symbol values, as libbpf does before using them.
 */
function fixupDatasecs(elf: ElfFile, btf: Btf): void {
  const bySection = new Map<number, Map<string, ElfSymbol>>();
  for (const t of btf.types) {
    if (t.kind !== Kind.DATASEC) continue;
    const sec = elf.sectionNamed(t.name);
    if (!sec) continue;
    t.size = sec.size;
    let names = bySection.get(sec.index);
    if (!names) {
      names = new Map();
      for (const s of elf.symbolsIn(sec.index)) if (!names.has(s.name)) names.set(s.name, s);
      bySection.set(sec.index, names);
    }
    for (const v of t.vars) {
      const varType = btf.types[v.type];
      if (!varType || varType.kind !== Kind.VAR) continue;
      const sym = names.get(varType.name);
      if (sym) v.offset = sym.value;
    }
  }
}

function readExt(elf: ElfFile, btf: Btf): BtfExt | undefined {
  const s = elf.sectionNamed('.BTF.ext');
  return s ? parseBtfExt(s.data, btf, `${elf.file}: section .BTF.ext`) : undefined;
}

function checkUniqueNames(elf: ElfFile, defs: MapDef[]): void {
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.spec.name)) throw elfError(elf.file, `two maps are named ${d.spec.name}`);
    seen.add(d.spec.name);
  }
}
