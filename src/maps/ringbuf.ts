// RINGBUF: the kernel's BPF ring buffer. A power-of-two data area (max_entries bytes, page multiple) in
// linear memory; producer and consumer positions that only grow; each record starts with an 8-byte
// header { u32 len | BUSY(bit 31) | DISCARD(bit 30); u32 pg_off } and is padded to 8 bytes. The kernel maps
// the data pages twice so a record may run past the end; here the data area is followed by a mirror of
// the same size, a record is written contiguously, and the consumer reads it from where it was written.
//
// reserve never blocks: when the record does not fit before the consumer position it fails (NULL /
// -EAGAIN) and `dropped` counts it. Consumers (RingBufReader) drain records in order as callbacks or an
// async iterator; a wakeup is scheduled as a microtask, never run inside the program.

import type { AddressSpace, Region } from '../vm/memory.js';
import { MapBase, type MapOptions } from './base.js';
import { ReaderSet, RecordReader } from './reader.js';
import { Errno, KernelErrno, MapError, type MapSpec } from './types.js';

export const RINGBUF_HDR_SZ = 8;
export const RINGBUF_BUSY_BIT = 0x80000000;
export const RINGBUF_DISCARD_BIT = 0x40000000;
/** bpf_ringbuf_output/submit/discard flags. */
export const RingBufFlag = { NO_WAKEUP: 1, FORCE_WAKEUP: 2 } as const;
/** bpf_ringbuf_query flags. */
export const RingBufQuery = { AVAIL_DATA: 0, RING_SIZE: 1, CONS_POS: 2, PROD_POS: 3 } as const;
/** The kernel's limit on one record (RINGBUF_MAX_RECORD_SZ = UINT_MAX / 4). */
const MAX_RECORD_SZ = 0x3fffffff;

const ringsByRegion = new WeakMap<Region, RingBufMap>();

export class RingBufMap extends MapBase {
  readonly data: Region;
  readonly mask: number;
  consumerPos = 0;
  producerPos = 0;
  /** Reservations that failed because the consumer was behind (records lost to the program). */
  dropped = 0;
  private readonly readers = new ReaderSet<Uint8Array>();

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.mask = spec.maxEntries - 1;
    this.data = this.own(space.allocate(spec.maxEntries * 2, 'ringbuf', `ring buffer ${spec.name}`));
    ringsByRegion.set(this.data, this);
  }

  /** The ring buffer a sample pointer (from reserve) belongs to. */
  static ofSample(space: AddressSpace, addr: number): RingBufMap | undefined {
    const region = space.regionAt(addr);
    return region ? ringsByRegion.get(region) : undefined;
  }

  /** bpf_ringbuf_reserve: address of `size` writable bytes, or 0. */
  reserve(size: number): number {
    if (size > MAX_RECORD_SZ) return 0;
    const len = Math.ceil((size + RINGBUF_HDR_SZ) / 8) * 8;
    if (len > this.spec.maxEntries || this.producerPos + len - this.consumerPos > this.mask) {
      this.dropped++;
      return 0;
    }
    const off = this.producerPos & this.mask;
    const hdr = this.data.start + off;
    const v = this.dv;
    v.setUint32(hdr, (size | RINGBUF_BUSY_BIT) >>> 0, true);
    v.setUint32(hdr + 4, off >>> 12, true);
    this.producerPos += len;
    return hdr + RINGBUF_HDR_SZ;
  }

  /** bpf_ringbuf_submit / bpf_ringbuf_discard of a sample from reserve. */
  commit(sample: number, discard: boolean, flags: number): void {
    const hdr = sample - RINGBUF_HDR_SZ;
    const v = this.dv;
    const len = v.getUint32(hdr, true) & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    v.setUint32(hdr, (len | (discard ? RINGBUF_DISCARD_BIT : 0)) >>> 0, true);
    if (!(flags & RingBufFlag.NO_WAKEUP)) this.readers.wake();
  }

  /** bpf_ringbuf_output: 0, -EINVAL for bad flags, -EAGAIN when there is no room. */
  output(src: number, size: number, flags: number): number {
    if (flags & ~(RingBufFlag.NO_WAKEUP | RingBufFlag.FORCE_WAKEUP)) return -Errno.EINVAL;
    const p = this.reserve(size);
    if (p === 0) return -Errno.EAGAIN;
    this.u8.copyWithin(p, src, src + size);
    this.commit(p, false, flags);
    return 0;
  }

  /** bpf_ringbuf_query. */
  query(flags: number): bigint {
    switch (flags) {
      case RingBufQuery.AVAIL_DATA:
        return BigInt(this.producerPos - this.consumerPos);
      case RingBufQuery.RING_SIZE:
        return BigInt(this.spec.maxEntries);
      case RingBufQuery.CONS_POS:
        return BigInt(this.consumerPos);
      case RingBufQuery.PROD_POS:
        return BigInt(this.producerPos);
      default:
        return 0n;
    }
  }

  /**
   * Consume committed records in order, calling fn(data) for each non-discarded one; stops at a record
   * still being written. Returns the number delivered.
   */
  drain(fn: (data: Uint8Array) => void, limit = Number.POSITIVE_INFINITY): number {
    const v = this.dv;
    let n = 0;
    while (this.consumerPos < this.producerPos && n < limit) {
      const hdr = this.data.start + (this.consumerPos & this.mask);
      const word = v.getUint32(hdr, true);
      if (word & RINGBUF_BUSY_BIT) break;
      const size = word & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      const data = this.space.read(hdr + RINGBUF_HDR_SZ, size);
      this.consumerPos += Math.ceil((size + RINGBUF_HDR_SZ) / 8) * 8;
      if (!(word & RINGBUF_DISCARD_BIT)) {
        n++;
        fn(data);
      }
    }
    return n;
  }

  /** A consumer of this ring buffer (one at a time consumes; records go to whichever drains first). */
  reader(): RingBufReader {
    return this.readers.add(new RingBufReader(this));
  }

  lookupPtr(): number {
    return 0;
  }
  updatePtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
  deletePtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
  nextKeyPtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
  override lookup(): Uint8Array | undefined {
    throw new MapError(
      KernelErrno.ENOTSUPP,
      `map '${this.spec.name}': lookup: not supported for ring buffers`,
    );
  }
}

/** Reads records of one ring buffer: `poll()`, callbacks with `onRecord`, or `for await` (see RecordReader). */
export class RingBufReader extends RecordReader<Uint8Array> {
  constructor(readonly ring: RingBufMap) {
    super();
  }

  /** Records lost because the buffer was full when the program produced them. */
  get lost(): number {
    return this.ring.dropped;
  }

  protected drainTo(fn: (data: Uint8Array) => void): void {
    this.ring.drain(fn);
  }
}
