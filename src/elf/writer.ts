// Write an ObjectSpec as an ELF object that libbpf 1.x (bpftool 7) loads: each program's main function in
// its section with a global symbol, subprograms in `.text`, maps as BTF-defined maps in `.maps` (libbpf 1.x
// no longer reads legacy `maps` sections), global data maps as `.data`/`.rodata`/`.bss` sections, and
// relocations for every map, data, call and function-address reference.
//
// writeObject in phases: lay out the code (sections and function symbols), the data sections, the `.maps`
// section (map symbols and their BTF), relocate the code now that every target has a symbol, then license,
// version and BTF (writer-btf.ts), and emitElf (emit.ts) turns the lists into bytes. Section, symbol and
// BTF type order follow from the order of these steps.

import { BtfBuilder } from '../btf/builder.js';
import { Btf } from '../btf/parse.js';
import { TsbpfError } from '../errors.js';
import { Class, encode, type Insn, isBranch, isLocalCall, JmpOp, jumpTarget } from '../isa/index.js';
import { LDDW, PseudoLddw } from '../isa/opcodes.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { sectionForProgramType } from '../spec/sections.js';
import {
  Reloc,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
} from './constants.js';
import { emitElf, type OutReloc, type OutSection, type OutSymbol } from './emit.js';
import { dataSectionBtf, encodeExt, type FuncRecord, mapStruct } from './writer-btf.js';

const isDataMap = (m: MapSpec): boolean =>
  /^\.(data|rodata|bss)(\..+)?$/.test(m.name) && m.type === MapType.ARRAY && m.maxEntries === 1;

/** The ELF bytes of an object spec; what ELF cannot express is a TsbpfError naming the program or map. */
export function writeObject(spec: ObjectSpec): Uint8Array {
  const out = new ObjectOut();
  const code = layOutCode(out, spec);
  const dataSections = addDataSections(out, spec);
  // BTF is always written: the kernel needs func_info for programs with callbacks (bpf_loop).
  const btf = new BtfBuilder();
  const srcBtf = spec.btf instanceof Btf ? spec.btf : undefined;
  for (const [i, idx] of dataSections) dataSectionBtf(btf, srcBtf, spec.maps[i]!, idx, out.symbols);
  const mapSymbols = addMapsSection(out, spec, btf, srcBtf, code.progSymbol);
  relocateCode(out, spec, code, dataSections, mapSymbols);
  addLicenseAndVersion(out, spec);
  addBtfSections(out, btf, code.funcs);
  return emitElf(out.sections, out.symbols, out.relocs);
}

/** The object being written: what emitElf takes, filled in by the phases of writeObject. */
class ObjectOut {
  readonly sections: OutSection[] = [];
  readonly symbols: OutSymbol[] = [];
  /** Relocations by target section index (one `.rel` section each, in insertion order). */
  readonly relocs = new Map<number, OutReloc[]>();
  private readonly sectionSymbols = new Map<number, number>();

  /** Add a section; returns its 1-based index (after the null section). */
  addSection(s: OutSection): number {
    return this.sections.push(s);
  }

  /** Add a symbol; returns its index. */
  addSymbol(s: OutSymbol): number {
    return this.symbols.push(s) - 1;
  }

  /** The STT_SECTION symbol of a section, added on first use. */
  sectionSymbol(index: number): number {
    let sym = this.sectionSymbols.get(index);
    if (sym === undefined) {
      sym = this.addSymbol({ name: '', value: 0, size: 0, bind: STB_LOCAL, type: STT_SECTION, shndx: index });
      this.sectionSymbols.set(index, sym);
    }
    return sym;
  }

  addReloc(section: number, r: OutReloc): void {
    const list = this.relocs.get(section) ?? [];
    list.push(r);
    this.relocs.set(section, list);
  }
}

/** A function of a program: its slot range in `ProgramSpec.insns`. */
interface Piece {
  start: number;
  end: number;
  /** Where it goes: section index (1-based) and slot offset there. */
  section: number;
  base: number;
}

/** Where layOutCode put the code. */
interface CodeLayout {
  /** Index of `.text` (subprograms of every program), 0 when there is none. */
  readonly textIndex: number;
  /** Each code section's instructions by name (copies, relocated in place), in section order. */
  readonly bySection: Map<string, Insn[]>;
  readonly sectionIndex: Map<string, number>;
  /** Each program with the places of its functions. */
  readonly placed: { prog: ProgramSpec; pieces: Piece[] }[];
  /** Every function, for `.BTF.ext`. */
  readonly funcs: FuncRecord[];
  /** Symbol index of each program's main function, by program name. */
  readonly progSymbol: Map<string, number>;
}

