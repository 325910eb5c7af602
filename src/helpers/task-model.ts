// The current task as kernel memory: get_current_task(_btf) returns the address of a task_struct laid out
// as a BTF describes it (the target kernel's, or any BTF with `struct task_struct` and `struct cred`), with
// the task model's values at their offsets: pid, tgid, comm, the parent's task_struct (real_parent, parent:
// pid ppid), group_leader (itself), and cred/real_cred pointing to a cred with uid/gid/euid/egid. Programs
// read it as they read the kernel's, through probe_read_kernel or BPF_CORE_READ. Without a layout the
// default is the reference machine's kernel's (test/helpers/task.test.ts derives it again from its
// /sys/kernel/btf/vmlinux when it runs there).

import { type Btf, Kind } from '../btf/index.js';
import type { Region } from '../memory/address-space.js';
import {
  CRED_FIELD_NAMES,
  type FieldAt,
  type HelperEnv,
  TASK_FIELD_NAMES,
  type TaskLayout,
  type TaskModel,
} from './types.js';

/** task_struct fields the model fills. */
export const TASK_FIELDS = TASK_FIELD_NAMES;
/** cred fields the model fills (kuid_t/kgid_t: a u32 each). */
export const CRED_FIELDS = CRED_FIELD_NAMES;

/** The reference machine's kernel (x86-64 Linux 6.18.44), from its /sys/kernel/btf/vmlinux. */
export const DEFAULT_TASK_LAYOUT: TaskLayout = {
  taskSize: 3264,
  credSize: 184,
  task: {
    pid: { offset: 1264, size: 4 },
    tgid: { offset: 1268, size: 4 },
    comm: { offset: 1752, size: 16 },
    real_parent: { offset: 1280, size: 8 },
    parent: { offset: 1288, size: 8 },
    group_leader: { offset: 1328, size: 8 },
    real_cred: { offset: 1728, size: 8 },
    cred: { offset: 1736, size: 8 },
  },
  cred: {
    uid: { offset: 8, size: 4 },
    gid: { offset: 12, size: 4 },
    suid: { offset: 16, size: 4 },
    sgid: { offset: 20, size: 4 },
    euid: { offset: 24, size: 4 },
    egid: { offset: 28, size: 4 },
    fsuid: { offset: 32, size: 4 },
    fsgid: { offset: 36, size: 4 },
  },
};

/** Room for struct pt_regs (168 bytes on x86-64, less elsewhere), zeroed. */
const PT_REGS_BYTES = 4096;
/** The least room given each modelled struct. */
const MIN_STRUCT_BYTES = 16384;

