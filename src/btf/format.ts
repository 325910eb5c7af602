// Map keys and values as plain JS values, typed by BTF, and back again.
//
// Representation (chosen so that every value round-trips exactly):
// - integers of 1 to 4 bytes, and enums whose value has no name: `number`; 8- and 16-byte integers and
//   pointers: `bigint` (a u64 counter does not fit a double) — so `{ packets: 12n, bytes: 3400n }`;
// - `bool`: boolean; `char[N]`: a string (up to the first NUL) when those bytes are UTF-8 text, else an
//   array of numbers like other arrays (a lossy string would not read back); other arrays: JS arrays;
// - structs: objects keyed by member name (members of anonymous struct/union members are lifted into the
//   parent, as C lets you name them); unions: an object with every member decoded;
// - enums: the enumerator name when the value has one; floats: number; DATASECs: objects keyed by variable.
// Little-endian only, as everything in tsbpf.

import { TsbpfError } from '../errors.js';
import type { Btf } from './parse.js';
import { type BtfType, IntEncoding, Kind, type Member } from './types.js';

const MAX_DEPTH = 64;
/** Larger than any map value the kernel accepts (KMALLOC_MAX_SIZE); guards against hostile array sizes. */
const MAX_VALUE_SIZE = 1 << 26;

/**
 * A value typed by BTF, as JS data: numbers (bigints for 8-byte integers), booleans, strings for char arrays,
 * arrays, and objects for structs.
 */
export type BtfValue = number | bigint | boolean | string | BtfValue[] | { [name: string]: BtfValue };

/** Decode `bytes` (at least `btf.sizeof(typeId)` of them) as the BTF type `typeId`. */
export function formatValue(btf: Btf, typeId: number, bytes: Uint8Array): BtfValue {
  const size = btf.sizeof(typeId);
  if (bytes.length < size) {
    throw new TsbpfError(
      `${bytes.length} bytes are too few for ${btf.typeName(typeId)} (${size} bytes)`,
      'BTF value',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return outOfBounds(btf, typeId, () => read(btf, typeId, view, 0, 0));
}

/** A member or element placed past the type's own size (hostile BTF) is an error, not a crash. */
function outOfBounds<T>(btf: Btf, typeId: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) {
      throw new TsbpfError(`${btf.typeName(typeId)} has members outside its size`, 'BTF value');
    }
    throw e;
  }
}

function isCharArray(btf: Btf, t: BtfType): boolean {
  if (t.kind !== Kind.ARRAY) return false;
  const el = btf.resolve(t.type);
  return (
    el.kind === Kind.INT && el.size === 1 && (el.name === 'char' || (el.encoding & IntEncoding.CHAR) !== 0)
  );
}

/** Bits of an int's value: its bit count, or (none given) its bytes, at most 128 as the kernel's ints. */
const intBits = (t: { bits: number; size: number }): number => t.bits || Math.min(t.size, 16) * 8;

/** Strict UTF-8 (a leading byte-order mark kept as text), or undefined for bytes that are not text. */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function utf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function readBits(view: DataView, byteOff: number, bitOff: number, bits: number, signed: boolean): bigint {
  let v = 0n;
  const first = byteOff + (bitOff >> 3);
  const last = byteOff + ((bitOff + bits - 1) >> 3);
  for (let i = last; i >= first; i--) v = (v << 8n) | BigInt(view.getUint8(i));
  v = (v >> BigInt(bitOff & 7)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, v) : v;
}

function intValue(size: number, v: bigint): number | bigint {
  return size <= 4 ? Number(v) : v;
}

