// The socket-buffer helpers (bpf_skb_*, the checksum helpers, VLAN, hash, room changes) on the packet
// model the skb hook lays out (src/hooks/skb.ts): the packet is the invocation's packet region (its
// start is skb->data, its end the tail), the context a `struct __sk_buff` in memory whose fields are the
// skb's own (len, protocol, vlan, hash, mark … are read and written there), and what the context does not
// hold (header offsets, checksum state, the device's length limit) in an `SkbState` the hook registers
// under the context's address. Semantics and errno values are the kernel's (net/core/filter.c), as
// BPF_PROG_TEST_RUN shows them: a linear skb on the loopback device, ip_summed CHECKSUM_NONE.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { programTypeByName } from '../spec/program-types.js';
import { TcAction } from '../spec/verdicts.js';
import { mapWord, onNumbers, ptr, ptrWord, writable } from './args.js';
import { cgroupPath } from './trace.js';
import type { HelperDef, HelperEnv } from './types.js';

const SKB = programTypeByName('sched_cls')!.ctx;
const field = (name: string): number => SKB.fields.find((x) => x.name === name)!.offset;

/** Offsets of the `struct __sk_buff` fields the helpers keep up to date. */
export const SKB_OFF = {
  len: field('len'),
  pktType: field('pkt_type'),
  mark: field('mark'),
  queueMapping: field('queue_mapping'),
  protocol: field('protocol'),
  vlanPresent: field('vlan_present'),
  vlanTci: field('vlan_tci'),
  vlanProto: field('vlan_proto'),
  priority: field('priority'),
  ingressIfindex: field('ingress_ifindex'),
  ifindex: field('ifindex'),
  tcIndex: field('tc_index'),
  cb: field('cb'),
  hash: field('hash'),
  tcClassid: field('tc_classid'),
  data: field('data'),
  dataEnd: field('data_end'),
  napiId: field('napi_id'),
  dataMeta: field('data_meta'),
  tstamp: field('tstamp'),
  wireLen: field('wire_len'),
  gsoSegs: field('gso_segs'),
  gsoSize: field('gso_size'),
  hwtstamp: field('hwtstamp'),
  // Fields only the cgroup and sk_skb views show (the skb's socket), by the layout's offsets.
  family: 88,
  remoteIp4: 92,
  localIp4: 96,
  remoteIp6: 100,
  localIp6: 116,
} as const;
/** Offset of the 1-byte `tstamp_type` (BPF_SKB_CLOCK_*: what skb_set_tstamp sets). */
const SKB_TSTAMP_TYPE = 180;
/**
 * The hash's kind (skb->sw_hash: bit 0, skb->l4_hash: bit 1) in the context's padding after tstamp_type,
 * which no field covers (programs cannot reach it, ctx_out does not copy it): in memory rather than in
 * SkbState so that the JIT's inline bpf_skb_store_bytes clears it with the hash, as the helper does.
 */
export const SKB_HASH_KIND = 181;
const SW_HASH = 1;
const L4_HASH = 2;
/** sizeof(struct __sk_buff). */
export const SKB_CTX_SIZE = SKB.size;

/** skb->ip_summed values (include/linux/skbuff.h). */
export const CsumState = { NONE: 0, UNNECESSARY: 1, COMPLETE: 2, PARTIAL: 3 } as const;

/** What an skb has beyond its `__sk_buff` fields: header positions, checksum state, limits. */
export interface SkbState {
  /** The packet's region: its start is skb->data, its end the tail. */
  packet: Region;
  /** Address of the MAC header (skb_mac_header). */
  mac: number;
  /** Address of the network header (skb_network_header). */
  net: number;
  /** skb->ip_summed (CsumState) and csum_level, for csum_level and the checksum helpers. */
  ipSummed: number;
  csumLevel: number;
  /** skb->csum (CHECKSUM_COMPLETE only). */
  csum: number;
  /** The device's limit for change_tail/change_head: mtu + hard_header_len (loopback: 65536 + 14). */
  maxLen: number;
  /** The tunnel metadata skb_set_tunnel_key attached (the skb's metadata dst), if any. */
  tunnel?: TunnelInfo;
  /** skb->encapsulation: set by adjust_room's encapsulating growth (a second one is EALREADY). */
  encapsulated: boolean;
}

/** The skb a helper works on: its packet region, context address and state. */
interface Skb {
  pkt: Region;
  ctx: number;
  st: SkbState;
}

/** SKBs by address space and context address: the hook registers its context's state. */
const STATES = new WeakMap<AddressSpace, Map<number, Skb>>();
/** The last one found (runs call helper after helper on one skb). */
let last: { space: AddressSpace | undefined; skb: Skb | undefined } = { space: undefined, skb: undefined };

/** Register the state of the skb whose `__sk_buff` is at `ctx` in `space` (the hook does, for its context). */
export function attachSkbState(space: AddressSpace, ctx: number, state: SkbState): void {
  let m = STATES.get(space);
  if (!m) {
    m = new Map();
    STATES.set(space, m);
  }
  m.set(ctx, { pkt: state.packet, ctx, st: state });
}

/** Forget the state of the skb at `ctx` (the hook's close). */
export function detachSkbState(space: AddressSpace, ctx: number): void {
  STATES.get(space)?.delete(ctx);
  if (last.space === space && last.skb?.ctx === ctx) last = { space: undefined, skb: undefined };
}

/** The skb whose context the helper got as its first argument (the verifier makes it the program's). */
export function skbOf(env: HelperEnv, ctx: number, helper: string): Skb {
  const hit = last.skb;
  if (hit !== undefined && hit.ctx === ctx && last.space === env.space) return hit;
  const skb = STATES.get(env.space)?.get(ctx);
  if (!skb) throw new Error(`${helper}: the context is not a socket buffer the hook laid out`);
  last = { space: env.space, skb };
  return skb;
}

/**
 * The first `len` bytes of the packet of the skb whose context is at `ctx` (what perf_event_output appends
 * to its sample for BPF_F_CTXLEN_MASK), -EFAULT past skb->len, or undefined when `ctx` is no skb.
 */
export function skbHead(env: HelperEnv, ctx: number, len: number): Uint8Array | number | undefined {
  const skb = STATES.get(env.space)?.get(ctx);
  if (!skb) return undefined;
  if (len > skb.pkt.end - skb.pkt.start) return -Errno.EFAULT;
  return env.space.bytes.slice(skb.pkt.start, skb.pkt.start + len);
}

