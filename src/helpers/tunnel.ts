// Tunnel metadata beyond the key, and the other encapsulation helpers of TC and the lightweight tunnels:
// bpf_skb_get/set_tunnel_opt (the options — Geneve TLVs, VXLAN GBP, ERSPAN — that ride with the tunnel
// key skb_set_tunnel_key attached: ./skb.ts TunnelInfo), bpf_skb_get_xfrm_state, bpf_lwt_push_encap and
// the seg6local helpers. Semantics and errno values are net/core/filter.c's as BPF_PROG_TEST_RUN shows
// them: a test-run skb has no IPsec state and no segment-routing header state, so those helpers give the
// kernel's answers for their absence.

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, writable } from './args.js';
import { skbOf, type TunnelInfo } from './skb.js';
import type { HelperDef } from './types.js';

/** The largest option block (IP_TUNNEL_OPTS_MAX: options_len is a u8). */
const OPTS_MAX = 255;
/**
 * The "options present" tunnel flags set_tunnel_opt sets (GENEVE_OPT, VXLAN_OPT, ERSPAN_OPT, GTP_OPT in the
 * legacy 16-bit flags skb_get_tunnel_key reports; the kernel also sets PFCP_OPT, above those 16 bits).
 */
const OPTIONS_PRESENT = 0x0800 | 0x1000 | 0x4000 | 0x8000;

/** The option bytes set_tunnel_opt attached to a tunnel info (a new set_tunnel_key starts without). */
const OPTIONS = new WeakMap<TunnelInfo, Uint8Array>();

/** BPF_LWT_ENCAP_SEG6 (0), SEG6_INLINE (1), IP (2). */
const LWT_ENCAP_IP = 2;
/** LWT_BPF_MAX_HEADROOM: the largest header lwt_push_encap pushes. */
const LWT_MAX_HEADROOM = 256;
const EBADMSG = 74;
/** SEG6_LOCAL_ACTION_END_X, END_T, END_DT6, END_B6, END_B6_ENCAP: the actions lwt_seg6_action takes. */
const SRH_ACTIONS = new Set([2, 3, 7, 9, 10]);

/** TC programs and lwt_xmit: the tunnel key and option helpers. */
const TC_LWT_XMIT = ['sched_cls', 'sched_act', 'lwt_xmit'];

export const TUNNEL_HELPERS: HelperDef[] = [
  {
    id: 29,
    name: 'skb_get_tunnel_opt',
    proto: { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size'] },
    programTypes: TC_LWT_XMIT,
    // The options' length, the rest of the buffer zeroed; -ENOENT without tunnel options, -ENOMEM when the
    // buffer is shorter than them (the buffer zeroed on either error).
    ...onNumbers(['word', 'word', 'u32'], (env, ctx, to, size) => {
      const info = skbOf(env, ctx, 'skb_get_tunnel_opt').st.tunnel;
      const dst = ptrWord(to);
      writable(env, dst, size, 'skb_get_tunnel_opt');
      const opts = info && info.flags & OPTIONS_PRESENT ? OPTIONS.get(info) : undefined;
      const bytes = env.space.bytes;
      bytes.fill(0, dst, dst + size);
      if (!opts) return -Errno.ENOENT;
      if (size < opts.length) return -Errno.ENOMEM;
      bytes.set(opts, dst);
      return opts.length;
    }),
  },
  {
    id: 30,
    name: 'skb_set_tunnel_opt',
    proto: { ret: 'integer', args: ['ctx', 'mem', 'const_size'] },
    programTypes: TC_LWT_XMIT,
    // Only on the metadata skb_set_tunnel_key attached in this run, a whole number of 4-byte words
    // (-EINVAL otherwise), at most 255 bytes (-ENOMEM).
    ...onNumbers(['word', 'word', 'u32'], (env, ctx, from, size) => {
      const info = skbOf(env, ctx, 'skb_set_tunnel_opt').st.tunnel;
      if (!info || size % 4 !== 0) return -Errno.EINVAL;
      if (size > OPTS_MAX) return -Errno.ENOMEM;
      const src = ptrWord(from);
      OPTIONS.set(info, env.space.bytes.slice(src, src + size));
      info.flags |= OPTIONS_PRESENT;
      return 0;
    }),
  },
  {
    id: 66,
    name: 'skb_get_xfrm_state',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'uninit_mem', 'const_size', 'anything'] },
    programTypes: ['sched_cls', 'sched_act'],
    // The skb's IPsec states (its sec_path): a test-run skb has none, so every index is past its end:
    // -EINVAL with the buffer zeroed, the kernel's answer (as for unknown flags).
    ...onNumbers(['word', 'u32', 'word', 'u32', 'word'], (env, ctx, _index, to, size) => {
      skbOf(env, ctx, 'skb_get_xfrm_state');
      const dst = ptrWord(to);
      writable(env, dst, size, 'skb_get_xfrm_state');
      env.space.bytes.fill(0, dst, dst + size);
      return -Errno.EINVAL;
    }),
  },
  {
    id: 73,
    name: 'lwt_push_encap',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'mem', 'const_size'], changesPacket: true },
    programTypes: ['lwt_in', 'lwt_xmit'],
    // Encapsulation in an IP header (BPF_LWT_ENCAP_IP) or a segment-routing header (SEG6, SEG6_INLINE)
    // needs the route the lightweight tunnel is on, which no run here has: -EOPNOTSUPP after the kernel's
    // checks of the type (-EINVAL) and of an IP header (20 to 256 bytes, version 4 with its IHL or 6 with
    // its 40 bytes: -EINVAL).
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, ctx, type, hdr, len) => {
      skbOf(env, ctx, 'lwt_push_encap');
      if (type > LWT_ENCAP_IP) return -Errno.EINVAL;
      if (type === LWT_ENCAP_IP) {
        if (len < 20 || len > LWT_MAX_HEADROOM) return -Errno.EINVAL;
        const first = env.space.bytes[ptrWord(hdr)]!;
        const version = first >> 4;
        if (version === 4 ? len < (first & 0xf) * 4 : version !== 6 || len < 40) return -Errno.EINVAL;
      }
      return -Errno.EOPNOTSUPP;
    }),
  },
  // The seg6local helpers work on the segment routing header the End.BPF action found before it ran the
  // program; a run here (as the kernel's test run) has none: store_bytes and adjust_srh give -EINVAL,
  // action -EBADMSG for the actions that need a valid SRH and -EINVAL for the others.
  {
    id: 74,
    name: 'lwt_seg6_store_bytes',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'mem', 'const_size'], changesPacket: true },
    programTypes: ['lwt_seg6local'],
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, ctx) => {
      skbOf(env, ctx, 'lwt_seg6_store_bytes');
      return -Errno.EINVAL;
    }),
  },
  {
    id: 75,
    name: 'lwt_seg6_adjust_srh',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'anything'], changesPacket: true },
    programTypes: ['lwt_seg6local'],
    ...onNumbers(['word', 'u32', 's32'], (env, ctx) => {
      skbOf(env, ctx, 'lwt_seg6_adjust_srh');
      return -Errno.EINVAL;
    }),
  },
  {
    id: 76,
    name: 'lwt_seg6_action',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'mem', 'const_size'], changesPacket: true },
    programTypes: ['lwt_seg6local'],
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, ctx, action) => {
      skbOf(env, ctx, 'lwt_seg6_action');
      return SRH_ACTIONS.has(action) ? -EBADMSG : -Errno.EINVAL;
    }),
  },
];
