// Map definitions in an object: BTF-defined maps in `.maps`, legacy `maps` sections (struct bpf_map_def in
// its 16-, 20- and 28-byte forms, iproute2's 36-byte struct bpf_elf_map, and the larger records of ovs and
// old samples), and global data sections turned into single-entry ARRAY maps named after the section, as
// libbpf does.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { MapFlag, type MapSpec, MapType } from '../spec/maps.js';
import type { MapSlot } from '../spec/object.js';
import { SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, STT_SECTION } from './constants.js';
import { findSpecialFields } from './map-fields.js';
import { type ElfFile, type ElfSymbol, elfError, type Section } from './parse.js';

/** A map plus where its definition lives, so relocations can find it. */
export interface MapDef {
  spec: MapSpec;
  section: number;
  /** Byte offset of the definition inside its section (0 for data sections). */
  offset: number;
  /** Data-section maps: references add their offset into the value. */
  isData: boolean;
}

/** Largest global data section accepted (a hostile `.bss` size must not allocate gigabytes). */
const MAX_DATA_SIZE = 1 << 26;

export const isLegacyMapsSection = (name: string): boolean => name === 'maps' || name.startsWith('maps/');

/** `.data`, `.rodata`, `.bss`, and their `.xxx.suffix` variants (`.rodata.str1.1`, `.data.counters`). */
export function isDataSection(s: Section): boolean {
  if (!(s.flags & SHF_ALLOC) || s.flags & SHF_EXECINSTR) return false;
  return /^\.(data|rodata|bss)(\..+)?$/.test(s.name);
}

/**
 * Legacy `maps` sections: one record per map symbol, all of one size — the section's size over the number
 * of map symbols, as libbpf 0.x reads them. `struct bpf_map_def` has 4 to 7 u32 fields (type, key and
 * value size, max entries, flags, inner map index, NUMA node); iproute2's `bpf_elf_map` has 9 (… id,
 * pinning, inner id, inner index); larger records (ovs, old samples) begin with the same five fields, and
 * what follows them is ignored, as libbpf 0.x does outside its strict mode.
 */
export function legacyMaps(elf: ElfFile, section: Section): MapDef[] {
  const syms = elf
    .symbolsIn(section.index)
    .filter((s) => s.type !== STT_SECTION && s.name !== '')
    .sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const defSize =
    section.size % syms.length === 0
      ? section.size / syms.length
      : syms[0]!.size || Math.floor(section.size / syms.length);
  if (defSize < 16 || defSize % 4 !== 0) {
    throw elfError(
      elf.file,
      `map definitions of ${defSize} bytes (${section.size} bytes, ${syms.length} map symbols) are not a struct bpf_map_def`,
      section.name,
    );
  }
  // A maps section of type NOBITS has a size but no bytes in the file: nothing to read definitions from.
  if (section.data.length < section.size) {
    throw elfError(
      elf.file,
      `map definitions need bytes, but the section has none in the file (NOBITS)`,
      section.name,
    );
  }
  const view = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  const iproute2 = defSize === 36;
  const raw = syms.map((sym) => {
    if (sym.value + defSize > section.size) {
      throw elfError(elf.file, `map ${sym.name} at ${sym.value} extends past the section`, section.name);
    }
    const f = (i: number) => (i * 4 < defSize ? view.getUint32(sym.value + i * 4, true) : 0);
    return { sym, f };
  });
  const defs: MapDef[] = raw.map(({ sym, f }) => {
    const spec: MapSpec = {
      name: sym.name,
      type: f(0),
      keySize: f(1),
      valueSize: f(2),
      maxEntries: f(3),
      flags: f(4),
    };
    // iproute2 pins by name too (PIN_OBJECT_NS 1, PIN_GLOBAL_NS 2): both become LIBBPF_PIN_BY_NAME.
    if (iproute2 && f(6) !== 0) spec.pinning = 1;
    if (!iproute2 && defSize >= 28 && f(6) !== 0) spec.numaNode = f(6);
    return { spec, section: section.index, offset: sym.value, isData: false };
  });
  // Inner maps: bpf_map_def.inner_map_idx is an index into this section; bpf_elf_map.inner_id names a map's id.
  raw.forEach(({ f }, i) => {
    const def = defs[i]!;
    if (def.spec.type !== MapType.ARRAY_OF_MAPS && def.spec.type !== MapType.HASH_OF_MAPS) return;
    let inner: MapDef | undefined;
    if (iproute2) inner = f(7) === 0 ? undefined : defs[raw.findIndex((r) => r.f(5) === f(7))];
    else if (defSize >= 28) inner = defs[f(5)];
    if (!inner)
      throw elfError(elf.file, `map ${def.spec.name}: inner map not found`, section.name, def.offset);
    def.spec.innerMap = { ...inner.spec };
  });
  return defs;
}

