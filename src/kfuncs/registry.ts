// The one kfunc registry, read by the ELF reader (which calls are kfuncs), the verifier (prototypes, flags,
// program types), the engines (implementations) and the kernel back end (names it resolves to BTF ids).
// Flags and program types are the kernel's (6.18: the BTF_ID_FLAGS of kernel/bpf/helpers.c's generic and
// common sets, kernel/bpf/cpumask.c's set and net/core/filter.c's skb and xdp sets, and the program types
// each set is registered for);
// prototypes are vmlinux's, checked against its BTF by test/kfuncs/registry.test.ts.
//
// Engines call kfuncs through the helper call path: a kfunc has a helper id of its own, KFUNC_ID_BASE plus
// its index here (kfuncHelper), so the interpreter and the JIT need no second call path.

import type { HelperDef } from '../helpers/types.js';
import { KFUNC_IMPLS } from './impl.js';
import { KF, type KfuncArg, type KfuncDef, type KfuncRet } from './types.js';

/** Program types of the kernel's generic kfunc set (tasks, cgroups, bpf_obj_new …). */
const GENERIC = ['tracing', 'sched_cls', 'xdp', 'struct_ops', 'syscall', 'cgroup_skb'] as const;
/** Program types of the cpumask kfunc set. */
const CPUMASK = ['tracing', 'lsm', 'struct_ops', 'syscall'] as const;

const btf = (struct: string): KfuncArg => ({ kind: 'btf', struct });
const SCALAR: KfuncArg = { kind: 'scalar' };
const VOID: KfuncRet = { kind: 'void' };
const NUM: KfuncRet = { kind: 'scalar' };
const retBtf = (struct: string): KfuncRet => ({ kind: 'btf', struct });
/** Program types whose kfunc sets hold bpf_dynptr_from_skb (the kernel's skb kfunc set, and syscall's). */
const SKB_TYPES = [
  'sched_cls',
  'sched_act',
  'sk_skb',
  'socket_filter',
  'cgroup_skb',
  'lwt_out',
  'lwt_in',
  'lwt_xmit',
  'lwt_seg6local',
  'netfilter',
  'syscall',
] as const;
const CTX: KfuncArg = { kind: 'ctx' };
const DYN: KfuncArg = { kind: 'dynptr' };
const DYN_UNINIT: KfuncArg = { kind: 'dynptr_uninit' };
const SLICE_ARGS: KfuncArg[] = [DYN, SCALAR, { kind: 'buffer_opt' }, { kind: 'szk' }];
const MASK = btf('cpumask');
const BPF_MASK = btf('bpf_cpumask');

type Entry = [name: string, flags: number, args: KfuncArg[], ret: KfuncRet, types?: readonly string[]];

