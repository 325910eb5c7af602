// Low-level ELF64 little-endian parsing: header, section headers, symbols, relocations. Every offset and
// count is checked against the file before it is used, so a hostile file gives a FormatError, never an
// out-of-bounds read or an allocation larger than the file itself.

import { decodeText } from '../btf/parse.js';
import { FormatError } from '../errors.js';
import { EM_BPF, SHN_UNDEF, SHT_NOBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB } from './constants.js';

export interface Section {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  /** The section's bytes (empty for NOBITS: .bss has no bytes in the file). */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** Section index (SHN_UNDEF = 0 for externs). */
  shndx: number;
  /** STV_* (st_other & 3): 2 hidden, 1 internal. */
  visibility?: number;
}

export interface Relocation {
  /** Byte offset in the target section. */
  offset: number;
  type: number;
  symbol: ElfSymbol;
}

export interface ElfFile {
  /** Name used in error messages (file name or `ELF`). */
  file: string;
  sections: Section[];
  symbols: ElfSymbol[];
  /** Relocations by the index of the section they apply to. */
  relocations: Map<number, Relocation[]>;
  /** Symbols by the index of their section (indexed once, so hostile files cannot make lookups quadratic). */
  symbolsIn(section: number): readonly ElfSymbol[];
  /** The first section with this name. */
  sectionNamed(name: string): Section | undefined;
}

const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
/** Anything larger than this many sections is hostile; clang emits a few dozen. */
const MAX_SECTIONS = 65_535;

/** A FormatError that names the file and, when given, the section. */
export function elfError(file: string, reason: string, section?: string, offset?: number): FormatError {
  return new FormatError(section === undefined ? file : `${file}: section ${section}`, reason, offset);
}

/** NUL-terminated string at `off` inside `table`, bounded by the table. */
export function cString(table: Uint8Array, off: number, what: () => FormatError): string {
  if (off < 0 || off >= table.length) {
    if (off === 0 && table.length === 0) return '';
    throw what();
  }
  let end = off;
  while (end < table.length && table[end] !== 0) end++;
  if (end === table.length) throw what();
  return decodeText(table, off, end);
}

export function parseElf(bytes: Uint8Array, file = 'ELF'): ElfFile {
  const fail = (reason: string, offset?: number) => elfError(file, reason, undefined, offset);
  if (bytes.length < 64) throw fail(`file of ${bytes.length} bytes is too short for an ELF header`, 0);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw fail('not an ELF file (bad magic)', 0);
  }
  if (bytes[4] !== 2) throw fail('not a 64-bit ELF file (EI_CLASS must be ELFCLASS64)', 4);
  if (bytes[5] !== 1) throw fail('not a little-endian ELF file (big-endian BPF objects are unsupported)', 5);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = view.getUint16(18, true);
  if (machine !== EM_BPF && machine !== 0) throw fail(`e_machine ${machine} is not BPF (${EM_BPF})`, 18);

  const shoff = u64(view, 40, fail);
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);
  if (shoff === 0) throw fail('no section header table', 40);
  if (shentsize !== SHDR_SIZE) throw fail(`e_shentsize ${shentsize} is not ${SHDR_SIZE}`, 58);
  if (shoff + SHDR_SIZE > bytes.length)
    throw fail(`section header table at ${shoff} is past the end of the file`, 40);
  // Extended numbering: the real counts live in section 0.
  if (shnum === 0) shnum = Number(view.getBigUint64(shoff + 32, true) & 0xffffffffn);
  if (shstrndx === 0xffff) shstrndx = view.getUint32(shoff + 40, true);
  if (shnum > MAX_SECTIONS || shoff + shnum * SHDR_SIZE > bytes.length) {
    throw fail(`${shnum} section headers at ${shoff} do not fit in the file (${bytes.length} bytes)`, 60);
  }

  const raw: Omit<Section, 'name' | 'data'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    nameOffs.push(view.getUint32(at, true));
    const type = view.getUint32(at + 4, true);
    const offset = u64(view, at + 24, fail);
    const size = u64(view, at + 32, fail);
    raw.push({
      index: i,
      type,
      flags: Number(view.getBigUint64(at + 8, true) & 0xffffffffn),
      offset,
      size,
      link: view.getUint32(at + 40, true),
      info: view.getUint32(at + 44, true),
      entsize: u64(view, at + 56, fail),
    });
    if (type !== SHT_NOBITS && i !== 0 && offset + size > bytes.length) {
      throw fail(`section ${i} (offset ${offset}, size ${size}) extends past the end of the file`, at + 24);
    }
  }
  checkOverlaps(raw, fail);

  if (shstrndx >= shnum) throw fail(`section name table index ${shstrndx} is out of range`, 62);
  const shstr = raw[shstrndx]!;
  if (shstr.type !== SHT_STRTAB)
    throw fail(`section name table (section ${shstrndx}) is not a string table`, 62);
  const shstrData = bytes.subarray(shstr.offset, shstr.offset + shstr.size);
  const sections: Section[] = raw.map((s, i) => ({
    ...s,
    name:
      i === 0
        ? ''
        : cString(shstrData, nameOffs[i]!, () => fail(`section ${i} has a bad name offset ${nameOffs[i]}`)),
    data: s.type === SHT_NOBITS ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size),
  }));

  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length > 1) throw fail('more than one symbol table');
  const symbols = symtabs[0] ? parseSymbols(symtabs[0], sections, file) : [];
  const relocations = new Map<number, Relocation[]>();
  for (const s of sections) {
    if (s.type !== SHT_REL) continue;
    if (s.info >= sections.length)
      throw elfError(file, `relocation target section ${s.info} is out of range`, s.name);
    relocations.set(s.info, parseRelocations(s, symbols, file));
  }
  const bySection = new Map<number, ElfSymbol[]>();
  for (const sym of symbols) {
    const list = bySection.get(sym.shndx);
    if (list) list.push(sym);
    else bySection.set(sym.shndx, [sym]);
  }
  const byName = new Map<string, Section>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
  return {
    file,
    sections,
    symbols,
    relocations,
    symbolsIn: (section) => bySection.get(section) ?? [],
    sectionNamed: (name) => byName.get(name),
  };
}

