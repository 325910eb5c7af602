// What the perf event array's and the ring buffer's readers share: a set of readers per map woken in a
// microtask after the program produces (never inside it, and once per burst), and the three ways to read —
// `poll()`, `onRecord` callbacks, and `for await`. Each map says only how its records are taken out.

/** The readers of one map, and the coalesced wakeup the map schedules after output. */
export class ReaderSet<T> {
  private readonly readers = new Set<RecordReader<T>>();
  private pending = false;

  add<R extends RecordReader<T>>(r: R): R {
    this.readers.add(r);
    r.readers = this;
    return r;
  }

  delete(r: RecordReader<T>): void {
    this.readers.delete(r);
  }

  /** Notify every reader in a microtask; a wakeup already pending covers this one. */
  wake(): void {
    if (this.pending || this.readers.size === 0) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const r of this.readers) r.notify();
    });
  }
}

/** Reads records of one map: `poll()`, callbacks with `onRecord`, or `for await`. */
export abstract class RecordReader<T> implements AsyncIterable<T> {
  private readonly callbacks: ((rec: T) => void)[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  /** @internal the set that wakes this reader (set by ReaderSet.add). */
  readers: ReaderSet<T> | undefined;

  /** Take the records available now, in order, handing each to fn. */
  protected abstract drainTo(fn: (rec: T) => void): void;

  /** Records lost because the buffer was full when the program produced them. */
  abstract get lost(): number;

  /** Consume everything available so far. */
  poll(): T[] {
    const out: T[] = [];
    this.drainTo((rec) => out.push(rec));
    return out;
  }

  /** Call fn for each record after the program produces it (delivered in a microtask, in order). */
  onRecord(fn: (rec: T) => void): this {
    this.callbacks.push(fn);
    return this;
  }

  /** @internal called by the map's wakeup. */
  notify(): void {
    if (this.callbacks.length > 0)
      this.drainTo((rec) => {
        for (const cb of this.callbacks) cb(rec);
      });
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  close(): void {
    this.closed = true;
    this.readers?.delete(this);
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      let batch = this.poll();
      while (batch.length === 0) {
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
        batch = this.poll();
      }
      for (const rec of batch) yield rec;
    }
  }
}
