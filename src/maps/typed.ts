// A Map-like view over a BpfMap: `get/set/delete/has/keys()/values()/entries()/[Symbol.iterator]` with
// key and value codecs. Codecs turn JS values into the map's bytes and back: raw bytes, little-endian
// numbers, per-CPU arrays of values, or anything implementing `Codec` (the BTF engine supplies struct
// codecs, so `stats.get(17)` can give `{ packets, bytes }`).

import { MapError } from '../errors.js';
import { Errno } from '../spec/errno.js';
import { UpdateFlag } from '../spec/maps.js';
import { MapBase } from './base.js';
import type { BpfMap } from './types.js';

/** Turns a JS value into the map's bytes (memory order) and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Raw bytes of a fixed size (a shorter input is an error, not silently padded). */
export function bytesCodec(size: number): Codec<Uint8Array> {
  return {
    encode(v) {
      if (v.length !== size) throw new MapError(Errno.EINVAL, `expected ${size} bytes, got ${v.length}`);
      return v;
    },
    decode: (b) => b,
  };
}

/** Little-endian unsigned integer of 1, 2 or 4 bytes as a number. */
export function uintCodec(size: 1 | 2 | 4): Codec<number> {
  return {
    encode(v) {
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * size)) {
        throw new MapError(Errno.EINVAL, `${v} does not fit in an unsigned ${8 * size}-bit integer`);
      }
      const b = new Uint8Array(size);
      for (let i = 0; i < size; i++) b[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
      return b;
    },
    decode(b) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + b[i]!;
      return v;
    },
  };
}

/** Little-endian u64 as a bigint (numbers are accepted on input). */
export const u64Codec: Codec<bigint> = {
  encode(v) {
    const n = BigInt(v);
    if (n < 0n || n >= 1n << 64n) throw new MapError(Errno.EINVAL, `${v} does not fit in a u64`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n, true);
    return b;
  },
  decode: (b) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true),
};

/** The natural codec for a size: numbers for 1/2/4 bytes, bigint for 8, raw bytes otherwise. */
export function defaultCodec(size: number): Codec<unknown> {
  if (size === 1 || size === 2 || size === 4) return uintCodec(size) as Codec<unknown>;
  if (size === 8) return u64Codec as Codec<unknown>;
  return bytesCodec(size) as Codec<unknown>;
}

/** Per-CPU values: one element per CPU, each `stride` (round_up(value_size, 8)) bytes apart. */
export function perCpuCodec<T>(inner: Codec<T>, valueSize: number, cpus: number): Codec<T[]> {
  const stride = Math.ceil(valueSize / 8) * 8;
  return {
    encode(values) {
      if (values.length !== cpus)
        throw new MapError(Errno.EINVAL, `expected ${cpus} per-CPU values, got ${values.length}`);
      const out = new Uint8Array(stride * cpus);
      for (let i = 0; i < cpus; i++) out.set(inner.encode(values[i]!), i * stride);
      return out;
    },
    decode(b) {
      const out: T[] = [];
      for (let i = 0; i < cpus; i++) out.push(inner.decode(b.slice(i * stride, i * stride + valueSize)));
      return out;
    },
  };
}

/** A map's keys and values as JS values through a codec each: get, set, delete and iteration, like a Map. */
export class TypedMap<K, V> implements Iterable<[K, V]> {
  constructor(
    readonly map: BpfMap,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {}

  get(key: K): V | undefined {
    const v = this.map.lookup(this.keyCodec.encode(key));
    return v === undefined ? undefined : this.valueCodec.decode(v);
  }

  has(key: K): boolean {
    return this.map.lookup(this.keyCodec.encode(key)) !== undefined;
  }

  /** Update with BPF_ANY unless flags say otherwise (errors as MapError: EEXIST, ENOENT, E2BIG ...). */
  set(key: K, value: V, flags: number = UpdateFlag.ANY): this {
    this.map.update(this.keyCodec.encode(key), this.valueCodec.encode(value), flags);
    return this;
  }

  /** True when an element was deleted, false when the key was absent (other errors throw). */
  delete(key: K): boolean {
    try {
      this.map.delete(this.keyCodec.encode(key));
      return true;
    } catch (e) {
      if (e instanceof MapError && e.errno === Errno.ENOENT) return false;
      throw e;
    }
  }

  *keys(): IterableIterator<K> {
    for (const k of rawKeys(this.map)) yield this.keyCodec.decode(k);
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const k of rawKeys(this.map)) {
      const v = this.map.lookup(k);
      if (v !== undefined) yield [this.keyCodec.decode(k), this.valueCodec.decode(v)];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  get size(): number {
    let n = 0;
    for (const _ of rawKeys(this.map)) n++;
    return n;
  }

  /** Delete every key (array maps cannot delete: EINVAL, as in the kernel). */
  clear(): void {
    for (const k of [...rawKeys(this.map)]) this.map.delete(k);
  }
}

/** Keys in the map's iteration order; restarts are bounded so deletions during iteration cannot hang. */
export function* rawKeys(map: BpfMap): IterableIterator<Uint8Array> {
  let k = map.nextKey(undefined);
  let guard = 0;
  while (k) {
    yield k;
    k = map.nextKey(k);
    if (++guard > 4 * map.spec.maxEntries + 16) return;
  }
}

/** A typed view with default codecs for the map's sizes (per-CPU maps give arrays of per-CPU values). */
export function typedMap<K = unknown, V = unknown>(
  map: BpfMap,
  codecs: { key?: Codec<K>; value?: Codec<V>; cpus?: number } = {},
): TypedMap<K, V> {
  const key = codecs.key ?? (defaultCodec(map.spec.keySize) as Codec<K>);
  let value = codecs.value;
  if (!value) {
    const inner = defaultCodec(map.spec.valueSize);
    value = (
      map instanceof MapBase && map.perCpu
        ? perCpuCodec(inner, map.spec.valueSize, codecs.cpus ?? map.nCpus)
        : inner
    ) as Codec<V>;
  }
  return new TypedMap(map, key, value);
}
