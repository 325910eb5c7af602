// Helpers of LSM and tracing programs that act on the traced task or the objects an LSM hook is given:
// bpf_probe_write_user (write the current task's user memory), bpf_d_path (a struct path as text),
// bpf_bprm_opts_set (mark an exec secure), bpf_ima_inode_hash/bpf_ima_file_hash (the IMA measurement).
//
// User memory here is what a run was handed as its input (its 'input' region: the data of `tsbpf run`);
// everything else in linear memory — maps, stacks, contexts, packets — is the
// kernel's side, which copy_to_user refuses (-EFAULT), so a write lands only in input memory. There is no file system,
// exec or IMA here: d_path and bprm_opts_set answer -EOPNOTSUPP after their argument checks (never a
// pretended path or flag), and the IMA hashes -EOPNOTSUPP, the kernel's answer when IMA measures nothing.

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, writable } from './args.js';
import { TRACING_TYPES } from './groups.js';
import type { HelperDef } from './types.js';

/** The kernel functions an fentry/fexit program may call d_path from (btf_allowlist_d_path). */
const D_PATH_TARGETS = [
  'security_file_permission',
  'security_inode_getattr',
  'security_file_open',
  'security_path_truncate',
  'vfs_truncate',
  'vfs_fallocate',
  'dentry_open',
  'vfs_getattr',
  'filp_close',
];

/** BPF_F_BPRM_SECUREEXEC, the one bprm_opts_set flag. */
const BPRM_SECUREEXEC = 1;

export const SECURITY_HELPERS: HelperDef[] = [
  {
    id: 36,
    name: 'probe_write_user',
    proto: { ret: 'integer', args: ['anything', 'mem', 'const_size'] },
    programTypes: TRACING_TYPES,
    ...onNumbers(['word', 'word', 'u32'], (env, dst, src, size) => {
      const to = ptrWord(dst);
      const r = to === 0 ? undefined : env.space.regionAt(to, size);
      // This run's own input (the region its context points into), as the sandbox counts it.
      const ctx = env.invocation.ctx;
      if (r?.kind !== 'input' || !r.writable || ctx < r.start || ctx >= r.end) return -Errno.EFAULT;
      const from = ptrWord(src);
      env.space.bytes.copyWithin(to, from, from + size);
      return 0;
    }),
  },
  {
    id: 147,
    name: 'd_path',
    proto: { ret: 'integer', args: ['btf_id', 'uninit_mem', 'const_size_or_zero'], btfStruct: 'path' },
    // fentry/fexit programs on the functions of the kernel's allow list (btf_allowlist_d_path), iterators
    // and LSM programs.
    programTypes: ['tracing', 'lsm'],
    attachTargets: D_PATH_TARGETS,
    ...onNumbers(['word', 'word', 'u32'], (env, _path, buf, size) => {
      const at = ptrWord(buf);
      writable(env, at, size, 'd_path');
      env.space.bytes.fill(0, at, at + size);
      return -Errno.EOPNOTSUPP;
    }),
  },
  {
    id: 159,
    name: 'bprm_opts_set',
    proto: { ret: 'integer', args: ['btf_id', 'anything'], btfStruct: 'linux_binprm' },
    programTypes: ['lsm'],
    ...onNumbers(['word', 'word'], (_env, _bprm, flags) =>
      flags === 0 || flags === BPRM_SECUREEXEC ? -Errno.EOPNOTSUPP : -Errno.EINVAL,
    ),
  },
  ...(
    [
      [161, 'ima_inode_hash', 'inode'],
      [193, 'ima_file_hash', 'file'],
    ] as const
  ).map(
    ([id, name, struct]): HelperDef => ({
      id,
      name,
      proto: { ret: 'integer', args: ['btf_id', 'uninit_mem', 'const_size'], btfStruct: struct },
      // Sleepable LSM and tracing programs.
      programTypes: ['lsm', 'tracing'],
      ...onNumbers(['word', 'word', 'u32'], () => -Errno.EOPNOTSUPP),
    }),
  ),
];
