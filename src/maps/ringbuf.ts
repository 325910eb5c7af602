// RINGBUF: the kernel's BPF ring buffer. A power-of-two data area (max_entries bytes, page multiple) in
// linear memory; producer and consumer positions that only grow; each record starts with an 8-byte
// header { u32 len | BUSY(bit 31) | DISCARD(bit 30); u32 pg_off } and is padded to 8 bytes. The kernel maps
// the data pages twice so a record may run past the end; here the data area is followed by a mirror of
// the same size, a record is written contiguously, and the consumer reads it from where it was written.
//
// reserve never blocks: when the record does not fit before the consumer position it fails (NULL /
// -EAGAIN) and `dropped` counts it. Consumers (RingBufReader) drain records in order as callbacks or an
// async iterator; a wakeup is scheduled as a microtask, never run inside the program.

import { MapError } from '../errors.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import { KeylessMap, type MapOptions } from './base.js';
import { ReaderSet, RecordReader } from './reader.js';

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

/** Ring buffer maps: records reserved and committed by programs, read in order from JS. */
export class RingBufMap extends KeylessMap {
  readonly data: Region;
  readonly mask: number;
  consumerPos = 0;
  producerPos = 0;
  /** Reservations that failed because the consumer was behind (records lost to the program). */
  dropped = 0;
  private readonly readers = new ReaderSet<Uint8Array>();
  /**
   * Samples reserved and not yet submitted or discarded: address → who reserved it (the run's invocation).
   * A sample's header is never the program's, so its length cannot be forged; a second submit or discard
   * finds no entry and is a fault.
   */
  private readonly held = new Map<number, object>();

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

  /** bpf_ringbuf_reserve: address of `size` writable bytes, or 0. `owner` is who must release it. */
  reserve(size: number, owner: object = this): number {
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
    this.held.set(hdr + RINGBUF_HDR_SZ, owner);
    return hdr + RINGBUF_HDR_SZ;
  }

  /**
   * bpf_ringbuf_submit / bpf_ringbuf_discard of a sample from reserve. A sample that is not held (never
   * reserved, or already submitted or discarded) is an error: the verifier rules it out, checked runs fault.
   */
  commit(sample: number, discard: boolean, flags: number): void {
    if (!this.held.delete(sample)) {
      // A program's mistake (the engines report it as a fault at the helper call), not a map error.
      throw new Error(
        `ring buffer '${this.spec.name}': 0x${sample.toString(16)} is not a reserved sample (already submitted or discarded?)`,
      );
    }
    const hdr = sample - RINGBUF_HDR_SZ;
    const v = this.dv;
    const len = v.getUint32(hdr, true) & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    v.setUint32(hdr, (len | (discard ? RINGBUF_DISCARD_BIT : 0)) >>> 0, true);
    if (!(flags & RingBufFlag.NO_WAKEUP)) this.readers.wake();
  }

  /**
   * The data range [start, end) of the sample `owner` holds that contains [addr, addr + size), or
   * undefined. For checked runs: a program may touch only the samples it reserved and still holds.
   */
  heldSample(addr: number, size: number, owner: object): [number, number] | undefined {
    for (const [sample, who] of this.held) {
      if (who !== owner || addr < sample) continue;
      const len =
        this.dv.getUint32(sample - RINGBUF_HDR_SZ, true) & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (addr + size <= sample + len) return [sample, sample + len];
    }
    return undefined;
  }

  /**
   * Discard what `owner` still holds: a run that ended without releasing its samples (a checked program
   * that faulted or forgot) must not block the ring for the runs after it.
   */
  abandon(owner: object): void {
    for (const [sample, who] of this.held)
      if (who === owner) this.commit(sample, true, RingBufFlag.NO_WAKEUP);
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
      const off = this.consumerPos & this.mask;
      const hdr = this.data.start + off;
      const word = v.getUint32(hdr, true);
      if (word & RINGBUF_BUSY_BIT) break;
      const size = word & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      // Every header is checked against the ring before its length is believed.
      if (
        size + RINGBUF_HDR_SZ > this.producerPos - this.consumerPos ||
        v.getUint32(hdr + 4, true) !== off >>> 12
      ) {
        throw new MapError(
          Errno.EINVAL,
          `ring buffer '${this.spec.name}': corrupt record header at position ${this.consumerPos} (length ${size}, ${this.producerPos - this.consumerPos} bytes written)`,
        );
      }
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
