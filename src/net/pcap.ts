// pcap and pcapng capture files, read and written on Uint8Array (no node: imports here).
//
// pcap: a 24-byte global header (magic a1b2c3d4 = microseconds, a1b23c4d = nanoseconds, in either byte
// order), then records of a 16-byte header (ts_sec, ts_frac, incl_len, orig_len) and incl_len bytes.
// pcapng: blocks of (type, total length, body, total length); a Section Header Block fixes the byte order,
// Interface Description Blocks give link type, snaplen and timestamp resolution, and packets come in
// Enhanced (EPB), Simple (SPB) or obsolete (OPB) packet blocks. Unknown blocks are skipped.

import { FormatError, TsbpfError } from '../errors.js';

/** Link types of captures (LINKTYPE_*). */
export const LinkType = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

/** One packet of a capture: its bytes, its length on the wire, its time. */
export interface CapturedPacket {
  /** The captured bytes (a view into the file's bytes when read). */
  data: Uint8Array;
  /** Length of the packet on the wire (>= data.length). */
  origLen: number;
  /** Timestamp in nanoseconds since the epoch. */
  tsNs: bigint;
  /** pcapng interface index (0 for pcap). */
  interfaceId?: number;
  /**
   * The timestamp as seconds and nanoseconds within the second (numbers, so reading and writing need no
   * BigInt per packet). Packets read from a capture have them; writers use them when `tsNs` is absent.
   */
  tsSec?: number;
  tsNsec?: number;
}

/**
 * A packet read from a capture: the timestamp is held as two numbers and `tsNs` is computed when asked
 * (a BigInt per packet costs more than the rest of parsing a record).
 */
export class CapturePacket implements CapturedPacket {
  constructor(
    public data: Uint8Array,
    public origLen: number,
    public tsSec: number,
    public tsNsec: number,
    public interfaceId: number,
    /** The exact timestamp when the numbers cannot hold it (seconds beyond 2^53); else undefined. */
    public tsExact: bigint | undefined = undefined,
  ) {}

  get tsNs(): bigint {
    return this.tsExact ?? BigInt(this.tsSec) * NS_PER_SEC + BigInt(this.tsNsec);
  }

  set tsNs(v: bigint) {
    this.tsExact = v;
    this.tsSec = Number(v / NS_PER_SEC);
    this.tsNsec = Number(v % NS_PER_SEC);
  }
}

/** What a capture file says of its packets: the format, the link type, the snapshot length. */
export interface CaptureHeader {
  format: 'pcap' | 'pcapng';
  linkType: number;
  snaplen: number;
  /** pcap only: true when the file was written in nanosecond resolution. */
  nanosecond?: boolean;
  /** pcap only: true when the file's byte order is big-endian. */
  bigEndian?: boolean;
}

/** A capture read whole: its header and its packets. */
export interface Capture extends CaptureHeader {
  packets: CapturedPacket[];
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const NS_PER_SEC = 1_000_000_000n;
/** Upper bound on one record: larger lengths are corruption (libpcap uses 256 KiB for most link types). */
export const MAX_RECORD = 0x4000000;
/** Upper bound on one pcapng block read from a stream (a record plus room for options). */
const MAX_BLOCK = MAX_RECORD + 0x10000;
/** Buffer size of a streamed capture; packets of a batch are views into it. */
export const CAPTURE_CHUNK = 4 * 1024 * 1024;

const err = (format: string, reason: string, offset?: number) => new FormatError(format, reason, offset);

/** Reads a whole pcap or pcapng capture (format detected from the magic number). */
export function readCapture(bytes: Uint8Array, name?: string): Capture {
  const reader = openCapture(bytes, name);
  return { ...reader.header, packets: [...reader.packets()] };
}

/** A capture read one packet at a time. */
export interface CaptureReader {
  header: CaptureHeader;
  /** Yields packets one by one; throws FormatError (with packet index and byte offset) on corruption. */
  packets(): Generator<CapturedPacket>;
}

/**
 * Fills `into` from its start with the next bytes of a capture; returns how many it wrote, 0 at the end
 * (e.g. `(b) => readSync(fd, b)` in Node).
 */
export type CaptureSource = (into: Uint8Array) => number;

/** Opens a capture for incremental reading: the header is parsed now, packets on demand. */
export function openCapture(bytes: Uint8Array, name = 'capture'): CaptureStream {
  return new CaptureStream(new Window(bytes), name);
}

/**
 * Opens a capture read from `source` in chunks of `chunk` bytes (grown for larger records), so a large
 * file never sits in memory whole. Packets' data are views into the chunk: valid until the next `read`.
 */
export function streamCapture(source: CaptureSource, name = 'capture', chunk = CAPTURE_CHUNK): CaptureStream {
  return new CaptureStream(new Window(undefined, source, chunk), name);
}

/**
 * The capture's bytes seen through a buffer: all of them (read from memory, never moved), or a buffer
 * refilled from a source, where `need` may move the unread bytes to its start.
 */
class Window {
  buf: Uint8Array;
  dv: DataView;
  /** Parse position in `buf`; `end` is the end of the valid bytes. */
  pos = 0;
  end: number;
  /** File offset of buf[0]. */
  base = 0;
  /** Whether the source has no more bytes (always, for a capture in memory). */
  eof: boolean;