/** skb->len, data, data_end and data_meta back into the context after the packet moved or changed size. */
export function syncSkb(env: HelperEnv, s: Skb): void {
  const v = env.space.view;
  v.setUint32(s.ctx + SKB_OFF.len, s.pkt.end - s.pkt.start, true);
  v.setUint32(s.ctx + SKB_OFF.data, s.pkt.start, true);
  v.setUint32(s.ctx + SKB_OFF.dataEnd, s.pkt.end, true);
  v.setUint32(s.ctx + SKB_OFF.dataMeta, s.pkt.start, true);
}

const CTX_SKB = ['sched_cls', 'sched_act'] as const;
/** The __sk_buff program types whose helpers read the packet (bpf_skb_load_bytes and kin). */
const SKB_READERS = [
  'socket_filter',
  'sched_cls',
  'sched_act',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sk_skb',
  'flow_dissector',
] as const;

/** INT_MAX: offsets above it are refused before any length check (the kernel's `offset > INT_MAX`). */
const INT_MAX = 0x7fff_ffff;

// ---- checksums (include/net/checksum.h; one's-complement sums on 16-bit words in memory order) ----------

/** 32-bit one's-complement addition (csum_add). */
function csumAdd(a: number, b: number): number {
  const s = a + b;
  return s > 0xffffffff ? s - 0xffffffff : s;
}

/** csum_fold: the 32-bit sum folded to 16 bits and complemented. */
function csumFold(sum: number): number {
  let x = (sum & 0xffff) + (sum >>> 16);
  x = (x & 0xffff) + (x >>> 16);
  return ~x & 0xffff;
}

/** The new checksum after a 32-bit word `from` became `to`, given the old one (csum_replace4). */
function replace4(sum16: number, from: number, to: number): number {
  return csumFold(csumAdd(csumAdd(~sum16 >>> 0, ~from >>> 0), to));
}

/** csum_replace2: the same for a 16-bit word, in 16-bit arithmetic. */
function replace2(sum16: number, from: number, to: number): number {
  const add16 = (a: number, b: number) => {
    const r = (a + b) & 0xffff;
    return (r + (r < b ? 1 : 0)) & 0xffff;
  };
  return ~add16(add16(~sum16 & 0xffff, ~from & 0xffff), to) & 0xffff;
}

/** csum_replace_by_diff: fold a precomputed difference (csum_diff's result) into the checksum. */
function replaceByDiff(sum16: number, diff: number): number {
  return csumFold(csumAdd(diff, ~sum16 >>> 0));
}

/**
 * Where l3/l4_csum_replace find the checksum: `off` even, at most 0xffff, the two bytes within skb->len;
 * the address, or -EFAULT.
 */
function csumField(s: Skb, off: number): number {
  if (off > 0xffff || off & 1 || off + 2 > lengthOf(s)) return -Errno.EFAULT;
  return s.pkt.start + off;
}

/**
 * The checksum `sum16` with `from` replaced by `to`, by the size in the flags' low bits: 0, `to` is a
 * difference (csum_diff's) and `from` must be 0; 4, two 32-bit values; 2, two 16-bit values folded by
 * `two` (l3: csum_replace2; l4: the kernel's inet_proto_csum_replace2, a 4-byte replace). -1: EINVAL.
 */
function replacedSum(
  sum16: number,
  size: number,
  from: number,
  to: number,
  two: (sum16: number, from: number, to: number) => number,
): number {
  switch (size) {
    case 0:
      return from === 0 ? replaceByDiff(sum16, to >>> 0) : -1;
    case 2:
      return two(sum16, from & 0xffff, to & 0xffff);
    case 4:
      return replace4(sum16, from >>> 0, to >>> 0);
    default:
      return -1;
  }
}

// ---- flags and limits (include/uapi/linux/bpf.h) -------------------------------------------------------

const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;
const BPF_F_HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 0x10;
const BPF_F_MARK_MANGLED_0 = 0x20;
const BPF_F_MARK_ENFORCE = 0x40;
const BPF_F_IPV6 = 0x80;
const CSUM_MANGLED_0 = 0xffff;
/** Flags l4_csum_replace knows: the size, pseudo-header, mangled-0, enforce, IPv6. */
const L4_CSUM_FLAGS =
  BPF_F_HDR_FIELD_MASK | BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_IPV6;

/**
 * The rules bpf_skb_store_bytes and l3/l4_csum_replace check, shared with their inline forms in the JIT
 * (src/jit/inline-skb.ts), which must give what these helpers give.
 */
export const SKB_WRITE_RULES = {
  /** store_bytes: flags beyond these are EINVAL. */
  storeFlags: BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH,
  invalidateHash: BPF_F_INVALIDATE_HASH,
  /** store_bytes: offsets above this are EFAULT. */
  maxOffset: INT_MAX,
  /** l3_csum_replace: flags beyond the size field are EINVAL. */
  l3Flags: BPF_F_HDR_FIELD_MASK,
  l4Flags: L4_CSUM_FLAGS,
  /** The size of the replaced value (0: a difference, 2, 4) in the flags' low bits. */
  sizeMask: BPF_F_HDR_FIELD_MASK,
  mangled0: BPF_F_MARK_MANGLED_0,
  enforce: BPF_F_MARK_ENFORCE,
  /** What a UDP checksum that came out 0 is written as (mangled-0). */
  csumMangled0: CSUM_MANGLED_0,
  /** The checksum's offset: even, at most this. */
  csumMaxOffset: 0xffff,
} as const;
/** BPF_SKB_MAX_LEN (SKB_MAX_ALLOC): what adjust_room may grow a packet to. */
const BPF_SKB_MAX_LEN = 16384 - 320;
const ETH_HLEN = 14;
const VLAN_HLEN = 4;
/** EtherTypes as skb->protocol holds them: __be16 read in memory (little-endian) order. */
const RAW_IP = 0x0008;
const RAW_IPV6 = 0xdd86;
const RAW_8021Q = 0x0081;
const RAW_8021AD = 0xa888;
const ENOTSUPP = Errno.ENOTSUPP;
const EALREADY = 114;

// ---- the skb's fields ----------------------------------------------------------------------------------

/** skb->protocol as the program reads it (the __be16's bytes in memory order). */
function protocol(env: HelperEnv, s: Skb): number {
  return env.space.view.getUint16(s.ctx + SKB_OFF.protocol, true);
}

function setProtocol(env: HelperEnv, s: Skb, raw: number): void {
  env.space.view.setUint32(s.ctx + SKB_OFF.protocol, raw & 0xffff, true);
}

