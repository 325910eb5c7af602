// The BTF an object written by writer.ts carries: each BTF-defined map's struct (`__uint` members, key and
// value types), each global data section's DATASEC copied from the object's BTF, and `.BTF.ext` with
// func_info and line_info for every function.

import type { BtfBuilder, BuilderMember } from '../btf/builder.js';
import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { TsbpfError } from '../errors.js';
import type { MapSpec } from '../spec/maps.js';
import type { ProgramSpec } from '../spec/object.js';
import { STB_GLOBAL, STT_OBJECT } from './constants.js';
import type { OutSymbol } from './emit.js';

/** A function as written: where it landed, and which slots of its program it holds. */
export interface FuncRecord {
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
export function encodeExt(btf: BtfBuilder, funcs: FuncRecord[]): Uint8Array {
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

/**
 * A global data section's DATASEC, copied from the object's BTF, with a global symbol per variable: libbpf
 * places each variable by looking its symbol up by name.
 */
export function dataSectionBtf(
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
export function mapStruct(
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
