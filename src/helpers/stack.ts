// Call stacks: bpf_get_stackid (a stack's id in a STACK_TRACE map), bpf_get_stack and bpf_get_task_stack
// (the addresses copied into a buffer). The stack is the task model's (env.task.kernelStack / userStack,
// innermost first); without one, a fixed three-frame stack stands for it. The flags, the depth limits,
// the skipped frames and the errnos are the kernel's (kernel/bpf/stackmap.c).

import { BUILD_ID_IP, BUILD_ID_SIZE, PERF_MAX_STACK, StackFlag, StackTraceMap } from '../maps/stack-trace.js';
import { Errno } from '../spec/errno.js';
import { mapWord, onNumbers, ptrWord, writable } from './args.js';
import { TRACING_TYPES } from './groups.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The kernel stack used when the task model gives none: three addresses in the kernel's text. */
export const DEFAULT_KERNEL_STACK: readonly bigint[] = [
  0xffffffff81a01234n,
  0xffffffff81400a10n,
  0xffffffff81000100n,
];
/** The user stack used when the task model gives none: three addresses in a program's text. */
export const DEFAULT_USER_STACK: readonly bigint[] = [0x401136n, 0x4011a0n, 0x7f0000029d90n];

/** The stack a hook gives: the task's user or kernel stack, cut to `maxDepth` as perf's callchain is. */
function callchain(env: HelperEnv, user: boolean, maxDepth: number): readonly bigint[] {
  const s = user
    ? (env.task.userStack ?? DEFAULT_USER_STACK)
    : (env.task.kernelStack ?? DEFAULT_KERNEL_STACK);
  return s.slice(0, Math.min(maxDepth, PERF_MAX_STACK));
}

const STACKID_FLAGS =
  StackFlag.SKIP_FIELD_MASK | StackFlag.USER_STACK | StackFlag.FAST_STACK_CMP | StackFlag.REUSE_STACKID;
const STACK_FLAGS = StackFlag.SKIP_FIELD_MASK | StackFlag.USER_STACK | StackFlag.USER_BUILD_ID;

/** bpf_get_stackid: the id of the current stack in the map, or -errno. */
function getStackid(env: HelperEnv, map: number, flags: number): number {
  const m = mapWord(env, map, 'get_stackid');
  if (!(m instanceof StackTraceMap))
    throw new Error(`get_stackid: map '${m.spec.name}' is not a stack trace map`);
  if (flags & ~STACKID_FLAGS) return -Errno.EINVAL;
  const skip = flags & StackFlag.SKIP_FIELD_MASK;
  const trace = callchain(env, (flags & StackFlag.USER_STACK) !== 0, m.spec.valueSize / m.entrySize + skip);
  // Skipping every frame there is leaves nothing to store.
  if (trace.length <= skip) return -Errno.EFAULT;
  return m.stackId(trace.slice(skip), flags);
}

/**
 * bpf_get_stack / get_task_stack: the addresses (or build-id entries) after `skip` into the buffer, the
 * rest zeroed; the bytes copied, or -errno with the whole buffer zeroed.
 */
function getStack(env: HelperEnv, name: string, buf: number, size: number, flags: number): number {
  const d = ptrWord(buf);
  writable(env, d, size, name);
  const b = env.space.bytes;
  const fail = (e: number) => {
    b.fill(0, d, d + size);
    return e;
  };
  const user = (flags & StackFlag.USER_STACK) !== 0;
  const buildId = (flags & StackFlag.USER_BUILD_ID) !== 0;
  if (flags & ~STACK_FLAGS || (buildId && !user)) return fail(-Errno.EINVAL);
  const elem = buildId ? BUILD_ID_SIZE : 8;
  if (size % elem !== 0) return fail(-Errno.EINVAL);
  const skip = flags & StackFlag.SKIP_FIELD_MASK;
  const room = size / elem;
  const trace = callchain(env, user, room + skip);
  if (trace.length < skip) return fail(-Errno.EFAULT);
  const ips = trace.slice(skip, skip + room);
  b.fill(0, d, d + size);
  const v = env.space.view;
  ips.forEach((ip, k) => {
    if (!buildId) v.setBigUint64(d + 8 * k, ip, true);
    else {
      // No build id is known here: the kernel's entry for that case, status IP and the address.
      v.setInt32(d + elem * k, BUILD_ID_IP, true);
      v.setBigUint64(d + elem * k + 24, ip, true);
    }
  });
  return ips.length * elem;
}

export const STACK_HELPERS: HelperDef[] = [
  {
    id: 27,
    name: 'get_stackid',
    proto: { ret: 'integer', args: ['ctx', 'const_map_ptr', 'anything'] },
    programTypes: TRACING_TYPES,
    ...onNumbers(['word', 'word', 'word'], (env, _ctx, map, flags) =>
      getStackid(env, map, flags < 0 || flags > 0xffff ? 0x10000 : flags),
    ),
  },
  {
    id: 67,
    name: 'get_stack',
    proto: { ret: 'integer', args: ['ctx', 'uninit_mem', 'const_size_or_zero', 'anything'] },
    programTypes: TRACING_TYPES,
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, _ctx, buf, size, flags) =>
      getStack(env, 'get_stack', buf, size, flags < 0 || flags > 0xffff ? 0x10000 : flags),
    ),
  },
  {
    id: 141,
    name: 'get_task_stack',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'uninit_mem', 'const_size_or_zero', 'anything'],
      btfStruct: 'task_struct',
    },
    // The only task here is the current one (bpf_get_current_task_btf's).
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, _task, buf, size, flags) =>
      getStack(env, 'get_task_stack', buf, size, flags < 0 || flags > 0xffff ? 0x10000 : flags),
    ),
  },
];
