// Reading a kernel PERF_EVENT_ARRAY from JavaScript, as libbpf's perf_buffer does: on each CPU a software
// event of type PERF_COUNT_SW_BPF_OUTPUT is opened (perf_event_open(2)), its ring mmap-ed (one metadata
// page, then 2^n data pages) and its file descriptor stored in the map at that CPU's index, where
// bpf_perf_event_output(…, BPF_F_CURRENT_CPU, …) finds it. Records are read from data_tail up to data_head
// (both in the metadata page): PERF_RECORD_SAMPLE carries the raw bytes (`u32 size` then the data, which the
// kernel pads so that size + data is 8-aligned), PERF_RECORD_LOST the exact number of samples the full
// ring refused. A record may run past the ring's end and continue at its start.
//
// Reading is a timer, not a blocking wait: every `pollIntervalMs` the reader looks at each ring's head (a
// memory read, no system call) and, when something arrived, drains to `onRecord` callbacks and wakes a
// pending `for await`. The kernel's own wakeups (wakeup_events / wakeup_watermark) are set as asked, for
// a caller that waits on the event fds itself (`fds`). The reader shares `RecordReader` (poll, onRecord,
// for await, lost) with the user-space perf event array's reader, and yields the same `PerfRecord`s.

import { readFileSync } from 'node:fs';
import { PerfEventArrayMap, type PerfRecord } from '../maps/perf.js';
import { RecordReader } from '../maps/reader.js';
import type { BpfMap } from '../maps/types.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import { KernelError } from './errors.js';
import { closeFd, type Mapping, mapShared, nativeLibc, pageSize } from './ffi.js';
import { mapDelete, mapInfo, mapUpdate } from './syscall.js';

/** perf_event_open(2) by architecture. */
const PERF_EVENT_OPEN: Readonly<Record<string, number>> = {
  x64: 298,
  arm64: 241,
  ia32: 336,
  arm: 364,
  riscv64: 241,
};

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10;
const PERF_SAMPLE_RAW = 1 << 10;
const PERF_FLAG_FD_CLOEXEC = 8;
/** struct perf_event_attr as of PERF_ATTR_SIZE_VER8; older kernels take it when the tail is zero. */
const ATTR_SIZE = 136;
const ATTR_WATERMARK = 1 << 14;
const PERF_EVENT_IOC_ENABLE = 0x2400;

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;

/** struct perf_event_mmap_page: where the ring's positions and geometry are. */
const DATA_HEAD = 1024;
const DATA_TAIL = 1032;
const DATA_OFFSET = 1040;
const DATA_SIZE = 1048;

/** Largest ring per CPU: 2^16 pages (256 MiB with 4 KiB pages). */
const MAX_PAGES = 1 << 16;

interface PerfNative {
  open: (nr: number, attr: Uint8Array, pid: number, cpu: number, group: number, flags: number) => number;
  ioctl: (fd: number, request: number, arg: number) => number;
  errno: () => number;
  nr: number;
}

let native: PerfNative | undefined;

function perfNative(): PerfNative {
  if (native) return native;
  const { koffi, libc } = nativeLibc();
  const nr = PERF_EVENT_OPEN[process.arch];
  if (nr === undefined)
    throw new KernelError('perf_event_open', 38, `unknown syscall number for architecture ${process.arch}`);
  // syscall() is variadic; as in ffi.ts a fixed prototype passes integer and pointer arguments the same way.
  const open = libc.func(
    'long syscall(long nr, void *attr, long pid, long cpu, long group_fd, long flags)',
  ) as PerfNative['open'];
  const ioctl = libc.func(
    'int ioctl(int fd, unsigned long request, unsigned long arg)',
  ) as PerfNative['ioctl'];
  native = { open, ioctl, errno: () => koffi.errno(), nr };
  return native;
}

/** The CPUs that are online now (`/sys/devices/system/cpu/online`, e.g. `0-3,6`). */
export function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

/** Options of a kernel perf buffer. */
export interface PerfBufferOptions {
  /** Data pages of each CPU's ring, a power of two (default 8). */
  pagesPerCpu?: number;
  /** CPUs to open rings on (default every online CPU below the map's max_entries). */
  cpus?: readonly number[];
  /** Kernel wakeup (for waits on `fds`): after this many samples (default 1). */
  wakeupEvents?: number;
  /** Kernel wakeup instead after this many bytes in the ring (replaces wakeupEvents). */
  wakeupWatermark?: number;
  /** How often the reader looks for new records, in ms (default 10; 0: only when poll() is called). */
  pollIntervalMs?: number;
}

