// SYN cookies for TC and XDP programs: bpf_tcp_raw_gen_syncookie_ipv4/6 answer a SYN with a cookie (the
// ISN of the SYN-ACK) and the MSS it encodes, bpf_tcp_raw_check_syncookie_ipv4/6 accept the ACK that
// echoes it, and bpf_tcp_gen_syncookie does the same for a listening socket.
//
// The scheme is the classic one: the cookie is a keyed hash of the 4-tuple plus the client's sequence
// number, with a minute counter in its top 8 bits and the MSS's index in a four-entry table in its low 24
// bits (under a second hash that includes the counter). A check undoes it and accepts a cookie at most
// two minutes old. The keys are this runtime's own (random per process), so cookies are not the kernel's
// bits — no one outside can check them either — but the MSS each encodes is the kernel's (the same
// tables), as are every argument check and errno; round trips (gen, then check of the echo) hold.

import { jhash } from '../maps/jhash.js';
import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, readable } from './args.js';
import { TC_XDP_TYPES } from './groups.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The MSS values a cookie can encode (IPv4; IPv6 lower by the 20 extra header bytes plus its own). */
const MSS_V4 = [536, 1300, 1440, 1460];
const MSS_V6 = [1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60];
/** TCP's default MSS when the SYN carries none. */
const TCP_MSS_DEFAULT = 536;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** How many minutes a cookie stays valid. */
const MAX_AGE = 2;
const TCPHDR = 20;
const EPROTONOSUPPORT = 93;

/** Two hash keys per runtime process (the kernel's syncookie_secret). */
const SECRET = [0, 1].map(() => (Math.random() * 0x1_0000_0000) >>> 0);

/** The keyed hash of a 4-tuple (addresses as bytes, ports as the wire's 16 bits), salted by `count`. */
function tupleHash(saddr: Uint8Array, daddr: Uint8Array, ports: number, count: number, c: 0 | 1): number {
  const b = new Uint8Array(saddr.length + daddr.length + 8);
  b.set(saddr, 0);
  b.set(daddr, saddr.length);
  const v = new DataView(b.buffer);
  v.setUint32(saddr.length * 2, ports >>> 0);
  v.setUint32(saddr.length * 2 + 4, count >>> 0);
  return jhash(b, 0, b.length, SECRET[c]!);
}

/** The cookie clock: minutes of the monotonic clock. */
const minutes = (env: HelperEnv) => Math.floor(env.nowNsNumber() / 60e9) >>> 0;

/** A cookie for the tuple and the client's sequence number, encoding `mssIndex`. */
function makeCookie(env: HelperEnv, t: Tuple, seq: number, mssIndex: number): number {
  const count = minutes(env);
  const h0 = tupleHash(t.saddr, t.daddr, t.ports, 0, 0);
  const h1 = tupleHash(t.saddr, t.daddr, t.ports, count, 1);
  return (h0 + seq + (count << COOKIE_BITS) + ((h1 + mssIndex) & COOKIE_MASK)) >>> 0;
}