/** Code: programs grouped by section, subprograms of every program in .text, a symbol per function. */
function layOutCode(out: ObjectOut, spec: ObjectSpec): CodeLayout {
  const bySection = new Map<string, Insn[]>();
  const textIndex = spec.programs.some((p) => functionStarts(p).length > 0)
    ? out.addSection({
        name: '.text',
        type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        data: new Uint8Array(0),
        align: 8,
      })
    : 0;
  if (textIndex) bySection.set('.text', []);
  const sectionIndex = new Map<string, number>([['.text', textIndex]]);
  const placed: { prog: ProgramSpec; pieces: Piece[] }[] = [];
  const funcs: FuncRecord[] = [];
  const progSymbol = new Map<string, number>();
  for (const prog of spec.programs) {
    const name = prog.section || sectionForProgramType(prog.type, prog.attachTo);
    if (!name)
      throw new TsbpfError(`no ELF section name expresses program type ${prog.type}`, `program ${prog.name}`);
    if (name === '.text') throw new TsbpfError('a program cannot live in .text', `program ${prog.name}`);
    let idx = sectionIndex.get(name);
    if (idx === undefined) {
      idx = out.addSection({
        name,
        type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        data: new Uint8Array(0),
        align: 8,
      });
      sectionIndex.set(name, idx);
      bySection.set(name, []);
    }
    const starts = functionStarts(prog);
    const bounds = [0, ...starts, prog.insns.length];
    checkFunctions(prog, bounds);
    const pieces: Piece[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const [start, end] = [bounds[k]!, bounds[k + 1]!];
      const secName = k === 0 ? name : '.text';
      const code = bySection.get(secName)!;
      pieces.push({ start, end, section: sectionIndex.get(secName)!, base: code.length });
      // Symbols of subprograms are prefixed so two programs' copies never clash; BTF keeps the real name.
      const sub = prog.funcInfo?.find((f) => f.insn === start)?.name ?? `sub${start}`;
      const fname = k === 0 ? prog.name : `${prog.name}__${sub}`;
      funcs.push({ section: secName, name: k === 0 ? prog.name : sub, slot: code.length, prog, start, end });
      if (k === 0) progSymbol.set(prog.name, out.symbols.length);
      out.addSymbol({
        name: fname,
        value: code.length * 8,
        size: (end - start) * 8,
        bind: k === 0 ? STB_GLOBAL : STB_LOCAL,
        type: STT_FUNC,
        shndx: sectionIndex.get(secName)!,
      });
      for (let i = start; i < end; i++) code.push({ ...prog.insns[i]! });
    }
    placed.push({ prog, pieces });
  }
  return { textIndex, bySection, sectionIndex, placed, funcs, progSymbol };
}

/** Data maps (.data/.rodata/.bss) become sections of their own; returns their section index by map index. */
function addDataSections(out: ObjectOut, spec: ObjectSpec): Map<number, number> {
  const dataSections = new Map<number, number>();
  spec.maps.forEach((m, i) => {
    if (!isDataMap(m)) return;
    const value = m.contents?.[0]?.value ?? new Uint8Array(m.valueSize);
    const zero = value.every((b) => b === 0);
    const bss = m.name.startsWith('.bss') && zero;
    const idx = out.addSection({
      name: m.name,
      type: bss ? SHT_NOBITS : SHT_PROGBITS,
      flags: SHF_ALLOC | (m.name.startsWith('.rodata') ? 0 : SHF_WRITE),
      data: bss ? new Uint8Array(0) : padTo(value, m.valueSize),
      size: m.valueSize,
      align: 8,
    });
    dataSections.set(i, idx);
  });
  return dataSections;
}

/**
 * Every other map is a BTF-defined map in `.maps`: a variable of its definition struct, a global symbol,
 * and a relocation per initial `values` slot (a program or an inner map). Returns the symbols by map index.
 */