/** One CPU's ring. */
interface Ring {
  cpu: number;
  fd: number;
  mapping: Mapping;
  /** Byte offset of the data area in the mapping and its size (a power of two). */
  offset: number;
  size: number;
  /** Lost samples reported by this ring. */
  lost: number;
}

function setU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, n >>> 0, true);
  v.setUint32(at + 4, Math.floor(n / 0x100000000), true);
}

function getU64(v: DataView, at: number): number {
  // Positions count bytes since the ring opened: 2^53 of them are years of output.
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x100000000;
}

/**
 * A kernel PERF_EVENT_ARRAY read through per-CPU mmap-ed rings. Records come as `PerfRecord`s (the same
 * as the user-space perf event array's reader): `{ cpu, data }` for a sample (its raw bytes, padded by the
 * kernel as described above), `{ cpu, lost }` for samples the ring had no room for.
 */
export class KernelPerfReader extends RecordReader<PerfRecord> {
  private readonly rings: Ring[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private done = false;
  /** Samples delivered so far (records with data). */
  received = 0;

  /** `map`: a kernel PERF_EVENT_ARRAY (its file descriptor and spec), e.g. a KernelMap. */
  constructor(
    readonly map: { readonly fd: number; readonly spec: MapSpec },
    options: PerfBufferOptions = {},
  ) {
    super();
    if (map.spec.type !== MapType.PERF_EVENT_ARRAY)
      throw new KernelError('perf buffer', 22, `map ${map.spec.name} is not a perf event array`);
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || pages > MAX_PAGES || (pages & (pages - 1)) !== 0)
      throw new RangeError(`pagesPerCpu ${pages}: a power of two from 1 to ${MAX_PAGES}`);
    // The kernel's size of the map: a spec's 0 entries became the number of possible CPUs at creation.
    const entries = mapInfo(map.fd).maxEntries;
    const cpus = options.cpus ?? onlineCpus().filter((c) => c < entries);
    for (const c of cpus) {
      if (!Number.isInteger(c) || c < 0 || c >= entries)
        throw new RangeError(`cpu ${c}: the map ${map.spec.name} has ${entries} entries`);
    }
    try {
      for (const cpu of cpus) this.rings.push(this.openRing(cpu, pages, options));
    } catch (e) {
      this.release();
      throw e;
    }
    const every = options.pollIntervalMs ?? 10;
    if (every > 0) {
      this.timer = setInterval(() => {
        if (this.pending()) this.notify();
      }, every);
    }
  }

