// User-space semantics of the kfuncs that have them. The RCU read lock is a no-op whose nesting is counted
// per run; tasks and cgroups are the modelled ones (../helpers/task-model.ts), whose lifetime is the
// runtime's, so acquiring one takes nothing; cpumasks are allocated in the address space (a bpf_cpumask:
// the mask, then its reference count), counted per address space against a bound, and freed when their last
// reference is released; dynptrs over the run's packet use the helpers' dynptr layout (../helpers/dynptr.ts);
// a numeric iterator (struct bpf_iter_num, 8 bytes on the program's stack) holds the kernel's two ints: the
// current number (start - 1 before the first next) and the end, both 0 once drained or refused;
// bpf_obj_new objects are zeroed regions of their struct's size (the object's BTF, registered by the loader
// with registerLocalTypes), counted with the cpumasks, freed by bpf_obj_drop.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { DYNPTR_MAX_SIZE, DynptrType, readDynptr, writeDynptr } from '../helpers/dynptr.js';
import { currentTask } from '../helpers/task-model.js';
import type { HelperEnv, HelperImpl, Invocation } from '../helpers/types.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { programTypeByName } from '../spec/program-types.js';

/** Bits of a cpumask_t (the kernel's NR_CPUS on x86-64 distributions: 8192), and its bytes. */
export const CPUMASK_BITS = 8192;
const MASK_BYTES = CPUMASK_BITS / 8;
/** struct bpf_cpumask: the mask, then refcount_t usage (4 bytes, padded to 8). */
export const BPF_CPUMASK_BYTES = MASK_BYTES + 8;

/** Live kfunc objects (cpumasks) one address space may hold at once: a program that never frees is bounded. */
export const MAX_KFUNC_OBJECTS = 4096;

/** RCU read-lock nesting per run. */
const rcuDepth = new WeakMap<Invocation, number>();
/** Live cpumasks per address space, by address. */
const objects = new WeakMap<AddressSpace, Map<number, Region>>();

/** Signal a misuse the verifier refuses (an engine turns it into a fault at the call). */
function fail(name: string, why: string): never {
  throw new Error(`${name}: ${why}`);
}

const addr = (v: bigint) => Number(BigInt.asUintN(32, v));

function live(env: HelperEnv): Map<number, Region> {
  let m = objects.get(env.space);
  if (!m) {
    m = new Map();
    objects.set(env.space, m);
  }
  return m;
}

/** nr_cpu_ids: the CPUs the runtime simulates (at most the mask's bits). */
const nrCpus = (env: HelperEnv) => Math.min(CPUMASK_BITS, Math.max(1, env.cpus ?? 1));

/** The bytes of a cpumask argument (a bpf_cpumask or any cpumask_t the program can reach). */
function maskAt(env: HelperEnv, p: bigint, name: string, write: boolean): number {
  const a = addr(p);
  const r = env.space.regionAt(a, MASK_BYTES);
  if (a === 0 || !r || r.end - a < MASK_BYTES) fail(name, `no cpumask at 0x${a.toString(16)}`);
  if (write && !live(env).has(a)) fail(name, `0x${a.toString(16)} is not a bpf_cpumask`);
  return a;
}

const bit = (env: HelperEnv, m: number, cpu: number) => (env.space.bytes[m + (cpu >> 3)]! >> (cpu & 7)) & 1;
function setBit(env: HelperEnv, m: number, cpu: number, on: boolean): void {
  const b = env.space.bytes;
  if (on) b[m + (cpu >> 3)]! |= 1 << (cpu & 7);
  else b[m + (cpu >> 3)]! &= ~(1 << (cpu & 7));
}

/** The first CPU below nr_cpu_ids where `test` holds, or nr_cpu_ids (the kernel's "none"). */
function first(env: HelperEnv, test: (cpu: number) => boolean): bigint {
  const n = nrCpus(env);
  for (let c = 0; c < n; c++) if (test(c)) return BigInt(c);
  return BigInt(n);
}

const refcount = (env: HelperEnv, m: number) => env.space.view.getUint32(m + MASK_BYTES, true);
const setRefcount = (env: HelperEnv, m: number, n: number) =>
  env.space.view.setUint32(m + MASK_BYTES, n, true);