/** skb_is_gso: a GSO size was given (ctx_in's gso_size; the test run sets no GSO type, so never TCP). */
function isGso(env: HelperEnv, s: Skb): boolean {
  return env.space.view.getUint32(s.ctx + SKB_OFF.gsoSize, true) !== 0;
}

/** skb_gso_reset: no GSO any more (gso_size, gso_segs 0). */
function gsoReset(env: HelperEnv, s: Skb): void {
  env.space.view.setUint32(s.ctx + SKB_OFF.gsoSize, 0, true);
  env.space.view.setUint32(s.ctx + SKB_OFF.gsoSegs, 0, true);
}

/** skb_clear_hash. */
function clearHash(env: HelperEnv, s: Skb): void {
  env.space.view.setUint32(s.ctx + SKB_OFF.hash, 0, true);
  env.space.bytes[s.ctx + SKB_HASH_KIND] = 0;
}

const lengthOf = (s: Skb) => s.pkt.end - s.pkt.start;

/** Copy `len` bytes within memory: a loop for the few bytes helpers usually move (copyWithin costs more). */
function copy(b: Uint8Array, to: number, from: number, len: number): void {
  if (len > 32) b.copyWithin(to, from, from + len);
  else for (let i = 0; i < len; i++) b[to + i] = b[from + i]!;
}

/**
 * Make `need` bytes of headroom in front of skb->data (pskb_expand_head's job in the kernel): move the
 * packet, its MAC header included, further into its region when the room in front is short.
 */
function headroom(env: HelperEnv, s: Skb, need: number): void {
  const { pkt, st } = s;
  const first = Math.min(st.mac, pkt.start);
  if (first - pkt.base >= need) return;
  const top = pkt.base + pkt.capacity;
  const shift = Math.min(need + 256 - (first - pkt.base), top - pkt.end);
  // Callers keep packets within the device's limit, for which the region has room.
  if (first + shift - pkt.base < need)
    throw new Error(`skb: no room for ${need} bytes in front of the packet`);
  env.space.bytes.copyWithin(first + shift, first, pkt.end);
  pkt.start += shift;
  pkt.end += shift;
  st.mac += shift;
  st.net += shift;
}

/** Make the packet able to grow to `len` bytes from skb->data (room at the tail). */
function tailroom(env: HelperEnv, s: Skb, len: number): void {
  const { pkt, st } = s;
  const top = pkt.base + pkt.capacity;
  if (pkt.start + len <= top) return;
  const first = Math.min(st.mac, pkt.start);
  const shift = pkt.start + len - top;
  env.space.bytes.copyWithin(first - shift, first, pkt.end);
  pkt.start -= shift;
  pkt.end -= shift;
  st.mac -= shift;
  st.net -= shift;
}

/** bpf_skb_net_hdr_push: `len` zero bytes at `off` from skb->data, the headers before it moved forward. */
function netHdrPush(env: HelperEnv, s: Skb, off: number, len: number): void {
  headroom(env, s, len);
  const b = env.space.bytes;
  s.pkt.start -= len;
  b.copyWithin(s.pkt.start, s.pkt.start + len, s.pkt.start + len + off);
  b.fill(0, s.pkt.start + off, s.pkt.start + off + len);
  s.st.mac -= len;
  s.st.net -= len;
}

/** bpf_skb_net_hdr_pop: remove `len` bytes at `off` from skb->data, the headers before it moved back. */
function netHdrPop(env: HelperEnv, s: Skb, off: number, len: number): void {
  const old = s.pkt.start;
  s.pkt.start += len;
  env.space.bytes.copyWithin(s.pkt.start, old, old + off);
  s.st.mac += len;
  s.st.net += len;
}

/** bpf_skb_net_base_len: the fixed IP header's length, 0 for other protocols. */
function netBaseLen(raw: number): number {
  return raw === RAW_IP ? 20 : raw === RAW_IPV6 ? 40 : 0;
}

const isVlan = (raw: number) => raw === RAW_8021Q || raw === RAW_8021AD;

/** __skb_vlan_pop: take the tag after the MAC addresses out of the packet; its TCI, or a negative errno. */
function vlanPopData(env: HelperEnv, s: Skb): number {
  if (lengthOf(s) < ETH_HLEN + VLAN_HLEN) return -Errno.ENOMEM;
  const b = env.space.bytes;
  const d = s.pkt.start;
  const tci = (b[d + 14]! << 8) | b[d + 15]!;
  b.copyWithin(d + VLAN_HLEN, d, d + 12);
  // vlan_set_encap_proto: the inner EtherType, or an 802.3 frame's 802.3 / 802.2 marker.
  const inner = env.space.view.getUint16(d + 16, true);
  const innerHost = ((inner & 0xff) << 8) | (inner >> 8);
  if (innerHost >= 0x0600) setProtocol(env, s, inner);
  else setProtocol(env, s, b[d + 4] === 0xff && b[d + 5] === 0xff ? 0x0100 : 0x0400);
  s.pkt.start += VLAN_HLEN;
  s.st.mac += VLAN_HLEN;
  if (s.st.net - s.pkt.start < ETH_HLEN) s.st.net = s.pkt.start + ETH_HLEN;
  return tci;
}

/** The accelerated (out-of-packet) VLAN tag, as __vlan_hwaccel_put_tag / _clear_tag keep it. */
function putTag(env: HelperEnv, s: Skb, rawProto: number, tci: number): void {
  const v = env.space.view;
  v.setUint32(s.ctx + SKB_OFF.vlanPresent, rawProto || tci ? 1 : 0, true);
  v.setUint32(s.ctx + SKB_OFF.vlanTci, tci & 0xffff, true);
  v.setUint32(s.ctx + SKB_OFF.vlanProto, rawProto & 0xffff, true);
}