/** A member's byte offset and size in struct `id`, looking into anonymous structs and unions. */
function findMember(btf: Btf, id: number, name: string, base = 0, depth = 0): FieldAt | undefined {
  const t = btf.resolve(id);
  if ((t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) || depth > 8) return undefined;
  for (const m of t.members) {
    const at = base + Math.floor(m.bitOffset / 8);
    if (m.name === name)
      return { offset: at, size: m.bitSize ? Math.ceil(m.bitSize / 8) : btf.sizeof(m.type) };
    if (m.name === '') {
      const inner = findMember(btf, m.type, name, at, depth + 1);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The first complete struct called `name`. */
function structOf(btf: Btf, name: string): { id: number; size: number } | undefined {
  const t = btf.types.find((x) => x.kind === Kind.STRUCT && x.name === name && x.size > 0);
  return t && t.kind === Kind.STRUCT ? { id: t.id, size: t.size } : undefined;
}

/**
 * The task layout a BTF gives: the fields of task_struct and cred it has (a program's own BTF may hold only
 * the few it reads); undefined without a complete `struct task_struct`.
 */
export function taskLayout(btf: Btf): TaskLayout | undefined {
  const task = structOf(btf, 'task_struct');
  if (!task) return undefined;
  const cred = structOf(btf, 'cred');
  const layout: TaskLayout = { taskSize: task.size, credSize: cred?.size ?? 0, task: {}, cred: {} };
  for (const f of TASK_FIELDS) {
    const at = findMember(btf, task.id, f);
    if (at) layout.task[f] = at;
  }
  if (cred) {
    for (const f of CRED_FIELDS) {
      const at = findMember(btf, cred.id, f);
      if (at) layout.cred[f] = at;
    }
  }
  return layout;
}

interface TaskRegions {
  layout: TaskLayout;
  task: Region;
  parent: Region;
  cred: Region;
  /** The task's user registers (struct pt_regs, task_pt_regs): zero, no user context is modelled. */
  regs: Region;
}

const regions = new WeakMap<object, TaskRegions>();

function write(env: HelperEnv, base: number, at: FieldAt | undefined, value: number | bigint | string): void {
  if (!at) return;
  const v = env.space.view;
  if (typeof value === 'string') {
    // comm: at most size-1 bytes and a NUL, zero padded (TASK_COMM_LEN).
    env.space.bytes.fill(0, base + at.offset, base + at.offset + at.size);
    for (let i = 0; i < Math.min(value.length, at.size - 1); i++)
      env.space.bytes[base + at.offset + i] = value.charCodeAt(i) & 0xff;
  } else if (at.size === 8) v.setBigUint64(base + at.offset, BigInt(value), true);
  else if (at.size === 4) v.setUint32(base + at.offset, Number(value) >>> 0, true);
}

/** Fill a task_struct at `base` with `task`'s values; `parent` and `cred` are addresses (0: none). */
function fillTask(
  env: HelperEnv,
  l: TaskLayout,
  base: number,
  task: TaskModel,
  parent: number,
  cred: number,
) {
  write(env, base, l.task.pid, task.pid);
  write(env, base, l.task.tgid, task.tgid);
  write(env, base, l.task.comm, task.comm);
  write(env, base, l.task.real_parent, parent);
  write(env, base, l.task.parent, parent);
  write(env, base, l.task.group_leader, base);
  write(env, base, l.task.cred, cred);
  write(env, base, l.task.real_cred, cred);
}

/**
 * The address of the current task's task_struct in the runtime's memory (one per address space; its
 * contents follow the task model at every call). Read-only memory, as the kernel's is to programs.
 */
export function currentTask(env: HelperEnv): number {
  const layout = env.task.layout ?? DEFAULT_TASK_LAYOUT;
  let r = regions.get(env.space);
  if (!r || r.layout !== layout) {
    if (r) for (const x of [r.task, r.parent, r.cred, r.regs]) env.space.release(x);
    // At least 16 KiB: a verified program reads a BTF-typed task within the struct the verifier's BTF
    // gives, which may be a larger kernel's than the layout's.
    const size = (n: number) => Math.max(MIN_STRUCT_BYTES, n);
    r = {
      layout,
      task: env.space.allocate(size(layout.taskSize), 'rodata', 'the current task_struct', false),
      parent: env.space.allocate(size(layout.taskSize), 'rodata', "the current task's parent", false),
      cred: env.space.allocate(size(layout.credSize), 'rodata', "the current task's cred", false),
      regs: env.space.allocate(PT_REGS_BYTES, 'rodata', "the current task's pt_regs", false),
    };
    regions.set(env.space, r);
  }
  const t = env.task;
  fillTask(env, layout, r.task.start, t, r.parent.start, r.cred.start);
  const ppid = t.ppid ?? 1;
  fillTask(
    env,
    layout,
    r.parent.start,
    { ...t, pid: ppid, tgid: ppid, comm: t.parentComm ?? 'init' },
    0,
    r.cred.start,
  );
  const c = r.cred.start;
  for (const f of ['uid', 'euid', 'suid', 'fsuid'] as const) write(env, c, layout.cred[f], t.uid);
  for (const f of ['gid', 'egid', 'sgid', 'fsgid'] as const) write(env, c, layout.cred[f], t.gid);
  return r.task.start;
}

/** task_pt_regs: the current task's user registers (the only task here is the current one). */
export function currentTaskRegs(env: HelperEnv): number {
  currentTask(env);
  return regions.get(env.space)!.regs.start;
}
