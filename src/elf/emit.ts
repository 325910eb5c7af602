// Lay out an ELF64 relocatable BPF object from a list of sections and symbols (the byte-level part of the
// writer). Section names and symbol names share one `.strtab`, as clang's output does.

import { EM_BPF, ET_REL, SHT_NOBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB, STB_LOCAL } from './constants.js';

export interface OutSection {
  name: string;
  type: number;
  flags: number;
  data: Uint8Array;
  /** Size for NOBITS sections (data is empty then). */
  size?: number;
  align: number;
  entsize?: number;
  /** Index (in the final table) of the linked section; symtab link is filled in automatically. */
  link?: number;
  info?: number;
}

export interface OutSymbol {
  name: string;
  value: number;
  size: number;
  bind: number;
  type: number;
  /** Section index (in the final table; 0 = undefined). */
  shndx: number;
}

export interface OutReloc {
  offset: number;
  type: number;
  /** Index into the symbol array given to `emitElf` (before the null symbol; +1 is added). */
  symbol: number;
}

/**
 * Serialize. `sections[i]` becomes section i+1 (0 is the null section); `.strtab` and `.symtab` are added
 * after them, then one `.rel<name>` per entry of `relocs` (keyed by the target's final section index).
 */
export function emitElf(
  sections: OutSection[],
  symbols: OutSymbol[],
  relocs: Map<number, OutReloc[]>,
): Uint8Array {
  const strtab = new StringTable();
  const all: (OutSection & { nameOff: number })[] = sections.map((s) => ({
    ...s,
    nameOff: strtab.add(s.name),
  }));
  const strtabIndex = all.length + 1;
  const symtabIndex = all.length + 2;

  // Locals must come first; sh_info of .symtab is the first global's index.
  const ordered = [...symbols.keys()].sort(
    (a, b) => Number(symbols[a]!.bind !== STB_LOCAL) - Number(symbols[b]!.bind !== STB_LOCAL),
  );
  const newIndex = new Map<number, number>(ordered.map((old, i) => [old, i + 1]));
  const symData = new Uint8Array((symbols.length + 1) * 24);
  const sv = new DataView(symData.buffer);
  ordered.forEach((old, i) => {
    const s = symbols[old]!;
    const at = (i + 1) * 24;
    sv.setUint32(at, strtab.add(s.name), true);
    symData[at + 4] = (s.bind << 4) | s.type;
    sv.setUint16(at + 6, s.shndx, true);
    sv.setBigUint64(at + 8, BigInt(s.value), true);
    sv.setBigUint64(at + 16, BigInt(s.size), true);
  });
  const firstGlobal = 1 + ordered.filter((i) => symbols[i]!.bind === STB_LOCAL).length;

  const relSections: (OutSection & { nameOff: number })[] = [];
  for (const [target, list] of relocs) {
    if (list.length === 0) continue;
    const data = new Uint8Array(list.length * 16);
    const rv = new DataView(data.buffer);
    list.forEach((r, i) => {
      rv.setBigUint64(i * 16, BigInt(r.offset), true);
      rv.setUint32(i * 16 + 8, r.type, true);
      rv.setUint32(i * 16 + 12, newIndex.get(r.symbol)!, true);
    });
    const name = `.rel${all[target - 1]!.name}`;
    relSections.push({
      name,
      nameOff: strtab.add(name),
      type: SHT_REL,
      flags: 0,
      data,
      align: 8,
      entsize: 16,
      link: symtabIndex,
      info: target,
    });
  }

  type Named = OutSection & { nameOff: number };
  const symtab: Named = {
    name: '.symtab',
    nameOff: strtab.add('.symtab'),
    type: SHT_SYMTAB,
    flags: 0,
    data: symData,
    align: 8,
    entsize: 24,
    link: strtabIndex,
    info: firstGlobal,
  };
  const strNameOff = strtab.add('.strtab');
  const strtabSec: Named = {
    name: '.strtab',
    nameOff: strNameOff,
    type: SHT_STRTAB,
    flags: 0,
    data: strtab.bytes(),
    align: 1,
  };
  const table = [...all, strtabSec, symtab, ...relSections];

  // Layout: header, section contents (aligned), section header table.
  let at = 64;
  const offsets: number[] = [];
  for (const s of table) {
    at = alignUp(at, s.align);
    offsets.push(at);
    if (s.type !== SHT_NOBITS) at += s.data.length;
  }
  const shoff = alignUp(at, 8);
  const out = new Uint8Array(shoff + (table.length + 1) * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, ET_REL, true);
  v.setUint16(18, EM_BPF, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, table.length + 1, true);
  v.setUint16(62, strtabIndex, true);
  table.forEach((s, i) => {
    if (s.type !== SHT_NOBITS) out.set(s.data, offsets[i]!);
    const h = shoff + (i + 1) * 64;
    v.setUint32(h, s.nameOff, true);
    v.setUint32(h + 4, s.type, true);
    v.setBigUint64(h + 8, BigInt(s.flags), true);
    v.setBigUint64(h + 24, BigInt(offsets[i]!), true);
    v.setBigUint64(h + 32, BigInt(s.type === SHT_NOBITS ? (s.size ?? 0) : s.data.length), true);
    v.setUint32(h + 40, s.link ?? 0, true);
    v.setUint32(h + 44, s.info ?? 0, true);
    v.setBigUint64(h + 48, BigInt(s.align), true);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), true);
  });
  return out;
}

const alignUp = (n: number, a: number) => (a > 1 ? Math.ceil(n / a) * a : n);

class StringTable {
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private readonly index = new Map<string, number>([['', 0]]);
  private len = 1;
  add(s: string): number {
    let off = this.index.get(s);
    if (off === undefined) {
      off = this.len;
      const enc = new TextEncoder().encode(`${s}\0`);
      this.parts.push(enc);
      this.len += enc.length;
      this.index.set(s, off);
    }
    return off;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.len);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