/** A flow hash of the packet's addresses and ports (see get_hash_recalc). */
function flowHash(env: HelperEnv, s: Skb): number {
  const b = env.space.bytes;
  const net = s.st.net;
  const raw = protocol(env, s);
  let h = 0x811c9dc5;
  const mix = (from: number, to: number) => {
    for (let i = from; i < Math.min(to, s.pkt.end); i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  };
  if (raw === RAW_IP && net + 20 <= s.pkt.end) {
    mix(net + 9, net + 10);
    mix(net + 12, net + 20);
    mix(net + (b[net]! & 0xf) * 4, net + (b[net]! & 0xf) * 4 + 4);
  } else if (raw === RAW_IPV6 && net + 40 <= s.pkt.end) {
    mix(net + 6, net + 7);
    mix(net + 8, net + 44);
  } else mix(s.st.mac, s.st.mac + ETH_HLEN);
  return h || 1;
}

const TC = CTX_SKB;
const TC_LWT_XMIT = [...CTX_SKB, 'lwt_xmit'] as const;

export const SKB_HELPERS: HelperDef[] = [
  {
    id: 26,
    name: 'skb_load_bytes',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'uninit_mem', 'const_size'] },
    programTypes: SKB_READERS,
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, ctx, off, to, len) => {
      const s = skbOf(env, ctx, 'skb_load_bytes');
      const dst = ptrWord(to);
      writable(env, dst, len, 'skb_load_bytes');
      // skb_header_pointer: the bytes must lie within skb->len; on failure the buffer is zeroed.
      if (off > INT_MAX || off + len > s.pkt.end - s.pkt.start) {
        env.space.bytes.fill(0, dst, dst + len);
        return -Errno.EFAULT;
      }
      copy(env.space.bytes, dst, s.pkt.start + off, len);
      return 0;
    }),
  },
  {
    id: 68,
    name: 'skb_load_bytes_relative',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'uninit_mem', 'const_size', 'anything'] },
    programTypes: ['socket_filter', 'sched_cls', 'sched_act', 'cgroup_skb'],
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, ctx, off, to, len, start) => {
      const s = skbOf(env, ctx, 'skb_load_bytes_relative');
      const dst = ptrWord(to);
      writable(env, dst, len, 'skb_load_bytes_relative');
      // From the MAC header (BPF_HDR_START_MAC, 0) or the network header (BPF_HDR_START_NET, 1), up to
      // the packet's tail.
      const base = start === 0 ? s.st.mac : start === 1 ? s.st.net : -1;
      if (off > 0xffff || base < 0 || base + off + len > s.pkt.end) {
        env.space.bytes.fill(0, dst, dst + len);
        return -Errno.EFAULT;
      }
      env.space.bytes.copyWithin(dst, base + off, base + off + len);
      return 0;
    }),
  },
  {
    id: 9,
    name: 'skb_store_bytes',
    proto: {
      ret: 'integer',
      args: ['ctx', 'anything', 'mem', 'const_size', 'anything'],
      changesPacket: true,
    },
    programTypes: [...TC_LWT_XMIT, 'sk_skb'],
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, ctx, off, from, len, flags) => {
      const s = skbOf(env, ctx, 'skb_store_bytes');
      if (!(flags >= 0 && flags <= (BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH))) return -Errno.EINVAL;
      // bpf_try_make_writable: the bytes must lie within skb->len.
      if (off > INT_MAX || off + len > lengthOf(s)) return -Errno.EFAULT;
      copy(env.space.bytes, s.pkt.start + off, ptrWord(from), len);
      // BPF_F_RECOMPUTE_CSUM updates skb->csum, which only CHECKSUM_COMPLETE skbs carry: never here.
      if (flags & BPF_F_INVALIDATE_HASH) clearHash(env, s);
      return 0;
    }),
  },
  {
    id: 10,
    name: 'l3_csum_replace',
    proto: {
      ret: 'integer',
      args: ['ctx', 'anything', 'anything', 'anything', 'anything'],
      changesPacket: true,
    },
    programTypes: TC_LWT_XMIT,
    // `to` is cut to 32 bits as the kernel cuts it; `from` comes whole (size 0 needs all of it to be 0), so
    // its low bits are exact below 2^53 only (the JIT's inline form, jit/inline-skb.ts, is exact for all).
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, ctx, off, from, to, flags) => {
      const s = skbOf(env, ctx, 'l3_csum_replace');
      if (!(flags >= 0 && flags <= BPF_F_HDR_FIELD_MASK)) return -Errno.EINVAL;
      const at = csumField(s, off);
      if (at < 0) return at;
      const v = env.space.view;
      const out = replacedSum(v.getUint16(at, true), flags & BPF_F_HDR_FIELD_MASK, from, to, replace2);
      if (out < 0) return -Errno.EINVAL;
      v.setUint16(at, out, true);
      return 0;
    }),
  },
  {
    id: 11,
    name: 'l4_csum_replace',
    proto: {
      ret: 'integer',
      args: ['ctx', 'anything', 'anything', 'anything', 'anything'],
      changesPacket: true,
    },
    programTypes: TC_LWT_XMIT,
    // As l3_csum_replace: `to` cut to 32 bits, `from` whole.
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, ctx, off, from, to, flags) => {
      const s = skbOf(env, ctx, 'l4_csum_replace');
      if (!(flags >= 0 && flags <= 0xff) || flags & ~L4_CSUM_FLAGS) return -Errno.EINVAL;
      const at = csumField(s, off);
      if (at < 0) return at;
      const v = env.space.view;
      const sum = v.getUint16(at, true);
      const mangled0 = (flags & BPF_F_MARK_MANGLED_0) !== 0;
      // A UDP checksum of 0 means "none": left alone unless enforced.
      if (mangled0 && !(flags & BPF_F_MARK_ENFORCE) && sum === 0) return 0;
      // CHECKSUM_NONE: the pseudo-header flag changes only skb->csum, which such skbs do not carry.
      const out = replacedSum(sum, flags & BPF_F_HDR_FIELD_MASK, from, to, replace4);
      if (out < 0) return -Errno.EINVAL;
      v.setUint16(at, mangled0 && out === 0 ? CSUM_MANGLED_0 : out, true);
      return 0;
    }),
  },
  {
    id: 40,
    name: 'csum_update',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word', 'u32'], (env, ctx, csum) => {
      const s = skbOf(env, ctx, 'csum_update');
      if (s.st.ipSummed !== CsumState.COMPLETE) return -ENOTSUPP;
      s.st.csum = csumAdd(s.st.csum, csum);
      return s.st.csum;
    }),
  },
  {
    id: 135,
    name: 'csum_level',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word', 'word'], (env, ctx, level) => {
      const st = skbOf(env, ctx, 'csum_level').st;
      const unnecessary = st.ipSummed === CsumState.UNNECESSARY;
      switch (level) {
        case 0: // BPF_CSUM_LEVEL_QUERY
          return unnecessary ? st.csumLevel : -Errno.EACCES;
        case 1: // BPF_CSUM_LEVEL_INC (SKB_MAX_CSUM_LEVEL is 3)
          if (unnecessary) st.csumLevel = Math.min(st.csumLevel + 1, 3);
          else if (st.ipSummed === CsumState.NONE) {
            st.ipSummed = CsumState.UNNECESSARY;
            st.csumLevel = 0;
          }
          return 0;
        case 2: // BPF_CSUM_LEVEL_DEC
          if (unnecessary) {
            if (st.csumLevel === 0) st.ipSummed = CsumState.NONE;
            else st.csumLevel--;
          }
          return 0;
        case 3: // BPF_CSUM_LEVEL_RESET
          if (unnecessary) {
            st.ipSummed = CsumState.NONE;
            st.csumLevel = 0;
          }
          return 0;
        default:
          return -Errno.EINVAL;
      }
    }),
  },
  {
    id: 38,
    name: 'skb_change_tail',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: [...TC_LWT_XMIT, 'sk_skb'],
    ...onNumbers(['word', 'u32', 'word'], (env, ctx, newLen, flags) => {
      const s = skbOf(env, ctx, 'skb_change_tail');
      // Not below the network header (no transport header is set), not above the device's limit.
      const min = s.st.net - s.pkt.start;
      if (flags !== 0 || newLen > s.st.maxLen || newLen < min) return -Errno.EINVAL;
      const len = lengthOf(s);
      if (newLen > len) {
        tailroom(env, s, newLen);
        // The kernel's test-run buffer is zeroed, so bytes a grown tail exposes within it read 0.
        env.space.bytes.fill(0, s.pkt.end, s.pkt.start + newLen);
      }
      s.pkt.end = s.pkt.start + newLen;
      // skb_gso_reset, whatever the new length: gso_size and gso_segs 0.
      if (isGso(env, s)) gsoReset(env, s);
      syncSkb(env, s);
      return 0;
    }),
  },
  {
    id: 43,
    name: 'skb_change_head',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: [...TC_LWT_XMIT, 'sk_skb'],
    ...onNumbers(['word', 'u32', 'word'], (env, ctx, room, flags) => {
      const s = skbOf(env, ctx, 'skb_change_head');
      const newLen = lengthOf(s) + room;
      if (flags !== 0 || (!isGso(env, s) && newLen > s.st.maxLen) || newLen > 0xffffffff)
        return -Errno.EINVAL;
      // A GSO skb may grow past the device's limit in the kernel; here the region ends there (a bound).
      if (newLen > s.st.maxLen) return -Errno.ENOMEM;
      headroom(env, s, room);
      s.pkt.start -= room;
      env.space.bytes.fill(0, s.pkt.start, s.pkt.start + room);
      // The new bytes start the MAC header; the network header stays where it was.
      s.st.mac = s.pkt.start;
      syncSkb(env, s);
      return 0;
    }),
  },
  {
    id: 39,
    name: 'skb_pull_data',
    proto: { ret: 'integer', args: ['ctx', 'anything'], changesPacket: true },
    programTypes: [...TC, 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local', 'sk_skb'],
    ...onNumbers(['word', 'u32'], (env, ctx, len) => {
      const s = skbOf(env, ctx, 'skb_pull_data');
      // The packet is linear: every byte up to skb->len is already there; more cannot be pulled.
      return len > lengthOf(s) ? -Errno.ENOMEM : 0;
    }),
  },
  {
    id: 48,
    name: 'set_hash',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    programTypes: TC,
    ...onNumbers(['word', 'u32'], (env, ctx, hash) => {
      const s = skbOf(env, ctx, 'set_hash');
      env.space.view.setUint32(s.ctx + SKB_OFF.hash, hash, true);
      env.space.bytes[s.ctx + SKB_HASH_KIND] = SW_HASH | L4_HASH;
      return 0;
    }),
  },
  {
    id: 34,
    name: 'get_hash_recalc',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: [...TC, 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local'],
    ...onNumbers(['word'], (env, ctx) => {
      const s = skbOf(env, ctx, 'get_hash_recalc');
      const v = env.space.view;
      // The kernel's flow hash is keyed by a per-boot random secret, so no value can match it: this is a
      // hash of the same fields (addresses, protocol, ports), never 0, kept until cleared as the kernel's.
      if (env.space.bytes[s.ctx + SKB_HASH_KIND] === 0) {
        v.setUint32(s.ctx + SKB_OFF.hash, flowHash(env, s), true);
        env.space.bytes[s.ctx + SKB_HASH_KIND] = L4_HASH;
      }
      return v.getUint32(s.ctx + SKB_OFF.hash, true);
    }),
  },
  {
    id: 41,
    name: 'set_hash_invalid',
    proto: { ret: 'void', args: ['ctx'] },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word'], (env, ctx) => {
      clearHash(env, skbOf(env, ctx, 'set_hash_invalid'));
      return 0;
    }),
  },
  {
    id: 17,
    name: 'get_cgroup_classid',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: [...SKB_READERS.filter((t) => t !== 'flow_dissector')],
    // The net_cls class of the running task: a test run's task is in the root class, 0.
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 24,
    name: 'get_route_realm',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: [...TC, 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local'],
    // The realm of the skb's route: a test-run skb has no route, 0.
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 33,
    name: 'skb_under_cgroup',
    proto: { ret: 'integer', args: ['ctx', 'const_map_ptr', 'anything'] },
    programTypes: [...TC, 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local'],
    // The skb's socket is the test run's, made by the running task: its cgroup is the task's. Slots hold
    // cgroup ids here, as for current_task_under_cgroup (trace.ts).
    ...onNumbers(['word', 'word', 'u32'], (env, ctx, map, index) => {
      skbOf(env, ctx, 'skb_under_cgroup');
      const m = mapWord(env, map, 'skb_under_cgroup');
      if (m.spec.type !== MapType.CGROUP_ARRAY)
        throw new Error(`skb_under_cgroup: map '${m.spec.name}' is not a cgroup array`);
      if (index >= m.spec.maxEntries) return -Errno.E2BIG;
      const id = (m as unknown as { refAt(i: number): number }).refAt(index);
      if (id === 0) return -Errno.EAGAIN;
      return cgroupPath(env.task).includes(id) ? 1 : 0;
    }),
  },
  {
    id: 20,
    name: 'skb_get_tunnel_key',
    proto: { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size', 'anything'] },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, ctx, to, size, flags) => {
      const s = skbOf(env, ctx, 'skb_get_tunnel_key');
      const dst = ptrWord(to);
      writable(env, dst, size, 'skb_get_tunnel_key');
      const r = getTunnelKey(s.st.tunnel, size, flags);
      if (typeof r === 'number') {
        env.space.bytes.fill(0, dst, dst + size);
        return r;
      }
      env.space.bytes.set(r.subarray(0, size), dst);
      return 0;
    }),
  },
  {
    id: 21,
    name: 'skb_set_tunnel_key',
    proto: { ret: 'integer', args: ['ctx', 'mem', 'const_size', 'anything'] },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, ctx, from, size, flags) => {
      const s = skbOf(env, ctx, 'skb_set_tunnel_key');
      const src = ptrWord(from);
      const r = setTunnelKey(env.space.bytes.slice(src, src + size), flags);
      if (typeof r === 'number') return r;
      s.st.tunnel = r;
      return 0;
    }),
  },
  {
    id: 18,
    name: 'skb_vlan_push',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: TC,
    ...onNumbers(['word', 'u32', 'u32'], (env, ctx, protoArg, tciArg) => {
      const s = skbOf(env, ctx, 'skb_vlan_push');
      let proto = protoArg & 0xffff;
      const tci = tciArg & 0xffff;
      if (!isVlan(proto)) proto = RAW_8021Q;
      const v = env.space.view;
      if (v.getUint32(s.ctx + SKB_OFF.vlanPresent, true)) {
        // The tag already held outside the packet goes into it first (__vlan_insert_tag), after the MACs.
        if (s.pkt.start !== s.st.mac) return -Errno.EINVAL;
        const oldProto = v.getUint32(s.ctx + SKB_OFF.vlanProto, true);
        const oldTci = v.getUint32(s.ctx + SKB_OFF.vlanTci, true);
        headroom(env, s, VLAN_HLEN);
        const d = s.pkt.start - VLAN_HLEN;
        env.space.bytes.copyWithin(d, d + VLAN_HLEN, d + VLAN_HLEN + 12);
        v.setUint16(d + 12, oldProto, true);
        v.setUint16(d + 14, oldTci, false);
        // The EtherType after the tag is the one already in the packet (moved with nothing).
        s.pkt.start = d;
        s.st.mac -= VLAN_HLEN;
        setProtocol(env, s, oldProto);
      }
      putTag(env, s, proto, tci);
      syncSkb(env, s);
      return 0;
    }),
  },
  {
    id: 19,
    name: 'skb_vlan_pop',
    proto: { ret: 'integer', args: ['ctx'], changesPacket: true },
    programTypes: TC,
    ...onNumbers(['word'], (env, ctx) => {
      const s = skbOf(env, ctx, 'skb_vlan_pop');
      const v = env.space.view;
      try {
        if (v.getUint32(s.ctx + SKB_OFF.vlanPresent, true)) putTag(env, s, 0, 0);
        else {
          if (!isVlan(protocol(env, s))) return 0;
          if (s.pkt.start !== s.st.mac) return -Errno.EINVAL;
          const r = vlanPopData(env, s);
          if (r < 0) return r;
        }
        // The next tag in the packet, if any, moves out of it (into the accelerated tag).
        const next = protocol(env, s);
        if (!isVlan(next)) return 0;
        const tci = vlanPopData(env, s);
        if (tci < 0) return tci;
        putTag(env, s, next, tci);
        return 0;
      } finally {
        syncSkb(env, s);
      }
    }),
  },
  {
    id: 31,
    name: 'skb_change_proto',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: TC,
    ...onNumbers(['word', 'u32', 'word'], (env, ctx, protoArg, flags) => {
      const s = skbOf(env, ctx, 'skb_change_proto');
      if (flags !== 0) return -Errno.EINVAL;
      const from = protocol(env, s);
      const to = protoArg & 0xffff;
      // IPv4 <-> IPv6 only: 20 bytes of zeroed room after the MAC header, or 20 taken away.
      const off = s.st.net - s.st.mac;
      if (from === RAW_IP && to === RAW_IPV6) netHdrPush(env, s, off, 20);
      else if (from === RAW_IPV6 && to === RAW_IP) {
        if (off + 20 > lengthOf(s)) return -Errno.ENOMEM;
        netHdrPop(env, s, off, 20);
      } else return -ENOTSUPP;
      setProtocol(env, s, to);
      clearHash(env, s);
      syncSkb(env, s);
      return 0;
    }),
  },
  {
    id: 32,
    name: 'skb_change_type',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    programTypes: TC,
    ...onNumbers(['word', 'u32'], (env, ctx, type) => {
      const s = skbOf(env, ctx, 'skb_change_type');
      const at = s.ctx + SKB_OFF.pktType;
      // Only PACKET_HOST .. PACKET_OTHERHOST, from and to.
      if (env.space.view.getUint32(at, true) > 3 || type > 3) return -Errno.EINVAL;
      env.space.view.setUint32(at, type, true);
      return 0;
    }),
  },
  {
    id: 50,
    name: 'skb_adjust_room',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything', 'anything'], changesPacket: true },
    programTypes: [...TC, 'sk_skb'],
    // Flags carry the inner MAC length in bits 56..63: BigInt arguments, not the number form.
    call: (env, ctx, diffReg, modeReg, flagsReg) =>
      BigInt(adjustRoom(env, ptr(ctx), diffReg, modeReg, flagsReg)),
  },
  {
    id: 152,
    name: 'redirect_neigh',
    proto: { ret: 'integer', args: ['anything', 'mem_or_null', 'const_size_or_zero', 'anything'] },
    programTypes: TC,
    ...onNumbers(['u32', 'word', 'u32', 'word'], (env, ifindex, _params, plen, flags) => {
      // struct bpf_redir_neigh is 20 bytes; the redirect happens after the program, through the neighbour.
      if ((plen !== 0 && plen < 20) || flags !== 0) return TcAction.SHOT;
      env.invocation.redirect = { ifindex, flags: BPF_F_NEIGH | (plen ? BPF_F_NEXTHOP : 0) };
      return TcAction.REDIRECT;
    }),
  },
  {
    id: 155,
    name: 'redirect_peer',
    proto: { ret: 'integer', args: ['anything', 'anything'] },
    programTypes: TC,
    ...onNumbers(['u32', 'word'], (env, ifindex, flags) => {
      if (flags !== 0) return TcAction.SHOT;
      env.invocation.redirect = { ifindex, flags: BPF_F_PEER };
      return TcAction.REDIRECT;
    }),
  },
  {
    id: 97,
    name: 'skb_ecn_set_ce',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: [...TC, 'cgroup_skb'],
    ...onNumbers(['word'], (env, ctx) => ecnSetCe(env, skbOf(env, ctx, 'skb_ecn_set_ce'))),
  },
  {
    id: 192,
    name: 'skb_set_tstamp',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'] },
    programTypes: TC,
    call: (env, ctx, tstamp, typeReg) => {
      const s = skbOf(env, ptr(ctx), 'skb_set_tstamp');
      // BPF_SKB_CLOCK_REALTIME (0) takes any time; MONOTONIC (1) and TAI (2) one that is not 0.
      // Only IP packets carry a delivery time.
      const proto = protocol(env, s);
      if (proto !== RAW_IP && proto !== RAW_IPV6) return BigInt(-Errno.EOPNOTSUPP);
      const type = Number(typeReg & 0xffffffffn);
      const t = BigInt.asUintN(64, tstamp);
      if (type > 2 || (type !== 0 && t === 0n)) return BigInt(-Errno.EINVAL);
      env.space.view.setBigUint64(s.ctx + SKB_OFF.tstamp, t, true);
      env.space.bytes[s.ctx + SKB_TSTAMP_TYPE] = type;
      return 0n;
    },
  },
  {
    id: 13,
    name: 'clone_redirect',
    // The kernel counts it among the helpers that change packet data (packet pointers die with the call).
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: TC_LWT_XMIT,
    ...onNumbers(['word', 'u32', 'word'], (env, ctx, ifindex, flags) => {
      skbOf(env, ctx, 'clone_redirect');
      if (flags !== 0 && flags !== BPF_F_INGRESS) return -Errno.EINVAL;
      // A copy goes out of (or into, BPF_F_INGRESS) the device; user space has only loopback, which takes it.
      return ifindex === LOOPBACK ? 0 : -Errno.EINVAL;
    }),
  },
];

