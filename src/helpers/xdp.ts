// Packet helpers: XDP head/meta/tail adjustment and byte access, redirects, checksum differences. The
// packet is `invocation.packet`: a region whose allocation starts at the frame's hard start (256 bytes of
// headroom before the data) and ends where the kernel's test run ends a frame (a 4 KiB page minus room for
// skb_shared_info). start/end are data/data_end; data_meta lives in the xdp_md context, and every change
// is written back to the context so that the program's next `ctx->data` load sees it.

import type { MapBase } from '../maps/base.js';
import { RedirectArrayMap } from '../maps/devmap.js';
import { HashMap } from '../maps/hash.js';
import type { Region } from '../memory/address-space.js';
import { Errno, KernelErrno } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { XDP_MD_OFFSETS } from '../spec/program-types.js';
import { TcAction, XdpAction } from '../spec/verdicts.js';
import { mapWord, onNumbers, ptrWord, writable } from './args.js';
import { CSUM_TYPES } from './groups.js';
import type { HelperDef, HelperEnv } from './types.js';

/** sizeof(struct xdp_frame): the kernel keeps it at the start of the headroom. */
export const XDP_FRAME_HDR = 40;
const ETH_HLEN = 14;
/** XDP verdicts used by redirect helpers. */
const XDP_ABORTED = XdpAction.ABORTED;
const XDP_REDIRECT = XdpAction.REDIRECT;
const TC_ACT_SHOT = TcAction.SHOT;
const TC_ACT_REDIRECT = TcAction.REDIRECT;
const BPF_F_INGRESS = 1;
const BPF_F_BROADCAST = 8;
const BPF_F_EXCLUDE_INGRESS = 16;
const XDP_ACTION_MASK = 3;

const XDP = ['xdp'] as const;

interface Frame {
  pkt: Region;
  ctx: number;
  meta: number;
}

function frame(env: HelperEnv, helper: string): Frame {
  const inv = env.invocation;
  if (!inv.packet) throw new Error(`${helper}: the program has no packet`);
  const meta = env.space.view.getUint32(inv.ctx + XDP_MD_OFFSETS.data_meta!, true);
  return { pkt: inv.packet, ctx: inv.ctx, meta: meta === 0 ? inv.packet.start : meta };
}

/** Write data, data_end and data_meta back into the xdp_md context. */
function syncContext(env: HelperEnv, f: Frame): void {
  const v = env.space.view;
  v.setUint32(f.ctx + XDP_MD_OFFSETS.data!, f.pkt.start, true);
  v.setUint32(f.ctx + XDP_MD_OFFSETS.data_end!, f.pkt.end, true);
  v.setUint32(f.ctx + XDP_MD_OFFSETS.data_meta!, f.meta, true);
}

/** Where an xdp_load/store_bytes range lies in the packet, or a negative errno. */
function packetRange(f: Frame, offset: number, len: number): number {
  if (offset > 0xffff || len > 0xffff) return -Errno.EFAULT;
  if (offset + len > f.pkt.end - f.pkt.start) return -Errno.EINVAL;
  return f.pkt.start + offset;
}

/** 32-bit one's-complement addition (csum_partial's accumulation). */
function csumAdd(sum: number, word: number): number {
  const s = sum + word;
  return s > 0xffffffff ? s - 0xffffffff : s;
}