/** Global data sections as single-entry ARRAY maps, contents taken from the section. */
export function dataMap(elf: ElfFile, section: Section, btf: Btf | undefined): MapDef | undefined {
  if (section.size === 0) return undefined;
  if (section.size > MAX_DATA_SIZE) {
    throw elfError(elf.file, `data section of ${section.size} bytes is too large`, section.name);
  }
  const readonly = section.name.startsWith('.rodata');
  const value = section.type === SHT_NOBITS ? new Uint8Array(section.size) : section.data.slice();
  const spec: MapSpec = {
    name: section.name,
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: section.size,
    maxEntries: 1,
    flags: readonly ? MapFlag.RDONLY_PROG : 0,
    contents: [{ key: new Uint8Array(4), value }],
  };
  if (readonly) spec.readonly = true;
  const datasec = btf?.byName(section.name, Kind.DATASEC);
  if (datasec) {
    spec.btfKeyTypeId = 0;
    spec.btfValueTypeId = datasec.id;
  }
  return { spec, section: section.index, offset: 0, isData: true };
}

/** BTF-defined maps: one VAR per map in the `.maps` DATASEC, its struct's members describing the map. */
export function btfMaps(elf: ElfFile, section: Section, btf: Btf | undefined, slots: MapSlot[]): MapDef[] {
  const where = (msg: string, off?: number) => elfError(elf.file, msg, section.name, off);
  if (!btf) throw where('BTF-defined maps need a .BTF section');
  const datasec = btf.byName(section.name, Kind.DATASEC);
  if (!datasec) throw where(`no BTF DATASEC named ${section.name}`);
  const relocs = elf.relocations.get(section.index) ?? [];
  const vars = [...datasec.vars].sort((a, b) => a.offset - b.offset);
  return vars.map((v) => {
    const varType = btf.type(v.type);
    if (varType.kind !== Kind.VAR) throw where(`DATASEC entry type ${v.type} is not a VAR`);
    const name = varType.name;
    const parsed = parseMapStruct(btf, varType.type, name, (m) => where(`map ${name}: ${m}`, v.offset));
    if (parsed.valuesOffset !== undefined) {
      const start = v.offset + parsed.valuesOffset;
      let count = 0;
      for (const r of relocs) {
        if (r.offset < start || r.offset >= v.offset + v.size) continue;
        const key = (r.offset - start) / 8;
        if (!Number.isInteger(key)) throw where(`map ${name}: misaligned values relocation`, r.offset);
        count = Math.max(count, key + 1);
        slots.push(slotFor(elf, name, key, r.symbol, parsed.spec.type, section));
      }
      if (parsed.spec.maxEntries === 0) parsed.spec.maxEntries = count;
    }
    return { spec: parsed.spec, section: section.index, offset: v.offset, isData: false };
  });
}

function slotFor(
  elf: ElfFile,
  map: string,
  key: number,
  sym: ElfSymbol,
  type: number,
  maps: Section,
): MapSlot {
  if (type === MapType.PROG_ARRAY) return { map, key, program: sym.name };
  if (sym.shndx !== maps.index) {
    throw elfError(
      elf.file,
      `map ${map}: values[${key}] refers to ${sym.name}, which is not a map`,
      maps.name,
    );
  }
  return { map, key, innerMap: sym.name };
}

const NUMERIC_FIELDS = [
  'type',
  'max_entries',
  'map_flags',
  'numa_node',
  'pinning',
  'key_size',
  'value_size',
] as const;

