// Helpers of BPF_PROG_TYPE_SYSCALL programs (the light skeletons' loaders, run by BPF_PROG_TEST_RUN):
// bpf_sys_bpf, bpf_btf_find_by_name_kind, bpf_sys_close, bpf_kallsyms_lookup_name. They reach the kernel
// itself — its bpf() commands, its BTF, its file table, its symbols — which user space does not have. Each
// checks its arguments as the kernel does and then gives the answer the kernel gives when the thing asked
// for is not there: no symbol (-ENOENT, the result cleared), no type (-ENOENT), no such descriptor
// (-EBADF). bpf() itself cannot be answered that way (a loader's MAP_CREATE would "succeed" with no map),
// so its commands answer -EOPNOTSUPP, which says exactly that; commands the kernel never lets a program
// issue are -EINVAL, as there.

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

/** bpf() commands a syscall program may issue (bpf_sys_bpf): MAP_CREATE, MAP_UPDATE/DELETE_ELEM, MAP_FREEZE,
 * MAP_GET_FD_BY_ID, PROG_LOAD, BTF_LOAD, LINK_CREATE, RAW_TRACEPOINT_OPEN. */
const SYS_BPF_COMMANDS = new Set([0, 2, 3, 22, 14, 5, 18, 28, 17]);

/** A name argument as the kernel takes one: at least one character and its NUL, the NUL last. */
function badName(env: HelperEnv, at: number, size: number): boolean {
  return size <= 1 || env.space.bytes[at + size - 1] !== 0;
}

export const SYSCALL_HELPERS: HelperDef[] = [
  {
    id: 166,
    name: 'sys_bpf',
    proto: { ret: 'integer', args: ['anything', 'mem', 'const_size'] },
    programTypes: ['syscall'],
    ...onNumbers(['u32', 'word', 'u32'], (_env, cmd) =>
      SYS_BPF_COMMANDS.has(cmd) ? -Errno.EOPNOTSUPP : -Errno.EINVAL,
    ),
  },
  {
    id: 167,
    name: 'btf_find_by_name_kind',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'anything', 'anything'] },
    programTypes: ['syscall'],
    ...onNumbers(['word', 'u32', 'u32', 'word'], (env, name, size, _kind, flags) => {
      if (flags !== 0 || badName(env, ptrWord(name), size)) return -Errno.EINVAL;
      return -Errno.ENOENT;
    }),
  },
  {
    id: 168,
    name: 'sys_close',
    proto: { ret: 'integer', args: ['anything'] },
    programTypes: ['syscall'],
    ...onNumbers(['u32'], () => -Errno.EBADF),
  },
  {
    id: 179,
    name: 'kallsyms_lookup_name',
    proto: { ret: 'integer', args: ['mem', 'const_size_or_zero', 'anything', 'long_ptr'] },
    programTypes: ['syscall'],
    ...onNumbers(['word', 'u32', 'word', 'word'], (env, name, size, flags, res) => {
      if (flags !== 0 || badName(env, ptrWord(name), size)) return -Errno.EINVAL;
      const out = ptrWord(res);
      writable(env, out, 8, 'kallsyms_lookup_name');
      env.space.view.setBigUint64(out, 0n, true);
      return -Errno.ENOENT;
    }),
  },
];