const BPF_F_INGRESS = 1;
const LOOPBACK = 1;
/** Flags the kernel keeps with a redirect (its internal BPF_F_NEIGH, BPF_F_PEER, BPF_F_NEXTHOP). */
const BPF_F_NEIGH = 1 << 1;
const BPF_F_PEER = 1 << 2;
const BPF_F_NEXTHOP = 1 << 3;

/**
 * INET_ECN_set_ce: mark Congestion Experienced in the IP header at the network header when the packet is
 * ECN-capable (1), or say it is not (0); IPv4's checksum follows. The protocol is skb->protocol, or below
 * in-packet VLAN tags the EtherType they carry (the network header stays where the test run put it).
 */
function ecnSetCe(env: HelperEnv, s: Skb): number {
  const b = env.space.bytes;
  let proto = protocol(env, s);
  // __vlan_get_protocol: tags from 14 bytes after skb->data (mac_len is 0), at most 8.
  for (let at = s.pkt.start + ETH_HLEN, depth = 0; isVlan(proto); at += VLAN_HLEN, depth++) {
    if (depth === 7 || at + VLAN_HLEN > s.pkt.end) return 0;
    proto = env.space.view.getUint16(at + 2, true);
  }
  const net = s.st.net;
  if (proto === RAW_IP && net + 20 <= s.pkt.end) {
    const ecn = (b[net + 1]! + 1) & 3;
    if (!(ecn & 2)) return ecn === 0 ? 1 : 0;
    // check += htons(0xfffb) + htons(ecn), in 16-bit one's-complement arithmetic on the stored bytes.
    const v = env.space.view;
    const add = (0xfbff + (ecn << 8)) & 0xffff;
    const sum = v.getUint16(net + 10, true) + add;
    v.setUint16(net + 10, (sum + (sum >>> 16)) & 0xffff, true);
    b[net + 1] = b[net + 1]! | 3;
    return 1;
  }
  if (proto === RAW_IPV6 && net + 40 <= s.pkt.end) {
    // The traffic class straddles the first two bytes: ECN is bits 4-5 of the second.
    if (((b[net + 1]! >> 4) & 3) === 0) return 0;
    b[net + 1] = b[net + 1]! | 0x30;
    return 1;
  }
  return 0;
}

