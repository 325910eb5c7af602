// Address text <-> bytes: MAC, IPv4, IPv6 (with :: compression as RFC 5952 prints it).

/**
 * Parse a MAC address (`aa:bb:cc:dd:ee:ff`, with `:`, `-` or `.` between the bytes, or three groups of four
 * digits).
 */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:.-]/);
  if (parts.length === 6 && parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p)))
    return Uint8Array.from(parts, (p) => Number.parseInt(p, 16));
  if (parts.length === 3 && parts.every((p) => /^[0-9a-fA-F]{1,4}$/.test(p))) {
    const out = new Uint8Array(6);
    parts.forEach((p, i) => {
      const v = Number.parseInt(p, 16);
      out[2 * i] = v >> 8;
      out[2 * i + 1] = v & 0xff;
    });
    return out;
  }
  if (/^[0-9a-fA-F]{12}$/.test(s))
    return Uint8Array.from({ length: 6 }, (_, i) => Number.parseInt(s.slice(2 * i, 2 * i + 2), 16));
  throw new Error(`bad MAC address '${s}'`);
}

/** The MAC address of the 6 bytes at `off`, as `aa:bb:cc:dd:ee:ff`. */
export const formatMac = (b: Uint8Array, off = 0): string =>
  Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** Parses a dotted quad; returns undefined when it is not one. */
export function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
  return Uint8Array.from(parts, Number);
}

/** The IPv4 address of the 4 bytes at `off`, as a dotted quad. */
export const formatIpv4 = (b: Uint8Array, off = 0): string => Array.from(b.subarray(off, off + 4)).join('.');

/** Parses an IPv6 address (with ::, and an optional trailing dotted quad); undefined when invalid. */
export function parseIpv6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = words(halves[0] as string);
  const tail = halves.length === 2 ? words(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** The IPv6 address of the 16 bytes at `off`, as RFC 5952 prints it (the longest run of zeros as `::`). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w = Array.from(
    { length: 8 },
    (_, i) => ((b[off + 2 * i] as number) << 8) | (b[off + 2 * i + 1] as number),
  );
  // Longest run of zero words (length >= 2) becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}
