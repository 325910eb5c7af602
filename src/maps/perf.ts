// PERF_EVENT_ARRAY: per-CPU output buffers for bpf_perf_event_output. In the kernel each slot holds a perf
// event opened on one CPU; here a slot holds a bounded buffer bound to a CPU (`PerfReader` opens one per
// CPU at index = cpu, as libbpf does; user space may also store a CPU number with `update`). Space is
// accounted like the kernel's ring (8-byte header + u32 size + data padded to 8 bytes per sample); a
// sample that does not fit is lost, counted, and reported to the reader as a lost record in order. A
// buffer's memory (its capacity and the JS records it may hold) is charged to the map memory limit when it
// opens and given back when it is replaced, deleted or the map closes.

import { MapError } from '../errors.js';
import type { AddressSpace } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import type { MapSpec } from '../spec/maps.js';
import type { MapOptions } from './base.js';
import { chargeMapMemory, perfBufferMemory } from './cost.js';
import { FdArrayMap } from './fdarray.js';
import { ReaderSet, RecordReader } from './reader.js';

/** bpf_perf_event_output flags: low 32 bits select the index; this value means the current CPU. */
export const BPF_F_CURRENT_CPU = 0xffffffff;
const BPF_F_INDEX_MASK = 0xffffffffn;
const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;

/** One record of a perf buffer: a sample's bytes, or a count of samples lost. */
export type PerfRecord =
  | { cpu: number; data: Uint8Array; lost?: undefined }
  | { cpu: number; lost: number; data?: undefined };

interface PerfBuffer {
  cpu: number;
  capacity: number;
  used: number;
  records: PerfRecord[];
  /** Bytes charged to the map memory limit for it. */
  charged: number;
}

/** Perf event arrays: a buffer per CPU that bpf_perf_event_output writes samples to. */
export class PerfEventArrayMap extends FdArrayMap {
  private readonly buffers: (PerfBuffer | undefined)[] = [];
  private readonly readers = new ReaderSet<PerfRecord>();
  /** Samples lost because a buffer was full. */
  lost = 0;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
  }

  /**
   * Bind a buffer of `bytes` capacity, on `cpu`, to slot `index` (replacing the one there). Throws
   * MapError(ENOMEM) when its memory is over the map memory limit, leaving the slot as it was.
   */
  open(index: number, cpu: number, bytes: number): void {
    if (index >= this.spec.maxEntries)
      throw new RangeError(`perf event array '${this.spec.name}' has no index ${index}`);
    const old = this.buffers[index]?.charged ?? 0;
    const cost = perfBufferMemory(bytes);
    this.space.mapMemoryCharged -= old;
    try {
      chargeMapMemory(this.space, this.spec, `a perf buffer of ${bytes} bytes`, cost, 'use smaller buffers');
    } catch (e) {
      this.space.mapMemoryCharged += old;
      throw e;
    }
    this.memoryCharged += cost - old;
    this.buffers[index] = { cpu, capacity: bytes, used: 0, records: [], charged: cost };
    this.setRef(index, cpu + 1);
  }

  /** Close the buffer at `index`, giving its memory back. */
  private drop(index: number): void {
    const buf = this.buffers[index];
    if (!buf) return;
    this.space.mapMemoryCharged -= buf.charged;
    this.memoryCharged -= buf.charged;
    this.buffers[index] = undefined;
  }

  protected override checkRef(_ref: number): number {
    return 0;
  }

  override updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    const i = this.dv.getUint32(keyAddr, true);
    const before = this.refAt(i);
    const r = super.updatePtr(keyAddr, valueAddr, flags, cpu);
    if (r < 0) return r;
    try {
      this.open(i, this.dv.getUint32(valueAddr, true), 64 * 4096);
    } catch (e) {
      if (!(e instanceof MapError)) throw e;
      this.setRef(i, before);
      return -e.errno;
    }
    return 0;
  }

  override deletePtr(keyAddr: number): number {
    const r = super.deletePtr(keyAddr);
    if (r === 0) this.drop(this.dv.getUint32(keyAddr, true));
    return r;
  }

  /**
   * bpf_perf_event_output from a program running on `cpu`: 0 or -errno. `after`: bytes the sample carries
   * after the `size` at `src` (an skb's packet head, for BPF_F_CTXLEN_MASK).
   */
  output(cpu: number, flags: bigint, src: number, size: number, after?: Uint8Array): number {
    if (flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK)) return -Errno.EINVAL;
    let index = Number(flags & BPF_F_INDEX_MASK);
    if (index === BPF_F_CURRENT_CPU) index = cpu;
    if (index >= this.spec.maxEntries) return -Errno.E2BIG;
    const buf = this.buffers[index];
    if (!buf) return -Errno.ENOENT;
    if (buf.cpu !== cpu) return -KernelErrno.EOPNOTSUPP;
    const need = 8 + Math.ceil((4 + size + (after?.length ?? 0)) / 8) * 8;
    if (buf.used + need > buf.capacity) {
      this.lost++;
      const last = buf.records[buf.records.length - 1];
      if (last?.lost !== undefined) last.lost++;
      else buf.records.push({ cpu, lost: 1 });
      return -Errno.ENOSPC;
    }
    buf.used += need;
    let data = this.space.read(src, size);
    if (after?.length) {
      const both = new Uint8Array(size + after.length);
      both.set(data);
      both.set(after, size);
      data = both;
    }
    buf.records.push({ cpu, data });
    this.readers.wake();
    return 0;
  }

  /** Take every buffered record, CPU by CPU. */
  drain(): PerfRecord[] {
    const out: PerfRecord[] = [];
    for (const buf of this.buffers) {
      if (!buf || buf.records.length === 0) continue;
      out.push(...buf.records);
      buf.records = [];
      buf.used = 0;
    }
    return out;
  }

  /** Open one buffer per CPU (index = cpu) of `pagesPerCpu` 4 KiB pages and return a reader. */
  reader(options: { cpus: number; pagesPerCpu?: number }): PerfReader {
    const bytes = (options.pagesPerCpu ?? 8) * 4096;
    for (let c = 0; c < Math.min(options.cpus, this.spec.maxEntries); c++) this.open(c, c, bytes);
    return this.readers.add(new PerfReader(this));
  }
}

/** Reads a perf event array: `poll()`, callbacks with `onRecord`, or `for await` (see RecordReader). */
export class PerfReader extends RecordReader<PerfRecord> {
  constructor(readonly map: PerfEventArrayMap) {
    super();
  }

  get lost(): number {
    return this.map.lost;
  }

  protected drainTo(fn: (rec: PerfRecord) => void): void {
    for (const rec of this.map.drain()) fn(rec);
  }
}