  private openRing(cpu: number, pages: number, o: PerfBufferOptions): Ring {
    const n = perfNative();
    const attr = new Uint8Array(ATTR_SIZE);
    const v = new DataView(attr.buffer);
    v.setUint32(0, PERF_TYPE_SOFTWARE, true);
    v.setUint32(4, ATTR_SIZE, true);
    setU64(v, 8, PERF_COUNT_SW_BPF_OUTPUT);
    setU64(v, 16, 1); // sample_period: every output is a sample
    setU64(v, 24, PERF_SAMPLE_RAW);
    if (o.wakeupWatermark !== undefined) {
      setU64(v, 40, ATTR_WATERMARK);
      v.setUint32(48, o.wakeupWatermark, true);
    } else v.setUint32(48, o.wakeupEvents ?? 1, true);
    const fd = n.open(n.nr, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
      const errno = n.errno();
      throw new KernelError('perf_event_open', errno, `BPF output event on CPU ${cpu}`);
    }
    const page = pageSize();
    let mapping: Mapping;
    try {
      mapping = mapShared(fd, (pages + 1) * page, 0, true);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    // The kernel says where the data is (4.1+); before that it was the page after the metadata.
    const offset = getU64(mapping.view, DATA_OFFSET) || page;
    const size = getU64(mapping.view, DATA_SIZE) || pages * page;
    const ring: Ring = { cpu, fd, mapping, offset, size, lost: 0 };
    try {
      if (n.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
        throw new KernelError('ioctl(PERF_EVENT_IOC_ENABLE)', n.errno(), `CPU ${cpu}`);
      const key = new Uint8Array(4);
      const value = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, cpu, true);
      new DataView(value.buffer).setUint32(0, fd, true);
      mapUpdate(this.map.fd, key, value);
    } catch (e) {
      mapping.unmap();
      closeFd(fd);
      throw e;
    }
    return ring;
  }

  /** The perf event file descriptors by CPU (for a caller that waits on them with poll/epoll). */
  get fds(): ReadonlyMap<number, number> {
    return new Map(this.rings.map((r) => [r.cpu, r.fd]));
  }

  /** Samples lost so far, over every CPU (exact: the kernel's own counts). */
  get lost(): number {
    let n = 0;
    for (const r of this.rings) n += r.lost;
    return n;
  }

  /** Lost samples by CPU. */
  lostByCpu(): ReadonlyMap<number, number> {
    return new Map(this.rings.map((r) => [r.cpu, r.lost]));
  }

  /** Whether any ring holds unread records. */
  pending(): boolean {
    for (const r of this.rings) {
      if (getU64(r.mapping.view, DATA_HEAD) !== getU64(r.mapping.view, DATA_TAIL)) return true;
    }
    return false;
  }

  protected drainTo(fn: (rec: PerfRecord) => void): void {
    if (this.done) return;
    for (const r of this.rings) this.drainRing(r, fn);
  }

  private drainRing(r: Ring, fn: (rec: PerfRecord) => void): void {
    const v = r.mapping.view;
    const head = getU64(v, DATA_HEAD);
    let tail = getU64(v, DATA_TAIL);
    const mask = r.size - 1;
    // Records are read only up to the head seen here; what the kernel writes meanwhile waits for the next
    // drain. (On x86 loads are not reordered with older loads, so the records are complete once the head
    // says so; other architectures would want an acquire barrier the JS view cannot give.)
    while (tail < head) {
      // Records are 8-aligned and 8-sized in an 8-multiple ring: a header, the sample's u32 size and the
      // lost count (all at 8-aligned offsets) never straddle the end; only a sample's data may wrap.
      const at = r.offset + (tail & mask);
      const type = v.getUint32(at, true);
      const size = v.getUint16(at + 6, true);
      if (size < 8 || size > head - tail)
        throw new KernelError('perf buffer', 5, `CPU ${r.cpu}: corrupt record at ${tail} (size ${size})`);
      if (type === PERF_RECORD_SAMPLE && size >= 12) {
        const len = Math.min(v.getUint32(r.offset + ((tail + 8) & mask), true), size - 12);
        this.received++;
        fn({ cpu: r.cpu, data: this.copy(r, (tail + 12) & mask, len) });
      } else if (type === PERF_RECORD_LOST && size >= 24) {
        // { header; u64 id; u64 lost }
        const lost = getU64(v, r.offset + ((tail + 16) & mask));
        r.lost += lost;
        fn({ cpu: r.cpu, lost });
      }
      tail += size;
      // Give the space back record by record, so a slow callback does not hold the whole ring.
      setU64(v, DATA_TAIL, tail);
    }
  }

  /** `len` bytes from ring offset `start`, copied out (joined when they run past the end). */
  private copy(r: Ring, start: number, len: number): Uint8Array {
    const bytes = r.mapping.bytes;
    const from = r.offset + start;
    if (start + len <= r.size) return bytes.slice(from, from + len);
    const out = new Uint8Array(len);
    const first = r.size - start;
    out.set(bytes.subarray(from, from + first), 0);
    out.set(bytes.subarray(r.offset, r.offset + len - first), first);
    return out;
  }

  /** Stop polling, take the rings out of the map, unmap them and close their events. */
  override close(): void {
    if (this.done) return;
    this.done = true;
    this.release();
    super.close();
  }

  private release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const key = new Uint8Array(4);
    for (const r of this.rings) {
      new DataView(key.buffer).setUint32(0, r.cpu, true);
      try {
        mapDelete(this.map.fd, key);
      } catch {
        // The map may be gone already (closed before the reader): nothing to take out then.
      }
      r.mapping.unmap();
      closeFd(r.fd);
    }
    this.rings.length = 0;
  }
}

/** What both back ends' perf readers are: records (`poll`, `onRecord`, `for await`), `lost`, `close`. */
export type PerfEventReader = RecordReader<PerfRecord>;

/**
 * A reader of a PERF_EVENT_ARRAY on either back end: the kernel's per-CPU rings for a kernel map (one with
 * a file descriptor), the runtime's per-CPU buffers for a user-space map (`cpus` there: as many buffers as
 * CPUs listed, from 0). Either way the records are `PerfRecord`s and `lost` the exact count.
 */
export function openPerfReader(map: BpfMap, options: PerfBufferOptions = {}): PerfEventReader {
  if (map instanceof PerfEventArrayMap) {
    const cpus = options.cpus ? Math.max(...options.cpus) + 1 : 1;
    return map.reader({ cpus, pagesPerCpu: options.pagesPerCpu });
  }
  const fd = (map as { fd?: unknown }).fd;
  if (typeof fd !== 'number')
    throw new KernelError('perf buffer', 22, `map ${map.spec.name} is neither a kernel nor a user-space map`);
  return new KernelPerfReader({ fd, spec: map.spec }, options);
}
