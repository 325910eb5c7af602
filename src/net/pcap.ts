// pcap and pcapng capture files, read and written on Uint8Array (no node: imports here).
//
// pcap: a 24-byte global header (magic a1b2c3d4 = microseconds, a1b23c4d = nanoseconds, in either byte
// order), then records of a 16-byte header (ts_sec, ts_frac, incl_len, orig_len) and incl_len bytes.
// pcapng: blocks of (type, total length, body, total length); a Section Header Block fixes the byte order,
// Interface Description Blocks give link type, snaplen and timestamp resolution, and packets come in
// Enhanced (EPB), Simple (SPB) or obsolete (OPB) packet blocks. Unknown blocks are skipped.

import { FormatError } from '../errors.js';

export const LinkType = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

export interface CapturedPacket {
  /** The captured bytes (a view into the file's bytes when read). */
  data: Uint8Array;
  /** Length of the packet on the wire (>= data.length). */
  origLen: number;
  /** Timestamp in nanoseconds since the epoch. */
  tsNs: bigint;
  /** pcapng interface index (0 for pcap). */
  interfaceId?: number;
}

export interface CaptureHeader {
  format: 'pcap' | 'pcapng';
  linkType: number;
  snaplen: number;
  /** pcap only: true when the file was written in nanosecond resolution. */
  nanosecond?: boolean;
  /** pcap only: true when the file's byte order is big-endian. */
  bigEndian?: boolean;
}

