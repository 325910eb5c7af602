// What a kfunc is: a kernel function a program calls by BTF id (a `.ksyms` extern function), with the
// kernel's flags (the BTF_ID_FLAGS of its kfunc set), a prototype the verifier checks calls against, the
// program types whose kfunc sets hold it, and, where user space can give one, an implementation the engines
// call as they call helpers (./registry.ts gives kfuncs a helper number space of their own).

import type { HelperImpl } from '../helpers/types.js';

/** The kernel's kfunc flags (include/linux/btf.h KF_*), as BTF_ID_FLAGS sets give them. */
export const KF = {
  /** Returns a referenced pointer: released by a KF_RELEASE kfunc (or moved into a map kptr) on every path. */
  ACQUIRE: 1 << 0,
  /** Releases the reference its (first) pointer argument holds. */
  RELEASE: 1 << 1,
  /** May return NULL: the result must be checked before use. */
  RET_NULL: 1 << 2,
  /** Pointer arguments must be trusted (a referenced pointer, a trusted context argument …). */
  TRUSTED_ARGS: 1 << 4,
  /** May sleep: sleepable programs only. */
  SLEEPABLE: 1 << 5,
  /** Changes the kernel's state destructively (CAP_SYS_BOOT). */
  DESTRUCTIVE: 1 << 6,
  /** Pointer arguments trusted or RCU-protected (read under bpf_rcu_read_lock). */
  RCU: 1 << 7,
  ITER_NEW: 1 << 8,
  ITER_NEXT: 1 << 9,
  ITER_DESTROY: 1 << 10,
  /** Only inside an RCU read section. */
  RCU_PROTECTED: 1 << 11,
} as const;

/**
 * An argument: a number (`scalar`), a known constant (`const`, the kernel's `__k` suffix), an argument the
 * kernel ignores (`ign`, `__ign`: a verifier-filled slot), a pointer to a kernel struct (`btf`, `struct`
 * named as in vmlinux), or an object from bpf_obj_new (`obj`, a program-local type).
 */
export type KfuncArg =
  | { kind: 'scalar' }
  | { kind: 'const' }
  | { kind: 'ign' }
  | { kind: 'btf'; struct: string }
  | { kind: 'obj' }
  // The program's unmodified context (bpf_dynptr_from_skb's __sk_buff, from_xdp's xdp_md).
  | { kind: 'ctx' }
  // An initialised dynptr; a stack slot the kfunc makes one in (`__uninit`).
  | { kind: 'dynptr' }
  | { kind: 'dynptr_uninit' }
  // `buffer__opt`: NULL or writable memory of the size the next argument gives; `__szk`: that size, a constant.
  | { kind: 'buffer_opt' }
  | { kind: 'szk' }
  // An initialised open-coded iterator (struct bpf_iter_num); a stack slot its _new kfunc makes one in.
  | { kind: 'iter' }
  | { kind: 'iter_uninit' };

/** The result: nothing, a number, a pointer to a kernel struct, or a bpf_obj_new object. */
export type KfuncRet =
  | { kind: 'void' }
  | { kind: 'scalar' }
  | { kind: 'btf'; struct: string }
  | { kind: 'obj' }
  // bpf_dynptr_slice(_rdwr): `__szk` bytes of the dynptr's data (writable when `rdwr`).
  | { kind: 'slice'; rdwr: boolean }
  // An iterator's next element: a read-only `int *`, or NULL once the iterator is drained.
  | { kind: 'iter_next' };

/** One kfunc. */
export interface KfuncDef {
  /** The kernel function's name (`bpf_task_acquire`). */
  readonly name: string;
  /** KF_* flags. */
  readonly flags: number;
  readonly args: readonly KfuncArg[];
  readonly ret: KfuncRet;
  /** Program types (spec names) whose kfunc sets hold it; undefined: every type (the kernel's UNSPEC set). */
  readonly programTypes?: readonly string[];
  /**
   * Why the reference kernel refuses every call of it, when it does (bpf_dynptr_slice_rdwr on 6.18: "… is
   * not allowed" in every program type); the verifier refuses it the same way.
   */
  readonly refused?: string;
  /** User-space semantics (arguments r1..r5, result r0), where there are any. */
  readonly call?: HelperImpl;
}
