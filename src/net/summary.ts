// One-line packet summaries in the style of `tcpdump -n`:
//   IP 10.0.0.1.5001 > 10.0.0.2.40000: UDP, length 1470

import { formatIpv4, formatIpv6, formatMac } from './addr.js';
import { LinkType } from './pcap.js';

const TCP_FLAGS: [number, string][] = [
  [0x01, 'F'],
  [0x02, 'S'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
  [0x10, '.'],
];

const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply',
  3: 'unreachable',
  5: 'redirect',
  8: 'echo request',
  11: 'time exceeded',
};
const ICMP6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  3: 'time exceeded',
  128: 'echo request',
  129: 'echo reply',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
};

/** Summarises one packet of the given link type; never throws on short or odd packets. */
export function summarize(data: Uint8Array, linkType: number, origLen = data.length): string {
  try {
    return summarizeLink(data, linkType, origLen);
  } catch {
    return `[|truncated], length ${origLen}`;
  }
}

function summarizeLink(d: Uint8Array, linkType: number, origLen: number): string {
  const be16 = (o: number) => {
    if (o + 2 > d.length) throw new RangeError('short');
    return ((d[o] as number) << 8) | (d[o + 1] as number);
  };
  let off: number;
  let type: number;
  let prefix = '';
  if (linkType === LinkType.RAW) {
    const v = (d[0] ?? 0) >> 4;
    return l3(d, 0, v === 6 ? 0x86dd : 0x800, origLen);
  }
  if (linkType === LinkType.LINUX_SLL) {
    off = 16;
    type = be16(14);
    prefix = `${['In', 'B', 'M', 'P', 'Out'][be16(0)] ?? '?'} `;
  } else if (linkType === LinkType.ETHERNET) {
    off = 14;
    type = be16(12);
  } else return `link type ${linkType}, length ${origLen}`;
  const vlans: string[] = [];
  while ((type === 0x8100 || type === 0x88a8) && off + 4 <= d.length) {
    vlans.push(`vlan ${be16(off) & 0xfff}`);
    type = be16(off + 2);
    off += 4;
  }
  const v = vlans.length ? `${vlans.map((x) => `802.1Q, ${x}`).join(', ')}, ` : '';
  return prefix + v + l3(d, off, type, origLen - off);
}

function l3(d: Uint8Array, off: number, type: number, len: number): string {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (type === 0x0806 || type === 0x8035) {
    const name = type === 0x0806 ? 'ARP' : 'RARP';
    if (off + 28 > d.length) return `${name}, [|${name.toLowerCase()}]`;
    const op = dv.getUint16(off + 6);
    const spa = formatIpv4(d, off + 14);
    const tpa = formatIpv4(d, off + 24);
    if (op === 1) return `${name}, Request who-has ${tpa} tell ${spa}, length ${len}`;
    if (op === 2) return `${name}, Reply ${spa} is-at ${formatMac(d, off + 8)}, length ${len}`;
    return `${name}, op ${op}, length ${len}`;
  }
  if (type === 0x0800) {
    if (off + 20 > d.length) return 'IP [|ip]';
    const ihl = ((d[off] as number) & 0x0f) * 4;
    const total = dv.getUint16(off + 2);
    const frag = dv.getUint16(off + 6);
    const proto = d[off + 9] as number;
    const src = formatIpv4(d, off + 12);
    const dst = formatIpv4(d, off + 16);
    const fragOff = (frag & 0x1fff) * 8;
    const l4len = total - ihl;
    if (fragOff > 0) return `IP ${src} > ${dst}: ip-proto-${proto}`;
    return `IP ${l4(d, off + ihl, proto, src, dst, l4len, false)}`;
  }
  if (type === 0x86dd) {
    if (off + 40 > d.length) return 'IP6 [|ip6]';
    let next = d[off + 6] as number;
    let plen = dv.getUint16(off + 4);
    const src = formatIpv6(d, off + 8);
    const dst = formatIpv6(d, off + 24);
    let o = off + 40;
    const exts: string[] = [];
    while ([0, 43, 44, 60].includes(next) && o + 8 <= d.length) {
      const hlen = next === 44 ? 8 : ((d[o + 1] as number) + 1) * 8;
      if (next === 44) {
        const fo = dv.getUint16(o + 2);
        exts.push(`frag (${fo & 0xfff8}|${plen - 8}${fo & 1 ? '' : ''})`);
        if ((fo & 0xfff8) !== 0) return `IP6 ${src} > ${dst}: ${exts.join(' ')}`;
      } else exts.push(next === 0 ? 'HBH' : next === 43 ? 'srcrt' : 'DSTOPT');
      next = d[o] as number;
      plen -= hlen;
      o += hlen;
    }
    const x = exts.length ? `${exts.join(' ')} ` : '';
    return `IP6 ${x}${l4(d, o, next, src, dst, plen, true)}`;
  }
  return `ethertype 0x${type.toString(16).padStart(4, '0')}, length ${len}`;
}

function l4(
  d: Uint8Array,
  o: number,
  proto: number,
  src: string,
  dst: string,
  len: number,
  v6: boolean,
): string {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const have = (n: number) => o + n <= d.length;
  if ((proto === 17 || proto === 6 || proto === 132) && have(4)) {
    const sp = dv.getUint16(o);
    const dp = dv.getUint16(o + 2);
    const ends = `${src}.${sp} > ${dst}.${dp}`;
    if (proto === 17) return `${ends}: UDP, length ${len - 8}`;
    if (proto === 132) return `${ends}: sctp`;
    if (!have(20)) return `${ends}: tcp [|tcp]`;
    const flagsByte = d[o + 13] as number;
    const flags = TCP_FLAGS.filter(([m]) => flagsByte & m)
      .map(([, c]) => c)
      .join('');
    const hlen = ((d[o + 12] as number) >> 4) * 4;
    const seq = dv.getUint32(o + 4);
    const ack = dv.getUint32(o + 8);
    const plen = len - hlen;
    const seqText = plen > 0 ? `seq ${seq}:${seq + plen}` : `seq ${seq}`;
    const ackText = flagsByte & 0x10 ? `, ack ${ack}` : '';
    return `${ends}: Flags [${flags || 'none'}], ${seqText}${ackText}, win ${dv.getUint16(o + 14)}, length ${plen}`;
  }
  if (proto === 1 && !v6 && have(8)) {
    const t = d[o] as number;
    const name = ICMP_TYPES[t] ?? `type-#${t}`;
    const idseq = t === 0 || t === 8 ? `, id ${dv.getUint16(o + 4)}, seq ${dv.getUint16(o + 6)}` : '';
    return `${src} > ${dst}: ICMP ${name}${idseq}, length ${len}`;
  }
  if (proto === 58 && v6 && have(8)) {
    const t = d[o] as number;
    const name = ICMP6_TYPES[t] ?? `type ${t}`;
    const idseq = t === 128 || t === 129 ? `, id ${dv.getUint16(o + 4)}, seq ${dv.getUint16(o + 6)}` : '';
    return `${src} > ${dst}: ICMP6, ${name}${idseq}, length ${len}`;
  }
  return `${src} > ${dst}: ip-proto-${proto} ${len}`;
}
