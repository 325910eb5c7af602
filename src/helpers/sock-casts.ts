// Socket casts: bpf_tcp_sock, bpf_get_listener_sock, the bpf_skc_to_*_sock family and bpf_sock_from_file.
// Each gives back the socket it was handed, now typed as the narrower struct, when the socket is of that
// kind, or NULL. The kind is read from the socket as programs see it here (a `struct bpf_sock`: family at
// 4, type at 8, protocol at 12, state at 72); a cast keeps the argument's reference (the verifier's
// 'btf_id_or_null' return). What is modelled: which casts succeed. What is not: the narrower structs'
// own fields (a TCP socket's cwnd, srtt …) — no hook hands programs a TCP socket here (socket lookups
// find none, a test run's ctx->sk is 0), so those fields are never reached.

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, readable } from './args.js';
import { SOCK_CAST_TYPES } from './groups.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The fields of `struct bpf_sock` a cast looks at. */
const SOCK = { family: 4, type: 8, protocol: 12, state: 72, size: 80 } as const;
const AF_UNIX = 1;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** BPF_TCP_* states (the kernel's TCP_* numbers). */
const TCP_TIME_WAIT = 6;
const TCP_LISTEN = 10;
const TCP_NEW_SYN_RECV = 12;

interface SockView {
  family: number;
  type: number;
  protocol: number;
  state: number;
  /** A full socket: not a time-wait or request socket (sk_fullsock). */
  full: boolean;
}

/** The socket at `sk` as a cast sees it, or undefined when `sk` is no socket in memory. */
function sockAt(env: HelperEnv, sk: number): SockView | undefined {
  const at = ptrWord(sk);
  if (at === 0 || !readable(env, at, SOCK.size)) return undefined;
  const v = env.space.view;
  const state = v.getUint32(at + SOCK.state, true);
  return {
    family: v.getUint32(at + SOCK.family, true),
    type: v.getUint32(at + SOCK.type, true),
    protocol: v.getUint32(at + SOCK.protocol, true),
    state,
    full: state !== TCP_TIME_WAIT && state !== TCP_NEW_SYN_RECV,
  };
}

/** A cast: the socket when `is` holds for it, else NULL. */
const cast = (
  id: number,
  name: string,
  struct: string,
  is: (s: SockView) => boolean,
  programTypes: readonly string[] = SOCK_CAST_TYPES,
): HelperDef => ({
  id,
  name,
  proto: { ret: 'btf_id_or_null', args: ['sock_common'], retBtfStruct: struct },
  programTypes,
  ...onNumbers(['word'], (env, sk) => {
    const s = sockAt(env, sk);
    return s && is(s) ? ptrWord(sk) : 0;
  }),
});

const isTcp = (s: SockView) => s.full && s.protocol === IPPROTO_TCP;

export const SOCK_CAST_HELPERS: HelperDef[] = [
  // bpf_tcp_sock: a full TCP socket, as a struct bpf_tcp_sock (RET_PTR_TO_TCP_SOCK_OR_NULL).
  cast(96, 'tcp_sock', 'bpf_tcp_sock', isTcp, [
    'sched_cls',
    'sched_act',
    'cgroup_skb',
    'sock_ops',
    'cgroup_sockopt',
  ]),
  {
    id: 98,
    name: 'get_listener_sock',
    // A listening TCP socket (the kernel holds no reference on it: the result is not released).
    proto: { ret: 'sock_noref_or_null', args: ['sock_common'] },
    programTypes: ['sched_cls', 'sched_act', 'cgroup_skb'],
    ...onNumbers(['word'], (env, sk) => {
      const s = sockAt(env, sk);
      return s && s.protocol === IPPROTO_TCP && s.state === TCP_LISTEN ? ptrWord(sk) : 0;
    }),
  },
  cast(136, 'skc_to_tcp6_sock', 'tcp6_sock', (s) => isTcp(s) && s.family === AF_INET6),
  cast(137, 'skc_to_tcp_sock', 'tcp_sock', isTcp),
  cast(138, 'skc_to_tcp_timewait_sock', 'tcp_timewait_sock', (s) => s.state === TCP_TIME_WAIT),
  cast(139, 'skc_to_tcp_request_sock', 'tcp_request_sock', (s) => s.state === TCP_NEW_SYN_RECV),
  cast(
    140,
    'skc_to_udp6_sock',
    'udp6_sock',
    (s) => s.full && s.protocol === IPPROTO_UDP && s.type === SOCK_DGRAM && s.family === AF_INET6,
  ),
  cast(178, 'skc_to_unix_sock', 'unix_sock', (s) => s.full && s.family === AF_UNIX),
  // An MPTCP subflow's parent: no socket here is an MPTCP subflow.
  cast(196, 'skc_to_mptcp_sock', 'mptcp_sock', () => false),
  {
    id: 162,
    name: 'sock_from_file',
    // The socket behind a struct file: user space has no files, so no file pointer is a socket's (NULL,
    // the kernel's answer for a file that is not a socket).
    proto: { ret: 'btf_id_or_null', args: ['btf_id'], btfStruct: 'file', retBtfStruct: 'socket' },
    programTypes: ['tracing', 'lsm', 'syscall'],
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 116,
    name: 'tcp_send_ack',
    // A TCP congestion-control struct_ops program sending an ACK on its socket: there is no TCP stack here
    // to send it, so -EOPNOTSUPP (never a pretended send). The kernel gives it to tcp_congestion_ops
    // programs only, which the program type does not say: no type has it here (the struct's own list,
    // verifier/btf-ctx.ts STRUCT_OPS_HELPERS, may give it; stricter than the kernel, never laxer).
    proto: { ret: 'integer', args: ['btf_id', 'anything'], btfStruct: 'tcp_sock' },
    programTypes: [],
    ...onNumbers(['word', 'u32'], () => -Errno.EOPNOTSUPP),
  },
];
