// Parse a `.BTF` section into a `Btf`: the type table plus the string table, with helpers to name,
// resolve and size types. Counts and offsets are checked before use; reference cycles are cut by a depth
// limit, so hostile input gives a FormatError instead of a hang.

import { FormatError } from '../errors.js';
import { type BtfType, isModifier, KIND_NAMES, Kind, type Member, type TypeOfKind } from './types.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
/** Longest chain of typedef/const/array... followed before a type is declared cyclic. */
const MAX_DEPTH = 64;

/** The types and strings of a `.BTF` section, with lookups by id and name, sizes and type names. */
export class Btf {
  constructor(
    /** Types by id; index 0 is void. */
    readonly types: readonly BtfType[],
    /** The raw string section. */
    readonly strings: Uint8Array,
    /** Where errors say they happened, e.g. `prog.o: .BTF`. */
    readonly where = '.BTF',
    /**
     * For split BTF (a kernel module's): the base it extends. `types` then holds the base's types followed by
     * this one's (ids continue the base's), and string offsets below the base's string section are the base's.
     */
    readonly base?: Btf,
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
    if (!this.base) return readString(this.strings, off, this.where);
    const baseLen = this.base.strings.length;
    return off < baseLen ? this.base.str(off) : readString(this.strings, off - baseLen, this.where);
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

/**
 * Parse `.BTF` bytes. `where` names the file/section for errors (e.g. `prog.o: .BTF`). In phases: the
 * header, the string section, the type section (one record per type, each kind's data decoded by a
 * function of its own), then a check that every referenced type exists.
 */
export function parseBtf(bytes: Uint8Array, where = '.BTF', base?: Btf): Btf {
  const h = parseBtfHeader(bytes, where);
  const strings = bytes.subarray(h.hdrLen + h.strOff, h.hdrLen + h.strOff + h.strLen);
  const reader = new TypeReader(bytes, h, strings, where, base);
  const types = parseTypeSection(reader, base);
  checkReferences(types, where, base?.types.length ?? 0);
  return new Btf(types, strings, where, base);
}

/** A cursor over the type section. Each record's parts are checked to fit (`need`) before they are read. */
class TypeReader {
  /** Offset of the next record (or part of one) in the type section. */
  at = 0;
  readonly end: number;
  readonly view: DataView;
  private readonly names = new Map<number, string>();

  constructor(
    bytes: Uint8Array,
    private readonly h: BtfHeader,
    private readonly strings: Uint8Array,
    readonly where: string,
    private readonly base?: Btf,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset + h.hdrLen + h.typeOff, h.typeLen);
    this.end = h.typeLen;
  }

  /** The string at `off` in the string section, decoded once per offset (names repeat). */
  str(off: number): string {
    let s = this.names.get(off);
    if (s === undefined) {
      const baseLen = this.base?.strings.length ?? 0;
      s = off < baseLen ? this.base!.str(off) : readString(this.strings, off - baseLen, this.where);
      this.names.set(off, s);
    }
    return s;
  }

  /** Throws unless `n` more bytes of type `id` remain. */
  need(n: number, id: number): void {
    if (this.at + n > this.end) {
      throw new FormatError(this.where, `type ${id} is truncated`, this.fileOffset(this.at));
    }
  }

  /** The error for type `id`, whose record starts at `start`. */
  bad(id: number, start: number, why: string): FormatError {
    return new FormatError(this.where, `type ${id}: ${why}`, this.fileOffset(start));
  }

  /** Offset in the `.BTF` bytes of an offset in the type section. */
  fileOffset(at: number): number {
    return this.h.hdrLen + this.h.typeOff + at;
  }
}

/** The type section: one record after another, ids from 1 (0 is void). */
function parseTypeSection(r: TypeReader, base?: Btf): BtfType[] {
  // Split BTF: the base's types first, so ids continue them (a module's first type follows vmlinux's last).
  const types: BtfType[] = base ? base.types.slice() : [{ id: 0, name: '', kind: Kind.VOID }];
  while (r.at < r.end) types.push(parseType(r, types.length));
  return types;
}

/** One record: the 12-byte header (name, info, size or type), then the data its kind adds. */
function parseType(r: TypeReader, id: number): BtfType {
  r.need(12, id);
  const v = r.view;
  const start = r.at;
  const name = r.str(v.getUint32(start, true));
  const info = v.getUint32(start + 4, true);
  const sizeOrType = v.getUint32(start + 8, true);
  r.at = start + 12;
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  // The kernel's size rules for the kinds that hold a number (btf_{int,enum,float}_check_meta): what
  // formats a value reads at most 128 bits, whatever a hostile size says.
  if ((kind === Kind.ENUM || kind === Kind.ENUM64) && ![1, 2, 4, 8].includes(sizeOrType))
    throw r.bad(id, start, `an enum of ${sizeOrType} bytes (1, 2, 4 or 8)`);
  if (kind === Kind.FLOAT && ![2, 4, 8, 12, 16].includes(sizeOrType))
    throw r.bad(id, start, `a float of ${sizeOrType} bytes (2, 4, 8, 12 or 16)`);
  switch (kind) {
    case Kind.INT:
      return intType(r, id, name, sizeOrType, start);
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      return { id, name, kind, type: sizeOrType };
    case Kind.FWD:
      return { id, name, kind, union: kflag };
    case Kind.ARRAY:
      return arrayType(r, id, name);
    case Kind.STRUCT:
    case Kind.UNION:
      return compositeType(r, id, name, kind, sizeOrType, vlen, kflag);
    case Kind.ENUM:
    case Kind.ENUM64:
      return enumType(r, id, name, sizeOrType, vlen, kflag, kind);
    case Kind.FUNC:
      return { id, name, kind, type: sizeOrType, linkage: vlen };
    case Kind.FUNC_PROTO:
      return funcProtoType(r, id, name, sizeOrType, vlen);
    case Kind.VAR: {
      r.need(4, id);
      const linkage = v.getUint32(r.at, true);
      r.at += 4;
      return { id, name, kind, type: sizeOrType, linkage };
    }
    case Kind.DATASEC:
      return datasecType(r, id, name, sizeOrType, vlen);
    case Kind.FLOAT:
      return { id, name, kind, size: sizeOrType };
    case Kind.DECL_TAG: {
      r.need(4, id);
      const componentIdx = v.getInt32(r.at, true);
      r.at += 4;
      return { id, name, kind, type: sizeOrType, componentIdx };
    }
    default:
      throw new FormatError(r.where, `type ${id} has unknown kind ${kind}`, r.fileOffset(start));
  }
}

/** INT: a u32 of encoding, bit offset and width, held to the kernel's rules (btf_int_check_meta). */
function intType(r: TypeReader, id: number, name: string, size: number, start: number): BtfType {
  r.need(4, id);
  const enc = r.view.getUint32(r.at, true);
  r.at += 4;
  const bits = (enc & 0xff) + ((enc >>> 16) & 0xff);
  if (enc & ~0x0fffffff) throw r.bad(id, start, `invalid int data 0x${enc.toString(16)}`);
  if (bits > 128) throw r.bad(id, start, `an int of ${bits} bits with its offset (at most 128)`);
  if (Math.ceil(bits / 8) > size) throw r.bad(id, start, `an int of ${bits} bits in ${size} bytes`);
  return {
    id,
    name,
    kind: Kind.INT,
    size,
    encoding: (enc >>> 24) & 0xf,
    bitOffset: (enc >>> 16) & 0xff,
    bits: enc & 0xff,
  };
}

/** ARRAY: element type, index type, element count. */
function arrayType(r: TypeReader, id: number, name: string): BtfType {
  r.need(12, id);
  const v = r.view;
  const at = r.at;
  r.at = at + 12;
  return {
    id,
    name,
    kind: Kind.ARRAY,
    type: v.getUint32(at, true),
    indexType: v.getUint32(at + 4, true),
    nelems: v.getUint32(at + 8, true),
  };
}

/** STRUCT and UNION: `vlen` members; with kflag, a member's offset holds its bitfield width in the top byte. */
function compositeType(
  r: TypeReader,
  id: number,
  name: string,
  kind: typeof Kind.STRUCT | typeof Kind.UNION,
  size: number,
  vlen: number,
  kflag: boolean,
): BtfType {
  r.need(vlen * 12, id);
  const v = r.view;
  let at = r.at;
  const members: Member[] = [];
  for (let i = 0; i < vlen; i++, at += 12) {
    const off = v.getUint32(at + 8, true);
    members.push({
      name: r.str(v.getUint32(at, true)),
      type: v.getUint32(at + 4, true),
      bitOffset: kflag ? off & 0xffffff : off,
      bitSize: kflag ? off >>> 24 : 0,
    });
  }
  r.at = at;
  return { id, name, kind, size, members };
}

/**
 * ENUM (`vlen` records of name and 32-bit value) or ENUM64 (name and the value's low and high halves), signed
 * when kflag says so. Before kflag carried signedness, 32-bit values were written as s32: read as the kernel
 * reads them.
 */
function enumType(
  r: TypeReader,
  id: number,
  name: string,
  size: number,
  vlen: number,
  kflag: boolean,
  kind: typeof Kind.ENUM | typeof Kind.ENUM64,
): BtfType {
  const wide = kind === Kind.ENUM64;
  const record = wide ? 12 : 8;
  r.need(vlen * record, id);
  const v = r.view;
  let at = r.at;
  const values = [];
  for (let i = 0; i < vlen; i++, at += record) {
    let value: bigint;
    if (wide) {
      const u = (BigInt(v.getUint32(at + 8, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
      value = kflag ? BigInt.asIntN(64, u) : u;
    } else value = kflag ? BigInt(v.getInt32(at + 4, true)) : BigInt(v.getUint32(at + 4, true));
    values.push({ name: r.str(v.getUint32(at, true)), value });
  }
  r.at = at;
  return { id, name, kind, size, signed: kflag, values };
}

/** FUNC_PROTO: the return type (in the header), then `vlen` parameters. */
function funcProtoType(r: TypeReader, id: number, name: string, ret: number, vlen: number): BtfType {
  r.need(vlen * 8, id);
  const v = r.view;
  let at = r.at;
  const params = [];
  for (let i = 0; i < vlen; i++, at += 8) {
    params.push({ name: r.str(v.getUint32(at, true)), type: v.getUint32(at + 4, true) });
  }
  r.at = at;
  return { id, name, kind: Kind.FUNC_PROTO, ret, params };
}

/** DATASEC: `vlen` variables, each a VAR's id with its offset and size in the section. */
function datasecType(r: TypeReader, id: number, name: string, size: number, vlen: number): BtfType {
  r.need(vlen * 12, id);
  const v = r.view;
  let at = r.at;
  const vars = [];
  for (let i = 0; i < vlen; i++, at += 12) {
    vars.push({
      type: v.getUint32(at, true),
      offset: v.getUint32(at + 4, true),
      size: v.getUint32(at + 8, true),
    });
  }
  r.at = at;
  return { id, name, kind: Kind.DATASEC, size, vars };
}

/** Every referenced type id must exist, so later walks never index past the table. */
function checkReferences(types: BtfType[], where: string, first = 0): void {
  const n = types.length;
  const ok = (id: number, from: number) => {
    if (id >= n) throw new FormatError(where, `type ${from} refers to missing type ${id}`);
  };
  for (let i = first; i < n; i++) {
    const t = types[i]!;
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