  constructor(
    bytes: Uint8Array | undefined,
    private readonly source?: CaptureSource,
    chunk = CAPTURE_CHUNK,
  ) {
    this.buf = bytes ?? new Uint8Array(Math.max(64, chunk));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.end = bytes ? bytes.length : 0;
    this.eof = !source;
  }

  /** Whether the source moves the buffer (views then go stale at the next `need` that reads). */
  get streaming(): boolean {
    return this.source !== undefined;
  }

  /** Whether `n` bytes from `pos` are there, reading more (moving the unread bytes) when they are not. */
  need(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.eof) return false;
    const rest = this.end - this.pos;
    let buf = this.buf;
    if (n > buf.length) {
      buf = new Uint8Array(Math.max(n, buf.length * 2));
      buf.set(this.buf.subarray(this.pos, this.end));
      this.buf = buf;
      this.dv = new DataView(buf.buffer);
    } else if (this.pos > 0) buf.copyWithin(0, this.pos, this.end);
    this.base += this.pos;
    this.pos = 0;
    this.end = rest;
    while (this.end < buf.length) {
      const got = this.source!(buf.subarray(this.end));
      if (!(got > 0)) {
        this.eof = true;
        break;
      }
      this.end += got;
    }
    return this.end >= n;
  }
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second when it is 10^d with d <= 9 (exact with numbers), else 0. */
  perSec: number;
  /** Otherwise nanoseconds = units * num / den. */
  num: bigint;
  den: bigint;
}

function tsresol(v: number): Pick<Iface, 'perSec' | 'num' | 'den'> {
  // Bit 7 set: negative power of two; clear: negative power of ten.
  const e = v & 0x7f;
  if (v & 0x80) return { perSec: 0, num: 1_000_000_000n, den: 1n << BigInt(e) };
  if (e <= 9) return { perSec: 10 ** e, num: 1_000_000_000n / 10n ** BigInt(e), den: 1n };
  return { perSec: 0, num: 1n, den: 10n ** BigInt(e) / 1_000_000_000n };
}

/**
 * Packets of one read as parallel arrays (no object per packet): where each one's bytes are in `bytes`,
 * its lengths and timestamp. `packet(i)` makes the object form.
 */
export class CaptureBatch {
  /** Packets in the batch. */
  count = 0;
  private view: Uint8Array = new Uint8Array(0);
  /** `view`'s buffer and offset, read once: a typed array's getters for them cost 12-18 ns a call. */
  private buffer: ArrayBufferLike = this.view.buffer;
  private base = 0;
  offset: Int32Array;
  length: Int32Array;
  origLen: Float64Array;
  tsSec: Float64Array;
  tsNsec: Float64Array;
  interfaceId: Float64Array;
  /** Exact timestamps of the packets whose seconds numbers cannot hold (rare), by index. */
  tsExact = new Map<number, bigint>();

  constructor(capacity = 256) {
    this.offset = new Int32Array(capacity);
    this.length = new Int32Array(capacity);
    this.origLen = new Float64Array(capacity);
    this.tsSec = new Float64Array(capacity);
    this.tsNsec = new Float64Array(capacity);
    this.interfaceId = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.offset.length;
  }

  /** The bytes the offsets index (the capture, or the chunk of it being read). */
  get bytes(): Uint8Array {
    return this.view;
  }

  set bytes(b: Uint8Array) {
    this.view = b;
    this.buffer = b.buffer;
    this.base = b.byteOffset;
  }

