// Write an ObjectSpec as an ELF object that libbpf 1.x (bpftool 7) loads: each program's main function in
// its section with a global symbol, subprograms in `.text`, maps as BTF-defined maps in `.maps` (libbpf 1.x
// no longer reads legacy `maps` sections), global data maps as `.data`/`.rodata`/`.bss` sections, and
// relocations for every map, data, call and function-address reference.

import { BtfBuilder, type BuilderMember } from '../btf/builder.js';
import { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
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

const isDataMap = (m: MapSpec): boolean =>
  /^\.(data|rodata|bss)(\..+)?$/.test(m.name) && m.type === MapType.ARRAY && m.maxEntries === 1;

/** A function of a program: its slot range in `ProgramSpec.insns`. */
interface Piece {
  start: number;
  end: number;
  /** Where it goes: section index (1-based) and slot offset there. */
  section: number;
  base: number;
}

export function writeObject(spec: ObjectSpec): Uint8Array {
  const sections: OutSection[] = [];
  const symbols: OutSymbol[] = [];
  const relocs = new Map<number, OutReloc[]>();
  const addSection = (s: OutSection): number => sections.push(s); // 1-based index after the null section
  const sectionSymbol = new Map<number, number>();
  const secSym = (index: number): number => {
    let sym = sectionSymbol.get(index);
    if (sym === undefined) {
      sym =
        symbols.push({ name: '', value: 0, size: 0, bind: STB_LOCAL, type: STT_SECTION, shndx: index }) - 1;
      sectionSymbol.set(index, sym);
    }
    return sym;
  };

  // Code: group programs by section; subprograms of every program go to .text.
  const codeBySection = new Map<string, Insn[]>();
  const textIndex = spec.programs.some((p) => functionStarts(p).length > 0)
    ? addSection({
        name: '.text',
        type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        data: new Uint8Array(0),
        align: 8,
      })
    : 0;
  if (textIndex) codeBySection.set('.text', []);
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
      idx = addSection({
        name,
        type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        data: new Uint8Array(0),
        align: 8,
      });
      sectionIndex.set(name, idx);
      codeBySection.set(name, []);
    }
    const starts = functionStarts(prog);
    const bounds = [0, ...starts, prog.insns.length];
    checkFunctions(prog, bounds);
    const pieces: Piece[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const [start, end] = [bounds[k]!, bounds[k + 1]!];
      const secName = k === 0 ? name : '.text';
      const code = codeBySection.get(secName)!;
      pieces.push({ start, end, section: sectionIndex.get(secName)!, base: code.length });
      // Symbols of subprograms are prefixed so two programs' copies never clash; BTF keeps the real name.
      const sub = prog.funcInfo?.find((f) => f.insn === start)?.name ?? `sub${start}`;
      const fname = k === 0 ? prog.name : `${prog.name}__${sub}`;
      funcs.push({ section: secName, name: k === 0 ? prog.name : sub, slot: code.length, prog, start, end });
      if (k === 0) progSymbol.set(prog.name, symbols.length);
      symbols.push({
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

  // Maps: data maps become sections; every other map is a BTF-defined map in .maps.
  const mapSymbol = new Map<number, number>();
  const mapSymbolByName = (name: string | undefined) =>
    mapSymbol.get(spec.maps.findIndex((m) => m.name === name));
  const dataSection = new Map<number, number>();
  const btfMaps = spec.maps.map((m, i) => ({ m, i })).filter(({ m }) => !isDataMap(m));
  spec.maps.forEach((m, i) => {
    if (!isDataMap(m)) return;
    const value = m.contents?.[0]?.value ?? new Uint8Array(m.valueSize);
    const zero = value.every((b) => b === 0);
    const bss = m.name.startsWith('.bss') && zero;
    const idx = addSection({
      name: m.name,
      type: bss ? SHT_NOBITS : SHT_PROGBITS,
      flags: SHF_ALLOC | (m.name.startsWith('.rodata') ? 0 : SHF_WRITE),
      data: bss ? new Uint8Array(0) : padTo(value, m.valueSize),
      size: m.valueSize,
      align: 8,
    });
    dataSection.set(i, idx);
  });
  // BTF is always written: the kernel needs func_info for programs with callbacks (bpf_loop).
  const btf = new BtfBuilder();
  const srcBtf = spec.btf instanceof Btf ? spec.btf : undefined;
  for (const [i, idx] of dataSection) dataSectionBtf(btf, srcBtf, spec.maps[i]!, idx, symbols);
  if (btfMaps.length > 0) {
    const mapsIdx = addSection({
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
      mapSymbol.set(
        i,
        symbols.push({
          name: m.name,
          value: offset,
          size,
          bind: STB_GLOBAL,
          type: STT_OBJECT,
          shndx: mapsIdx,
        }) - 1,
      );
      offset += size;
    }
    sections[mapsIdx - 1]!.data = new Uint8Array(offset);
    btf.datasec('.maps', offset, vars);
    relocs.set(
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
  }

  // Relocate code now that every target has a symbol.
  for (const { prog, pieces } of placed) {
    for (const piece of pieces) {
      const code = codeBySection.get(sections[piece.section - 1]!.name)!;
      for (let i = piece.start; i < piece.end; i++) {
        const ins = code[piece.base + i - piece.start]!;
        const off = (piece.base + i - piece.start) * 8;
        const rel = (type: number, symbol: number) => {
          const list = relocs.get(piece.section) ?? [];
          list.push({ offset: off, type, symbol });
          relocs.set(piece.section, list);
        };
        const where = `program ${prog.name}: insn ${i}`;
        if (ins.code === LDDW) {
          const hi = code[piece.base + i - piece.start + 1]!;
          if (ins.src === PseudoLddw.MAP_FD || ins.src === PseudoLddw.MAP_VALUE) {
            const map = spec.maps[ins.imm];
            if (!map)
              throw new TsbpfError(`map index ${ins.imm} is out of range (${spec.maps.length} maps)`, where);
            const dataIdx = dataSection.get(ins.imm);
            if (dataIdx !== undefined) {
              if (ins.src !== PseudoLddw.MAP_VALUE)
                throw new TsbpfError(`${map.name} can only be referenced by value`, where);
              ins.imm = hi.imm;
              rel(Reloc.R_BPF_64_64, secSym(dataIdx));
            } else {
              if (ins.src === PseudoLddw.MAP_VALUE) {
                throw new TsbpfError(
                  `direct value access to map ${map.name} cannot be written to ELF`,
                  where,
                );
              }
              rel(Reloc.R_BPF_64_64, mapSymbol.get(ins.imm)!);
              ins.imm = 0;
            }
            ins.src = 0;
            hi.imm = 0;
          } else if (ins.src === PseudoLddw.FUNC) {
            const t = locate(pieces, i + ins.imm + 1, where);
            ins.src = 0;
            ins.imm = t.byteOffset;
            rel(Reloc.R_BPF_64_64, secSym(t.section));
          } else if (ins.src !== PseudoLddw.IMM64) {
            throw new TsbpfError(`lddw with src ${ins.src} cannot be written to ELF`, where);
          }
          i++;
        } else if (isLocalCall(ins)) {
          const t = locate(pieces, i + ins.imm + 1, where);
          if (t.section !== textIndex)
            throw new TsbpfError('a call into the main function cannot be written', where);
          // Section-symbol calls: target slot = imm + 1.
          ins.imm = t.byteOffset / 8 - 1;
          rel(Reloc.R_BPF_64_32, secSym(t.section));
        }
      }
    }
  }
  for (const [name, code] of codeBySection) {
    const idx = sectionIndex.get(name)!;
    if (idx) sections[idx - 1]!.data = encode(code);
  }

  const license = new TextEncoder().encode(`${spec.license || spec.programs[0]?.license || ''}\0`);
  const licIdx = addSection({
    name: 'license',
    type: SHT_PROGBITS,
    flags: SHF_ALLOC | SHF_WRITE,
    data: license,
    align: 1,
  });
  symbols.push({
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
    const vIdx = addSection({
      name: 'version',
      type: SHT_PROGBITS,
      flags: SHF_ALLOC | SHF_WRITE,
      data: v,
      align: 4,
    });
    symbols.push({ name: '_version', value: 0, size: 4, bind: STB_GLOBAL, type: STT_OBJECT, shndx: vIdx });
  }
  const ext = encodeExt(btf, funcs);
  addSection({ name: '.BTF', type: SHT_PROGBITS, flags: 0, data: btf.encode(), align: 4 });
  addSection({ name: '.BTF.ext', type: SHT_PROGBITS, flags: 0, data: ext, align: 4 });
  return emitElf(sections, symbols, relocs);
}

interface FuncRecord {
  section: string;
  name: string;
  /** Slot offset in its ELF section. */
  slot: number;
  prog: ProgramSpec;
  start: number;
  end: number;
}

/**
 * `.BTF.ext` with func_info for every function (a static `int f(void)` FUNC each: the kernel only needs the
 * records to find subprogram boundaries) and line_info when the program's lines cover each function start
 * (the kernel rejects line info that misses one).
 */
function encodeExt(btf: BtfBuilder, funcs: FuncRecord[]): Uint8Array {
  const proto = btf.funcProto(btf.plainInt(), []);
  const funcBlocks = new Map<string, number[]>();
  const lineBlocks = new Map<string, number[]>();
  for (const f of funcs) {
    const fi = funcBlocks.get(f.section) ?? [];
    fi.push(f.slot * 8, btf.func(f.name, proto, 0));
    funcBlocks.set(f.section, fi);
    const lines = f.prog.lineInfo ?? [];
    const covered = (x: number) => lines.some((l) => l.insn === x);
    const starts = funcs.filter((g) => g.prog === f.prog).map((g) => g.start);
    if (!starts.every(covered)) continue;
    const li = lineBlocks.get(f.section) ?? [];
    for (const l of lines) {
      if (l.insn < f.start || l.insn >= f.end) continue;
      const lineCol = (Math.min(l.line, 0x3fffff) << 10) | Math.min(l.column, 0x3ff);
      li.push((f.slot + l.insn - f.start) * 8, btf.str(l.file), btf.str(l.source), lineCol);
    }
    lineBlocks.set(f.section, li);
  }
  const block = (recWords: number, blocks: Map<string, number[]>): number[] => {
    const words = [recWords * 4];
    for (const [sec, recs] of blocks) {
      if (recs.length === 0) continue;
      // Records of one section must be sorted by instruction offset.
      const rows: number[][] = [];
      for (let i = 0; i < recs.length; i += recWords) rows.push(recs.slice(i, i + recWords));
      rows.sort((a, b) => a[0]! - b[0]!);
      words.push(btf.str(sec), rows.length, ...rows.flat());
    }
    return words.length > 1 ? words : [];
  };
  const fw = block(2, funcBlocks);
  const lw = block(4, lineBlocks);
  const out = new Uint8Array(32 + (fw.length + lw.length) * 4);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  v.setUint32(4, 32, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, fw.length * 4, true);
  v.setUint32(16, fw.length * 4, true);
  v.setUint32(20, lw.length * 4, true);
  [...fw, ...lw].forEach((w, i) => {
    v.setUint32(32 + i * 4, w >>> 0, true);
  });
  return out;
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

/**
 * A global data section's DATASEC, copied from the object's BTF, with a global symbol per variable: libbpf
 * places each variable by looking its symbol up by name.
 */
function dataSectionBtf(
  btf: BtfBuilder,
  src: Btf | undefined,
  m: MapSpec,
  section: number,
  symbols: OutSymbol[],
): void {
  if (!src || !m.btfValueTypeId) return;
  const t = src.type(m.btfValueTypeId);
  if (t.kind !== Kind.DATASEC || t.name !== m.name || t.size !== m.valueSize) return;
  if (t.vars.some((x) => x.offset + x.size > m.valueSize || src.type(x.type).kind !== Kind.VAR)) return;
  btf.copy(src, t.id);
  for (const x of t.vars) {
    const name = src.type(x.type).name;
    symbols.push({ name, value: x.offset, size: x.size, bind: STB_GLOBAL, type: STT_OBJECT, shndx: section });
  }
}

/** The BTF struct of a map definition: `__uint` members, then `values` (libbpf wants it last). */
function mapStruct(
  btf: BtfBuilder,
  m: MapSpec,
  src: Btf | undefined,
  progValues = false,
): { type: number; size: number } {
  const members: BuilderMember[] = [];
  const field = (name: string, n: number) =>
    members.push({ name, type: btf.uintField(n), bitOffset: members.length * 64 });
  // Key and value types from the object's BTF when they still match the sizes (the user may have edited them).
  const typed = (id: number | undefined, size: number) => {
    if (!src || !id || size === 0) return undefined;
    try {
      return src.sizeof(id) === size ? btf.copy(src, id) : undefined;
    } catch {
      return undefined;
    }
  };
  field('type', m.type);
  const keyType = typed(m.btfKeyTypeId, m.keySize);
  const valueType = m.innerMap ? undefined : typed(m.btfValueTypeId, m.valueSize);
  if (keyType) members.push({ name: 'key', type: btf.ptr(keyType), bitOffset: members.length * 64 });
  else if (m.keySize) field('key_size', m.keySize);
  if (valueType) members.push({ name: 'value', type: btf.ptr(valueType), bitOffset: members.length * 64 });
  else if (m.valueSize && !m.innerMap) field('value_size', m.valueSize);
  field('max_entries', m.maxEntries);
  if (m.flags) field('map_flags', m.flags);
  if (m.pinning) field('pinning', m.pinning);
  if (m.numaNode !== undefined) field('numa_node', m.numaNode);
  if (m.mapExtra !== undefined && m.mapExtra <= 0xffffffffn) field('map_extra', Number(m.mapExtra));
  const size = members.length * 8;
  if (m.innerMap) {
    // `values` of a map definition means 4-byte values (inner map ids): any other size cannot be written
    // (a legacy definition may say 0; the kernel refuses such a map with EINVAL).
    if (m.valueSize !== 4) {
      throw new TsbpfError(
        `a map of maps has 4-byte values (inner map ids), not ${m.valueSize}: cannot write it`,
        `map ${m.name}`,
      );
    }
    // A flexible array: it adds nothing to the struct's size.
    const inner = mapStruct(btf, m.innerMap, src);
    members.push({ name: 'values', type: btf.array(btf.ptr(inner.type), 0), bitOffset: size * 8 });
  } else if (progValues) {
    const proto = btf.funcProto(btf.plainInt(), [{ name: '', type: btf.ptr(0) }]);
    members.push({ name: 'values', type: btf.array(btf.ptr(proto), 0), bitOffset: size * 8 });
  }
  return { type: btf.struct('', size, members), size };
}
