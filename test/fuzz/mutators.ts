// Byte mutators shared by the targets that read files (ELF, BTF, pcap, the CLI): each takes a valid input
// and a generator and returns a damaged copy. They aim at what parsers trust — counts, offsets, sizes,
// lengths — rather than at random bytes alone.

import { parseElf } from '../../src/elf/parse.js';
import type { Rng } from './harness.js';

/** Values that sit on the edges of the checks parsers make. */
export const INTERESTING_U32 = [
  0, 1, 2, 4, 7, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
];

/** Generic damage: overwrite, flip, set an interesting word, truncate, duplicate or cut a range. */
export function mutateBytes(src: Uint8Array, r: Rng, rounds = 1 + r.int(4)): Uint8Array {
  let b: Uint8Array = src.slice();
  for (let k = 0; k < rounds && b.length > 0; k++) {
    const at = r.int(b.length);
    switch (r.int(8)) {
      case 0:
        b[at] = r.int(256);
        break;
      case 1:
        b[at]! ^= 1 << r.int(8);
        break;
      case 2:
        if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, r.pick(INTERESTING_U32), r.chance(0.5));
        break;
      case 3:
        b = b.slice(0, at);
        break;
      case 4: {
        // Repeat a range (a duplicated record or header).
        const len = 1 + r.int(Math.min(64, b.length - at));
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at + len));
        out.set(b.subarray(at), at + len);
        b = out;
        break;
      }
      case 5: {
        // Remove a range.
        const len = 1 + r.int(Math.min(64, b.length - at));
        const out = new Uint8Array(b.length - len);
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + len), at);
        b = out;
        break;
      }
      case 6:
        b[at] = 0;
        break;
      default:
        b[at] = (b[at]! + 1 + r.int(3)) & 0xff;
    }
  }
  return b;
}

/** Byte ranges of the sections whose parsers are the most intricate: .BTF, .BTF.ext, .maps, relocations. */
export function elfHotRanges(src: Uint8Array): [number, number][] {
  return parseElf(src, 'fixture')
    .sections.filter((s) => /^(\.BTF|\.BTF\.ext|\.maps|\.rel.*|maps|\.symtab)$/.test(s.name) && s.size > 0)
    .map((s) => [s.offset, s.size]);
}

/** An ELF object with its headers, section table and structured sections damaged. */
export function mutateElf(src: Uint8Array, hot: readonly [number, number][], r: Rng): Uint8Array {
  const b = src.slice();
  const v = new DataView(b.buffer);
  const kind = r.int(9);
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const at = r.int(b.length - 4);
    if (kind === 0) b[at] = r.int(256);
    else if (kind === 1) b[at]! ^= 1 << r.int(8);
    else if (kind === 2) v.setUint32(at & ~3, r.pick(INTERESTING_U32), true);
    else if (kind === 3) {
      // Section header fields (offset, size, link, info, type, entsize) are the juiciest targets.
      const sv = new DataView(src.buffer, src.byteOffset);
      const shoff = Number(sv.getBigUint64(40, true));
      const shnum = sv.getUint16(60, true);
      const field = r.pick([24, 32, 40, 44, 4, 56]);
      const h = shoff + r.int(shnum) * 64 + field;
      if (h + 4 <= b.length) v.setUint32(h, r.pick(INTERESTING_U32) ^ r.int(64), true);
    } else if (kind === 4) return b.subarray(0, r.int(b.length));
    else if (kind === 5) b[at] = 0;
    else if (kind === 8) return mutateBytes(b, r);
    else {
      // Inside a structured section: counts, offsets, type ids and kinds.
      const [start, size] = r.pick(hot);
      const p = start + (r.int(size) & ~3);
      if (p + 4 <= b.length)
        v.setUint32(p, kind === 6 ? r.pick(INTERESTING_U32) : v.getUint32(p, true) + 1 + r.int(3), true);
    }
  }
  return b;
}

/** A capture with record lengths, block lengths and header fields damaged, or cut short. */
export function mutateCapture(src: Uint8Array, r: Rng): Uint8Array {
  let b: Uint8Array = src.slice();
  for (let m = 0; m <= r.int(4); m++) {
    const at = r.int(b.length);
    const roll = r.int(6);
    if (roll === 0) b = b.subarray(0, at);
    else if (roll === 1 && at + 4 <= b.length) {
      // A length-like word: pcap record caplen/len, pcapng block lengths, option lengths.
      new DataView(b.buffer, b.byteOffset).setUint32(at & ~3, r.pick(INTERESTING_U32), r.chance(0.5));
    } else if (roll === 2) b = mutateBytes(b, r, 1);
    else b[at] = r.int(256);
  }
  return b;
}
