// Build a `.BTF` section from scratch: enough kinds to describe BTF-defined maps (`__uint`, `__type`,
// `__array`) and functions, which is what the ELF writer needs for objects libbpf 1.x will load.

import { BTF_MAGIC, type Btf } from './parse.js';
import { Kind } from './types.js';

export interface BuilderMember {
  name: string;
  type: number;
  /** Offset in bits. */
  bitOffset: number;
  /** Bitfield width in bits (0 or absent: not a bitfield). */
  bitSize?: number;
}

/** Builds a `.BTF` section: types and strings added one at a time, then `encode()` gives the bytes. */
export class BtfBuilder {
  private readonly words: number[] = [];
  private count = 0;
  private readonly strs: string[] = [''];
  private readonly strIndex = new Map<string, number>([['', 0]]);
  private strLen = 1;
  private intId = 0;
  /** For split BTF: where this section's strings start (the base's string section length). */
  private readonly strBase: number;

  /**
   * A builder of a standalone `.BTF`, or with `base` of split BTF over it (as a kernel module's over
   * vmlinux): type ids continue the base's and string offsets follow the base's strings.
   */
  constructor(base?: Btf) {
    this.count = base ? base.types.length - 1 : 0;
    this.strBase = base ? base.strings.length : 0;
  }

  /** Offset of `s` in the string section (shared between equal strings). */
  str(s: string): number {
    let off = this.strIndex.get(s);
    if (off === undefined) {
      off = this.strLen;
      this.strIndex.set(s, off);
      this.strs.push(s);
      this.strLen += new TextEncoder().encode(s).length + 1;
    }
    return off === 0 ? 0 : off + this.strBase;
  }

  private add(
    name: string,
    kind: number,
    vlen: number,
    sizeOrType: number,
    extra: number[] = [],
    kflag = false,
  ): number {
    this.words.push(this.str(name), ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra);
    return ++this.count;
  }

  int(name: string, size: number, signed = false): number {
    return this.add(name, Kind.INT, 0, size, [((signed ? 1 : 0) << 24) | (size * 8)]);
  }

  /** The `int` type shared by every `__uint()` array. */
  plainInt(): number {
    if (this.intId === 0) this.intId = this.int('int', 4, true);
    return this.intId;
  }

  ptr(type: number): number {
    return this.add('', Kind.PTR, 0, type);
  }

  array(elem: number, nelems: number): number {
    return this.add('', Kind.ARRAY, 0, 0, [elem, this.plainInt(), nelems]);
  }

  struct(name: string, size: number, members: BuilderMember[]): number {
    return this.composite(Kind.STRUCT, name, size, members);
  }

  union(name: string, size: number, members: BuilderMember[]): number {
    return this.composite(Kind.UNION, name, size, members);
  }

  /** A struct or union; with any bitfield member, every offset carries its width (kflag set). */
  private composite(kind: number, name: string, size: number, members: BuilderMember[]): number {
    const bitfields = members.some((m) => (m.bitSize ?? 0) > 0);
    const extra = members.flatMap((m) => [
      this.str(m.name),
      m.type,
      bitfields ? (((m.bitSize ?? 0) << 24) | m.bitOffset) >>> 0 : m.bitOffset,
    ]);
    return this.add(name, kind, members.length, size, extra, bitfields);
  }

  /** An ENUM of `size` bytes (ENUM64 when a value needs more than 32 bits). */
  enumType(name: string, size: number, values: { name: string; value: bigint }[], signed = false): number {
    const wide = size === 8 || values.some((v) => v.value > 0xffffffffn || v.value < -0x80000000n);
    if (wide) {
      const extra = values.flatMap((e) => {
        const u = BigInt.asUintN(64, e.value);
        return [this.str(e.name), Number(u & 0xffffffffn), Number(u >> 32n)];
      });
      return this.add(name, Kind.ENUM64, values.length, size, extra, signed);
    }
    const extra = values.flatMap((e) => [this.str(e.name), Number(BigInt.asUintN(32, e.value))]);
    return this.add(name, Kind.ENUM, values.length, size, extra, signed);
  }

  typedef(name: string, type: number): number {
    return this.add(name, Kind.TYPEDEF, 0, type);
  }

  /** CONST, VOLATILE or RESTRICT of `type`. */
  qualifier(kind: typeof Kind.CONST | typeof Kind.VOLATILE | typeof Kind.RESTRICT, type: number): number {
    return this.add('', kind, 0, type);
  }

  /** A forward declaration of a struct (or union). */
  fwd(name: string, union = false): number {
    return this.add(name, Kind.FWD, 0, 0, [], union);
  }

  funcProto(ret: number, params: { name: string; type: number }[]): number {
    return this.add(
      '',
      Kind.FUNC_PROTO,
      params.length,
      ret,
      params.flatMap((p) => [this.str(p.name), p.type]),
    );
  }

  /** linkage: 0 static, 1 global. */
  func(name: string, proto: number, linkage = 1): number {
    return this.add(name, Kind.FUNC, linkage, proto);
  }

  /** linkage: 0 static, 1 global allocated. */
  variable(name: string, type: number, linkage = 1): number {
    return this.add(name, Kind.VAR, 0, type, [linkage]);
  }

  datasec(name: string, size: number, vars: { type: number; offset: number; size: number }[]): number {
    return this.add(
      name,
      Kind.DATASEC,
      vars.length,
      size,
      vars.flatMap((v) => [v.type, v.offset, v.size]),
    );
  }

