// Per-event output to JavaScript: what a program sends with bpf_ringbuf_output/reserve+submit or
// bpf_perf_event_output arrives as an async iterator of records (optionally decoded), and `lost` counts the
// records the program could not send because the consumer was behind. Producers never wait: a full buffer
// makes the helper fail in the program, the traced code goes on, and the loss is counted here.

import { TsbpfError } from '../errors.js';
import { PerfEventArrayMap, type PerfReader } from '../maps/perf.js';
import { RingBufMap, type RingBufReader } from '../maps/ringbuf.js';
import type { RuntimeMap } from '../maps/types.js';

/** Options of events(). */
export interface EventStreamOptions<T> {
  /** Turn a record's bytes into a value (default: the bytes). */
  decode?: (data: Uint8Array, cpu: number) => T;
  /** Perf event arrays: buffers to open, one per CPU (default the map's runtime CPUs, 1). */
  cpus?: number;
  /** Perf event arrays: 4 KiB pages per CPU buffer (default 8). */
  pagesPerCpu?: number;
}

/**
 * The records of a ring buffer or perf event array as an async iterator, with counts of those received and
 * lost.
 */
export interface EventStream<T> extends AsyncIterable<T> {
  /** Records lost so far because the buffer was full when the program produced them. */
  readonly lost: number;
  /** Records delivered so far. */
  readonly received: number;
  /** Take what is buffered now without waiting. */
  poll(): T[];
  /** End the iteration (a pending `for await` returns after what is buffered). */
  close(): void;
}

class Stream<T> implements EventStream<T> {
  received = 0;

  constructor(
    private readonly reader: RingBufReader | PerfReader,
    private readonly decode: (data: Uint8Array, cpu: number) => T,
  ) {}

  get lost(): number {
    return this.reader.lost;
  }

  poll(): T[] {
    const out: T[] = [];
    for (const r of this.reader.poll()) {
      const item = this.item(r);
      if (item !== undefined) out.push(item.value);
    }
    return out;
  }

  close(): void {
    this.reader.close();
  }

  private item(r: Uint8Array | { cpu: number; data?: Uint8Array }): { value: T } | undefined {
    if (r instanceof Uint8Array) {
      this.received++;
      return { value: this.decode(r, 0) };
    }
    if (!r.data) return undefined; // a lost-records marker: counted by the reader
    this.received++;
    return { value: this.decode(r.data, r.cpu) };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const r of this.reader as AsyncIterable<Uint8Array | { cpu: number; data?: Uint8Array }>) {
      const item = this.item(r);
      if (item !== undefined) yield item.value;
    }
  }
}

/** Read a RINGBUF or PERF_EVENT_ARRAY map as a stream of events. */
export function events<T = Uint8Array>(map: RuntimeMap, options: EventStreamOptions<T> = {}): EventStream<T> {
  const decode = options.decode ?? ((d: Uint8Array) => d as unknown as T);
  if (map instanceof RingBufMap) return new Stream(map.reader(), decode);
  if (map instanceof PerfEventArrayMap) {
    const reader = map.reader({ cpus: options.cpus ?? 1, pagesPerCpu: options.pagesPerCpu });
    return new Stream(reader, decode);
  }
  throw new TsbpfError(`map '${map.spec.name}' is neither a ring buffer nor a perf event array`);
}