// bpf_skb_adjust_room's flags.
const ADJ_FIXED_GSO = 1n << 0n;
const ADJ_ENCAP_L3_IPV4 = 1n << 1n;
const ADJ_ENCAP_L3_IPV6 = 1n << 2n;
const ADJ_ENCAP_L4_GRE = 1n << 3n;
const ADJ_ENCAP_L4_UDP = 1n << 4n;
const ADJ_NO_CSUM_RESET = 1n << 5n;
const ADJ_ENCAP_L2_ETH = 1n << 6n;
const ADJ_DECAP_L3_IPV4 = 1n << 7n;
const ADJ_DECAP_L3_IPV6 = 1n << 8n;
const ADJ_ENCAP_L2_MASK = 0xffn << 56n;
const ADJ_ENCAP_L3 = ADJ_ENCAP_L3_IPV4 | ADJ_ENCAP_L3_IPV6;
const ADJ_DECAP_L3 = ADJ_DECAP_L3_IPV4 | ADJ_DECAP_L3_IPV6;
const ADJ_MASK =
  ADJ_FIXED_GSO |
  ADJ_ENCAP_L3 |
  ADJ_ENCAP_L4_GRE |
  ADJ_ENCAP_L4_UDP |
  ADJ_ENCAP_L2_ETH |
  ADJ_ENCAP_L2_MASK |
  ADJ_DECAP_L3;

