// Socket lookups from packet programs: bpf_sk_lookup_tcp/udp, bpf_skc_lookup_tcp, bpf_sk_release and
// bpf_tcp_check_syncookie. User space has no sockets, so a lookup finds none: it returns NULL, as the kernel
// does for a tuple no socket is bound to (and for a bad tuple size, flags or netns id). The verifier still
// holds programs to the kernel's rules: the socket is a reference released by sk_release on every path.

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord } from './args.js';
import { SOCK_LOOKUP_TYPES, TC_XDP_TYPES } from './groups.js';
import type { HelperDef } from './types.js';

/** sizeof(struct bpf_sock_tuple) for IPv4 and IPv6: the only sizes a lookup accepts. */
export const TUPLE_V4 = 12;
export const TUPLE_V6 = 36;

const lookup = (id: number, name: string, ret: 'sock_or_null' | 'sock_common_or_null'): HelperDef => ({
  id,
  name,
  proto: { ret, args: ['ctx', 'mem', 'const_size', 'anything', 'anything'] },
  programTypes: SOCK_LOOKUP_TYPES,
  // No socket exists here: NULL whatever the tuple (the kernel's result for an unbound tuple).
  ...onNumbers(['word', 'word', 'u32', 'word', 'word'], () => 0),
});

export const SOCK_HELPERS: HelperDef[] = [
  lookup(84, 'sk_lookup_tcp', 'sock_or_null'),
  lookup(85, 'sk_lookup_udp', 'sock_or_null'),
  lookup(99, 'skc_lookup_tcp', 'sock_common_or_null'),
  {
    id: 86,
    name: 'sk_release',
    proto: { ret: 'integer', args: ['sock_release'] },
    programTypes: [...SOCK_LOOKUP_TYPES, 'sk_lookup'],
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 95,
    name: 'sk_fullsock',
    proto: { ret: 'sock_cast_or_null', args: ['sock_common'] },
    programTypes: ['cgroup_skb', 'sched_cls', 'sched_act'],
    // Every socket here is a full one (requests and time-wait sockets are not modelled): the argument, an
    // address (anything else is no socket: NULL).
    ...onNumbers(['word'], (_env, sk) => ptrWord(sk)),
  },
  {
    id: 100,
    name: 'tcp_check_syncookie',
    proto: { ret: 'integer', args: ['sock_common', 'mem', 'const_size', 'mem', 'const_size'] },
    programTypes: TC_XDP_TYPES,
    // Never reached with a socket here (lookups find none); the kernel's answer for a socket that is not
    // a listening TCP socket with syncookies is -EINVAL.
    ...onNumbers(['word', 'word', 'u32', 'word', 'u32'], () => -Errno.EINVAL),
  },
];