function read(btf: Btf, id: number, view: DataView, off: number, depth: number): BtfValue {
  if (depth > MAX_DEPTH) throw new TsbpfError(`type ${id} nests too deeply`, 'BTF value');
  const t = btf.resolve(id);
  switch (t.kind) {
    case Kind.INT: {
      if (t.encoding & IntEncoding.BOOL) return view.getUint8(off) !== 0;
      const bits = intBits(t);
      return intValue(
        t.size,
        readBits(view, off, t.bitOffset, bits, (t.encoding & IntEncoding.SIGNED) !== 0),
      );
    }
    case Kind.PTR:
      return view.getBigUint64(off, true);
    case Kind.ENUM:
    case Kind.ENUM64: {
      const raw = readBits(view, off, 0, t.size * 8, t.signed);
      const named = t.values.find(
        (e) => BigInt.asUintN(t.size * 8, e.value) === BigInt.asUintN(t.size * 8, raw),
      );
      return named ? named.name : intValue(t.size, raw);
    }
    case Kind.FLOAT:
      if (t.size === 4) return view.getFloat32(off, true);
      if (t.size === 8) return view.getFloat64(off, true);
      return readBits(view, off, 0, t.size * 8, false);
    case Kind.ARRAY: {
      if (isCharArray(btf, t)) {
        let end = off;
        while (end < off + t.nelems && view.getUint8(end) !== 0) end++;
        const text = utf8(new Uint8Array(view.buffer, view.byteOffset + off, end - off));
        if (text !== undefined) return text;
      }
      const es = btf.sizeof(t.type);
      // Zero-sized elements would let a hostile nelems spin for billions of iterations.
      if (es === 0) return [];
      const out: BtfValue[] = [];
      for (let i = 0; i < t.nelems; i++) out.push(read(btf, t.type, view, off + i * es, depth + 1));
      return out;
    }
    case Kind.STRUCT:
    case Kind.UNION: {
      const out: { [name: string]: BtfValue } = {};
      readMembers(btf, t.members, view, off, depth, out);
      return out;
    }
    case Kind.DATASEC: {
      const out: { [name: string]: BtfValue } = {};
      for (const v of t.vars) {
        const vt = btf.type(v.type);
        out[vt.name] = read(btf, v.type, view, off + v.offset, depth + 1);
      }
      return out;
    }
    case Kind.VAR:
      return read(btf, t.type, view, off, depth + 1);
    default:
      throw new TsbpfError(`cannot format a value of type ${btf.typeName(id)}`, 'BTF value');
  }
}

function readMembers(
  btf: Btf,
  members: Member[],
  view: DataView,
  off: number,
  depth: number,
  out: { [name: string]: BtfValue },
): void {
  for (const m of members) {
    const at = off + Math.floor(m.bitOffset / 8);
    const mt = btf.resolve(m.type);
    if (m.bitSize > 0) {
      const signed = mt.kind === Kind.INT ? (mt.encoding & IntEncoding.SIGNED) !== 0 : false;
      const v = readBits(view, off, m.bitOffset, m.bitSize, signed);
      out[m.name] =
        mt.kind === Kind.INT && mt.encoding & IntEncoding.BOOL ? v !== 0n : intValue(btf.sizeof(m.type), v);
    } else if (m.name === '' && (mt.kind === Kind.STRUCT || mt.kind === Kind.UNION)) {
      readMembers(btf, mt.members, view, at, depth + 1, out);
    } else {
      out[m.name] = read(btf, m.type, view, at, depth + 1);
    }
  }
}

/** Encode a JS value (as `formatValue` returns it; missing members are zero) into bytes of type `typeId`. */
export function parseValue(btf: Btf, typeId: number, value: BtfValue): Uint8Array {
  const size = btf.sizeof(typeId);
  if (size > MAX_VALUE_SIZE)
    throw new TsbpfError(`${btf.typeName(typeId)} is ${size} bytes, too large to encode`, 'BTF value');
  const bytes = new Uint8Array(size);
  outOfBounds(btf, typeId, () =>
    write(btf, typeId, value, new DataView(bytes.buffer), 0, 0, btf.typeName(typeId)),
  );
  return bytes;
}

function bad(path: string, msg: string): never {
  throw new TsbpfError(msg, path);
}