/** bpf_skb_adjust_room: room at the MAC header's end (mode 1) or after the fixed IP header (mode 0). */
function adjustRoom(env: HelperEnv, ctx: number, diffReg: bigint, modeReg: bigint, flags: bigint): number {
  const s = skbOf(env, ctx, 'skb_adjust_room');
  const diff = Number(BigInt.asIntN(32, diffReg));
  const mode = Number(BigInt.asUintN(32, modeReg));
  flags = BigInt.asUintN(64, flags);
  const abs = Math.abs(diff);
  const proto = protocol(env, s);
  const shrink = diff < 0;
  if (flags & ~(ADJ_MASK | ADJ_NO_CSUM_RESET)) return -Errno.EINVAL;
  if (abs > 0xfff) return -Errno.EFAULT;
  if (proto !== RAW_IP && proto !== RAW_IPV6) return -ENOTSUPP;
  let off = s.st.net - s.st.mac;
  if (mode === 0) off += netBaseLen(proto);
  else if (mode !== 1) return -ENOTSUPP;
  let lenMin = netBaseLen(proto);
  if (flags & ADJ_DECAP_L3) {
    if (!shrink) return -Errno.EINVAL;
    const decap = flags & ADJ_DECAP_L3;
    if (decap === ADJ_DECAP_L3_IPV4) lenMin = 20;
    else if (decap === ADJ_DECAP_L3_IPV6) lenMin = 40;
    else return -Errno.EINVAL;
  }
  const len = lengthOf(s);
  const lenCur = len - (s.st.net - s.pkt.start);
  if (shrink ? abs >= lenCur || lenCur - abs < lenMin : len + abs > BPF_SKB_MAX_LEN && !isGso(env, s))
    return -ENOTSUPP;
  // A GSO packet of the test run has no GSO type (not TCP, not UDP_L4): the kernel refuses to resize it.
  if (isGso(env, s)) return -ENOTSUPP;
  if (shrink) {
    if (flags & ~(ADJ_FIXED_GSO | ADJ_DECAP_L3 | ADJ_NO_CSUM_RESET)) return -Errno.EINVAL;
    netHdrPop(env, s, off, abs);
    if (flags & ADJ_DECAP_L3)
      setProtocol(env, s, (flags & ADJ_DECAP_L3) === ADJ_DECAP_L3_IPV4 ? RAW_IP : RAW_IPV6);
  } else {
    const encap = (flags & ADJ_ENCAP_L3) !== 0n;
    if (flags & ADJ_DECAP_L3) return -Errno.EINVAL;
    if (encap) {
      const innerMac = Number(flags >> 56n);
      if ((flags & ADJ_ENCAP_L3) === ADJ_ENCAP_L3) return -Errno.EINVAL;
      if (flags & ADJ_ENCAP_L4_GRE && flags & ADJ_ENCAP_L4_UDP) return -Errno.EINVAL;
      if (flags & ADJ_ENCAP_L2_ETH && innerMac !== ETH_HLEN) return -Errno.EINVAL;
      if (s.st.encapsulated) return -EALREADY;
      if (innerMac > abs) return -Errno.EINVAL;
    }
    netHdrPush(env, s, off, abs);
    if (encap) {
      s.st.encapsulated = true;
      if (proto === RAW_IP && flags & ADJ_ENCAP_L3_IPV6) setProtocol(env, s, RAW_IPV6);
      else if (proto === RAW_IPV6 && flags & ADJ_ENCAP_L3_IPV4) setProtocol(env, s, RAW_IP);
    }
  }
  if (!(flags & ADJ_NO_CSUM_RESET) && s.st.ipSummed === CsumState.UNNECESSARY) {
    s.st.ipSummed = CsumState.NONE;
    s.st.csumLevel = 0;
  }
  syncSkb(env, s);
  return 0;
}