  /** Packet i's captured bytes (a view of `bytes`; made by the constructor, half the cost of subarray). */
  data(i: number): Uint8Array {
    return new Uint8Array(this.buffer, this.base + this.offset[i]!, this.length[i]!);
  }

  /** Packet i as an object. */
  packet(i: number): CapturePacket {
    return new CapturePacket(
      this.data(i),
      this.origLen[i]!,
      this.tsSec[i]!,
      this.tsNsec[i]!,
      this.interfaceId[i]!,
      this.tsExact.size > 0 ? this.tsExact.get(i) : undefined,
    );
  }

  push(offset: number, length: number, origLen: number, sec: number, nsec: number, ifId: number): void {
    const i = this.count++;
    this.offset[i] = offset;
    this.length[i] = length;
    this.origLen[i] = origLen;
    this.tsSec[i] = sec;
    this.tsNsec[i] = nsec;
    this.interfaceId[i] = ifId;
  }
}

/** Reads the packets of a pcap or pcapng capture, in batches or one by one. */
export class CaptureStream implements CaptureReader {
  readonly header: CaptureHeader;
  private readonly pcapng: boolean;
  private le = true;
  private nanosecond = false;
  private index = 0;
  private ifaces: Iface[] = [];
  /** An error met after some packets of a batch: thrown by the next `read`, so packets keep their order. */
  private pending: unknown;
  /** The batch `read` parses into. */
  private readonly scratch = new CaptureBatch();

  constructor(
    private readonly w: Window,
    private readonly name: string,
  ) {
    w.need(24);
    const avail = w.end - w.pos;
    if (avail < 4) throw err(name, `file too short for a capture header (${avail} bytes)`, 0);
    const dv = w.dv;
    const m = dv.getUint32(0, false);
    this.pcapng = m === PCAPNG_SHB;
    if (this.pcapng) {
      if (avail < 12) throw err(name, 'truncated pcapng section header block', 0);
      this.header = { format: 'pcapng', linkType: LinkType.ETHERNET, snaplen: 262144 };
      this.scanHeader();
      return;
    }
    let le: boolean | undefined;
    for (const l of [false, true]) {
      const magic = dv.getUint32(0, l);
      if (magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS) {
        le = l;
        this.nanosecond = magic === PCAP_MAGIC_NS;
        break;
      }
    }
    if (le === undefined)
      throw err(name, `unknown capture magic 0x${m.toString(16).padStart(8, '0')} (not pcap or pcapng)`, 0);
    if (avail < 24) throw err(name, `truncated pcap global header (${avail} of 24 bytes)`, 0);
    this.le = le;
    const snaplen = dv.getUint32(16, le);
    // The upper bits of the link-type field carry FCS information; the link type is the low 28 bits.
    const linkType = dv.getUint32(20, le) & 0x0fffffff;
    this.header = { format: 'pcap', linkType, snaplen, nanosecond: this.nanosecond, bigEndian: !le };
    w.pos = 24;
  }

  /** Bytes of the capture consumed so far. */
  get offset(): number {
    return this.w.base + this.w.pos;
  }

  /**
   * Up to `max` next packets (fewer at the end of a chunk; none at the end of the capture). When the
   * capture is streamed, their data are views into the chunk, valid until the next call.
   */
  read(max = 256): CapturePacket[] {
    const batch = this.readBatch(max, this.scratch);
    const out: CapturePacket[] = new Array(batch.count);
    for (let i = 0; i < batch.count; i++) out[i] = batch.packet(i);
    return out;
  }

  /**
   * `read` into parallel arrays: up to `max` (at most the batch's capacity) next packets, the batch's
   * previous contents replaced. When the capture is streamed, `batch.bytes` is the chunk: valid until the
   * next call.
   */
  readBatch(max: number, batch: CaptureBatch): CaptureBatch {
    batch.count = 0;
    if (batch.tsExact.size > 0) batch.tsExact.clear();
    if (this.pending !== undefined) {
      const e = this.pending;
      this.pending = undefined;
      throw e;
    }
    const n = Math.min(max, batch.capacity);
    try {
      if (this.pcapng) this.blocks(n, batch, false);
      else this.readPcap(n, batch);
    } catch (e) {
      if (batch.count === 0) throw e;
      this.pending = e;
    }
    batch.bytes = this.w.buf;
    return batch;
  }

