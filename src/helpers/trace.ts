// Tracing helpers on the current task: its task_struct address, its cgroups and pid namespace, signals,
// and what a probe knows of the traced function (its address, arguments, attach cookie). The task is
// env.task (a TaskModel); where user space has nothing to give (a signal to deliver, a function return to
// override) the helper returns what the kernel returns for a user task in the same call.

import { Errno, KernelErrno } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { cString, mapWord, onNumbers, ptr, ptrWord, readable, u32, writable } from './args.js';
import { PROBE_TYPES, TRAMPOLINE_TYPES } from './groups.js';
import { currentTask, currentTaskRegs } from './task-model.js';
import type { HelperDef, HelperEnv, TaskModel } from './types.js';

/** The root cgroup's id (cgroup v2: the root's kernfs node id is 1). */
export const ROOT_CGROUP_ID = 1;
/** The initial pid namespace: nsfs device 4 and PROC_PID_INIT_INO, as stat(/proc/self/ns/pid) shows them. */
export const INIT_PID_NS = { dev: 4, ino: 0xeffffffc } as const;

/** The task's cgroup ids, root first. */
export function cgroupPath(task: TaskModel): readonly number[] {
  return task.cgroupPath?.length ? task.cgroupPath : [ROOT_CGROUP_ID];
}

/** pt_regs->ax on x86-64: where bpf_override_return puts the traced function's result. */
const PT_REGS_AX = 80;
/** The largest signal number (valid_signal: 1 .. _NSIG). */
const NSIG = 64;

/** copy_from_user: `n` bytes from `src`, or the buffer zeroed and -EFAULT when they are not all mapped. */
function copyFromUser(env: HelperEnv, dst: number, n: number, src: number): number {
  writable(env, dst, n, 'copy_from_user');
  if (n === 0) return 0;
  if (!readable(env, src, n)) {
    env.space.bytes.fill(0, dst, dst + n);
    return -Errno.EFAULT;
  }
  env.space.bytes.copyWithin(dst, src, src + n);
  return 0;
}

/** The count of arguments a trampoline stores just below the context (ctx[-1]), or 0 without one. */
function trampolineArgs(env: HelperEnv): number {
  const at = env.invocation.ctx - 8;
  return at > 0 && readable(env, at, 8) ? Number(env.space.view.getBigUint64(at, true) & 0xffn) : 0;
}