export const XDP_HELPERS: HelperDef[] = [
  {
    id: 44,
    name: 'xdp_adjust_head',
    proto: { ret: 'integer', args: ['ctx', 'anything'], changesPacket: true },
    programTypes: XDP,
    ...onNumbers(['word', 's32'], (env, _ctx, offset) => {
      const f = frame(env, 'xdp_adjust_head');
      const metalen = f.pkt.start - f.meta;
      const data = f.pkt.start + offset;
      if (data < f.pkt.base + XDP_FRAME_HDR + metalen || data > f.pkt.end - ETH_HLEN) return -Errno.EINVAL;
      if (metalen) env.space.bytes.copyWithin(f.meta + offset, f.meta, f.meta + metalen);
      f.meta += offset;
      f.pkt.start = data;
      syncContext(env, f);
      return 0;
    }),
  },
  {
    id: 54,
    name: 'xdp_adjust_meta',
    proto: { ret: 'integer', args: ['ctx', 'anything'], changesPacket: true },
    programTypes: XDP,
    ...onNumbers(['word', 's32'], (env, _ctx, delta) => {
      const f = frame(env, 'xdp_adjust_meta');
      const meta = f.meta + delta;
      if (meta < f.pkt.base + XDP_FRAME_HDR || meta > f.pkt.start) return -Errno.EINVAL;
      const metalen = f.pkt.start - meta;
      // 4-byte aligned and within skb_shared_info.meta_len (a u8).
      if (metalen & 3 || metalen > 255) return -KernelErrno.EACCES;
      f.meta = meta;
      syncContext(env, f);
      return 0;
    }),
  },
  {
    id: 65,
    name: 'xdp_adjust_tail',
    proto: { ret: 'integer', args: ['ctx', 'anything'], changesPacket: true },
    programTypes: XDP,
    ...onNumbers(['word', 's32'], (env, _ctx, offset) => {
      const f = frame(env, 'xdp_adjust_tail');
      const end = f.pkt.end + offset;
      if (end > f.pkt.base + f.pkt.capacity || end < f.pkt.start + ETH_HLEN) return -Errno.EINVAL;
      // Growing exposes bytes that must not leak old contents.
      if (offset > 0) env.space.bytes.fill(0, f.pkt.end, end);
      f.pkt.end = end;
      syncContext(env, f);
      return 0;
    }),
  },
  {
    id: 189,
    name: 'xdp_load_bytes',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'uninit_mem', 'const_size'] },
    programTypes: XDP,
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, _ctx, off, buf, n) => {
      const f = frame(env, 'xdp_load_bytes');
      const at = packetRange(f, off, n);
      if (at < 0) return at;
      const dst = ptrWord(buf);
      writable(env, dst, n, 'xdp_load_bytes');
      env.space.bytes.copyWithin(dst, at, at + n);
      return 0;
    }),
  },
  {
    id: 190,
    name: 'xdp_store_bytes',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'mem', 'const_size'] },
    programTypes: XDP,
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, _ctx, off, buf, n) => {
      const f = frame(env, 'xdp_store_bytes');
      const at = packetRange(f, off, n);
      if (at < 0) return at;
      const src = ptrWord(buf);
      env.space.bytes.copyWithin(at, src, src + n);
      return 0;
    }),
  },
  {
    id: 23,
    name: 'redirect',
    proto: { ret: 'integer', args: ['anything', 'anything'] },
    programTypes: ['xdp', 'sched_cls', 'sched_act', 'lwt_xmit'],
    ...onNumbers(['u32', 'word'], (env, ifindex, flags) => {
      const xdp = env.invocation.programType === 'xdp';
      if (xdp ? flags !== 0 : flags !== 0 && flags !== BPF_F_INGRESS) return xdp ? XDP_ABORTED : TC_ACT_SHOT;
      env.invocation.redirect = { ifindex, flags };
      return xdp ? XDP_REDIRECT : TC_ACT_REDIRECT;
    }),
  },
  {
    id: 51,
    name: 'redirect_map',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything', 'anything'] },
    programTypes: XDP,
    ...onNumbers(['word', 'u32', 'word'], (env, map, key, flags) => {
      const m = mapWord(env, map, 'redirect_map');
      const allowed = XDP_ACTION_MASK | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS;
      if (flags < 0 || flags > 0xffff || flags & ~allowed) return XDP_ABORTED;
      const value = redirectTarget(m, key);
      if (value === 0 && !(flags & BPF_F_BROADCAST)) return flags & XDP_ACTION_MASK;
      const ifindex =
        value !== 0 && m.spec.type !== MapType.XSKMAP && m.spec.type !== MapType.CPUMAP
          ? env.space.view.getUint32(value, true)
          : 0;
      env.invocation.redirect = { ifindex, flags, map: m.spec.name, key };
      return XDP_REDIRECT;
    }),
  },
  {
    id: 28,
    name: 'csum_diff',
    programTypes: CSUM_TYPES,
    proto: {
      ret: 'integer',
      args: ['mem_or_null', 'const_size_or_zero', 'mem_or_null', 'const_size_or_zero', 'anything'],
    },
    ...onNumbers(['word', 'u32', 'word', 'u32', 'u32'], (env, from, fromSize, to, toSize, seed) => {
      // Any sizes: a partial last word is zero padded, as csum_partial reads it.
      const word = (at: number, i: number, n: number): number => {
        if (i + 4 <= n) return v.getUint32(at + i, true);
        let w = 0;
        for (let j = 0; i + j < n; j++) w |= env.space.bytes[at + i + j]! << (8 * j);
        return w >>> 0;
      };
      const v = env.space.view;
      let sum = seed;
      // Sum of ~from and to, as 32-bit little-endian words (x86-64 loads).
      for (let i = 0; i < fromSize; i += 4) sum = csumAdd(sum, ~word(ptrWord(from), i, fromSize) >>> 0);
      for (let i = 0; i < toSize; i += 4) sum = csumAdd(sum, word(ptrWord(to), i, toSize));
      // The kernel folds the 32-bit sum to 16 bits (csum_from32to16) so every architecture agrees.
      return ((sum + (((sum >>> 16) | (sum << 16)) >>> 0)) >>> 16) & 0xffff;
    }),
  },
];

/** Address of the redirect target's value for `key`, or 0 when the slot is empty. */
function redirectTarget(m: MapBase, key: number): number {
  if (m instanceof RedirectArrayMap) return m.targetAt(key);
  if (m instanceof HashMap && m.spec.type === MapType.DEVMAP_HASH) return m.valueAtU32(key);
  throw new Error(`redirect_map: map '${m.spec.name}' is not a devmap, cpumap or xskmap`);
}
