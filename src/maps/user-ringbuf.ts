// USER_RINGBUF: the ring buffer in the other direction, user space producing and programs consuming (the
// kernel's BPF_MAP_TYPE_USER_RINGBUF). A power-of-two data area (max_entries bytes, a page multiple) in linear
// memory, followed by a mirror so a sample is contiguous; each sample starts with an 8-byte header
// { u32 len | DISCARD(bit 30); u32 unused } and is padded to 8 bytes. User space writes samples with
// `submit()` (never blocking: a full ring says -ENOSPC); bpf_user_ringbuf_drain hands each to the program's
// callback as a read-write local dynptr over the sample's bytes, in order, and frees it after the callback.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import { KeylessMap, type MapOptions } from './base.js';

const HDR_SZ = 8;
const DISCARD_BIT = 0x40000000;
/** Samples one bpf_user_ringbuf_drain call consumes at most (the kernel's BPF_MAX_USER_RINGBUF_SAMPLES). */
export const MAX_USER_RINGBUF_SAMPLES = 128 * 1024;

/** A user ring buffer: samples written from JS, drained by programs. */
export class UserRingBufMap extends KeylessMap {
  readonly data: Region;
  private readonly mask: number;
  /** 16 bytes where the drain builds the dynptr it passes the callback (one drain at a time). */
  readonly dynptrAddr: number;
  consumerPos = 0;
  producerPos = 0;
  /** A drain is running (a second, from a callback, gets -EBUSY as in the kernel). */
  busy = false;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.mask = spec.maxEntries - 1;
    this.data = this.own(space.allocate(spec.maxEntries * 2, 'ringbuf', `user ring buffer ${spec.name}`));
    this.dynptrAddr = this.own(space.allocate(16, 'scratch', `user ring buffer ${spec.name} dynptr`)).start;
  }

  /**
   * Write one sample for programs to drain: 0, -E2BIG when it can never fit, -ENOSPC when the ring is full
   * now (drain first). `discard` writes a sample drains skip (a producer's reserved-then-discarded sample).
   */
  submit(sample: Uint8Array, discard = false): number {
    const len = Math.ceil((sample.length + HDR_SZ) / 8) * 8;
    if (sample.length >= DISCARD_BIT || len > this.spec.maxEntries) return -Errno.E2BIG;
    if (this.producerPos + len - this.consumerPos > this.spec.maxEntries) return -Errno.ENOSPC;
    const hdr = this.data.start + (this.producerPos & this.mask);
    this.dv.setUint32(hdr, (sample.length | (discard ? DISCARD_BIT : 0)) >>> 0, true);
    this.dv.setUint32(hdr + 4, 0, true);
    this.u8.set(sample, hdr + HDR_SZ);
    this.producerPos += len;
    return 0;
  }

  /** Bytes written and not yet drained (headers and padding included). */
  get pending(): number {
    return this.producerPos - this.consumerPos;
  }

  /**
   * The next sample to drain as [address, length], discarded ones skipped (and freed); undefined when empty.
   */
  peek(): [number, number] | undefined {
    while (this.consumerPos < this.producerPos) {
      const hdr = this.data.start + (this.consumerPos & this.mask);
      const word = this.dv.getUint32(hdr, true);
      const size = word & ~DISCARD_BIT;
      if (!(word & DISCARD_BIT)) return [hdr + HDR_SZ, size];
      this.release(size);
    }
    return undefined;
  }

  /** Free the sample `peek` gave (its `size`): the producer may reuse its bytes. */
  release(size: number): void {
    this.consumerPos += Math.ceil((size + HDR_SZ) / 8) * 8;
  }
}