export const TRACE_HELPERS: HelperDef[] = [
  {
    id: 35,
    name: 'get_current_task',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => currentTask(env)),
  },
  {
    id: 158,
    name: 'get_current_task_btf',
    proto: { ret: 'btf_id', args: [], btfStruct: 'task_struct' },
    ...onNumbers([], (env) => currentTask(env)),
  },
  {
    id: 37,
    name: 'current_task_under_cgroup',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything'] },
    // The cgroup array's slots hold cgroup ids here (the kernel's hold the cgroups behind the fds given).
    ...onNumbers(['word', 'u32'], (env, map, index) => {
      const m = mapWord(env, map, 'current_task_under_cgroup');
      if (m.spec.type !== MapType.CGROUP_ARRAY)
        throw new Error(`current_task_under_cgroup: map '${m.spec.name}' is not a cgroup array`);
      if (index >= m.spec.maxEntries) return -Errno.E2BIG;
      const id = (m as unknown as { refAt(i: number): number }).refAt(index);
      if (id === 0) return -Errno.EAGAIN;
      return cgroupPath(env.task).includes(id) ? 1 : 0;
    }),
  },
  {
    id: 80,
    name: 'get_current_cgroup_id',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => cgroupPath(env.task).at(-1)!),
  },
  {
    id: 123,
    name: 'get_current_ancestor_cgroup_id',
    proto: { ret: 'integer', args: ['anything'] },
    // Level 0 is the root; a level deeper than the task's cgroup has no ancestor: 0.
    ...onNumbers(['s32'], (env, level) => (level < 0 ? 0 : (cgroupPath(env.task)[level] ?? 0))),
  },
  {
    id: 120,
    name: 'get_ns_current_pid_tgid',
    proto: { ret: 'integer', args: ['anything', 'anything', 'uninit_mem', 'const_size'] },
    // No number form: dev and ino are u64 and compared whole.
    call: (env, dev, ino, out, size) => {
      const d = ptrWord(Number(out & 0xffffffffn));
      const n = u32(size);
      writable(env, d, n, 'get_ns_current_pid_tgid');
      env.space.bytes.fill(0, d, d + n);
      // struct bpf_pidns_info { u32 pid; u32 tgid; } is the only size; the inode must fit 32 bits.
      if (n !== 8 || ino > 0xffffffffn) return BigInt(-Errno.EINVAL);
      if (dev !== BigInt(INIT_PID_NS.dev) || ino !== BigInt(INIT_PID_NS.ino)) return BigInt(-Errno.ENOENT);
      env.space.view.setUint32(d, env.task.pid >>> 0, true);
      env.space.view.setUint32(d + 4, env.task.tgid >>> 0, true);
      return 0n;
    },
  },
  ...(
    [
      [109, 'send_signal'],
      [117, 'send_signal_thread'],
    ] as const
  ).map(
    ([id, name]): HelperDef => ({
      id,
      name,
      proto: { ret: 'integer', args: ['anything'] },
      // No process receives it here: the result is the kernel's for a valid signal to a user task (0).
      ...onNumbers(['u32'], (_env, sig) => (sig > NSIG ? -Errno.EINVAL : 0)),
    }),
  ),
  {
    id: 58,
    name: 'override_return',
    proto: { ret: 'integer', args: ['ctx', 'anything'] },
    // Only kernels built with CONFIG_BPF_KPROBE_OVERRIDE offer it (to kprobes); 6.18 here is not.
    programTypes: [],
    call: (env, ctx, rc) => {
      // The context must be a pt_regs: the write stays inside the context's own region (an unverified
      // program may pass a smaller context, whose neighbour in memory is someone else's).
      const at = ptr(ctx);
      const region = env.space.regionAt(at, PT_REGS_AX + 8);
      if (!region?.writable) {
        throw new Error(`override_return: the context at 0x${at.toString(16)} is not a writable pt_regs`);
      }
      env.space.view.setBigUint64(at + PT_REGS_AX, rc, true);
      return 0n;
    },
  },
  {
    id: 173,
    name: 'get_func_ip',
    proto: { ret: 'integer', args: ['ctx'] },
    // The kernel has a prototype for every tracing type but loads calls from kprobes and trampolines only
    // ("not supported for program type" otherwise).
    programTypes: ['kprobe', 'tracing'],
    // A probe's function is the innermost frame of the modelled kernel stack; a tracepoint has none (0).
    call: (env) => env.task.kernelStack?.[0] ?? 0n,
  },
  {
    id: 174,
    name: 'get_attach_cookie',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: PROBE_TYPES,
    // Hooks here attach without a cookie, and the kernel's is 0 then.
    ...onNumbers(['word'], () => 0),
  },
  {
    id: 183,
    name: 'get_func_arg',
    proto: { ret: 'integer', args: ['ctx', 'anything', 'long_ptr'] },
    programTypes: TRAMPOLINE_TYPES,
    ...onNumbers(['word', 'u32', 'word'], (env, ctx, n, out) => {
      const d = ptrWord(out);
      writable(env, d, 8, 'get_func_arg');
      if (n >= trampolineArgs(env)) {
        env.space.view.setBigUint64(d, 0n, true);
        return -Errno.EINVAL;
      }
      env.space.view.setBigUint64(d, env.space.view.getBigUint64(ptrWord(ctx) + 8 * n, true), true);
      return 0;
    }),
  },
  {
    id: 184,
    name: 'get_func_ret',
    proto: { ret: 'integer', args: ['ctx', 'long_ptr'] },
    programTypes: TRAMPOLINE_TYPES,
    // Only fexit/fmod_ret programs see a return value; the trampolines modelled here are entries.
    ...onNumbers(['word', 'word'], () => -KernelErrno.EOPNOTSUPP),
  },
  {
    id: 185,
    name: 'get_func_arg_cnt',
    proto: { ret: 'integer', args: ['ctx'] },
    programTypes: TRAMPOLINE_TYPES,
    ...onNumbers(['word'], (env) => trampolineArgs(env)),
  },
  {
    id: 175,
    name: 'task_pt_regs',
    proto: { ret: 'btf_id', args: ['btf_id'], btfStruct: 'task_struct', retBtfStruct: 'pt_regs' },
    ...onNumbers(['word'], (env) => currentTaskRegs(env)),
  },
  {
    id: 176,
    name: 'get_branch_snapshot',
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size_or_zero', 'anything'] },
    // No last-branch records here (as in a VM without LBR): no entry, -ENOENT; the flags are checked after.
    ...onNumbers(['word', 'u32', 'word'], (env, buf, size, flags) => {
      writable(env, ptrWord(buf), size, 'get_branch_snapshot');
      return flags !== 0 ? -Errno.EINVAL : -Errno.ENOENT;
    }),
  },
  {
    id: 148,
    name: 'copy_from_user',
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size_or_zero', 'anything'] },
    // Sleepable programs only (the verifier's might-sleep check). User memory is the address space here:
    // a fault zeroes the buffer and answers -EFAULT.
    ...onNumbers(['word', 'u32', 'word'], (env, dst, n, src) =>
      copyFromUser(env, ptrWord(dst), n, ptrWord(src)),
    ),
  },
  {
    id: 191,
    name: 'copy_from_user_task',
    proto: {
      ret: 'integer',
      args: ['uninit_mem', 'const_size_or_zero', 'anything', 'btf_id', 'anything'],
      btfStruct: 'task_struct',
    },
    // The only task here is the current one, whose memory is the address space.
    ...onNumbers(['word', 'u32', 'word', 'word', 'word'], (env, dst, n, src, _task, flags) => {
      if (flags !== 0) return -Errno.EINVAL;
      return copyFromUser(env, ptrWord(dst), n, ptrWord(src));
    }),
  },
  {
    id: 42,
    name: 'get_numa_node_id',
    proto: { ret: 'integer', args: [] },
    // One NUMA node.
    ...onNumbers([], () => 0),
  },
  {
    id: 208,
    name: 'ktime_get_tai_ns',
    proto: { ret: 'integer', args: [] },
    // TAI: the monotonic clock moved to the epoch the wall clock had when this module loaded, plus the 37
    // leap seconds TAI is ahead of UTC. No number form: nanoseconds since 1970 exceed 2^53.
    call: (env) => TAI_BASE + env.nowNs(),
  },
  {
    id: 182,
    name: 'strncmp',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'const_str'] },
    // The kernel's strncmp (lib/string.c on x86-64): -1, 0 or 1 at the first differing unsigned byte.
    ...onNumbers(['word', 'u32', 'word'], (env, s1, n, s2) => {
      const a = ptrWord(s1);
      const b = cString(env, ptrWord(s2), n);
      if (!b) return -Errno.EFAULT;
      const bytes = env.space.bytes;
      for (let i = 0; i < n; i++) {
        const c1 = bytes[a + i]!;
        const c2 = i < b.text.length ? b.text.charCodeAt(i) : 0;
        if (c1 !== c2) return c1 < c2 ? -1 : 1;
        if (c1 === 0) return 0;
      }
      return 0;
    }),
  },
  {
    id: 195,
    name: 'map_lookup_percpu_elem',
    proto: { ret: 'map_value_or_null', args: ['const_map_ptr', 'map_key', 'anything'] },
    ...onNumbers(['word', 'word', 'u32'], (env, map, key, cpu) => {
      const m = mapWord(env, map, 'map_lookup_percpu_elem');
      // A CPU past the last one has no value: NULL.
      return cpu < m.nCpus ? m.lookupPtr(ptrWord(key), cpu) : 0;
    }),
  },
];

const TAI_LEAP_SECONDS = 37n;
const TAI_BASE =
  BigInt(Math.round((Date.now() - (globalThis.performance?.now() ?? 0)) * 1e6)) +
  TAI_LEAP_SECONDS * 1_000_000_000n;