/** The MSS index a cookie encodes, or -1 when it is not this tuple's or is too old. */
function checkCookie(env: HelperEnv, t: Tuple, seq: number, cookie: number): number {
  const count = minutes(env);
  const c = (cookie - tupleHash(t.saddr, t.daddr, t.ports, 0, 0) - seq) >>> 0;
  const age = (count - (c >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
  if (age >= MAX_AGE) return -1;
  return (c - tupleHash(t.saddr, t.daddr, t.ports, count - age, 1)) & COOKIE_MASK;
}

interface Tuple {
  saddr: Uint8Array;
  daddr: Uint8Array;
  /** Source and destination ports as the TCP header's first 32 bits. */
  ports: number;
}

const tupleOf = (env: HelperEnv, iph: number, th: number, v6: boolean): Tuple => {
  const b = env.space.bytes;
  return {
    saddr: b.slice(iph + (v6 ? 8 : 12), iph + (v6 ? 24 : 16)),
    daddr: b.slice(iph + (v6 ? 24 : 16), iph + (v6 ? 40 : 20)),
    ports: env.space.view.getUint32(th, false),
  };
};

/** The MSS option of a SYN's TCP header (its `len` bytes), 0 when there is none. */
function mssOption(env: HelperEnv, th: number, len: number): number {
  const b = env.space.bytes;
  let mss = 0;
  for (let i = th + TCPHDR, end = th + len; i < end; ) {
    const kind = b[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (end - i < 2) break;
    const size = b[i + 1]!;
    if (size < 2 || size > end - i) break;
    if (kind === 2 && size === 4) {
      const v = (b[i + 2]! << 8) | b[i + 3]!;
      if (v) mss = v;
    }
    i += size;
  }
  return mss;
}

/** The largest table entry at most `mss` (the first when none is). */
function mssIndex(table: readonly number[], mss: number): number {
  let i = table.length - 1;
  while (i > 0 && mss < table[i]!) i--;
  return i;
}

/** tcp_raw_gen_syncookie: the cookie in the low 32 bits, the MSS it encodes above; -EINVAL on a bad header. */
function rawGen(env: HelperEnv, iph: number, th: number, thLen: number, v6: boolean): number {
  if (thLen < TCPHDR || !readable(env, th, thLen)) return -Errno.EINVAL;
  if (thLen !== (env.space.bytes[th + 12]! >> 4) * 4) return -Errno.EINVAL;
  const table = v6 ? MSS_V6 : MSS_V4;
  const i = mssIndex(table, mssOption(env, th, thLen) || TCP_MSS_DEFAULT);
  const seq = env.space.view.getUint32(th + 4, false);
  const cookie = makeCookie(env, tupleOf(env, iph, th, v6), seq, i);
  return table[i]! * 0x1_0000_0000 + cookie;
}

/** tcp_raw_check_syncookie: 0 when the ACK echoes a valid cookie, else -EACCES. */
function rawCheck(env: HelperEnv, iph: number, th: number, v6: boolean): number {
  const v = env.space.view;
  const seq = (v.getUint32(th + 4, false) - 1) >>> 0;
  const cookie = (v.getUint32(th + 8, false) - 1) >>> 0;
  const i = checkCookie(env, tupleOf(env, iph, th, v6), seq, cookie);
  return i >= 0 && i < 4 ? 0 : -Errno.EACCES;
}

const IPV4_HDR = 20;
const IPV6_HDR = 40;

export const SYNCOOKIE_HELPERS: HelperDef[] = [
  {
    id: 204,
    name: 'tcp_raw_gen_syncookie_ipv4',
    proto: { ret: 'integer', args: ['fixed_mem', 'mem', 'const_size'], fixedSizes: [IPV4_HDR] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'word', 'u32'], (env, iph, th, len) =>
      rawGen(env, ptrWord(iph), ptrWord(th), len, false),
    ),
  },
  {
    id: 205,
    name: 'tcp_raw_gen_syncookie_ipv6',
    proto: { ret: 'integer', args: ['fixed_mem', 'mem', 'const_size'], fixedSizes: [IPV6_HDR] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'word', 'u32'], (env, iph, th, len) =>
      rawGen(env, ptrWord(iph), ptrWord(th), len, true),
    ),
  },
  {
    id: 206,
    name: 'tcp_raw_check_syncookie_ipv4',
    proto: { ret: 'integer', args: ['fixed_mem', 'fixed_mem'], fixedSizes: [IPV4_HDR, TCPHDR] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'word'], (env, iph, th) => rawCheck(env, ptrWord(iph), ptrWord(th), false)),
  },
  {
    id: 207,
    name: 'tcp_raw_check_syncookie_ipv6',
    proto: { ret: 'integer', args: ['fixed_mem', 'fixed_mem'], fixedSizes: [IPV6_HDR, TCPHDR] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'word'], (env, iph, th) => rawCheck(env, ptrWord(iph), ptrWord(th), true)),
  },
  {
    id: 110,
    name: 'tcp_gen_syncookie',
    proto: { ret: 'integer', args: ['sock_common', 'mem', 'const_size', 'mem', 'const_size'] },
    programTypes: TC_XDP_TYPES,
    // A cookie for a SYN to a listening socket. The kernel's checks in its order: a TCP header of its
    // doff's length, a listening TCP socket (-EINVAL), a bare SYN, an IP header of the version's size and a
    // socket of its family (-EINVAL), IP version 4 or 6 (-EPROTONOSUPPORT). The listener's MSS clamp is
    // not modelled (its MSS is the SYN's).
    ...onNumbers(['word', 'word', 'u32', 'word', 'u32'], (env, sk, iph, iphLen, th, thLen) => {
      const s = ptrWord(sk);
      const ip = ptrWord(iph);
      const t = ptrWord(th);
      const b = env.space.bytes;
      const v = env.space.view;
      if (s === 0 || thLen < TCPHDR || thLen !== (b[t + 12]! >> 4) * 4) return -Errno.EINVAL;
      if (!readable(env, s, 80) || v.getUint32(s + 12, true) !== 6 || v.getUint32(s + 72, true) !== 10)
        return -Errno.EINVAL;
      const flags = b[t + 13]!;
      // SYN set; ACK, FIN, RST clear.
      if ((flags & 0x02) === 0 || flags & 0x15) return -Errno.EINVAL;
      if (iphLen < IPV4_HDR) return -Errno.EINVAL;
      const version = b[ip]! >> 4;
      if (version === 6 && (iphLen < IPV6_HDR || v.getUint32(s + 4, true) !== 10)) return -Errno.EINVAL;
      if (version !== 4 && version !== 6) return -EPROTONOSUPPORT;
      return rawGen(env, ip, t, thLen, version === 6);
    }),
  },
];