function addMapsSection(
  out: ObjectOut,
  spec: ObjectSpec,
  btf: BtfBuilder,
  srcBtf: Btf | undefined,
  progSymbol: ReadonlyMap<string, number>,
): Map<number, number> {
  const mapSymbols = new Map<number, number>();
  const btfMaps = spec.maps.map((m, i) => ({ m, i })).filter(({ m }) => !isDataMap(m));
  if (btfMaps.length === 0) return mapSymbols;
  const mapsIdx = out.addSection({
    name: '.maps',
    type: SHT_PROGBITS,
    flags: SHF_ALLOC | SHF_WRITE,
    data: new Uint8Array(0),
    align: 8,
  });
  const vars: { type: number; offset: number; size: number }[] = [];
  let offset = 0;
  const slotRelocs: { offset: number; program?: string; innerMap?: string }[] = [];
  for (const { m, i } of btfMaps) {
    const slots = spec.mapSlots?.filter((x) => x.map === m.name) ?? [];
    const { type, size: structSize } = mapStruct(
      btf,
      m,
      srcBtf,
      slots.length > 0 && m.type === MapType.PROG_ARRAY,
    );
    // Initialized `values` extend the variable past the struct: one pointer per slot up to the last.
    const size = structSize + (slots.length > 0 ? 8 * (Math.max(...slots.map((x) => x.key)) + 1) : 0);
    for (const x of slots) slotRelocs.push({ offset: offset + structSize + 8 * x.key, ...x });
    const varId = btf.variable(m.name, type);
    vars.push({ type: varId, offset, size });
    mapSymbols.set(
      i,
      out.addSymbol({
        name: m.name,
        value: offset,
        size,
        bind: STB_GLOBAL,
        type: STT_OBJECT,
        shndx: mapsIdx,
      }),
    );
    offset += size;
  }
  out.sections[mapsIdx - 1]!.data = new Uint8Array(offset);
  btf.datasec('.maps', offset, vars);
  const mapSymbolByName = (name: string | undefined) =>
    mapSymbols.get(spec.maps.findIndex((m) => m.name === name));
  out.relocs.set(
    mapsIdx,
    slotRelocs.map((x) => {
      const sym = x.program !== undefined ? progSymbol.get(x.program) : mapSymbolByName(x.innerMap);
      if (sym === undefined) {
        throw new TsbpfError(
          `initial slot names ${x.program ?? x.innerMap}, which is not in the object`,
          'mapSlots',
        );
      }
      return { offset: x.offset, type: Reloc.R_BPF_64_ABS64, symbol: sym };
    }),
  );
  return mapSymbols;
}

/**
 * Relocate the code now that every target has a symbol: map references against the map's symbol, data
 * references against the data section's, calls and function addresses against `.text`'s; then encode each
 * code section.
 */
function relocateCode(
  out: ObjectOut,
  spec: ObjectSpec,
  layout: CodeLayout,
  dataSections: ReadonlyMap<number, number>,
  mapSymbols: ReadonlyMap<number, number>,
): void {
  for (const { prog, pieces } of layout.placed) {
    for (const piece of pieces) {
      const code = layout.bySection.get(out.sections[piece.section - 1]!.name)!;
      for (let i = piece.start; i < piece.end; i++) {
        const ins = code[piece.base + i - piece.start]!;
        const off = (piece.base + i - piece.start) * 8;
        const rel = (type: number, symbol: number) =>
          out.addReloc(piece.section, { offset: off, type, symbol });
        const where = `program ${prog.name}: insn ${i}`;
        if (ins.code === LDDW) {
          const hi = code[piece.base + i - piece.start + 1]!;
          if (ins.src === PseudoLddw.MAP_FD || ins.src === PseudoLddw.MAP_VALUE) {
            const map = spec.maps[ins.imm];
            if (!map)
              throw new TsbpfError(`map index ${ins.imm} is out of range (${spec.maps.length} maps)`, where);
            const dataIdx = dataSections.get(ins.imm);
            if (dataIdx !== undefined) {
              if (ins.src !== PseudoLddw.MAP_VALUE)
                throw new TsbpfError(`${map.name} can only be referenced by value`, where);
              ins.imm = hi.imm;
              rel(Reloc.R_BPF_64_64, out.sectionSymbol(dataIdx));
            } else {
              if (ins.src === PseudoLddw.MAP_VALUE) {
                throw new TsbpfError(
                  `direct value access to map ${map.name} cannot be written to ELF`,
                  where,
                );
              }
              rel(Reloc.R_BPF_64_64, mapSymbols.get(ins.imm)!);
              ins.imm = 0;
            }
            ins.src = 0;
            hi.imm = 0;
          } else if (ins.src === PseudoLddw.FUNC) {
            const t = locate(pieces, i + ins.imm + 1, where);
            ins.src = 0;
            ins.imm = t.byteOffset;
            rel(Reloc.R_BPF_64_64, out.sectionSymbol(t.section));
          } else if (ins.src !== PseudoLddw.IMM64) {
            throw new TsbpfError(`lddw with src ${ins.src} cannot be written to ELF`, where);
          }
          i++;
        } else if (isLocalCall(ins)) {
          const t = locate(pieces, i + ins.imm + 1, where);
          if (t.section !== layout.textIndex)
            throw new TsbpfError('a call into the main function cannot be written', where);
          // Section-symbol calls: target slot = imm + 1.
          ins.imm = t.byteOffset / 8 - 1;
          rel(Reloc.R_BPF_64_32, out.sectionSymbol(t.section));
        }
      }
    }
  }
  for (const [name, code] of layout.bySection) {
    const idx = layout.sectionIndex.get(name)!;
    if (idx) out.sections[idx - 1]!.data = encode(code);
  }
}