function cpumaskCreate(env: HelperEnv): bigint {
  const m = live(env);
  if (m.size >= MAX_KFUNC_OBJECTS) return 0n; // the kernel's allocator failing: NULL
  const r = env.space.allocate(BPF_CPUMASK_BYTES, 'scratch', 'a bpf_cpumask');
  m.set(r.start, r);
  setRefcount(env, r.start, 1);
  return BigInt(r.start);
}

function cpumaskRelease(env: HelperEnv, p: bigint): bigint {
  const a = maskAt(env, p, 'bpf_cpumask_release', true);
  const n = refcount(env, a) - 1;
  setRefcount(env, a, n);
  if (n <= 0) {
    env.space.release(live(env).get(a)!);
    live(env).delete(a);
  }
  return 0n;
}

function cpumaskAcquire(env: HelperEnv, p: bigint): bigint {
  const a = maskAt(env, p, 'bpf_cpumask_acquire', true);
  setRefcount(env, a, refcount(env, a) + 1);
  return BigInt(a);
}

/** A cpu argument (u32) when it names a CPU below nr_cpu_ids (the kernel's cpu_valid), else -1. */
const cpuArg = (env: HelperEnv, v: bigint) => {
  const c = Number(BigInt.asUintN(32, v));
  return c < nrCpus(env) ? c : -1;
};

/** dst = f(a, b) bit by bit over nr_cpu_ids; returns whether any bit is set. */
function combine(
  env: HelperEnv,
  d: number,
  a: number,
  b: number,
  f: (x: number, y: number) => number,
): boolean {
  let any = false;
  for (let c = 0; c < nrCpus(env); c++) {
    const on = f(bit(env, a, c), bit(env, b, c)) === 1;
    setBit(env, d, c, on);
    any ||= on;
  }
  return any;
}

/** Whether `test` holds for every CPU below nr_cpu_ids. */
function every(env: HelperEnv, test: (cpu: number) => boolean): bigint {
  for (let c = 0; c < nrCpus(env); c++) if (!test(c)) return 0n;
  return 1n;
}

const B = (x: boolean) => (x ? 1n : 0n);

/**
 * bpf_dynptr_from_skb / from_xdp: a dynptr over the run's packet (linear here: the skb's or frame's bytes,
 * data to end), read-only for an skb where the program type may not write packet data, as the kernel makes
 * it. Unknown flags: -EINVAL and a NULL dynptr.
 */
function packetDynptr(env: HelperEnv, name: string, flags: bigint, at: bigint, type: number): bigint {
  const ptr = addr(at);
  if (flags !== 0n) {
    writeDynptr(env, ptr, 0, 0, 0);
    env.space.bytes.fill(0, ptr, ptr + 16);
    return BigInt(-Errno.EINVAL);
  }
  const pkt = env.invocation.packet;
  if (!pkt) fail(name, 'the run has no packet');
  const rdonly = type === DynptrType.SKB && !programTypeByName(env.invocation.programType)?.directPacketWrite;
  writeDynptr(env, ptr, pkt.start, type, Math.min(pkt.end - pkt.start, DYNPTR_MAX_SIZE), rdonly);
  return 0n;
}

/** bpf_dynptr_slice(_rdwr): the address of `len` bytes at `off` of the dynptr's data, or NULL (0). */
function slice(env: HelperEnv, p: bigint, off: bigint, len: bigint, rdwr: boolean): bigint {
  const d = readDynptr(env, addr(p));
  if (!d || (rdwr && d.rdonly)) return 0n;
  const [o, n] = [Number(BigInt.asUintN(32, off)), Number(BigInt.asUintN(32, len))];
  if (o > d.size || n > d.size - o) return 0n;
  return BigInt(d.data + d.offset + o);
}

const E_INVAL = BigInt(-Errno.EINVAL);

/** Implementations by kfunc name. */
/**
 * Sizes of program-local structs by BTF type id, per address space: what bpf_obj_new_impl allocates for
 * the type id its program passes. -1: objects loaded in one space disagree on the id (refused at the call).
 */
const localTypes = new WeakMap<AddressSpace, Map<number, number>>();

