// The socket-buffer helpers (bpf_skb_*, the checksum helpers, VLAN, hash, room changes) on the packet
// model the skb hook lays out (src/hooks/skb.ts): the packet is the invocation's packet region (its
// start is skb->data, its end the tail), the context a `struct __sk_buff` in memory whose fields are the
// skb's own (len, protocol, vlan, hash, mark … are read and written there), and what the context does not
// hold (header offsets, checksum state, the device's length limit) in an `SkbState` the hook registers
// under the context's address. Semantics and errno values are the kernel's (net/core/filter.c), as
// BPF_PROG_TEST_RUN shows them: a linear skb on the loopback device, ip_summed CHECKSUM_NONE.

import type { Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { programTypeByName } from '../spec/program-types.js';
import { onNumbers, ptrWord, writable } from './args.js';
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
/** sizeof(struct __sk_buff). */
export const SKB_CTX_SIZE = SKB.size;

/** skb->ip_summed values (include/linux/skbuff.h). */
export const CsumState = { NONE: 0, UNNECESSARY: 1, COMPLETE: 2, PARTIAL: 3 } as const;

/** What an skb has beyond its `__sk_buff` fields: header positions, checksum state, limits. */
export interface SkbState {
  /** Address of the MAC header (skb_mac_header). */
  mac: number;
  /** Address of the network header (skb_network_header). */
  net: number;
  /** skb->ip_summed (CsumState) and csum_level, for csum_level and the checksum helpers. */
  ipSummed: number;
  csumLevel: number;
  /** skb->csum (CHECKSUM_COMPLETE only). */
  csum: number;
  /** Whether the hash is a software / L4 hash (set_hash sets both; clearing the hash clears both). */
  swHash: boolean;
  l4Hash: boolean;
  /** The device's limit for change_tail/change_head: mtu + hard_header_len (loopback: 65536 + 14). */
  maxLen: number;
}

/** SKB states by context address: the hook registers its context's state before runs. */
const STATES = new Map<number, SkbState>();

/** Register the state of the skb whose `__sk_buff` is at `ctx` (the hook does, for its context). */
export function attachSkbState(ctx: number, state: SkbState): void {
  STATES.set(ctx, state);
}

/** Forget the state of the skb at `ctx` (the hook's close). */
export function detachSkbState(ctx: number): void {
  STATES.delete(ctx);
}

/** The skb a helper works on: its packet region, context address and state. */
interface Skb {
  pkt: Region;
  ctx: number;
  st: SkbState;
}

function skbOf(env: HelperEnv, helper: string): Skb {
  const inv = env.invocation;
  const st = STATES.get(inv.ctx);
  if (!inv.packet || !st) throw new Error(`${helper}: the program's context is not a socket buffer`);
  return { pkt: inv.packet, ctx: inv.ctx, st };
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

export const SKB_HELPERS: HelperDef[] = [
  {
    id: 26,
    name: 'skb_load_bytes',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'uninit_mem', 'const_size'] },
    programTypes: SKB_READERS,
    ...onNumbers(['word', 'u32', 'word', 'u32'], (env, _ctx, off, to, len) => {
      const s = skbOf(env, 'skb_load_bytes');
      const dst = ptrWord(to);
      writable(env, dst, len, 'skb_load_bytes');
      // skb_header_pointer: the bytes must lie within skb->len; on failure the buffer is zeroed.
      if (off > INT_MAX || off + len > s.pkt.end - s.pkt.start) {
        env.space.bytes.fill(0, dst, dst + len);
        return -Errno.EFAULT;
      }
      env.space.bytes.copyWithin(dst, s.pkt.start + off, s.pkt.start + off + len);
      return 0;
    }),
  },
];

/** Program types of the tc-only helpers (packet changes, VLAN, tunnel keys). */
export const TC_TYPES = CTX_SKB;
