// Trust of kernel struct pointers (the kernel's PTR_TRUSTED, MEM_RCU, PTR_UNTRUSTED), and the RCU read sections
// and references kfunc calls hold (./kfuncs.ts checks the calls). Trust lives in a kernel struct pointer's
// `size` (unused by those kinds): TRUSTED (0: a context argument the kernel trusts, an acquired or
// kfunc-returned pointer), RCU (read under RCU from a trusted pointer) or UNTRUSTED (walked from a pointer
// outside the kernel's safe lists, or an argument the kernel does not trust). access.ts types the pointers
// loads yield through walkedPointer.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import type { ProgramType } from '../spec/program-types.js';
import type { VerifierEnv } from './env.js';
import { ptrReg, type Reg } from './state.js';

/** Trust of a kernel struct pointer (held in its `size`). */
export const Trust = {
  TRUSTED: 0,
  RCU: 1,
  UNTRUSTED: 2,
  /** A per-CPU kernel variable's address (a typed ksym): not dereferenced, only passed to bpf_*_cpu_ptr. */
  PERCPU: 3,
} as const;

/** References that are RCU read locks (ids), and what every other kfunc reference holds, per verifier. */
export const held = new WeakMap<VerifierEnv, Map<number, string>>();
/** What `held` records for a reference that is an RCU read lock. */
export const RCU_LOCK = 'an RCU read lock';

/** The references kfunc calls took in verifier `v`, by id (made on first use). */
export function heldOf(v: VerifierEnv): Map<number, string> {
  let m = held.get(v);
  if (!m) {
    m = new Map();
    held.set(v, m);
  }
  return m;
}

/** Held RCU read locks on the current path. */
export function rcuLocks(v: VerifierEnv): number {
  const m = held.get(v);
  if (!m) return 0;
  return v.state.refs.filter((r) => m.get(r.id) === RCU_LOCK).length;
}

/** In an RCU read section: under bpf_rcu_read_lock, or anywhere in a non-sleepable program (the kernel's in_rcu_cs). */
export function inRcu(v: VerifierEnv, sleepable: boolean): boolean {
  return !sleepable || rcuLocks(v) > 0;
}

/**
 * The kernel's safe-pointer lists (BTF_TYPE_SAFE_TRUSTED / _RCU and their _OR_NULL forms): members whose
 * pointer, loaded from a trusted or RCU pointer, is trusted, or RCU-protected inside an RCU read section.
 */
const SAFE_TRUSTED: Record<string, readonly string[]> = {
  bpf_iter_meta: ['seq'],
  bpf_iter__task: ['meta', 'task'],
  linux_binprm: ['file'],
  file: ['f_inode'],
};
const SAFE_TRUSTED_OR_NULL: Record<string, readonly string[]> = {
  dentry: ['d_inode'],
  socket: ['sk'],
  vm_area_struct: ['vm_mm', 'vm_file'],
};
const SAFE_RCU: Record<string, readonly string[]> = {
  task_struct: ['cpus_ptr', 'cgroups', 'real_parent', 'group_leader'],
  cgroup: ['kn'],
  css_set: ['dfl_cgrp'],
  cgroup_subsys_state: ['cgroup'],
};
const SAFE_RCU_OR_NULL: Record<string, readonly string[]> = {
  mm_struct: ['exe_file'],
  sk_buff: ['sk'],
  request_sock: ['sk'],
};

/** The direct member of struct `id` that holds a pointer at byte `at`: its name and whether it is `__rcu`. */
function pointerMember(btf: Btf, id: number, at: number): { name: string; rcuTag: boolean } | undefined {
  const t = btf.resolve(id);
  if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return undefined;
  const m = t.members.find((x) => !x.bitSize && x.bitOffset === at * 8);
  if (!m) return undefined;
  let p = btf.type(m.type);
  for (let d = 0; d < 16 && p.kind !== Kind.PTR; d++) {
    if (p.kind !== Kind.TYPEDEF && p.kind !== Kind.CONST && p.kind !== Kind.VOLATILE) return undefined;
    p = btf.type(p.type);
  }
  if (p.kind !== Kind.PTR) return undefined;
  let rcuTag = false;
  let to = btf.type(p.type);
  for (let d = 0; d < 16 && to.kind === Kind.TYPE_TAG; d++) {
    if (to.name === 'rcu') rcuTag = true;
    to = btf.type(to.type);
  }
  return { name: m.name, rcuTag };
}

/**
 * The pointer a load of the member at byte `at` of `from` (a kernel struct pointer) yields, a struct
 * `struct` (the kernel's check_ptr_to_btf_access flags: trusted, RCU, maybe NULL, or untrusted).
 */
export function walkedPointer(
  v: VerifierEnv,
  from: Reg,
  at: number,
  struct: number,
  sleepable: boolean,
): Reg {
  const untrusted = ptrReg('btf_ptr', { btf: struct, size: Trust.UNTRUSTED });
  const btf = v.kernelBtf;
  if (!btf || from.size === Trust.UNTRUSTED) return untrusted;
  const owner = btf.resolve(from.btf).name;
  const m = pointerMember(btf, from.btf, at);
  if (!m) return untrusted;
  const listed = (l: Record<string, readonly string[]>) => l[owner]?.includes(m.name) ?? false;
  if (listed(SAFE_TRUSTED)) return ptrReg('btf_ptr', { btf: struct, size: Trust.TRUSTED });
  if (listed(SAFE_TRUSTED_OR_NULL))
    return ptrReg('btf_ptr_or_null', { btf: struct, size: Trust.TRUSTED, id: v.newId() });
  if (!inRcu(v, sleepable) || from.kind !== 'btf_ptr') return untrusted;
  if (listed(SAFE_RCU)) return ptrReg('btf_ptr', { btf: struct, size: Trust.RCU });
  if (m.rcuTag || listed(SAFE_RCU_OR_NULL) || from.size === Trust.RCU)
    return ptrReg('btf_ptr_or_null', { btf: struct, size: Trust.RCU, id: v.newId() });
  return untrusted;
}

/**
 * Does the kernel trust a BTF-typed context argument of this program type (prog_args_trusted)? tp_btf and
 * iterator programs, lsm hooks and struct_ops; fentry/fexit arguments are not trusted.
 */
export function argsTrusted(type: ProgramType): boolean {
  if (type.name === 'lsm' || type.name === 'struct_ops') return true;
  return type.name === 'tracing' && (type.attachType === 'trace_raw_tp' || type.attachType === 'trace_iter');
}