/** Make the structs of an object's BTF allocatable by bpf_obj_new in `space` (called when it is loaded). */
export function registerLocalTypes(space: AddressSpace, btf: Btf): void {
  let m = localTypes.get(space);
  if (!m) {
    m = new Map();
    localTypes.set(space, m);
  }
  btf.types.forEach((t, id) => {
    if (t?.kind !== Kind.STRUCT) return;
    const had = m.get(id);
    m.set(id, had === undefined || had === t.size ? t.size : -1);
  });
}

function objNew(env: HelperEnv, typeId: bigint): bigint {
  const id = Number(BigInt.asUintN(32, typeId));
  const size = localTypes.get(env.space)?.get(id);
  if (size === undefined) fail('bpf_obj_new_impl', `type ${id} is no struct of a loaded object's BTF`);
  if (size < 0)
    fail('bpf_obj_new_impl', `type ${id} names structs of different sizes in two objects loaded here`);
  const m = live(env);
  if (m.size >= MAX_KFUNC_OBJECTS) return 0n; // the kernel's allocator failing: NULL
  const r = env.space.allocate(Math.max(size, 1), 'scratch', `a bpf_obj_new object (type ${id})`);
  env.space.bytes.fill(0, r.start, r.start + Math.max(size, 1));
  m.set(r.start, r);
  return BigInt(r.start);
}

function objDrop(env: HelperEnv, p: bigint): bigint {
  const a = addr(p);
  const r = live(env).get(a);
  if (!r) fail('bpf_obj_drop_impl', `0x${a.toString(16)} is not an object from bpf_obj_new`);
  env.space.release(r);
  live(env).delete(a);
  return 0n;
}

/** The kernel's bound on an iterator's range (BPF_MAX_LOOPS, as for bpf_loop). */
const ITER_MAX = 8 * 1024 * 1024;

/** The 8 bytes of the iterator at `p` (program memory, checked). */
function iterAt(env: HelperEnv, p: bigint, name: string): number {
  const a = addr(p);
  const r = env.space.regionAt(a, 8);
  if (a === 0 || !r?.writable) fail(name, `no iterator at 0x${a.toString(16)}`);
  return a;
}

function setIter(env: HelperEnv, a: number, cur: number, end: number): void {
  env.space.view.setInt32(a, cur, true);
  env.space.view.setInt32(a + 4, end, true);
}