function toBigInt(v: BtfValue, path: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?(0x[0-9a-f]+|\d+)$/i.test(v.trim())) {
    const s = v.trim();
    return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  }
  return bad(path, `expected an integer, got ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
}

function writeBits(
  view: DataView,
  byteOff: number,
  bitOff: number,
  bits: number,
  v: bigint,
  signed: boolean,
  path: string,
) {
  // Accept both spellings of a value (0xffffffff and -1 for a 32-bit int), as C does.
  if (v < -(1n << BigInt(bits - 1)) || v > (1n << BigInt(bits)) - 1n) {
    bad(path, `${v} does not fit in ${bits} ${signed ? 'signed' : 'unsigned'} bits`);
  }
  let u = BigInt.asUintN(bits, v) << BigInt(bitOff & 7);
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(bitOff & 7);
  const first = byteOff + (bitOff >> 3);
  const last = byteOff + ((bitOff + bits - 1) >> 3);
  let m = mask;
  for (let i = first; i <= last; i++) {
    const keep = view.getUint8(i) & ~Number(m & 0xffn);
    view.setUint8(i, keep | Number(u & 0xffn));
    u >>= 8n;
    m >>= 8n;
  }
}

function write(
  btf: Btf,
  id: number,
  v: BtfValue,
  view: DataView,
  off: number,
  depth: number,
  path: string,
): void {
  if (depth > MAX_DEPTH) bad(path, 'type nests too deeply');
  const t = btf.resolve(id);
  switch (t.kind) {
    case Kind.INT: {
      const bits = intBits(t);
      writeBits(
        view,
        off,
        t.bitOffset,
        bits,
        toBigInt(v, path),
        (t.encoding & IntEncoding.SIGNED) !== 0,
        path,
      );
      return;
    }
    case Kind.PTR:
      writeBits(view, off, 0, 64, toBigInt(v, path), false, path);
      return;
    case Kind.ENUM:
    case Kind.ENUM64: {
      const named = typeof v === 'string' ? t.values.find((e) => e.name === v) : undefined;
      const raw = named ? named.value : toBigInt(v, path);
      writeBits(view, off, 0, t.size * 8, raw, t.signed, path);
      return;
    }
    case Kind.FLOAT:
      if (typeof v !== 'number') bad(path, `expected a number, got ${typeof v}`);
      if (t.size === 4) view.setFloat32(off, v, true);
      else if (t.size === 8) view.setFloat64(off, v, true);
      else bad(path, `${t.size}-byte floats are unsupported`);
      return;
    case Kind.ARRAY: {
      if (isCharArray(btf, t) && typeof v === 'string') {
        const enc = new TextEncoder().encode(v);
        if (enc.length > t.nelems) bad(path, `string of ${enc.length} bytes does not fit char[${t.nelems}]`);
        new Uint8Array(view.buffer, view.byteOffset + off, enc.length).set(enc);
        return;
      }
      if (!Array.isArray(v)) bad(path, `expected an array of ${t.nelems}`);
      if (v.length > t.nelems) bad(path, `${v.length} elements do not fit an array of ${t.nelems}`);
      const es = btf.sizeof(t.type);
      for (let i = 0; i < v.length; i++)
        write(btf, t.type, v[i]!, view, off + i * es, depth + 1, `${path}[${i}]`);
      return;
    }
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.DATASEC: {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        bad(path, `expected an object for ${btf.typeName(id)}`);
      const obj = v as { [name: string]: BtfValue };
      const used = new Set<string>();
      if (t.kind === Kind.DATASEC) {
        for (const x of t.vars) {
          const name = btf.type(x.type).name;
          if (name in obj) {
            used.add(name);
            write(btf, x.type, obj[name]!, view, off + x.offset, depth + 1, `${path}.${name}`);
          }
        }
      } else {
        writeMembers(btf, t.members, obj, view, off, depth, path, used);
      }
      for (const k of Object.keys(obj)) if (!used.has(k)) bad(path, `${btf.typeName(id)} has no member ${k}`);
      return;
    }
    case Kind.VAR:
      write(btf, t.type, v, view, off, depth + 1, path);
      return;
    default:
      bad(path, `cannot encode a value of type ${btf.typeName(id)}`);
  }
}

function writeMembers(
  btf: Btf,
  members: Member[],
  obj: { [name: string]: BtfValue },
  view: DataView,
  off: number,
  depth: number,
  path: string,
  used: Set<string>,
): void {
  for (const m of members) {
    const mt = btf.resolve(m.type);
    if (m.name === '' && (mt.kind === Kind.STRUCT || mt.kind === Kind.UNION)) {
      writeMembers(btf, mt.members, obj, view, off + Math.floor(m.bitOffset / 8), depth + 1, path, used);
      continue;
    }
    if (!(m.name in obj)) continue;
    used.add(m.name);
    const p = `${path}.${m.name}`;
    if (m.bitSize > 0) {
      const signed = mt.kind === Kind.INT && (mt.encoding & IntEncoding.SIGNED) !== 0;
      writeBits(view, off, m.bitOffset, m.bitSize, toBigInt(obj[m.name]!, p), signed, p);
    } else {
      write(btf, m.type, obj[m.name]!, view, off + Math.floor(m.bitOffset / 8), depth + 1, p);
    }
  }
}
