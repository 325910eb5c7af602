// Parse a `.BTF` section into a `Btf`: the type table plus the string table, with helpers to name,
// resolve and size types. Counts and offsets are checked before use; reference cycles are cut by a depth
// limit, so hostile input gives a FormatError instead of a hang.

import { FormatError } from '../errors.js';
import { type BtfType, isModifier, KIND_NAMES, Kind, type Member, type TypeOfKind } from './types.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
/** Longest chain of typedef/const/array... followed before a type is declared cyclic. */
const MAX_DEPTH = 64;

export class Btf {
  constructor(
    /** Types by id; index 0 is void. */
    readonly types: readonly BtfType[],
    /** The raw string section. */
    readonly strings: Uint8Array,
    /** Where errors say they happened, e.g. `prog.o: .BTF`. */
    readonly where = '.BTF',
  ) {}

  /** The type with this id; throws a FormatError for an id outside the table. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (!t)
      throw new FormatError(this.where, `type id ${id} is out of range (${this.types.length - 1} types)`);
    return t;
  }

  /** The string at `off` in the string section. */
  str(off: number): string {
    return readString(this.strings, off, this.where);
  }

  /** Skip typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; isModifier(t.kind); depth++) {
      if (depth > MAX_DEPTH)
        throw new FormatError(this.where, `type ${id} is a cycle of typedefs/qualifiers`);
      t = this.type((t as { type: number }).type);
    }
    return t;
  }

  /** Size in bytes of a type (as the kernel's btf_type_size would compute). */
  sizeof(id: number, depth = 0): number {
    if (depth > MAX_DEPTH) throw new FormatError(this.where, `type ${id} nests too deeply (cycle?)`);
    const t = this.resolve(id);
    switch (t.kind) {
      case Kind.INT:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.DATASEC:
      case Kind.FLOAT:
        return t.size;
      case Kind.PTR:
        return 8;
      case Kind.ARRAY:
        return t.nelems * this.sizeof(t.type, depth + 1);
      case Kind.VAR:
        return this.sizeof(t.type, depth + 1);
      default:
        throw new FormatError(this.where, `type ${t.id} (${KIND_NAMES[t.kind]}) has no size`);
    }
  }

  /** First type with this name (and kind, when given). */
  byName<K extends Kind>(name: string, kind?: K): TypeOfKind<K> | undefined {
    return this.types.find((t) => t.name === name && (kind === undefined || t.kind === kind)) as
      | TypeOfKind<K>
      | undefined;
  }

  /** A C-like name for a type: `struct proto_stats`, `__u32`, `u8[4]`, `void *`. */
  typeName(id: number, depth = 0): string {
    if (depth > MAX_DEPTH) return '...';
    const t = this.type(id);
    switch (t.kind) {
      case Kind.VOID:
        return 'void';
      case Kind.STRUCT:
        return `struct ${t.name || '(anon)'}`;
      case Kind.UNION:
        return `union ${t.name || '(anon)'}`;
      case Kind.ENUM:
      case Kind.ENUM64:
        return `enum ${t.name || '(anon)'}`;
      case Kind.PTR:
        return `${this.typeName(t.type, depth + 1)} *`;
      case Kind.ARRAY:
        return `${this.typeName(t.type, depth + 1)}[${t.nelems}]`;
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT:
        return `${KIND_NAMES[t.kind]!.toLowerCase()} ${this.typeName(t.type, depth + 1)}`;
      case Kind.TYPE_TAG:
        return this.typeName(t.type, depth + 1);
      default:
        return t.name || `(anon ${KIND_NAMES[t.kind]})`;
    }
  }
}

export function readString(strings: Uint8Array, off: number, where: string): string {
  if (off < 0 || off >= strings.length) {
    if (off === 0) return '';
    throw new FormatError(
      where,
      `string offset ${off} is outside the string section (${strings.length} bytes)`,
    );
  }
  let end = off;
  while (end < strings.length && strings[end] !== 0) end++;
  if (end === strings.length) throw new FormatError(where, `string at ${off} is not NUL-terminated`);
  return decodeText(strings, off, end);
}

const decoder = new TextDecoder();