  /** From the first packet, for a capture in memory (as every call did when the reader was a generator); a
   * streamed capture continues where it is. */
  *packets(): Generator<CapturePacket> {
    if (!this.w.streaming) this.rewind();
    for (let batch = this.read(); batch.length > 0; batch = this.read()) yield* batch;
  }

  private rewind(): void {
    this.w.pos = this.pcapng ? 0 : 24;
    this.index = 0;
    this.ifaces = [];
    this.pending = undefined;
  }

  private readPcap(max: number, out: CaptureBatch): void {
    const { w, name, le } = this;
    const unit = this.nanosecond ? 1 : 1000;
    while (out.count < max) {
      if (w.end - w.pos < 16) {
        // Reading more would move the bytes the packets of this batch are views of.
        if (out.count > 0 && !w.eof) return;
        if (!w.need(16)) {
          if (w.pos === w.end) return;
          throw err(
            name,
            `packet ${this.index}: truncated record header (${w.end - w.pos} of 16 bytes)`,
            w.base + w.pos,
          );
        }
      }
      let at = w.pos;
      const dv = w.dv;
      let sec = dv.getUint32(at, le);
      let nsec = dv.getUint32(at + 4, le) * unit;
      const incl = dv.getUint32(at + 8, le);
      const orig = dv.getUint32(at + 12, le);
      if (incl > MAX_RECORD)
        throw err(
          name,
          `packet ${this.index}: captured length ${incl} is implausibly large`,
          w.base + at + 8,
        );
      if (w.end - at < 16 + incl) {
        if (out.count > 0 && !w.eof) return;
        if (!w.need(16 + incl))
          throw err(
            name,
            `packet ${this.index}: truncated packet data (${w.end - w.pos - 16} of ${incl} bytes)`,
            w.base + w.pos + 16,
          );
        at = w.pos;
      }
      if (nsec >= 1e9) {
        // A fraction of a second that is not one: carry, so tsNs is sec * 10^9 + fraction as written.
        sec += Math.floor(nsec / 1e9);
        nsec %= 1e9;
      }
      out.push(at + 16, incl, Math.max(orig, incl), sec, nsec, 0);
      w.pos = at + 16 + incl;
      this.index++;
    }
  }

  /** pcapng: parse blocks up to the first interface (which gives the header) or packet. */
  private scanHeader(): void {
    const found = this.blocks(0, new CaptureBatch(1), true);
    if (found) {
      this.header.linkType = found.linkType;
      this.header.snaplen = found.snaplen || 262144;
    }
  }

