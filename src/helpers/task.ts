// The current task and probe reads. "Kernel" and "user" memory are both the runtime's address space: a
// read from an unmapped address is a fault (-EFAULT, destination zeroed), never a crash.

import { Errno } from '../spec/errno.js';
import { cString, onNumbers, ptrWord, readable, writable } from './args.js';
import { TRACING_TYPES } from './groups.js';
import type { HelperDef } from './types.js';

/** probe_read's arguments: dst (a pointer), size (a u32), src (a pointer). */
const READ_ARGS = ['word', 'u32', 'word'] as const;

function probeRead(name: string) {
  return onNumbers(READ_ARGS, (env, dst, n, src) => {
    const d = ptrWord(dst);
    const s = ptrWord(src);
    writable(env, d, n, name);
    if (!readable(env, s, n)) {
      env.space.bytes.fill(0, d, d + n);
      return -Errno.EFAULT;
    }
    env.space.bytes.copyWithin(d, s, s + n);
    return 0;
  });
}

/** Copy a NUL-terminated string: at most size-1 bytes and a NUL; returns the length including the NUL. */
function probeReadStr(name: string) {
  return onNumbers(READ_ARGS, (env, dst, n, src) => {
    const d = ptrWord(dst);
    if (n === 0) return 0;
    writable(env, d, n, name);
    const str = cString(env, ptrWord(src), n - 1);
    if (!str || (!str.terminated && str.text.length < n - 1)) {
      env.space.bytes.fill(0, d, d + n);
      return -Errno.EFAULT;
    }
    const b = env.space.bytes;
    for (let i = 0; i < str.text.length; i++) b[d + i] = str.text.charCodeAt(i);
    b[d + str.text.length] = 0;
    return str.text.length + 1;
  });
}

const READ = { ret: 'integer', args: ['uninit_mem', 'const_size_or_zero', 'anything'] } as const;

export const TASK_HELPERS: HelperDef[] = [
  {
    id: 14,
    name: 'get_current_pid_tgid',
    proto: { ret: 'integer', args: [] },
    // No number form: tgid << 32 exceeds 2^53 once the tgid reaches 2^21.
    call: (env) => (BigInt(env.task.tgid >>> 0) << 32n) | BigInt(env.task.pid >>> 0),
  },
  {
    id: 15,
    name: 'get_current_uid_gid',
    proto: { ret: 'integer', args: [] },
    // No number form: gid << 32 exceeds 2^53 once the gid reaches 2^21.
    call: (env) => (BigInt(env.task.gid >>> 0) << 32n) | BigInt(env.task.uid >>> 0),
  },
  {
    id: 16,
    name: 'get_current_comm',
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size'] },
    ...onNumbers(['word', 'u32'], (env, buf, n) => {
      const d = ptrWord(buf);
      writable(env, d, n, 'get_current_comm');
      // strscpy_pad: the name (at most 15 bytes, TASK_COMM_LEN 16) truncated to size-1, NUL padded.
      const comm = env.task.comm.slice(0, 15);
      const b = env.space.bytes;
      b.fill(0, d, d + n);
      for (let i = 0; i < Math.min(comm.length, n - 1); i++) b[d + i] = comm.charCodeAt(i) & 0xff;
      return 0;
    }),
  },
  // The unsuffixed reads (user or kernel memory, by address) are the tracing programs' only.
  { id: 4, name: 'probe_read', proto: READ, programTypes: TRACING_TYPES, ...probeRead('probe_read') },
  { id: 112, name: 'probe_read_user', proto: READ, ...probeRead('probe_read_user') },
  { id: 113, name: 'probe_read_kernel', proto: READ, ...probeRead('probe_read_kernel') },
  {
    id: 45,
    name: 'probe_read_str',
    proto: READ,
    programTypes: TRACING_TYPES,
    ...probeReadStr('probe_read_str'),
  },
  { id: 114, name: 'probe_read_user_str', proto: READ, ...probeReadStr('probe_read_user_str') },
  { id: 115, name: 'probe_read_kernel_str', proto: READ, ...probeReadStr('probe_read_kernel_str') },
];