/** UTF-8 text of `bytes[start, end)`; names are nearly always ASCII, which is decoded without TextDecoder. */
export function decodeText(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return decoder.decode(bytes.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}

export interface BtfHeader {
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

export function parseBtfHeader(bytes: Uint8Array, where: string): BtfHeader {
  if (bytes.length < HEADER_MIN) throw new FormatError(where, `truncated header (${bytes.length} bytes)`, 0);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    throw new FormatError(where, `bad magic 0x${magic.toString(16)} (big-endian BTF is unsupported)`, 0);
  }
  const h: BtfHeader = {
    version: bytes[2]!,
    flags: bytes[3]!,
    hdrLen: v.getUint32(4, true),
    typeOff: v.getUint32(8, true),
    typeLen: v.getUint32(12, true),
    strOff: v.getUint32(16, true),
    strLen: v.getUint32(20, true),
  };
  if (h.version !== 1) throw new FormatError(where, `unsupported version ${h.version}`, 2);
  if (h.hdrLen < HEADER_MIN || h.hdrLen > bytes.length)
    throw new FormatError(where, `bad header length ${h.hdrLen}`, 4);
  const end = bytes.length - h.hdrLen;
  if (h.typeOff + h.typeLen > end) throw new FormatError(where, 'type section extends past the end', 8);
  if (h.strOff + h.strLen > end) throw new FormatError(where, 'string section extends past the end', 16);
  if (h.typeLen % 4 !== 0)
    throw new FormatError(where, `type section length ${h.typeLen} is not 4-aligned`, 12);
  return h;
}

/** Parse `.BTF` bytes. `where` names the file/section for errors (e.g. `prog.o: .BTF`). */
export function parseBtf(bytes: Uint8Array, where = '.BTF'): Btf {
  const h = parseBtfHeader(bytes, where);
  const strings = bytes.subarray(h.hdrLen + h.strOff, h.hdrLen + h.strOff + h.strLen);
  const v = new DataView(bytes.buffer, bytes.byteOffset + h.hdrLen + h.typeOff, h.typeLen);
  const cache = new Map<number, string>();
  const str = (off: number) => {
    let s = cache.get(off);
    if (s === undefined) {
      s = readString(strings, off, where);
      cache.set(off, s);
    }
    return s;
  };
  const types: BtfType[] = [{ id: 0, name: '', kind: Kind.VOID }];
  let at = 0;
  const need = (n: number, id: number) => {
    if (at + n > h.typeLen) {
      throw new FormatError(where, `type ${id} is truncated`, h.hdrLen + h.typeOff + at);
    }
  };
  while (at < h.typeLen) {
    const id = types.length;
    need(12, id);
    const start = at;
    const name = str(v.getUint32(at, true));
    const info = v.getUint32(at + 4, true);
    const sizeOrType = v.getUint32(at + 8, true);
    at += 12;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const base = { id, name };
    // The kernel's size rules for the kinds that hold a number (btf_{int,enum,float}_check_meta): what
    // formats a value reads at most 128 bits, whatever a hostile size says.
    const bad = (why: string) => new FormatError(where, `type ${id}: ${why}`, h.hdrLen + h.typeOff + start);
    if ((kind === Kind.ENUM || kind === Kind.ENUM64) && ![1, 2, 4, 8].includes(sizeOrType))
      throw bad(`an enum of ${sizeOrType} bytes (1, 2, 4 or 8)`);
    if (kind === Kind.FLOAT && ![2, 4, 8, 12, 16].includes(sizeOrType))
      throw bad(`a float of ${sizeOrType} bytes (2, 4, 8, 12 or 16)`);
    switch (kind) {
      case Kind.INT: {
        need(4, id);
        const enc = v.getUint32(at, true);
        at += 4;
        const bits = (enc & 0xff) + ((enc >>> 16) & 0xff);
        if (enc & ~0x0fffffff) throw bad(`invalid int data 0x${enc.toString(16)}`);
        if (bits > 128) throw bad(`an int of ${bits} bits with its offset (at most 128)`);
        if (Math.ceil(bits / 8) > sizeOrType) throw bad(`an int of ${bits} bits in ${sizeOrType} bytes`);
        types.push({
          ...base,
          kind,
          size: sizeOrType,
          encoding: (enc >>> 24) & 0xf,
          bitOffset: (enc >>> 16) & 0xff,
          bits: enc & 0xff,
        });
        break;
      }
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        types.push({ ...base, kind, type: sizeOrType });
        break;
      case Kind.FWD:
        types.push({ ...base, kind, union: kflag });
        break;
      case Kind.ARRAY:
        need(12, id);
        types.push({
          ...base,
          kind,
          type: v.getUint32(at, true),
          indexType: v.getUint32(at + 4, true),
          nelems: v.getUint32(at + 8, true),
        });
        at += 12;
        break;
      case Kind.STRUCT:
      case Kind.UNION: {
        need(vlen * 12, id);
        const members: Member[] = [];
        for (let i = 0; i < vlen; i++, at += 12) {
          const off = v.getUint32(at + 8, true);
          members.push({
            name: str(v.getUint32(at, true)),
            type: v.getUint32(at + 4, true),
            bitOffset: kflag ? off & 0xffffff : off,
            bitSize: kflag ? off >>> 24 : 0,
          });
        }
        types.push({ ...base, kind, size: sizeOrType, members });
        break;
      }
      case Kind.ENUM: {
        need(vlen * 8, id);
        const values = [];
        for (let i = 0; i < vlen; i++, at += 8) {
          const raw = kflag ? BigInt(v.getInt32(at + 4, true)) : BigInt(v.getUint32(at + 4, true));
          values.push({ name: str(v.getUint32(at, true)), value: raw });
        }
        // Before kflag carried signedness, enum values were written as s32; keep them as the kernel reads them.
        types.push({ ...base, kind, size: sizeOrType, signed: kflag, values });
        break;
      }
      case Kind.ENUM64: {
        need(vlen * 12, id);
        const values = [];
        for (let i = 0; i < vlen; i++, at += 12) {
          const u = (BigInt(v.getUint32(at + 8, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
          values.push({ name: str(v.getUint32(at, true)), value: kflag ? BigInt.asIntN(64, u) : u });
        }
        types.push({ ...base, kind, size: sizeOrType, signed: kflag, values });
        break;
      }
      case Kind.FUNC:
        types.push({ ...base, kind, type: sizeOrType, linkage: vlen });
        break;
      case Kind.FUNC_PROTO: {
        need(vlen * 8, id);
        const params = [];
        for (let i = 0; i < vlen; i++, at += 8) {
          params.push({ name: str(v.getUint32(at, true)), type: v.getUint32(at + 4, true) });
        }
        types.push({ ...base, kind, ret: sizeOrType, params });
        break;
      }
      case Kind.VAR:
        need(4, id);
        types.push({ ...base, kind, type: sizeOrType, linkage: v.getUint32(at, true) });
        at += 4;
        break;
      case Kind.DATASEC: {
        need(vlen * 12, id);
        const vars = [];
        for (let i = 0; i < vlen; i++, at += 12) {
          vars.push({
            type: v.getUint32(at, true),
            offset: v.getUint32(at + 4, true),
            size: v.getUint32(at + 8, true),
          });
        }
        types.push({ ...base, kind, size: sizeOrType, vars });
        break;
      }
      case Kind.FLOAT:
        types.push({ ...base, kind, size: sizeOrType });
        break;
      case Kind.DECL_TAG:
        need(4, id);
        types.push({ ...base, kind, type: sizeOrType, componentIdx: v.getInt32(at, true) });
        at += 4;
        break;
      default:
        throw new FormatError(where, `type ${id} has unknown kind ${kind}`, h.hdrLen + h.typeOff + start);
    }
  }
  checkReferences(types, where);
  return new Btf(types, strings, where);
}

/** Every referenced type id must exist, so later walks never index past the table. */
function checkReferences(types: BtfType[], where: string): void {
  const n = types.length;
  const ok = (id: number, from: number) => {
    if (id >= n) throw new FormatError(where, `type ${from} refers to missing type ${id}`);
  };
  for (const t of types) {
    switch (t.kind) {
      case Kind.STRUCT:
      case Kind.UNION:
        for (const m of t.members) ok(m.type, t.id);
        break;
      case Kind.FUNC_PROTO:
        ok(t.ret, t.id);
        for (const p of t.params) ok(p.type, t.id);
        break;
      case Kind.DATASEC:
        for (const x of t.vars) ok(x.type, t.id);
        break;
      case Kind.ARRAY:
        ok(t.type, t.id);
        ok(t.indexType, t.id);
        break;
      default:
        if ('type' in t) ok(t.type, t.id);
    }
  }
}
