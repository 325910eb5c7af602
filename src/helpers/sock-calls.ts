// Helpers that act on the socket or message a socket-level program's context holds: bpf_bind (a
// cgroup connect4/connect6 program binding its socket first), bpf_msg_push_data/bpf_msg_pop_data (an sk_msg
// program editing the message), bpf_load/store/reserve_hdr_opt (a sock_ops program reading and writing TCP
// header options). Prototypes, program and attach types are the kernel's, so that the verifier agrees with
// it on these programs. No hook here runs these program types (the kernel cannot test-run them either) and
// user space has no sockets: a call stops the run with an error naming the helper.

import type { HelperDef, HelperProto } from './types.js';

const socketOnly = (
  id: number,
  name: string,
  proto: HelperProto,
  programTypes: readonly string[],
  attachTypes?: readonly string[],
): HelperDef => ({
  id,
  name,
  proto,
  programTypes,
  ...(attachTypes ? { attachTypes } : {}),
  call: () => {
    throw new Error(
      `bpf_${name} (#${id}): ${programTypes.join('/')} programs cannot be run here (no socket or message)`,
    );
  },
});

export const SOCK_CALL_HELPERS: HelperDef[] = [
  // Only connect programs bind (the kernel gives bpf_bind to no other sock_addr attach type).
  socketOnly(
    64,
    'bind',
    { ret: 'integer', args: ['ctx', 'mem', 'const_size'] },
    ['cgroup_sock_addr'],
    ['cgroup_inet4_connect', 'cgroup_inet6_connect'],
  ),
  socketOnly(
    90,
    'msg_push_data',
    { ret: 'integer', args: ['ctx', 'anything', 'anything', 'anything'], changesPacket: true },
    ['sk_msg'],
  ),
  socketOnly(
    91,
    'msg_pop_data',
    { ret: 'integer', args: ['ctx', 'anything', 'anything', 'anything'], changesPacket: true },
    ['sk_msg'],
  ),
  // The option searched for is read from the buffer, and the found option written back into it.
  socketOnly(142, 'load_hdr_opt', { ret: 'integer', args: ['ctx', 'mem', 'const_size', 'anything'] }, [
    'sock_ops',
  ]),
  socketOnly(143, 'store_hdr_opt', { ret: 'integer', args: ['ctx', 'mem', 'const_size', 'anything'] }, [
    'sock_ops',
  ]),
  socketOnly(144, 'reserve_hdr_opt', { ret: 'integer', args: ['ctx', 'anything', 'anything'] }, ['sock_ops']),
];
