// Reading a kernel BPF ring buffer from JavaScript, the way libbpf's ring_buffer does: the consumer page
// (read-write, consumer position) and the producer page plus the data area mapped twice in a row
// (read-only) are mmap-ed; records are read in order up to the producer position and the consumer
// position is advanced. Each record has an 8-byte header { u32 len | BUSY (bit 31) | DISCARD (bit 30);
// u32 page offset } and is padded to 8 bytes. Polling is explicit (no epoll): call `poll()`/`drain()`.

import type { MapSpec } from '../spec/maps.js';
import { type Mapping, mapShared, pageSize } from './ffi.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
const LEN_MASK = 0x3fffffff;

/** A kernel ring buffer map read from JS through its mmap'ed pages, as libbpf's ring_buffer does. */
export class KernelRingBuf {
  private readonly consumer: Mapping;
  private readonly producer: Mapping;
  private readonly mask: number;
  private readonly dataOffset: number;
  private closed = false;

  /** `map`: a kernel RINGBUF map (its file descriptor and spec), e.g. a KernelMap. */
  constructor(readonly map: { readonly fd: number; readonly spec: MapSpec }) {
    const page = pageSize();
    const size = map.spec.maxEntries;
    this.mask = size - 1;
    this.dataOffset = page;
    this.consumer = mapShared(map.fd, page, 0, true);
    try {
      this.producer = mapShared(map.fd, page + 2 * size, page, false);
    } catch (e) {
      this.consumer.unmap();
      throw e;
    }
  }

  /** Bytes written by programs and not yet consumed. */
  get available(): number {
    return this.producerPos() - this.consumerPos();
  }

  private consumerPos(): number {
    return Number(this.consumer.view.getBigUint64(0, true));
  }

  private producerPos(): number {
    return Number(this.producer.view.getBigUint64(0, true));
  }

  /** Hand each committed record (a copy) to `fn`, in order, at most `limit`; returns how many. */
  drain(fn: (record: Uint8Array) => void, limit = Number.POSITIVE_INFINITY): number {
    if (this.closed) throw new Error(`ring buffer ${this.map.spec.name} is closed`);
    const data = this.producer.bytes;
    const view = this.producer.view;
    let cons = this.consumerPos();
    const prod = this.producerPos();
    let n = 0;
    while (cons < prod && n < limit) {
      const at = this.dataOffset + (cons & this.mask);
      const header = view.getUint32(at, true);
      if (header & BUSY) break; // reserved, not yet submitted: later records wait behind it
      const len = header & LEN_MASK;
      // The kernel writes headers, but a length is believed only within what was produced.
      if (len + HDR > prod - cons) {
        throw new Error(
          `ring buffer ${this.map.spec.name}: corrupt record header at position ${cons} (length ${len}, ${prod - cons} bytes produced)`,
        );
      }
      if (!(header & DISCARD)) {
        fn(data.slice(at + HDR, at + HDR + len));
        n++;
      }
      cons += Math.ceil((len + HDR) / 8) * 8;
      this.consumer.view.setBigUint64(0, BigInt(cons), true);
    }
    return n;
  }

  /** Every committed record so far. */
  poll(): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.drain((r) => out.push(r));
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.producer.unmap();
    this.consumer.unmap();
  }
}