export interface Capture extends CaptureHeader {
  packets: CapturedPacket[];
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Upper bound on one record: larger lengths are corruption (libpcap uses 256 KiB for most link types). */
export const MAX_RECORD = 0x4000000;

const err = (format: string, reason: string, offset?: number) => new FormatError(format, reason, offset);

/** Reads a whole pcap or pcapng capture (format detected from the magic number). */
export function readCapture(bytes: Uint8Array, name?: string): Capture {
  const reader = openCapture(bytes, name);
  return { ...reader.header, packets: [...reader.packets()] };
}

export interface CaptureReader {
  header: CaptureHeader;
  /** Yields packets one by one; throws FormatError (with packet index and byte offset) on corruption. */
  packets(): Generator<CapturedPacket>;
}

/** Opens a capture for incremental reading: the header is parsed now, packets on demand. */
export function openCapture(bytes: Uint8Array, name = 'capture'): CaptureReader {
  if (bytes.length < 4) throw err(name, `file too short for a capture header (${bytes.length} bytes)`, 0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, false);
  if (m === PCAPNG_SHB) return openPcapng(bytes, dv, name);
  for (const le of [false, true]) {
    const magic = dv.getUint32(0, le);
    if (magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS)
      return openPcap(bytes, dv, le, magic === PCAP_MAGIC_NS, name);
  }
  throw err(name, `unknown capture magic 0x${m.toString(16).padStart(8, '0')} (not pcap or pcapng)`, 0);
}

function openPcap(bytes: Uint8Array, dv: DataView, le: boolean, ns: boolean, name: string): CaptureReader {
  if (bytes.length < 24) throw err(name, `truncated pcap global header (${bytes.length} of 24 bytes)`, 0);
  const snaplen = dv.getUint32(16, le);
  // The upper bits of the link-type field carry FCS information; the link type is the low 28 bits.
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const header: CaptureHeader = { format: 'pcap', linkType, snaplen, nanosecond: ns, bigEndian: !le };
  function* packets(): Generator<CapturedPacket> {
    let off = 24;
    let index = 0;
    while (off < bytes.length) {
      if (off + 16 > bytes.length)
        throw err(name, `packet ${index}: truncated record header (${bytes.length - off} of 16 bytes)`, off);
      const sec = dv.getUint32(off, le);
      const frac = dv.getUint32(off + 4, le);
      const incl = dv.getUint32(off + 8, le);
      const orig = dv.getUint32(off + 12, le);
      if (incl > MAX_RECORD)
        throw err(name, `packet ${index}: captured length ${incl} is implausibly large`, off + 8);
      if (off + 16 + incl > bytes.length)
        throw err(
          name,
          `packet ${index}: truncated packet data (${bytes.length - off - 16} of ${incl} bytes)`,
          off + 16,
        );
      const tsNs = BigInt(sec) * 1_000_000_000n + BigInt(frac) * (ns ? 1n : 1000n);
      yield {
        data: bytes.subarray(off + 16, off + 16 + incl),
        origLen: Math.max(orig, incl),
        tsNs,
        interfaceId: 0,
      };
      off += 16 + incl;
      index++;
    }
  }
  return { header, packets };
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** Nanoseconds per timestamp unit as a rational: units * num / den. */
  num: bigint;
  den: bigint;
}

function tsresol(v: number): { num: bigint; den: bigint } {
  // Bit 7 set: negative power of two; clear: negative power of ten.
  const e = BigInt(v & 0x7f);
  if (v & 0x80) return { num: 1_000_000_000n, den: 1n << e };
  const p = 10n ** e;
  return p <= 1_000_000_000n ? { num: 1_000_000_000n / p, den: 1n } : { num: 1n, den: p / 1_000_000_000n };
}

function openPcapng(bytes: Uint8Array, dv: DataView, name: string): CaptureReader {
  const fmt = `${name}`;
  if (bytes.length < 12) throw err(fmt, 'truncated pcapng section header block', 0);
  const bom = dv.getUint32(8, true);
  let le: boolean;
  if (bom === BYTE_ORDER_MAGIC) le = true;
  else if (dv.getUint32(8, false) === BYTE_ORDER_MAGIC) le = false;
  else throw err(fmt, 'pcapng section header has a bad byte-order magic', 8);

  // Parse the first section's interfaces up to the first packet so the header is known up front.
  const first = scanPcapng(bytes, dv, le, fmt);
  let linkType: number = LinkType.ETHERNET;
  let snaplen = 262144;
  for (const item of first) {
    if (item.kind === 'iface') {
      linkType = item.iface.linkType;
      snaplen = item.iface.snaplen || 262144;
      break;
    }
    if (item.kind === 'packet') break;
  }
  const header: CaptureHeader = { format: 'pcapng', linkType, snaplen };
  function* packets(): Generator<CapturedPacket> {
    for (const item of scanPcapng(bytes, dv, le, fmt)) if (item.kind === 'packet') yield item.packet;
  }
  return { header, packets };
}

type NgItem = { kind: 'iface'; iface: Iface } | { kind: 'packet'; packet: CapturedPacket };

function* scanPcapng(bytes: Uint8Array, dv: DataView, leStart: boolean, fmt: string): Generator<NgItem> {
  let le = leStart;
  let off = 0;
  let index = 0;
  let ifaces: Iface[] = [];
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw err(fmt, `packet ${index}: truncated block header`, off);
    let type = dv.getUint32(off, le);
    if (dv.getUint32(off, false) === PCAPNG_SHB) {
      // A new section may switch byte order.
      const b = dv.getUint32(off + 8, true);
      if (b === BYTE_ORDER_MAGIC) le = true;
      else if (dv.getUint32(off + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else throw err(fmt, 'pcapng section header has a bad byte-order magic', off + 8);
      type = PCAPNG_SHB;
      ifaces = [];
    }
    const len = dv.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0) throw err(fmt, `packet ${index}: bad block length ${len}`, off + 4);
    if (off + len > bytes.length)
      throw err(fmt, `packet ${index}: truncated block (${bytes.length - off} of ${len} bytes)`, off);
    if (dv.getUint32(off + len - 4, le) !== len)
      throw err(fmt, `packet ${index}: block trailing length does not match ${len}`, off + len - 4);
    const body = off + 8;
    const bodyEnd = off + len - 4;
    const need = (n: number, what: string) => {
      if (body + n > bodyEnd) throw err(fmt, `packet ${index}: ${what} block too short (${len} bytes)`, off);
    };
    switch (type) {
      case PCAPNG_SHB:
        need(16, 'section header');
        break;
      case 1: {
        need(8, 'interface description');
        const iface: Iface = {
          linkType: dv.getUint16(body, le),
          snaplen: dv.getUint32(body + 4, le),
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
            throw err(fmt, `interface ${ifaces.length}: option overruns its block`, o);
          if (code === 9 && olen >= 1) Object.assign(iface, tsresol(bytes[o + 4] as number));
          o += 4 + ((olen + 3) & ~3);
        }
        ifaces.push(iface);
        yield { kind: 'iface', iface };
        break;
      }
      case 6: // Enhanced Packet Block
      case 2: {
        // Obsolete Packet Block: interface id is 16 bits followed by a 16-bit drops count.
        need(20, type === 6 ? 'enhanced packet' : 'packet');
        const ifId = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const iface = ifaces[ifId];
        if (!iface) throw err(fmt, `packet ${index}: refers to undefined interface ${ifId}`, body);
        const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
        const incl = dv.getUint32(body + 12, le);
        const orig = dv.getUint32(body + 16, le);
        if (body + 20 + incl > bodyEnd)
          throw err(fmt, `packet ${index}: captured length ${incl} overruns its block`, body + 12);
        const data = bytes.subarray(body + 20, body + 20 + incl);
        yield {
          kind: 'packet',
          packet: {
            data,
            origLen: Math.max(orig, incl),
            tsNs: (ts * iface.num) / iface.den,
            interfaceId: ifId,
          },
        };
        index++;
        break;
      }
      case 3: {
        // Simple Packet Block: interface 0, no timestamp; captured length = min(orig, snaplen, body).
        need(4, 'simple packet');
        const iface = ifaces[0];
        if (!iface) throw err(fmt, `packet ${index}: simple packet block without an interface`, off);
        const orig = dv.getUint32(body, le);
        let incl = Math.min(orig, bodyEnd - body - 4);
        if (iface.snaplen > 0) incl = Math.min(incl, iface.snaplen);
        yield {
          kind: 'packet',
          packet: {
            data: bytes.subarray(body + 4, body + 4 + incl),
            origLen: orig,
            tsNs: 0n,
            interfaceId: 0,
          },
        };
        index++;
        break;
      }
      default:
        break; // unknown block types are skipped
    }
    off += len;
  }
}

export interface WriteOptions {
  linkType?: number;
  snaplen?: number;
  /** Write the nanosecond-resolution magic (default false: microseconds). */
  nanosecond?: boolean;
  /** Write big-endian (default little-endian). */
  bigEndian?: boolean;
}

type PacketIn = Pick<CapturedPacket, 'data'> & Partial<Pick<CapturedPacket, 'origLen' | 'tsNs'>>;

/** Writes packets as a classic pcap file. */
export function writePcap(packets: readonly PacketIn[], opts: WriteOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const snaplen = opts.snaplen ?? 262144;
  let total = 24;
  for (const p of packets) total += 16 + Math.min(p.data.length, snaplen);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, opts.nanosecond ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, snaplen, le);
  dv.setUint32(20, opts.linkType ?? LinkType.ETHERNET, le);
  let off = 24;
  const div = opts.nanosecond ? 1n : 1000n;
  for (const p of packets) {
    const ts = p.tsNs ?? 0n;
    const incl = Math.min(p.data.length, snaplen);
    dv.setUint32(off, Number(ts / 1_000_000_000n), le);
    dv.setUint32(off + 4, Number((ts % 1_000_000_000n) / div), le);
    dv.setUint32(off + 8, incl, le);
    dv.setUint32(off + 12, Math.max(p.origLen ?? p.data.length, incl), le);
    out.set(p.data.subarray(0, incl), off + 16);
    off += 16 + incl;
  }
  return out;
}

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
    const ts = p.tsNs ?? 0n;
    const units = digits <= 9 ? ts / scale : ts * scale;
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
