// Helpers of the socket-level program types: sock_ops (socket options, callbacks, adding the socket to a
// sockmap/sockhash), sk_skb and sk_msg (redirects through socket maps, message byte accounting),
// sk_reuseport (choosing a socket) and cgroup_sysctl (the sysctl being read or written). Their prototypes
// and program types are the kernel's, so that the verifier agrees with it on these programs. No hook here
// runs these program types (the kernel cannot test-run them either), and user space has no sockets: a
// redirect through a socket map finds no socket (SK_DROP) as in the kernel with an empty map; the calls
// that would need the socket or the sysctl itself stop the run with an error naming the helper.

import { Errno } from '../spec/errno.js';
import { onNumbers } from './args.js';
import type { HelperDef, HelperProto } from './types.js';

/** SK_DROP: the verdict of a redirect whose socket map has no socket at the key. */
const SK_DROP = 0;

/** A helper that needs a socket or sysctl context, which no hook here provides. */
const contextOnly = (
  id: number,
  name: string,
  proto: HelperProto,
  programTypes: readonly string[],
): HelperDef => ({
  id,
  name,
  proto,
  programTypes,
  call: () => {
    throw new Error(
      `bpf_${name} (#${id}): ${programTypes.join('/')} programs cannot be run here (no socket or sysctl context)`,
    );
  },
});

const MAP_CALL: HelperProto = { ret: 'integer', args: ['ctx', 'const_map_ptr', 'map_key', 'anything'] };
const MAP_INDEX_CALL: HelperProto = {
  ret: 'integer',
  args: ['ctx', 'const_map_ptr', 'anything', 'anything'],
};

const redirect = (id: number, name: string, proto: HelperProto, type: string): HelperDef => ({
  id,
  name,
  proto,
  programTypes: [type],
  // The maps hold no socket here (src/maps/sockmap.ts): the lookup fails and the verdict is SK_DROP.
  ...onNumbers(['word', 'word', 'word', 'word'], () => SK_DROP),
});

const SOCK_OPT_TYPES = ['sock_ops', 'cgroup_sock_addr'];
/** The cgroup hooks whose programs set the syscall's return value (get_retval/set_retval). */
const CGROUP_RETVAL_TYPES = ['cgroup_sock', 'cgroup_sock_addr', 'cgroup_sockopt'];

export const SOCKOPS_HELPERS: HelperDef[] = [
  redirect(52, 'sk_redirect_map', MAP_INDEX_CALL, 'sk_skb'),
  redirect(72, 'sk_redirect_hash', MAP_CALL, 'sk_skb'),
  redirect(60, 'msg_redirect_map', MAP_INDEX_CALL, 'sk_msg'),
  redirect(71, 'msg_redirect_hash', MAP_CALL, 'sk_msg'),
  {
    id: 82,
    name: 'sk_select_reuseport',
    proto: MAP_CALL,
    programTypes: ['sk_reuseport'],
    // No socket at any key: -ENOENT, the kernel's answer for an empty slot.
    ...onNumbers(['word', 'word', 'word', 'word'], () => -Errno.ENOENT),
  },
  contextOnly(53, 'sock_map_update', MAP_CALL, ['sock_ops']),
  contextOnly(70, 'sock_hash_update', MAP_CALL, ['sock_ops']),
  contextOnly(59, 'sock_ops_cb_flags_set', { ret: 'integer', args: ['ctx', 'anything'] }, ['sock_ops']),
  contextOnly(
    49,
    'setsockopt',
    { ret: 'integer', args: ['ctx', 'anything', 'anything', 'mem', 'const_size'] },
    SOCK_OPT_TYPES,
  ),
  contextOnly(
    57,
    'getsockopt',
    { ret: 'integer', args: ['ctx', 'anything', 'anything', 'uninit_mem', 'const_size'] },
    SOCK_OPT_TYPES,
  ),
  // TC assigns a socket to the skb (bpf_sk_assign); sk_lookup selects a socket or NULL as the lookup's
  // result (bpf_sk_lookup_assign), each with its own prototype and rules.
  {
    id: 124,
    name: 'sk_assign',
    proto: {
      ret: 'integer',
      args: ['ctx', 'sock_common', 'anything'],
      argsFor: { sk_lookup: ['ctx', 'sock_or_null', 'anything'] },
    },
    programTypes: ['sched_cls', 'sched_act', 'sk_lookup'],
    ...onNumbers(['word', 'word', 'word'], (env, _ctx, sk, flags) => {
      if (env.invocation.programType === 'sk_lookup') {
        // BPF_SK_LOOKUP_F_REPLACE | BPF_SK_LOOKUP_F_NO_REUSEPORT; nothing is selected before (user space has
        // no socket a lookup could select), so NULL is always taken.
        if (!(flags >= 0 && flags <= 3)) return -Errno.EINVAL;
        if (sk !== 0) throw new Error('bpf_sk_assign (#124): no socket exists here to select');
        return 0;
      }
      // The skb's socket (the test run's): flags must be 0, and the skb is not at tc ingress.
      return flags !== 0 ? -Errno.EINVAL : -Errno.EOPNOTSUPP;
    }),
  },
  contextOnly(186, 'get_retval', { ret: 'integer', args: [] }, CGROUP_RETVAL_TYPES),
  contextOnly(187, 'set_retval', { ret: 'integer', args: ['anything'] }, CGROUP_RETVAL_TYPES),
  contextOnly(61, 'msg_apply_bytes', { ret: 'integer', args: ['ctx', 'anything'] }, ['sk_msg']),
  contextOnly(62, 'msg_cork_bytes', { ret: 'integer', args: ['ctx', 'anything'] }, ['sk_msg']),
  contextOnly(
    63,
    'msg_pull_data',
    { ret: 'integer', args: ['ctx', 'anything', 'anything', 'anything'], changesPacket: true },
    ['sk_msg'],
  ),
  contextOnly(
    101,
    'sysctl_get_name',
    { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size', 'anything'] },
    ['cgroup_sysctl'],
  ),
  contextOnly(
    102,
    'sysctl_get_current_value',
    { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size'] },
    ['cgroup_sysctl'],
  ),
  contextOnly(103, 'sysctl_get_new_value', { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size'] }, [
    'cgroup_sysctl',
  ]),
  contextOnly(104, 'sysctl_set_new_value', { ret: 'integer', args: ['ctx', 'mem', 'const_size'] }, [
    'cgroup_sysctl',
  ]),
];