const ENTRIES: Entry[] = [
  ['bpf_rcu_read_lock', 0, [], VOID],
  ['bpf_rcu_read_unlock', 0, [], VOID],
  [
    'bpf_task_acquire',
    KF.ACQUIRE | KF.RCU | KF.RET_NULL,
    [btf('task_struct')],
    retBtf('task_struct'),
    GENERIC,
  ],
  ['bpf_task_release', KF.RELEASE, [btf('task_struct')], VOID, GENERIC],
  ['bpf_task_from_pid', KF.ACQUIRE | KF.RET_NULL, [SCALAR], retBtf('task_struct'), GENERIC],
  ['bpf_cgroup_acquire', KF.ACQUIRE | KF.RCU | KF.RET_NULL, [btf('cgroup')], retBtf('cgroup'), GENERIC],
  ['bpf_cgroup_release', KF.RELEASE, [btf('cgroup')], VOID, GENERIC],
  ['bpf_task_from_vpid', KF.ACQUIRE | KF.RET_NULL, [SCALAR], retBtf('task_struct'), GENERIC],
  ['bpf_cgroup_from_id', KF.ACQUIRE | KF.RET_NULL, [SCALAR], retBtf('cgroup'), GENERIC],
  [
    'bpf_cgroup_ancestor',
    KF.ACQUIRE | KF.RCU | KF.RET_NULL,
    [btf('cgroup'), SCALAR],
    retBtf('cgroup'),
    GENERIC,
  ],
  ['bpf_task_under_cgroup', KF.RCU, [btf('task_struct'), btf('cgroup')], NUM, GENERIC],
  [
    'bpf_obj_new_impl',
    KF.ACQUIRE | KF.RET_NULL,
    [{ kind: 'const' }, { kind: 'ign' }],
    { kind: 'obj' },
    GENERIC,
  ],
  ['bpf_obj_drop_impl', KF.RELEASE, [{ kind: 'obj' }, { kind: 'ign' }], VOID, GENERIC],
  ['bpf_cpumask_create', KF.ACQUIRE | KF.RET_NULL, [], retBtf('bpf_cpumask'), CPUMASK],
  ['bpf_cpumask_release', KF.RELEASE, [BPF_MASK], VOID, CPUMASK],
  ['bpf_cpumask_acquire', KF.ACQUIRE | KF.TRUSTED_ARGS, [BPF_MASK], retBtf('bpf_cpumask'), CPUMASK],
  ['bpf_cpumask_first', KF.RCU, [MASK], NUM, CPUMASK],
  ['bpf_cpumask_first_zero', KF.RCU, [MASK], NUM, CPUMASK],
  ['bpf_cpumask_first_and', KF.RCU, [MASK, MASK], NUM, CPUMASK],
  ['bpf_cpumask_set_cpu', KF.RCU, [SCALAR, BPF_MASK], VOID, CPUMASK],
  ['bpf_cpumask_clear_cpu', KF.RCU, [SCALAR, BPF_MASK], VOID, CPUMASK],
  ['bpf_cpumask_test_cpu', KF.RCU, [SCALAR, MASK], NUM, CPUMASK],
  ['bpf_cpumask_test_and_set_cpu', KF.RCU, [SCALAR, BPF_MASK], NUM, CPUMASK],
  ['bpf_cpumask_test_and_clear_cpu', KF.RCU, [SCALAR, BPF_MASK], NUM, CPUMASK],
  ['bpf_cpumask_setall', KF.RCU, [BPF_MASK], VOID, CPUMASK],
  ['bpf_cpumask_clear', KF.RCU, [BPF_MASK], VOID, CPUMASK],
  ['bpf_cpumask_and', KF.RCU, [BPF_MASK, MASK, MASK], NUM, CPUMASK],
  ['bpf_cpumask_or', KF.RCU, [BPF_MASK, MASK, MASK], VOID, CPUMASK],
  ['bpf_cpumask_xor', KF.RCU, [BPF_MASK, MASK, MASK], VOID, CPUMASK],
  ['bpf_cpumask_equal', KF.RCU, [MASK, MASK], NUM, CPUMASK],
  ['bpf_cpumask_intersects', KF.RCU, [MASK, MASK], NUM, CPUMASK],
  ['bpf_cpumask_subset', KF.RCU, [MASK, MASK], NUM, CPUMASK],
  ['bpf_cpumask_empty', KF.RCU, [MASK], NUM, CPUMASK],
  ['bpf_cpumask_full', KF.RCU, [MASK], NUM, CPUMASK],
  ['bpf_cpumask_copy', KF.RCU, [BPF_MASK, MASK], VOID, CPUMASK],
  ['bpf_cpumask_weight', KF.RCU, [MASK], NUM, CPUMASK],
  ['bpf_dynptr_from_skb', 0, [CTX, SCALAR, DYN_UNINIT], NUM, SKB_TYPES],
  ['bpf_dynptr_from_xdp', 0, [CTX, SCALAR, DYN_UNINIT], NUM, ['xdp', 'syscall']],
  ['bpf_dynptr_slice', KF.RET_NULL, SLICE_ARGS, { kind: 'slice', rdwr: false }],
  ['bpf_dynptr_slice_rdwr', KF.RET_NULL, SLICE_ARGS, { kind: 'slice', rdwr: true }],
  ['bpf_dynptr_adjust', 0, [DYN, SCALAR, SCALAR], NUM],
  ['bpf_dynptr_is_null', 0, [DYN], NUM],
  ['bpf_dynptr_is_rdonly', 0, [DYN], NUM],
  ['bpf_dynptr_size', 0, [DYN], NUM],
  ['bpf_dynptr_clone', 0, [DYN, DYN_UNINIT], NUM],
  // Open-coded iterators: the kernel's common kfunc set, every program type.
  ['bpf_iter_num_new', KF.ITER_NEW, [{ kind: 'iter_uninit' }, SCALAR, SCALAR], NUM],
  ['bpf_iter_num_next', KF.ITER_NEXT | KF.RET_NULL, [{ kind: 'iter' }], { kind: 'iter_next' }],
  ['bpf_iter_num_destroy', KF.ITER_DESTROY, [{ kind: 'iter' }], VOID],
];