  /**
   * Copy type `id` of `src` and every type it refers to (memoized per source), returning the new id.
   * BTF allows forward references, so ids are assigned to the whole closure before any is written.
   */
  copy(src: Btf, id: number): number {
    if (id === 0) return 0;
    let memo = this.copies.get(src);
    if (!memo) {
      memo = new Map();
      this.copies.set(src, memo);
    }
    const known = memo.get(id);
    if (known !== undefined) return known;
    const order: number[] = [];
    const stack = [id];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (cur === 0 || seen.has(cur) || memo.has(cur)) continue;
      seen.add(cur);
      order.push(cur);
      stack.push(...referencedTypes(src, cur));
    }
    order.forEach((old, i) => {
      memo.set(old, this.count + 1 + i);
    });
    const map = (x: number) => (x === 0 ? 0 : memo.get(x)!);
    for (const old of order) this.emitCopy(src.type(old), map);
    return memo.get(id)!;
  }

  private readonly copies = new Map<Btf, Map<number, number>>();

  /**
   * Copy every type of `src` in order, keeping its ids (into an empty builder), each passed through `edit`
   * first (e.g. to change a linkage): what the kernel gets when ids the program holds must stay valid.
   */
  copyAll(src: Btf, edit: (t: ReturnType<Btf['type']>) => ReturnType<Btf['type']> = (t) => t): void {
    if (this.count !== 0) throw new Error('BtfBuilder.copyAll needs an empty builder');
    for (let id = 1; id < src.types.length; id++) this.emitCopy(edit(src.type(id)), (x) => x);
  }

  private emitCopy(t: ReturnType<Btf['type']>, map: (x: number) => number): void {
    switch (t.kind) {
      case Kind.VOID:
        return;
      case Kind.INT:
        this.add(t.name, t.kind, 0, t.size, [(t.encoding << 24) | (t.bitOffset << 16) | t.bits]);
        return;
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        this.add(t.name, t.kind, 0, map(t.type));
        return;
      case Kind.FWD:
        this.add(t.name, t.kind, 0, 0, [], t.union);
        return;
      case Kind.ARRAY:
        this.add(t.name, t.kind, 0, 0, [map(t.type), map(t.indexType), t.nelems]);
        return;
      case Kind.STRUCT:
      case Kind.UNION: {
        const bitfields = t.members.some((m) => m.bitSize > 0);
        const extra = t.members.flatMap((m) => [
          this.str(m.name),
          map(m.type),
          bitfields ? ((m.bitSize << 24) | m.bitOffset) >>> 0 : m.bitOffset,
        ]);
        this.add(t.name, t.kind, t.members.length, t.size, extra, bitfields);
        return;
      }
      case Kind.ENUM:
        this.add(
          t.name,
          t.kind,
          t.values.length,
          t.size,
          t.values.flatMap((e) => [this.str(e.name), Number(BigInt.asUintN(32, e.value))]),
          t.signed,
        );
        return;
      case Kind.ENUM64:
        this.add(
          t.name,
          t.kind,
          t.values.length,
          t.size,
          t.values.flatMap((e) => {
            const u = BigInt.asUintN(64, e.value);
            return [this.str(e.name), Number(u & 0xffffffffn), Number(u >> 32n)];
          }),
          t.signed,
        );
        return;
      case Kind.FUNC:
        this.add(t.name, t.kind, t.linkage, map(t.type));
        return;
      case Kind.FUNC_PROTO:
        this.add(
          t.name,
          t.kind,
          t.params.length,
          map(t.ret),
          t.params.flatMap((p) => [this.str(p.name), map(p.type)]),
        );
        return;
      case Kind.VAR:
        this.add(t.name, t.kind, 0, map(t.type), [t.linkage]);
        return;
      case Kind.DATASEC:
        this.add(
          t.name,
          t.kind,
          t.vars.length,
          t.size,
          t.vars.flatMap((x) => [map(x.type), x.offset, x.size]),
        );
        return;
      case Kind.FLOAT:
        this.add(t.name, t.kind, 0, t.size);
        return;
      case Kind.DECL_TAG:
        this.add(t.name, t.kind, 0, map(t.type), [t.componentIdx]);
        return;
    }
  }

  /** `int (*name)[n]`: how `__uint(name, n)` encodes a number. */
  uintField(n: number): number {
    return this.ptr(this.array(this.plainInt(), n));
  }

  encode(): Uint8Array {
    const typeLen = this.words.length * 4;
    const strBytes = new TextEncoder().encode(`${this.strs.join('\0')}\0`);
    const out = new Uint8Array(24 + typeLen + strBytes.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, BTF_MAGIC, true);
    out[2] = 1;
    v.setUint32(4, 24, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, strBytes.length, true);
    this.words.forEach((w, i) => {
      v.setUint32(24 + i * 4, w >>> 0, true);
    });
    out.set(strBytes, 24 + typeLen);
    return out;
  }
}

/** Type ids that type `id` refers to. */
function referencedTypes(btf: Btf, id: number): number[] {
  const t = btf.type(id);
  switch (t.kind) {
    case Kind.STRUCT:
    case Kind.UNION:
      return t.members.map((m) => m.type);
    case Kind.FUNC_PROTO:
      return [t.ret, ...t.params.map((p) => p.type)];
    case Kind.DATASEC:
      return t.vars.map((v) => v.type);
    case Kind.ARRAY:
      return [t.type, t.indexType];
    default:
      return 'type' in t ? [t.type] : [];
  }
}