/** The `license` section (and `_license` symbol), and `version` when the spec names a kernel version. */
function addLicenseAndVersion(out: ObjectOut, spec: ObjectSpec): void {
  const license = new TextEncoder().encode(`${spec.license || spec.programs[0]?.license || ''}\0`);
  const licIdx = out.addSection({
    name: 'license',
    type: SHT_PROGBITS,
    flags: SHF_ALLOC | SHF_WRITE,
    data: license,
    align: 1,
  });
  out.addSymbol({
    name: '_license',
    value: 0,
    size: license.length,
    bind: STB_GLOBAL,
    type: STT_OBJECT,
    shndx: licIdx,
  });
  if (spec.kernelVersion !== undefined) {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, spec.kernelVersion, true);
    const vIdx = out.addSection({
      name: 'version',
      type: SHT_PROGBITS,
      flags: SHF_ALLOC | SHF_WRITE,
      data: v,
      align: 4,
    });
    out.addSymbol({ name: '_version', value: 0, size: 4, bind: STB_GLOBAL, type: STT_OBJECT, shndx: vIdx });
  }
}

/** `.BTF` (every type the phases before added) and `.BTF.ext` (func_info and line_info, writer-btf.ts). */
function addBtfSections(out: ObjectOut, btf: BtfBuilder, funcs: FuncRecord[]): void {
  const ext = encodeExt(btf, funcs);
  out.addSection({ name: '.BTF', type: SHT_PROGBITS, flags: 0, data: btf.encode(), align: 4 });
  out.addSection({ name: '.BTF.ext', type: SHT_PROGBITS, flags: 0, data: ext, align: 4 });
}

/** Slots where subprograms start: funcInfo entries and targets of local calls and function pointers. */
function functionStarts(prog: ProgramSpec): number[] {
  const starts = new Set<number>();
  for (const f of prog.funcInfo ?? []) if (f.insn > 0) starts.add(f.insn);
  prog.insns.forEach((ins, i) => {
    if (i > 0 && prog.insns[i - 1]!.code === LDDW) return;
    if (isLocalCall(ins) || (ins.code === LDDW && ins.src === PseudoLddw.FUNC)) {
      const t = i + ins.imm + 1;
      if (t <= 0 || t >= prog.insns.length) {
        throw new TsbpfError(`call target ${t} is outside the program`, `program ${prog.name}: insn ${i}`);
      }
      starts.add(t);
    }
  });
  return [...starts].sort((a, b) => a - b);
}

/**
 * Functions are written as separate symbols (subprograms in .text), so each must stand alone: no jump
 * may leave its function, and none may run off its end into the next one (the kernel refuses both too).
 * Written otherwise, the program would read back as different code.
 */
function checkFunctions(prog: ProgramSpec, bounds: readonly number[]): void {
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [start, end] = [bounds[k]!, bounds[k + 1]!];
    const where = (i: number) => `program ${prog.name}: insn ${i}`;
    for (let i = start; i < end; i++) {
      const ins = prog.insns[i]!;
      if (i > start && prog.insns[i - 1]!.code === LDDW) continue;
      if (!isBranch(ins)) continue;
      const t = jumpTarget(ins, i);
      if (t < start || t >= end) {
        throw new TsbpfError(
          `jump to ${t} leaves its function (insns ${start}..${end - 1}): cannot write it`,
          where(i),
        );
      }
    }
    const last = prog.insns[end - 1]!;
    const ends =
      last.code === (Class.JMP | JmpOp.EXIT) || (isBranch(last) && (last.code & 0xf0) === JmpOp.JA);
    if (k + 2 < bounds.length && !ends) {
      throw new TsbpfError(
        `runs on into the function at ${end} (no exit or ja before it): cannot write it`,
        where(end - 1),
      );
    }
  }
}

function locate(pieces: Piece[], slot: number, where: string): { section: number; byteOffset: number } {
  const p = pieces.find((x) => slot >= x.start && slot < x.end);
  if (!p) throw new TsbpfError(`target ${slot} is outside the program`, where);
  return { section: p.section, byteOffset: (p.base + slot - p.start) * 8 };
}

function padTo(value: Uint8Array, size: number): Uint8Array {
  if (value.length === size) return value;
  const out = new Uint8Array(size);
  out.set(value.subarray(0, size));
  return out;
}