/** Parse a map-definition struct (`__uint(type, ...)`, `__type(key, ...)` ...). */
export function parseMapStruct(
  btf: Btf,
  typeId: number,
  name: string,
  fail: (msg: string) => Error,
): { spec: MapSpec; valuesOffset?: number } {
  const st = btf.resolve(typeId);
  if (st.kind !== Kind.STRUCT) throw fail(`definition is a ${btf.typeName(typeId)}, not a struct`);
  const spec: MapSpec = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
  let valuesOffset: number | undefined;
  const num: Partial<Record<(typeof NUMERIC_FIELDS)[number] | 'map_extra', bigint>> = {};
  for (const m of st.members) {
    if ((NUMERIC_FIELDS as readonly string[]).includes(m.name) || m.name === 'map_extra') {
      // `__uint(name, N)` is `int (*name)[N]`: the number is the array length. Newer libbpf spells 64-bit
      // values `__ulong(name, N)`: an anonymous enum whose only enumerator is N.
      const ptr = btf.resolve(m.type);
      const arr = ptr.kind === Kind.PTR ? btf.resolve(ptr.type) : undefined;
      if (arr?.kind === Kind.ARRAY) num[m.name as keyof typeof num] = BigInt(arr.nelems);
      else if ((ptr.kind === Kind.ENUM || ptr.kind === Kind.ENUM64) && ptr.values.length === 1) {
        num[m.name as keyof typeof num] = BigInt.asUintN(64, ptr.values[0]!.value);
      } else throw fail(`field ${m.name} is not __uint(${m.name}, N)`);
    } else if (m.name === 'key' || m.name === 'value') {
      const ptr = btf.resolve(m.type);
      if (ptr.kind !== Kind.PTR) throw fail(`field ${m.name} is not __type(${m.name}, T)`);
      const size = btf.sizeof(ptr.type);
      if (m.name === 'key') {
        spec.keySize = size;
        spec.btfKeyTypeId = ptr.type;
      } else {
        spec.valueSize = size;
        spec.btfValueTypeId = ptr.type;
        findSpecialFields(btf, ptr.type, spec);
      }
    } else if (m.name === 'values') {
      const arr = btf.resolve(m.type);
      const ptr = arr.kind === Kind.ARRAY ? btf.resolve(arr.type) : undefined;
      if (!ptr || ptr.kind !== Kind.PTR) throw fail('field values is not __array(values, T)');
      const target = btf.resolve(ptr.type);
      if (target.kind === Kind.STRUCT) {
        spec.innerMap = parseMapStruct(btf, ptr.type, `${name}.inner`, fail).spec;
      } else if (target.kind !== Kind.FUNC_PROTO) {
        throw fail(`values must point to a map definition or a function, not ${btf.typeName(ptr.type)}`);
      }
      valuesOffset = m.bitOffset / 8;
    } else {
      throw fail(`unknown field ${m.name}`);
    }
  }
  if (num.type === undefined) throw fail('has no type field');
  // All but map_extra are u32 in the kernel's bpf_attr.
  const u32 = (k: Exclude<keyof typeof num, 'map_extra'>): number | undefined => {
    const v = num[k];
    if (v === undefined) return undefined;
    if (v > 0xffffffffn) throw fail(`${k} ${v} does not fit in 32 bits`);
    return Number(v);
  };
  spec.type = u32('type')!;
  spec.maxEntries = u32('max_entries') ?? 0;
  spec.flags = u32('map_flags') ?? 0;
  const keySize = u32('key_size');
  if (keySize !== undefined) {
    if (spec.btfKeyTypeId !== undefined && spec.keySize !== keySize) throw fail('key and key_size disagree');
    spec.keySize = keySize;
  }
  const valueSize = u32('value_size');
  if (valueSize !== undefined) {
    if (spec.btfValueTypeId !== undefined && spec.valueSize !== valueSize) {
      throw fail('value and value_size disagree');
    }
    spec.valueSize = valueSize;
  }
  // Map-in-map and program-array values are 4-byte fds/ids.
  if (spec.innerMap || (valuesOffset !== undefined && spec.valueSize === 0)) spec.valueSize = 4;
  const pinning = u32('pinning');
  if (pinning) spec.pinning = pinning;
  const numaNode = u32('numa_node');
  if (numaNode !== undefined) spec.numaNode = numaNode;
  if (num.map_extra !== undefined) spec.mapExtra = num.map_extra;
  return valuesOffset === undefined ? { spec } : { spec, valuesOffset };
}
