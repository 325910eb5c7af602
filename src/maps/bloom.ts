// BPF_MAP_TYPE_BLOOM_FILTER: a set with false positives and no removal. Programs push values
// (bpf_map_push_elem) and ask for them (bpf_map_peek_elem: 0 maybe present, -ENOENT surely absent); user
// space pushes with an update and asks with a lookup. As in the kernel: k hash functions (map_extra's low 4
// bits, default 5), a bit array of max_entries * k * 7/5 bits rounded up to a power of two (at least 64),
// bit i of value v at jhash2/jhash(v, seed + i) masked to the array, and a random seed unless
// BPF_F_ZERO_SEED: with it, the same values set the same bits as the kernel's filter, false positives
// included.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import { MapBase, type MapOptions, mapFail } from './base.js';
import { jhash, jhash2 } from './jhash.js';

const F_ZERO_SEED = 0x40;

/** The bit array's size in bits for a spec (the kernel's bloom_map_alloc). */
export function bloomBits(spec: MapSpec): number {
  const k = bloomHashes(spec);
  let bits = Math.floor((spec.maxEntries * k) / 5) * 7;
  if (spec.maxEntries * k > 0xffffffff || bits > 2 ** 31) return 2 ** 32;
  bits = bits <= 64 ? 64 : 2 ** Math.ceil(Math.log2(bits));
  return bits;
}

/** The number of hash functions: map_extra's low 4 bits, 5 when they are 0. */
export function bloomHashes(spec: MapSpec): number {
  return Number((spec.mapExtra ?? 0n) & 0xfn) || 5;
}

/** A bloom filter: its bit array in linear memory. */
export class BloomFilterMap extends MapBase {
  readonly bits: Region;
  private readonly mask: number;
  private readonly hashes: number;
  private readonly seed: number;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    const nbits = bloomBits(spec);
    this.mask = (nbits - 1) >>> 0;
    this.hashes = bloomHashes(spec);
    this.seed = spec.flags & F_ZERO_SEED ? 0 : (Math.random() * 2 ** 32) >>> 0;
    this.bits = this.own(
      space.allocate(Math.ceil(nbits / 64) * 8, 'map_value', `map ${spec.name} bits`, false),
    );
    this.u8.fill(0, this.bits.start, this.bits.end);
  }

  private bit(valueAddr: number, i: number): number {
    const n = this.spec.valueSize;
    const h =
      n % 4 === 0
        ? jhash2(new Uint32Array(this.u8.slice(valueAddr, valueAddr + n).buffer), (this.seed + i) >>> 0)
        : jhash(this.u8, valueAddr, n, (this.seed + i) >>> 0);
    return (h & this.mask) >>> 0;
  }

  /** bpf_map_push_elem: set the value's bits; only BPF_ANY. */
  push(valueAddr: number, flags: number): number {
    if (flags !== 0) return -Errno.EINVAL;
    for (let i = 0; i < this.hashes; i++) {
      const b = this.bit(valueAddr, i);
      this.u8[this.bits.start + (b >>> 3)]! |= 1 << (b & 7);
    }
    return 0;
  }

  /** bpf_map_peek_elem: 0 when every bit of the value is set, else -ENOENT. */
  peek(valueAddr: number): number {
    for (let i = 0; i < this.hashes; i++) {
      const b = this.bit(valueAddr, i);
      if (!(this.u8[this.bits.start + (b >>> 3)]! & (1 << (b & 7)))) return -Errno.ENOENT;
    }
    return 0;
  }

  lookupPtr(_keyAddr: number, _cpu: number): number {
    return 0;
  }

  updatePtr(_keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    return this.push(valueAddr, flags);
  }

  deletePtr(_keyAddr: number): number {
    return -KernelErrno.EOPNOTSUPP;
  }

  nextKeyPtr(_keyAddr: number, _outAddr: number): number {
    return -KernelErrno.EOPNOTSUPP;
  }

  /** User space asks with a lookup of the value (no key): whether it may be in the set. */
  has(value: Uint8Array): boolean {
    if (value.length !== this.spec.valueSize)
      mapFail(this.spec, 'lookup', -Errno.EINVAL, `value must be ${this.spec.valueSize} bytes`);
    this.space.write(this.scratchValue, value);
    return this.peek(this.scratchValue) === 0;
  }

  /** User space adds a value with an update (no key). */
  add(value: Uint8Array): void {
    this.update(new Uint8Array(0), value);
  }
}