/**
 * Kfuncs the reference kernel (6.18) refuses once their arguments check out, in every program type, and its
 * words (test/kfuncs/verdicts.test.ts: fixtures r_slice_rdwr*.c).
 */
const REFUSED: Record<string, string> = {
  bpf_dynptr_slice_rdwr: 'bpf_dynptr_slice_rdwr() is not allowed',
};

/** Every kfunc, in a fixed order (an index is its place in the helper number space). */
export const KFUNCS: readonly KfuncDef[] = ENTRIES.map(([name, flags, args, ret, programTypes]) => {
  const d: { -readonly [K in keyof KfuncDef]: KfuncDef[K] } = { name, flags, args, ret };
  if (programTypes) d.programTypes = programTypes;
  const refused = REFUSED[name];
  if (refused) d.refused = refused;
  const call = KFUNC_IMPLS[name];
  if (call) d.call = call;
  return d;
});

const BY_NAME = new Map(KFUNCS.map((k, i) => [k.name, i]));

/** The kfunc called `name`, if the registry has it. */
export function kfuncByName(name: string): KfuncDef | undefined {
  const i = BY_NAME.get(name);
  return i === undefined ? undefined : KFUNCS[i];
}

/** May a program of type `type` (a spec name) call `k`? */
export function kfuncAllowed(type: string, k: KfuncDef): boolean {
  return !k.programTypes || k.programTypes.includes(type);
}

/**
 * Where kfuncs start in the helper number space the engines use: far above every kernel helper id (about
 * 220) and below 2^31 (a callx register holds a helper id as a positive 32-bit number).
 */
export const KFUNC_ID_BASE = 0x100000;

const AS_HELPER = new Map<number, HelperDef>();

/** The helper id the engines call kfunc `name` by, or undefined when it has no user-space implementation. */
export function kfuncHelperId(name: string): number | undefined {
  const i = BY_NAME.get(name);
  return i === undefined || !KFUNCS[i]!.call ? undefined : KFUNC_ID_BASE + i;
}

/**
 * The kfunc with helper id `id` as a helper the engines can call (its arguments all `anything`: calls were
 * checked by the verifier against the kfunc's own prototype), or undefined.
 */
export function kfuncHelper(id: number): HelperDef | undefined {
  let h = AS_HELPER.get(id);
  if (h) return h;
  const k = KFUNCS[id - KFUNC_ID_BASE];
  if (!k?.call) return undefined;
  h = {
    id,
    name: k.name,
    proto: { ret: k.ret.kind === 'void' ? 'void' : 'integer', args: k.args.map(() => 'anything' as const) },
    call: k.call,
  };
  AS_HELPER.set(id, h);
  return h;
}