  /**
   * Parse pcapng blocks into `out` until it holds `max` packets or the capture ends. With `header`, stop
   * after the first interface description (returned) or at the first packet block, which is checked (its
   * errors are the header's, as a reader that scanned from the start would meet them) but not consumed.
   */
  private blocks(max: number, out: CaptureBatch, header: boolean): Iface | undefined {
    const { w, name: fmt } = this;
    while (header || out.count < max) {
      if (w.end - w.pos < 12) {
        if (out.count > 0 && !w.eof) return undefined;
        if (!w.need(12)) {
          if (w.pos === w.end) return undefined;
          throw err(fmt, `packet ${this.index}: truncated block header`, w.base + w.pos);
        }
      }
      let off = w.pos;
      let dv = w.dv;
      let le = this.le;
      let type = dv.getUint32(off, le);
      const shb = dv.getUint32(off, false) === PCAPNG_SHB;
      if (shb) {
        // A new section may switch byte order.
        const b = dv.getUint32(off + 8, true);
        if (b === BYTE_ORDER_MAGIC) le = true;
        else if (dv.getUint32(off + 8, false) === BYTE_ORDER_MAGIC) le = false;
        else throw err(fmt, 'pcapng section header has a bad byte-order magic', w.base + off + 8);
        type = PCAPNG_SHB;
      }
      const len = dv.getUint32(off + 4, le);
      if (len < 12 || len % 4 !== 0)
        throw err(fmt, `packet ${this.index}: bad block length ${len}`, w.base + off + 4);
      if (w.end - off < len) {
        if (out.count > 0 && !w.eof) return undefined;
        if (w.streaming && len > MAX_BLOCK)
          throw err(fmt, `packet ${this.index}: block length ${len} is implausibly large`, w.base + off + 4);
        if (!w.need(len))
          throw err(
            fmt,
            `packet ${this.index}: truncated block (${w.end - w.pos} of ${len} bytes)`,
            w.base + w.pos,
          );
        off = w.pos;
        dv = w.dv;
      }
      if (dv.getUint32(off + len - 4, le) !== len)
        throw err(
          fmt,
          `packet ${this.index}: block trailing length does not match ${len}`,
          w.base + off + len - 4,
        );
      const body = off + 8;
      const bodyEnd = off + len - 4;
      const need = (n: number, what: string) => {
        if (body + n > bodyEnd)
          throw err(fmt, `packet ${this.index}: ${what} block too short (${len} bytes)`, w.base + off);
      };
      switch (type) {
        case PCAPNG_SHB:
          need(16, 'section header');
          this.le = le;
          this.ifaces = [];
          break;
        case 1: {
          need(8, 'interface description');
          const iface: Iface = {
            linkType: dv.getUint16(body, le),
            snaplen: dv.getUint32(body + 4, le),
            perSec: 1_000_000,
            num: 1000n,
            den: 1n,
          };
          // Options: code:16, length:16, value padded to 4 bytes.
          let o = body + 8;
          while (o + 4 <= bodyEnd) {
            const code = dv.getUint16(o, le);
            const olen = dv.getUint16(o + 2, le);
            if (code === 0) break;
            if (o + 4 + olen > bodyEnd)
              throw err(fmt, `interface ${this.ifaces.length}: option overruns its block`, w.base + o);
            if (code === 9 && olen >= 1) Object.assign(iface, tsresol(w.buf[o + 4] as number));
            o += 4 + ((olen + 3) & ~3);
          }
          this.ifaces.push(iface);
          if (header) {
            w.pos = off + len;
            return iface;
          }
          break;
        }
        case 6: // Enhanced Packet Block
        case 2: {
          // Obsolete Packet Block: interface id is 16 bits followed by a 16-bit drops count.
          need(20, type === 6 ? 'enhanced packet' : 'packet');
          const ifId = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
          const iface = this.ifaces[ifId];
          if (!iface)
            throw err(fmt, `packet ${this.index}: refers to undefined interface ${ifId}`, w.base + body);
          const incl = dv.getUint32(body + 12, le);
          const orig = dv.getUint32(body + 16, le);
          if (body + 20 + incl > bodyEnd)
            throw err(
              fmt,
              `packet ${this.index}: captured length ${incl} overruns its block`,
              w.base + body + 12,
            );
          out.push(body + 20, incl, Math.max(orig, incl), 0, 0, ifId);
          timestamp(out, iface, dv.getUint32(body + 4, le), dv.getUint32(body + 8, le));
          this.index++;
          break;
        }
        case 3: {
          // Simple Packet Block: interface 0, no timestamp; captured length = min(orig, snaplen, body).
          need(4, 'simple packet');
          const iface = this.ifaces[0];
          if (!iface)
            throw err(fmt, `packet ${this.index}: simple packet block without an interface`, w.base + off);
          const orig = dv.getUint32(body, le);
          let incl = Math.min(orig, bodyEnd - body - 4);
          if (iface.snaplen > 0) incl = Math.min(incl, iface.snaplen);
          out.push(body + 4, incl, orig, 0, 0, 0);
          this.index++;
          break;
        }
        default:
          break; // unknown block types are skipped
      }
      if (header && out.count > 0) {
        // The first packet ends the header scan, checked but not consumed: `read` returns it.
        this.index = 0;
        return undefined;
      }
      w.pos = off + len;
    }
    return undefined;
  }
}

/** The last packet of `out` gets its 64-bit timestamp (hi:lo, in the interface's units). */
function timestamp(out: CaptureBatch, iface: Iface, hi: number, lo: number): void {
  const i = out.count - 1;
  const d = iface.perSec;
  if (d > 0) {
    // (hi * 2^32 + lo) / d in 16-bit steps: every partial value stays below 2^53 and every quotient is
    // below 2^17, where a correctly rounded division cannot round up to the next integer (d <= 10^9).
    const qh = Math.floor(hi / d);
    let r = hi - qh * d;
    let x = r * 65536 + (lo >>> 16);
    const q1 = Math.floor(x / d);
    r = x - q1 * d;
    x = r * 65536 + (lo & 0xffff);
    const q2 = Math.floor(x / d);
    r = x - q2 * d;
    const sec = qh * 4294967296 + q1 * 65536 + q2;
    if (Number.isSafeInteger(sec)) {
      out.tsSec[i] = sec;
      out.tsNsec[i] = r * (1e9 / d);
      return;
    }
  }
  const ns = ((BigInt(hi) * 4294967296n + BigInt(lo)) * iface.num) / iface.den;
  out.tsSec[i] = Number(ns / NS_PER_SEC);
  out.tsNsec[i] = Number(ns % NS_PER_SEC);
  out.tsExact.set(i, ns);
}