// ---- tunnel keys (struct bpf_tunnel_key, 44 bytes; the kernel's ip_tunnel_info behind it) ------------

/** What skb_set_tunnel_key attaches: the ip_tunnel_info fields a key reads back. */
export interface TunnelInfo {
  ipv6: boolean;
  id: number;
  tos: number;
  ttl: number;
  /** Legacy TUNNEL_* flags (host order): CSUM 0x01, KEY 0x04, SEQ 0x08, DONT_FRAGMENT 0x100, NOCACHE 0x2000. */
  flags: number;
  /** The flow label (IPv6). */
  label: number;
  /** Destination and source addresses as given (remote, local): 4 or 16 bytes each. */
  dst: Uint8Array;
  src: Uint8Array;
}

const KEY_SIZE = 44;
/** Sizes of older bpf_tunnel_key layouts the kernel still takes: up to local_ipv4, tunnel_label, tunnel_ext, remote_ipv6[1]. */
const KEY_OLD_SIZES = [28, 24, 22, 8];
const TUNINFO_IPV6 = 1;
const TUNINFO_FLAGS = 1 << 4;
const ZERO_CSUM_TX = 1 << 1;
const DONT_FRAGMENT = 1 << 2;
const SEQ_NUMBER = 1 << 3;
const NO_TUNNEL_KEY = 1 << 4;
const EPROTO = 71;

/** bpf_skb_set_tunnel_key: the key (any accepted size) as tunnel info, or a negative errno. */
function setTunnelKey(given: Uint8Array, flags: number): TunnelInfo | number {
  if (!(flags >= 0 && flags <= 0x1f)) return -Errno.EINVAL;
  if (given.length !== KEY_SIZE && !KEY_OLD_SIZES.includes(given.length)) return -Errno.EINVAL;
  const key = new Uint8Array(KEY_SIZE);
  key.set(given);
  const v = new DataView(key.buffer);
  const ipv6 = (flags & TUNINFO_IPV6) !== 0;
  if ((!ipv6 && v.getUint32(24, true)) || v.getUint16(22, true)) return -Errno.EINVAL;
  // The metadata is never cached (TUNNEL_NOCACHE, 0x2000); the rest by the flags given.
  const tunFlags =
    0x2000 |
    (flags & ZERO_CSUM_TX ? 0 : 0x01) |
    (flags & NO_TUNNEL_KEY ? 0 : 0x04) |
    (flags & SEQ_NUMBER ? 0x08 : 0) |
    (flags & DONT_FRAGMENT ? 0x100 : 0);
  return {
    ipv6,
    id: v.getUint32(0, true),
    tos: key[20]!,
    ttl: key[21]!,
    flags: tunFlags,
    label: ipv6 ? v.getUint32(24, true) & 0xfffff : 0,
    dst: key.slice(4, ipv6 ? 20 : 8),
    src: key.slice(28, ipv6 ? 44 : 32),
  };
}

/** bpf_skb_get_tunnel_key: the key as the kernel writes it (44 bytes; the caller copies `size`), or a negative errno. */
function getTunnelKey(info: TunnelInfo | undefined, size: number, flags: number): Uint8Array | number {
  if (
    !info ||
    !(flags >= 0 && flags <= (TUNINFO_IPV6 | TUNINFO_FLAGS)) ||
    flags & ~(TUNINFO_IPV6 | TUNINFO_FLAGS)
  )
    return -Errno.EINVAL;
  const ipv6 = (flags & TUNINFO_IPV6) !== 0;
  if (info.ipv6 !== ipv6) return -EPROTO;
  if (size !== KEY_SIZE) {
    if (!KEY_OLD_SIZES.includes(size)) return -Errno.EINVAL;
    if (size === 8 && info.ipv6) return -Errno.EINVAL;
  }
  const key = new Uint8Array(KEY_SIZE);
  const v = new DataView(key.buffer);
  v.setUint32(0, info.id, true);
  key[20] = info.tos;
  key[21] = info.ttl;
  // The legacy flags as a __be16, or tunnel_ext 0.
  if (flags & TUNINFO_FLAGS) v.setUint16(22, info.flags, false);
  // Read back from the receiving side: remote is the info's source, local its destination.
  key.set(info.src, 4);
  key.set(info.dst, 28);
  v.setUint32(24, info.label, true);
  return key;
}
