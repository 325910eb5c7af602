// What a packet program may ask about where it runs: the socket that owns the packet (cookie, uid, cgroup
// ids, classid), the network namespace's cookie, the MTU of an interface (check_mtu) and an XDP buffer's
// length. A test run here has the kernel's stand-ins: BPF_PROG_TEST_RUN gives an skb a fresh socket of
// uid 0 in the root cgroup (id 1) with no classid, and both skb and XDP runs the loopback device
// (ifindex 1) of the namespace, so the answers are the kernel's for a test run. The socket's cookie is the
// one value that is the kernel's own (a global counter): here it is NetModel.socketCookie (default 1).

import { Errno } from '../spec/errno.js';
import { XDP_MD_OFFSETS } from '../spec/program-types.js';
import { onNumbers, ptrWord, writable } from './args.js';
import { TC_XDP_TYPES } from './groups.js';
import { DEFAULT_NET } from './route.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The root cgroup (cgroup v2): what a test run's socket belongs to. */
const ROOT_CGROUP = 1;
/** __sk_buff.len and __sk_buff.ifindex. */
const SKB_LEN = 0;
const SKB_IFINDEX = 40;
/** BPF_MTU_CHK_SEGS, and check_mtu's results. */
const MTU_CHK_SEGS = 1;
const MTU_SUCCESS = 0;
const MTU_FRAG_NEEDED = 1;

const SOCKET_TYPES = ['socket_filter', 'sched_cls', 'sched_act', 'cgroup_skb', 'sk_skb'];

/** check_mtu: the device's MTU into *mtu_len, and whether a packet of that length (plus len_diff) fits. */
function checkMtu(env: HelperEnv, ctx: number, ifindex: number, lenPtr: number, diff: number, flags: number) {
  const xdp = env.invocation.programType === 'xdp';
  const v = env.space.view;
  writable(env, lenPtr, 4, 'check_mtu');
  if (xdp ? flags !== 0 : flags & ~MTU_CHK_SEGS) return -Errno.EINVAL;
  const given = v.getUint32(lenPtr, true);
  if (!xdp && flags & MTU_CHK_SEGS && (diff !== 0 || given !== 0)) return -Errno.EINVAL;
  const own = v.getUint32(ctx + (xdp ? XDP_MD_OFFSETS.ingress_ifindex! : SKB_IFINDEX), true) || 1;
  const dev = (env.net ?? DEFAULT_NET).interfaces.find((i) => i.ifindex === (ifindex || own));
  if (!dev) return -Errno.ENODEV;
  const hard = dev.hardHeaderLen ?? 14;
  const pkt = env.invocation.packet;
  const len = xdp ? (pkt ? pkt.end - pkt.start : 0) : v.getUint32(ctx + SKB_LEN, true);
  // Past the MTU a (non-GSO) packet needs fragmenting; test runs build no GSO packets.
  const fits = (given ? given + hard : len) + diff <= dev.mtu + hard;
  v.setUint32(lenPtr, dev.mtu, true);
  return fits ? MTU_SUCCESS : MTU_FRAG_NEEDED;
}

export const NETINFO_HELPERS: HelperDef[] = [
  {
    id: 46,
    name: 'get_socket_cookie',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: [...SOCKET_TYPES, 'cgroup_sock', 'sock_ops', 'cgroup_sock_addr', 'sk_reuseport', 'syscall'],
    ...onNumbers(['word'], (env) => env.net?.socketCookie ?? 1),
  },
  {
    id: 47,
    name: 'get_socket_uid',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: SOCKET_TYPES,
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 79,
    name: 'skb_cgroup_id',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: ['sched_cls', 'sched_act', 'cgroup_skb'],
    ...onNumbers(['word'], () => ROOT_CGROUP),
  },
  {
    id: 83,
    name: 'skb_ancestor_cgroup_id',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    programTypes: ['sched_cls', 'sched_act', 'cgroup_skb'],
    // The root is level 0 and the socket's own cgroup; deeper levels have no ancestor (0).
    ...onNumbers(['word', 's32'], (_env, _ctx, level) => (level === 0 ? ROOT_CGROUP : 0)),
  },
  ...(
    [
      [128, 'sk_cgroup_id', ['sock_common']],
      [129, 'sk_ancestor_cgroup_id', ['sock_common', 'anything']],
    ] as const
  ).map(
    ([id, name, args]): HelperDef => ({
      id,
      name,
      proto: { ret: 'integer', args },
      programTypes: ['cgroup_skb'],
      // A socket here is a test run's: in the root cgroup, level 0.
      ...onNumbers(id === 128 ? ['word'] : ['word', 's32'], (_env, _sk, level) =>
        id === 128 || level === 0 ? ROOT_CGROUP : 0,
      ),
    }),
  ),
  {
    id: 122,
    name: 'get_netns_cookie',
    proto: { ret: 'integer', args: ['ctx_or_null'] },
    programTypes: [
      'socket_filter',
      'sched_cls',
      'sched_act',
      'cgroup_skb',
      'cgroup_sock',
      'sock_ops',
      'sk_msg',
      'cgroup_sock_addr',
      'cgroup_sockopt',
    ],
    ...onNumbers(['word'], (env) => env.net?.netnsCookie ?? 1),
  },
  {
    id: 151,
    name: 'skb_cgroup_classid',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: ['sched_cls', 'sched_act'],
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 163,
    name: 'check_mtu',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'int_ptr', 'anything', 'anything'] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'u32', 'word', 's32', 'word'], (env, ctx, ifindex, len, diff, flags) =>
      checkMtu(env, ptrWord(ctx), ifindex, ptrWord(len), diff, flags < 0 || flags > 0xffff ? 0x10000 : flags),
    ),
  },
  {
    id: 188,
    name: 'xdp_get_buff_len',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: ['xdp', 'syscall'],
    // A single buffer here (no fragments): data to data_end.
    ...onNumbers(['word'], (env) => {
      const p = env.invocation.packet;
      return p ? p.end - p.start : 0;
    }),
  },
];