/** Options of writePcap. */
export interface WriteOptions {
  linkType?: number;
  snaplen?: number;
  /** Write the nanosecond-resolution magic (default false: microseconds). */
  nanosecond?: boolean;
  /** Write big-endian (default little-endian). */
  bigEndian?: boolean;
}

type PacketIn = Pick<CapturedPacket, 'data'> &
  Partial<Pick<CapturedPacket, 'origLen' | 'tsNs' | 'tsSec' | 'tsNsec'>> & { tsExact?: bigint };

/** A packet's timestamp as seconds and nanoseconds, left in TS (no allocation per packet). */
const TS = [0, 0];
function timestampOf(p: PacketIn): void {
  if (p instanceof CapturePacket && p.tsExact === undefined) {
    TS[0] = p.tsSec;
    TS[1] = p.tsNsec;
    return;
  }
  // tsNs first: a copy of a read packet with tsNs set ({ ...p, tsNs }) keeps the old tsSec beside it.
  const ts = p.tsNs ?? p.tsExact;
  if (ts !== undefined) {
    if (ts < 0n) throw unwritable('pcap', `timestamp of ${ts} ns (negative)`);
    TS[0] = Number(ts / NS_PER_SEC);
    TS[1] = Number(ts % NS_PER_SEC);
  } else {
    TS[0] = p.tsSec ?? 0;
    TS[1] = p.tsNsec ?? 0;
  }
}

/** A packet's timestamp in nanoseconds, whichever way it is given. */
function tsNsOf(p: PacketIn): bigint {
  const ts = p.tsNs ?? p.tsExact;
  if (ts !== undefined) return ts;
  return BigInt(p.tsSec ?? 0) * NS_PER_SEC + BigInt(p.tsNsec ?? 0);
}

/** A record field the file format cannot hold: an error, never a silently wrapped value. */
function unwritable(format: string, what: string): TsbpfError {
  return new TsbpfError(`${what} does not fit a ${format} record`, `${format} writer`);
}

const U32_MAX = 0xffffffff;

/**
 * Writes a pcap file record by record: records are gathered in a buffer of `chunk` bytes that is handed
 * to `sink` when full and at `flush` (a view, valid only during the call), so a large output never sits
 * in memory whole.
 */
export class PcapWriter {
  /** Records written. */
  count = 0;
  readonly snaplen: number;
  private buf: Uint8Array;
  private dv: DataView;
  private at = 0;
  private readonly le: boolean;
  private readonly nanosecond: boolean;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    opts: WriteOptions = {},
    chunk = 1 << 20,
  ) {
    this.le = !opts.bigEndian;
    this.nanosecond = opts.nanosecond ?? false;
    this.snaplen = opts.snaplen ?? 262144;
    this.buf = new Uint8Array(Math.max(24, chunk));
    this.dv = new DataView(this.buf.buffer);
    const { dv, le } = this;
    dv.setUint32(0, this.nanosecond ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
    dv.setUint16(4, 2, le);
    dv.setUint16(6, 4, le);
    dv.setUint32(16, this.snaplen, le);
    dv.setUint32(20, opts.linkType ?? LinkType.ETHERNET, le);
    this.at = 24;
  }

  /** Append a record: at most snaplen bytes of `data`, the timestamp as seconds and nanoseconds. */
  write(data: Uint8Array, origLen: number, tsSec: number, tsNsec: number): void {
    // Seconds are a u32 in pcap (until 2106); anything else would be written wrapped.
    if (!(tsSec >= 0 && tsSec <= U32_MAX && Number.isInteger(tsSec)))
      throw unwritable('pcap', `timestamp of ${tsSec} s (0..${U32_MAX})`);
    if (!(tsNsec >= 0 && tsNsec < 1e9)) throw unwritable('pcap', `a fraction of ${tsNsec} ns (0..999999999)`);
    if (!(origLen >= 0 && origLen <= U32_MAX)) throw unwritable('pcap', `original length ${origLen}`);
    const incl = Math.min(data.length, this.snaplen);
    if (this.at + 16 + incl > this.buf.length) {
      this.flush();
      if (16 + incl > this.buf.length) {
        this.buf = new Uint8Array(16 + incl);
        this.dv = new DataView(this.buf.buffer);
      }
    }
    const { dv, le } = this;
    const at = this.at;
    dv.setUint32(at, tsSec, le);
    dv.setUint32(at + 4, this.nanosecond ? tsNsec : Math.trunc(tsNsec / 1000), le);
    dv.setUint32(at + 8, incl, le);
    dv.setUint32(at + 12, Math.max(origLen, incl), le);
    this.buf.set(incl === data.length ? data : data.subarray(0, incl), at + 16);
    this.at = at + 16 + incl;
    this.count++;
  }

  /** Append a packet (timestamp from tsNs, or tsSec and tsNsec). */
  writePacket(p: PacketIn): void {
    timestampOf(p);
    this.write(p.data, p.origLen ?? p.data.length, TS[0]!, TS[1]!);
  }

  /** Hand what is buffered to the sink. */
  flush(): void {
    if (this.at === 0) return;
    this.sink(this.buf.subarray(0, this.at));
    this.at = 0;
  }
}

