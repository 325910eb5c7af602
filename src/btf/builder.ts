// Build a `.BTF` section from scratch: enough kinds to describe BTF-defined maps (`__uint`, `__type`,
// `__array`) and functions, which is what the ELF writer needs for objects libbpf 1.x will load.

import { BTF_MAGIC } from './parse.js';
import { Kind } from './types.js';

export interface BuilderMember {
  name: string;
  type: number;
  /** Offset in bits. */
  bitOffset: number;
}

export class BtfBuilder {
  private readonly words: number[] = [];
  private count = 0;
  private readonly strs: string[] = [''];
  private readonly strIndex = new Map<string, number>([['', 0]]);
  private strLen = 1;
  private intId = 0;

  /** Offset of `s` in the string section (shared between equal strings). */
  str(s: string): number {
    let off = this.strIndex.get(s);
    if (off === undefined) {
      off = this.strLen;
      this.strIndex.set(s, off);
      this.strs.push(s);
      this.strLen += new TextEncoder().encode(s).length + 1;
    }
    return off;
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
    const extra = members.flatMap((m) => [this.str(m.name), m.type, m.bitOffset]);
    return this.add(name, Kind.STRUCT, members.length, size, extra);
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