export const KFUNC_IMPLS: Readonly<Record<string, HelperImpl>> = {
  bpf_obj_new_impl: (env, id) => objNew(env, id),
  bpf_obj_drop_impl: (env, p) => objDrop(env, p),
  bpf_iter_num_new: (env, p, start, end) => {
    const a = iterAt(env, p, 'bpf_iter_num_new');
    const [s, e] = [Number(BigInt.asIntN(32, start)), Number(BigInt.asIntN(32, end))];
    // An empty range is fine (the first next gives NULL); a reversed or too long one is refused.
    const err = s > e ? Errno.EINVAL : e - s > ITER_MAX ? Errno.E2BIG : 0;
    if (err) {
      setIter(env, a, 0, 0);
      return BigInt(-err);
    }
    // next increments before it hands out the number.
    setIter(env, a, s - 1, e);
    return 0n;
  },
  bpf_iter_num_next: (env, p) => {
    const a = iterAt(env, p, 'bpf_iter_num_next');
    // int arithmetic: start INT_MIN was stored as INT_MAX (start - 1 wrapped), whose next number is INT_MIN.
    const next = (env.space.view.getInt32(a, true) + 1) | 0;
    if (next >= env.space.view.getInt32(a + 4, true)) {
      setIter(env, a, 0, 0);
      return 0n;
    }
    env.space.view.setInt32(a, next, true);
    return BigInt(a);
  },
  bpf_iter_num_destroy: (env, p) => {
    env.space.view.setInt32(iterAt(env, p, 'bpf_iter_num_destroy') + 4, 0, true);
    return 0n;
  },
  bpf_dynptr_from_skb: (env, _ctx, flags, p) =>
    packetDynptr(env, 'bpf_dynptr_from_skb', flags, p, DynptrType.SKB),
  bpf_dynptr_from_xdp: (env, _ctx, flags, p) =>
    packetDynptr(env, 'bpf_dynptr_from_xdp', flags, p, DynptrType.XDP),
  bpf_dynptr_slice: (env, p, off, _buf, len) => slice(env, p, off, len, false),
  bpf_dynptr_slice_rdwr: (env, p, off, _buf, len) => slice(env, p, off, len, true),
  bpf_dynptr_adjust: (env, p, start, end) => {
    const at = addr(p);
    const d = readDynptr(env, at);
    if (!d) return E_INVAL;
    const [s, e] = [Number(BigInt.asUintN(32, start)), Number(BigInt.asUintN(32, end))];
    if (s > e) return E_INVAL;
    if (s > d.size || e > d.size) return BigInt(-Errno.ERANGE);
    const v = env.space.view;
    v.setUint32(at + 8, ((v.getUint32(at + 8, true) & ~DYNPTR_MAX_SIZE) | (e - s)) >>> 0, true);
    v.setUint32(at + 12, d.offset + s, true);
    return 0n;
  },
  bpf_dynptr_is_null: (env, p) => (readDynptr(env, addr(p)) ? 0n : 1n),
  bpf_dynptr_is_rdonly: (env, p) => (readDynptr(env, addr(p))?.rdonly ? 1n : 0n),
  // Its result is a u32: -EINVAL for a NULL dynptr comes back as 0xffffffea.
  bpf_dynptr_size: (env, p) => BigInt.asUintN(32, BigInt(readDynptr(env, addr(p))?.size ?? -Errno.EINVAL)),
  bpf_dynptr_clone: (env, p, c) => {
    const [from, to] = [addr(p), addr(c)];
    if (!readDynptr(env, from)) {
      writeDynptr(env, to, 0, 0, 0);
      env.space.bytes.fill(0, to, to + 16);
      return E_INVAL;
    }
    writeDynptr(env, to, 0, 0, 0); // checks the destination is program memory
    env.space.bytes.copyWithin(to, from, from + 16);
    return 0n;
  },
  bpf_rcu_read_lock: (env) => {
    rcuDepth.set(env.invocation, (rcuDepth.get(env.invocation) ?? 0) + 1);
    return 0n;
  },
  bpf_rcu_read_unlock: (env) => {
    const d = rcuDepth.get(env.invocation) ?? 0;
    if (d <= 0) fail('bpf_rcu_read_unlock', 'no RCU read lock is held');
    rcuDepth.set(env.invocation, d - 1);
    return 0n;
  },
  // The modelled task and cgroup live as long as the runtime: a reference holds nothing more.
  bpf_task_acquire: (_env, p) => p,
  bpf_task_release: () => 0n,
  bpf_cgroup_acquire: (_env, p) => p,
  bpf_cgroup_release: () => 0n,
  bpf_task_from_pid: (env, pid) =>
    Number(BigInt.asIntN(32, pid)) === env.task.pid ? BigInt(currentTask(env)) : 0n,
  bpf_cpumask_create: (env) => cpumaskCreate(env),
  bpf_cpumask_release: (env, p) => cpumaskRelease(env, p),
  bpf_cpumask_acquire: (env, p) => cpumaskAcquire(env, p),
  bpf_cpumask_first: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_first', false);
    return first(env, (c) => bit(env, m, c) === 1);
  },
  bpf_cpumask_first_zero: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_first_zero', false);
    return first(env, (c) => bit(env, m, c) === 0);
  },
  bpf_cpumask_first_and: (env, p, q) => {
    const [a, b] = [
      maskAt(env, p, 'bpf_cpumask_first_and', false),
      maskAt(env, q, 'bpf_cpumask_first_and', false),
    ];
    return first(env, (c) => (bit(env, a, c) & bit(env, b, c)) === 1);
  },
  bpf_cpumask_set_cpu: (env, cpu, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_set_cpu', true);
    const c = cpuArg(env, cpu);
    if (c >= 0) setBit(env, m, c, true);
    return 0n;
  },
  bpf_cpumask_clear_cpu: (env, cpu, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_clear_cpu', true);
    const c = cpuArg(env, cpu);
    if (c >= 0) setBit(env, m, c, false);
    return 0n;
  },
  bpf_cpumask_test_cpu: (env, cpu, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_test_cpu', false);
    const c = cpuArg(env, cpu);
    return c < 0 ? 0n : BigInt(bit(env, m, c));
  },
  bpf_cpumask_test_and_set_cpu: (env, cpu, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_test_and_set_cpu', true);
    const c = cpuArg(env, cpu);
    if (c < 0) return 0n;
    const old = bit(env, m, c);
    setBit(env, m, c, true);
    return BigInt(old);
  },
  bpf_cpumask_test_and_clear_cpu: (env, cpu, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_test_and_clear_cpu', true);
    const c = cpuArg(env, cpu);
    if (c < 0) return 0n;
    const old = bit(env, m, c);
    setBit(env, m, c, false);
    return BigInt(old);
  },
  bpf_cpumask_setall: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_setall', true);
    for (let c = 0; c < nrCpus(env); c++) setBit(env, m, c, true);
    return 0n;
  },
  bpf_cpumask_clear: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_clear', true);
    env.space.bytes.fill(0, m, m + MASK_BYTES);
    return 0n;
  },
  bpf_cpumask_and: (env, d, p, q) =>
    B(
      combine(
        env,
        maskAt(env, d, 'bpf_cpumask_and', true),
        maskAt(env, p, 'bpf_cpumask_and', false),
        maskAt(env, q, 'bpf_cpumask_and', false),
        (x, y) => x & y,
      ),
    ),
  bpf_cpumask_or: (env, d, p, q) => {
    const args = [maskAt(env, d, 'bpf_cpumask_or', true), maskAt(env, p, 'bpf_cpumask_or', false)] as const;
    combine(env, ...args, maskAt(env, q, 'bpf_cpumask_or', false), (x, y) => x | y);
    return 0n;
  },
  bpf_cpumask_xor: (env, d, p, q) => {
    const args = [maskAt(env, d, 'bpf_cpumask_xor', true), maskAt(env, p, 'bpf_cpumask_xor', false)] as const;
    combine(env, ...args, maskAt(env, q, 'bpf_cpumask_xor', false), (x, y) => x ^ y);
    return 0n;
  },
  bpf_cpumask_equal: (env, p, q) => {
    const [a, b] = [maskAt(env, p, 'bpf_cpumask_equal', false), maskAt(env, q, 'bpf_cpumask_equal', false)];
    return every(env, (c) => bit(env, a, c) === bit(env, b, c));
  },
  bpf_cpumask_intersects: (env, p, q) => {
    const [a, b] = [
      maskAt(env, p, 'bpf_cpumask_intersects', false),
      maskAt(env, q, 'bpf_cpumask_intersects', false),
    ];
    return 1n - every(env, (c) => (bit(env, a, c) & bit(env, b, c)) === 0);
  },
  bpf_cpumask_subset: (env, p, q) => {
    const [a, b] = [maskAt(env, p, 'bpf_cpumask_subset', false), maskAt(env, q, 'bpf_cpumask_subset', false)];
    return every(env, (c) => bit(env, a, c) <= bit(env, b, c));
  },
  bpf_cpumask_empty: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_empty', false);
    return every(env, (c) => bit(env, m, c) === 0);
  },
  bpf_cpumask_full: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_full', false);
    return every(env, (c) => bit(env, m, c) === 1);
  },
  bpf_cpumask_copy: (env, d, p) => {
    const dst = maskAt(env, d, 'bpf_cpumask_copy', true);
    const src = maskAt(env, p, 'bpf_cpumask_copy', false);
    env.space.bytes.copyWithin(dst, src, src + MASK_BYTES);
    return 0n;
  },
  bpf_cpumask_weight: (env, p) => {
    const m = maskAt(env, p, 'bpf_cpumask_weight', false);
    let n = 0;
    for (let c = 0; c < nrCpus(env); c++) n += bit(env, m, c);
    return BigInt(n);
  },
};

/** Cpumasks alive in an address space (for tests and accounting). */
export function liveKfuncObjects(space: AddressSpace): number {
  return objects.get(space)?.size ?? 0;
}