/** Writes packets as a classic pcap file. */
export function writePcap(packets: readonly PacketIn[], opts: WriteOptions = {}): Uint8Array {
  const snaplen = opts.snaplen ?? 262144;
  let total = 24;
  for (const p of packets) total += 16 + Math.min(p.data.length, snaplen);
  let out: Uint8Array = new Uint8Array(0);
  // One chunk of exactly the file's size: the sink receives all of it at the flush.
  const w = new PcapWriter((chunk) => (out = chunk), opts, total);
  for (const p of packets) w.writePacket(p);
  w.flush();
  return out;
}

/** Options of writePcapng. */
export interface PcapngWriteOptions {
  linkType?: number;
  snaplen?: number;
  bigEndian?: boolean;
  /** if_tsresol exponent of ten (default 9: nanoseconds). */
  tsresolDigits?: number;
}
/** Writes packets as a pcapng file: one section, one interface, one EPB per packet. */
export function writePcapng(packets: readonly PacketIn[], opts: PcapngWriteOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const digits = opts.tsresolDigits ?? 9;
  const pad = (n: number) => (n + 3) & ~3;
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array) => {
    const len = 12 + pad(body.length);
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, le);
    dv.setUint32(4, len, le);
    b.set(body, 8);
    dv.setUint32(len - 4, len, le);
    blocks.push(b);
  };
  const shb = new Uint8Array(16);
  const sdv = new DataView(shb.buffer);
  sdv.setUint32(0, BYTE_ORDER_MAGIC, le);
  sdv.setUint16(4, 1, le);
  sdv.setBigInt64(8, -1n, le);
  block(PCAPNG_SHB, shb);
  const idb = new Uint8Array(8 + 8 + 4);
  const idv = new DataView(idb.buffer);
  idv.setUint16(0, opts.linkType ?? LinkType.ETHERNET, le);
  idv.setUint32(4, opts.snaplen ?? 262144, le);
  idv.setUint16(8, 9, le); // if_tsresol
  idv.setUint16(10, 1, le);
  idb[12] = digits;
  block(1, idb); // the last 4 zero bytes are opt_endofopt
  const scale = 10n ** BigInt(Math.abs(9 - digits));
  for (const p of packets) {
    const ts = tsNsOf(p);
    const units = digits <= 9 ? ts / scale : ts * scale;
    if (units < 0n || units > 0xffffffffffffffffn)
      throw unwritable('pcapng', `timestamp of ${ts} ns (0..2^64-1 units of 10^-${digits} s)`);
    if (p.data.length > U32_MAX || (p.origLen ?? 0) > U32_MAX || (p.origLen ?? 0) < 0)
      throw unwritable('pcapng', `original length ${p.origLen}`);
    const body = new Uint8Array(20 + pad(p.data.length));
    const dv = new DataView(body.buffer);
    dv.setUint32(4, Number((units >> 32n) & 0xffffffffn), le);
    dv.setUint32(8, Number(units & 0xffffffffn), le);
    dv.setUint32(12, p.data.length, le);
    dv.setUint32(16, p.origLen ?? p.data.length, le);
    body.set(p.data, 20);
    block(6, body);
  }
  let total = 0;
  for (const b of blocks) total += b.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