function checkOverlaps(
  raw: Omit<Section, 'name' | 'data'>[],
  fail: (r: string, o?: number) => FormatError,
): void {
  const spans = raw
    .filter((s) => s.index !== 0 && s.type !== SHT_NOBITS && s.size > 0)
    .sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur.offset < prev.offset + prev.size) {
      throw fail(`sections ${prev.index} and ${cur.index} overlap`, cur.offset);
    }
  }
}

function parseSymbols(symtab: Section, sections: Section[], file: string): ElfSymbol[] {
  if (symtab.entsize !== SYM_SIZE)
    throw elfError(file, `symbol entry size ${symtab.entsize} is not ${SYM_SIZE}`, '.symtab');
  if (symtab.link >= sections.length || sections[symtab.link]!.type !== SHT_STRTAB) {
    throw elfError(file, `symbol string table index ${symtab.link} is not a string table`, symtab.name);
  }
  const strtab = sections[symtab.link]!.data;
  const view = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
  const out: ElfSymbol[] = [];
  for (let i = 0; i < Math.floor(symtab.size / SYM_SIZE); i++) {
    const at = i * SYM_SIZE;
    const nameOff = view.getUint32(at, true);
    const info = symtab.data[at + 4]!;
    const shndx = view.getUint16(at + 6, true);
    const value = view.getBigUint64(at + 8, true);
    const size = view.getBigUint64(at + 16, true);
    if (value > 0xffffffffn || size > 0xffffffffn) {
      throw elfError(file, `symbol ${i} has an out-of-range value or size`, symtab.name, symtab.offset + at);
    }
    out.push({
      index: i,
      name: cString(strtab, nameOff, () =>
        elfError(file, `symbol ${i} has a bad name offset ${nameOff}`, symtab.name, symtab.offset + at),
      ),
      value: Number(value),
      size: Number(size),
      bind: info >> 4,
      type: info & 0xf,
      shndx,
      visibility: symtab.data[at + 5]! & 3,
    });
  }
  return out;
}

function parseRelocations(rel: Section, symbols: ElfSymbol[], file: string): Relocation[] {
  if (rel.size % REL_SIZE !== 0)
    throw elfError(file, `size ${rel.size} is not a multiple of ${REL_SIZE}`, rel.name);
  const view = new DataView(rel.data.buffer, rel.data.byteOffset, rel.data.byteLength);
  const out: Relocation[] = [];
  for (let at = 0; at < rel.size; at += REL_SIZE) {
    const offset = view.getBigUint64(at, true);
    const symIndex = view.getUint32(at + 12, true);
    const type = view.getUint32(at + 8, true);
    const symbol = symbols[symIndex];
    if (!symbol || symIndex === 0) {
      throw elfError(file, `relocation refers to missing symbol ${symIndex}`, rel.name, rel.offset + at);
    }
    if (offset > 0xffffffffn)
      throw elfError(file, `relocation offset ${offset} out of range`, rel.name, rel.offset + at);
    out.push({ offset: Number(offset), type, symbol });
  }
  return out;
}

function u64(view: DataView, at: number, fail: (r: string, o?: number) => FormatError): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`64-bit field ${v} is out of range`, at);
  return Number(v);
}

export const isUndefined = (s: ElfSymbol): boolean => s.shndx === SHN_UNDEF;
