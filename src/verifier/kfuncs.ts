// Kfunc calls (the kernel's check_kfunc_call) and the pointer rules they rely on: arguments against the
// registry's prototype (../kfuncs/), trusted and RCU pointers, references (KF_ACQUIRE results must reach a
// KF_RELEASE kfunc or a map's kptr on every path, and die when released), KF_RET_NULL results checked
// before use, RCU read sections (bpf_rcu_read_lock/unlock, balanced before exit), sleepable kfuncs in
// sleepable programs only; and bpf_kptr_xchg, which moves a referenced pointer into or out of a map
// value's `__kptr` field.

// Which pointers are trusted, and the RCU sections and references held, are in ./trust.ts.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { kfuncAllowed, kfuncByName } from '../kfuncs/registry.js';
import { KF, type KfuncDef } from '../kfuncs/types.js';
import type { KfuncRef, KsymRef } from '../spec/object.js';
import { helperMem } from './access.js';
import { btfStructId } from './btf-ctx.js';
import { Reject } from './cfg.js';
import { initDynptr, useDynptr } from './dynptr.js';
import type { VerifierEnv } from './env.js';
import { destroyIter, iterNext, newIter, useIter } from './iter.js';
import { isConstScalar } from './ranges.js';
import {
  ALLOC_MEM,
  DYNPTR_SLICE_MEM,
  DynptrKind,
  forEachReg,
  NOT_INIT,
  PACKET_SLICE_MEM,
  ptrReg,
  READONLY_MEM,
  type Reg,
  UNKNOWN_SCALAR,
} from './state.js';
import { held, heldOf, inRcu, RCU_LOCK, Trust } from './trust.js';

/** What a call needs to know about the program beyond the environment. */
export interface KfuncCallOptions {
  /** The program is loaded sleepable (outside bpf_rcu_read_lock it is not in an RCU read section). */
  sleepable: boolean;
  /** Its licence is GPL-compatible (kfuncs are GPL-only). */
  gpl: boolean;
}

/** What reference `id` holds, when a kfunc took it (for the leak message at exit). */
export function kfuncRefLeak(v: VerifierEnv, id: number, where: string): string | undefined {
  const what = held.get(v)?.get(id);
  if (!what) return undefined;
  if (what === RCU_LOCK)
    return `the program exits inside the RCU read section that bpf_rcu_read_lock opened at ${where} (the kernel: "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region")`;
  return `${what} acquired at ${where} is not released on this path (the kernel: "Unreleased reference")`;
}

/** Struct `id` is `want`, or starts with it (a first member, recursively), as the kernel's btf_struct_ids_match. */
function structMatches(btf: Btf, id: number, want: number, strict: boolean): boolean {
  let t = btf.resolve(id);
  for (let d = 0; d < 16; d++) {
    if (t.id === want) return true;
    if (strict || (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION)) return false;
    const m = t.members[0];
    if (m?.bitOffset !== 0) return false;
    t = btf.resolve(m.type);
  }
  return false;
}

const isNullConst = (r: Reg) => r.kind === 'scalar' && isConstScalar(r.s) && r.s.var.value === 0n;

/**
 * A call to kfunc `ref` (the program's kfunc list entry the call's imm names) at `pc`. Returns false when
 * the path ends at the call (an iterator's next call covered by an earlier visit: ./iter.ts).
 */
export function callKfunc(
  v: VerifierEnv,
  pc: number,
  ref: KfuncRef | undefined,
  opts: KfuncCallOptions,
): boolean {
  if (!ref)
    throw new Reject(pc, 'bad_insn', 'kfunc call names no kfunc of the program (its imm is out of range)');
  const k = kfuncByName(ref.name);
  if (!k) {
    throw new Reject(
      pc,
      'unknown_kfunc',
      ref.weak
        ? `call to kernel function ${ref.name}, which is __weak and missing here (libbpf poisons such a call: only unreached ones load)`
        : `call to kernel function ${ref.name}, which tsbpf does not know (no prototype in its kfunc registry)`,
    );
  }
  if (!opts.gpl)
    throw new Reject(
      pc,
      'gpl_only',
      `cannot call kernel function ${k.name} from a non-GPL-compatible program`,
    );
  if (!kfuncAllowed(v.type.name, k))
    throw new Reject(
      pc,
      'kfunc_not_allowed',
      `calling kernel function ${k.name} is not allowed in ${v.type.name} programs`,
    );
  if (k.refused)
    throw new Reject(pc, 'kfunc_not_allowed', `${k.refused} (the kernel refuses every call of it)`);
  if (k.flags & KF.SLEEPABLE && !opts.sleepable)
    throw new Reject(pc, 'might_sleep', `program must be sleepable to call sleepable kfunc ${k.name}`);
  if (k.name === 'bpf_rcu_read_lock' || k.name === 'bpf_rcu_read_unlock') {
    rcuLockCall(v, pc, k, opts);
    return true;
  }
  if (k.flags & KF.ITER_NEXT) return iterNext(v, pc, k.name);
  if (k.flags & KF.ITER_DESTROY) {
    destroyIter(v, pc, k.name);
    for (let r = 0; r <= 5; r++) v.frame.regs[r] = NOT_INIT;
    return true;
  }
  if (k.flags & KF.RCU_PROTECTED && !inRcu(v, opts.sleepable))
    throw new Reject(
      pc,
      'kfunc_rcu',
      `kernel function ${k.name} requires an RCU critical section protection`,
    );
  const regs = v.frame.regs;
  let released: Reg | undefined;
  // Dynptr kfuncs: the dynptr argument, the stack slot to make one in, a slice's size.
  let dynptr: Reg | undefined;
  let uninit: { regno: number; r: Reg } | undefined;
  let iterUninit: { regno: number; r: Reg } | undefined;
  let sliceSize = 0;
  k.args.forEach((a, i) => {
    const regno = i + 1;
    if (a.kind === 'ign') return;
    const r = v.read(regno, pc);
    const bad = (kind: string, what: string): never => {
      throw new Reject(
        pc,
        kind,
        `argument ${regno} of ${k.name} (R${regno}) must be ${what}, but it is ${v.describe(r)}`,
      );
    };
    switch (a.kind) {
      case 'scalar':
        if (r.kind !== 'scalar') bad('bad_arg', 'a number');
        return;
      case 'const':
        if (r.kind !== 'scalar' || !isConstScalar(r.s)) bad('bad_arg', 'a known constant');
        return;
      case 'obj':
        // bpf_obj_drop's object: the unmoved pointer bpf_obj_new gave, checked against NULL.
        if (r.kind === 'mem_or_null' && r.map === ALLOC_MEM)
          bad('null_arg', 'an object from bpf_obj_new, checked against NULL');
        if (r.kind !== 'mem' || r.map !== ALLOC_MEM || !r.ref)
          bad('bad_arg', 'an object from bpf_obj_new (a referenced allocated object)');
        if (r.off !== 0 || !isConstScalar(r.s) || r.s.var.value !== 0n)
          bad('bad_arg', 'the unmoved pointer (offset 0) to an object from bpf_obj_new');
        if (k.flags & KF.RELEASE) released = r;
        return;
      case 'ctx':
        if (r.kind !== 'ctx' || r.off !== 0 || !isConstScalar(r.s) || r.s.var.value !== 0n)
          bad('bad_arg', 'the unmodified context pointer');
        return;
      case 'dynptr':
        dynptr = useDynptr(v, pc, regno, r, k.name);
        return;
      case 'dynptr_uninit':
        uninit = { regno, r };
        return;
      case 'iter_uninit':
        iterUninit = { regno, r };
        return;
      case 'iter':
        useIter(v, pc, regno, r, k.name);
        return;
      case 'szk':
        if (r.kind !== 'scalar' || !isConstScalar(r.s)) bad('bad_size', 'a known constant (the buffer size)');
        sliceSize = Number(r.s.var.value);
        return;
      case 'buffer_opt': {
        // NULL, or memory the kfunc may copy the next argument's (constant) count of bytes into.
        if (isNullConst(r)) return;
        const size = v.read(regno + 1, pc);
        if (size.kind !== 'scalar' || !isConstScalar(size.s))
          bad('bad_size', 'a buffer whose size (the next argument) is a known constant');
        helperMem(v, pc, regno, r, Number(size.s.var.value), true);
        return;
      }
      case 'btf': {
        if (isNullConst(r)) bad('null_arg', `a pointer to a struct ${a.struct} (NULL is not allowed)`);
        if (r.kind === 'btf_ptr_or_null')
          bad('null_arg', `a pointer to a struct ${a.struct}, checked against NULL`);
        if (r.kind !== 'btf_ptr') bad('bad_arg', `a pointer to a kernel struct ${a.struct}`);
        const release = k.flags & KF.RELEASE && !released;
        if (r.off !== 0 || !isConstScalar(r.s) || r.s.var.value !== 0n)
          bad('bad_arg', `the unmoved pointer (offset 0) to a struct ${a.struct}`);
        const btf = v.kernelBtf;
        const want = btf ? btfStructId(btf, a.struct) : 0;
        if (btf && want && r.btf && !structMatches(btf, r.btf, want, !!release))
          bad('bad_arg', `a pointer to a struct ${a.struct}`);
        if (release) {
          if (!r.ref) bad('bad_release', `a referenced pointer (from an acquiring kfunc) to release`);
          released = r;
        } else if (k.flags & (KF.TRUSTED_ARGS | KF.RCU)) {
          const rcuOk = k.flags & KF.RCU && r.size === Trust.RCU;
          if (r.size !== Trust.TRUSTED && !rcuOk)
            bad(
              'untrusted_arg',
              k.flags & KF.RCU ? 'a trusted or RCU-protected pointer' : 'a referenced or trusted pointer',
            );
        }
        return;
      }
    }
  });
  if (released) {
    v.release(released.ref);
  }
  if (iterUninit) newIter(v, pc, iterUninit.regno, iterUninit.r);
  if (uninit) {
    // from_skb/from_xdp make an unreferenced dynptr of their kind; a clone shares its parent's kind and reference.
    const kind =
      k.name === 'bpf_dynptr_from_skb'
        ? DynptrKind.SKB
        : k.name === 'bpf_dynptr_from_xdp'
          ? DynptrKind.XDP
          : dynptr!.size;
    initDynptr(v, pc, uninit.regno, uninit.r, kind, dynptr?.ref ?? 0);
  }
  if (k.ret.kind === 'slice') {
    const d = dynptr!;
    const packet = d.size === DynptrKind.SKB || d.size === DynptrKind.XDP;
    if (k.ret.rdwr && (d.kind === 'dynptr_ptr' || (packet && !v.type.directPacketWrite)))
      throw new Reject(
        pc,
        'pkt_write',
        `${k.name}: the dynptr is read-only here (${d.kind === 'dynptr_ptr' ? 'the kernel owns it' : `${v.type.name} programs may not write packet data`})`,
      );
    for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
    // The slice is read-only unless asked for writable; it goes when a ring-buffer dynptr is released.
    regs[0] = ptrReg('mem_or_null', {
      size: sliceSize,
      id: v.newId(),
      ref: d.ref,
      map: k.ret.rdwr ? DYNPTR_SLICE_MEM : packet ? PACKET_SLICE_MEM : READONLY_MEM,
    });
    return true;
  }
  const r0 = result(v, pc, k); // before R1-R5 go: bpf_obj_new's type is R1
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  regs[0] = r0;
  return true;
}

/** r0 after a call to `k`. */
function result(v: VerifierEnv, pc: number, k: KfuncDef): Reg {
  const ret = k.ret;
  if (ret.kind === 'void') return NOT_INIT;
  if (ret.kind === 'scalar') return UNKNOWN_SCALAR;
  if (ret.kind === 'obj') return objNew(v, pc, k);
  if (ret.kind === 'slice' || ret.kind === 'iter_next')
    throw new Reject(pc, 'unsupported', `${k.name}: its result is made by its own call path`);
  const btf = v.kernelBtf ? btfStructId(v.kernelBtf, ret.struct) : 0;
  const orNull = (k.flags & KF.RET_NULL) !== 0;
  if (k.flags & KF.ACQUIRE) {
    const ref = v.acquire(pc);
    heldOf(v).set(ref, `a struct ${ret.struct} reference (${k.name})`);
    return ptrReg(orNull ? 'btf_ptr_or_null' : 'btf_ptr', {
      btf,
      id: orNull ? ref : 0,
      ref,
      size: Trust.TRUSTED,
    });
  }
  return ptrReg(orNull ? 'btf_ptr_or_null' : 'btf_ptr', {
    btf,
    id: orNull ? v.newId() : 0,
    size: Trust.UNTRUSTED,
  });
}

/**
 * bpf_obj_new_impl(local_type_id, meta): an object of a struct of the program's own BTF (the constant R1,
 * what bpf_core_type_id_local gives), zeroed, referenced (dropped or moved into a map on every path), or
 * NULL. Its fields are read and written as the struct's bytes.
 */
function objNew(v: VerifierEnv, pc: number, k: KfuncDef): Reg {
  const r1 = v.read(1, pc);
  const id = r1.kind === 'scalar' && isConstScalar(r1.s) ? Number(r1.s.var.value) : -1;
  const btf = v.objectBtf;
  if (!btf)
    throw new Reject(
      pc,
      'need_btf',
      `${k.name}: the object's BTF was not given to the verifier (its program-local types are what it allocates)`,
    );
  const t = id > 0 && id < btf.types.length ? btf.types[id] : undefined;
  if (t?.kind !== Kind.STRUCT)
    throw new Reject(
      pc,
      'bad_arg',
      `argument 1 of ${k.name} (R1) must be the program BTF id of a struct (bpf_core_type_id_local), but type ${id} is ${t ? `of BTF kind ${t.kind}` : "not in the object's BTF"}`,
    );
  const ref = v.acquire(pc);
  heldOf(v).set(ref, `a struct ${t.name} object (${k.name})`);
  return ptrReg('mem_or_null', { size: t.size, id: ref, ref, map: ALLOC_MEM, btf: id });
}

function rcuLockCall(v: VerifierEnv, pc: number, k: KfuncDef, opts: KfuncCallOptions): void {
  const m = heldOf(v);
  if (k.name === 'bpf_rcu_read_lock') {
    const id = v.acquire(pc);
    m.set(id, RCU_LOCK);
  } else {
    const locks = v.state.refs.filter((r) => m.get(r.id) === RCU_LOCK);
    const last = locks[locks.length - 1];
    if (!last)
      throw new Reject(pc, 'rcu_unlock', 'unmatched rcu read unlock (kernel function bpf_rcu_read_unlock)');
    v.state.refs = v.state.refs.filter((r) => r !== last);
    // Leaving the outermost section: what was read under RCU is no longer protected.
    if (locks.length === 1 && opts.sleepable) {
      forEachReg(v.state, (r) =>
        (r.kind === 'btf_ptr' || r.kind === 'btf_ptr_or_null') && r.size === Trust.RCU
          ? ptrReg('btf_ptr', { btf: r.btf, off: r.off, s: r.s, size: Trust.UNTRUSTED })
          : undefined,
      );
    }
  }
  for (let r = 1; r <= 5; r++) v.frame.regs[r] = NOT_INIT;
  v.frame.regs[0] = NOT_INIT;
}

/**
 * bpf_kptr_xchg(field, ptr): R1 a map value's `__kptr` field, R2 NULL or a referenced pointer of the field's
 * struct (its reference moves into the map); r0 the field's old pointer, a new reference (or NULL).
 */
export function kptrXchg(v: VerifierEnv, pc: number): void {
  const regs = v.frame.regs;
  const r1 = v.read(1, pc);
  const r2 = v.read(2, pc);
  if (r1.kind !== 'map_value' || !isConstScalar(r1.s))
    throw new Reject(
      pc,
      'bad_arg',
      `argument 1 of bpf_kptr_xchg (R1) must point to a __kptr field of a map value at a constant offset, but it is ${v.describe(r1)}`,
    );
  const off = r1.off + Number(BigInt.asIntN(64, r1.s.var.value));
  const map = v.maps[r1.map]!;
  const field = map.kptrs?.find((f) => f.offset === off);
  if (!field)
    throw new Reject(
      pc,
      'bad_kptr',
      `R1 points to offset ${off} of map '${map.name}', where its value has no __kptr field (the kernel: "no referenced kptr at map value offset")`,
    );
  if (!field.referenced)
    throw new Reject(
      pc,
      'bad_kptr',
      `the __kptr field at offset ${off} of map '${map.name}' is not referenced (kptr_untrusted)`,
    );
  const btf = v.kernelBtf;
  const want = btf ? btfStructId(btf, field.struct) : 0;
  // A struct of the program's own BTF that the kernel does not have: the field holds bpf_obj_new objects.
  const local = !want && v.objectBtf ? btfStructId(v.objectBtf, field.struct) : 0;
  if (local && !isNullConst(r2)) {
    if (r2.kind !== 'mem' || r2.map !== ALLOC_MEM || !r2.ref || r2.btf !== local)
      throw new Reject(
        pc,
        'bad_release',
        `argument 2 of bpf_kptr_xchg (R2) must be NULL or a struct ${field.struct} object from bpf_obj_new (checked against NULL), but it is ${v.describe(r2)}`,
      );
    if (r2.off !== 0 || !isConstScalar(r2.s) || r2.s.var.value !== 0n)
      throw new Reject(pc, 'bad_arg', `R2 must be the unmoved pointer (offset 0) to the object`);
    v.release(r2.ref);
  } else if (!isNullConst(r2)) {
    if (r2.kind !== 'btf_ptr' || !r2.ref)
      throw new Reject(
        pc,
        'bad_release',
        `argument 2 of bpf_kptr_xchg (R2) must be NULL or a referenced struct ${field.struct} (checked against NULL), but it is ${v.describe(r2)}`,
      );
    if (btf && want && r2.btf && !structMatches(btf, r2.btf, want, true))
      throw new Reject(
        pc,
        'bad_arg',
        `R2 must be a struct ${field.struct}, as the __kptr field holds, but it is ${v.describe(r2)}`,
      );
    v.release(r2.ref);
  }
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  const ref = v.acquire(pc);
  heldOf(v).set(ref, `a struct ${field.struct} reference taken out of map '${map.name}' (bpf_kptr_xchg)`);
  const t = local ? v.objectBtf!.types[local] : undefined;
  regs[0] =
    t?.kind === Kind.STRUCT
      ? ptrReg('mem_or_null', { size: t.size, id: ref, ref, map: ALLOC_MEM, btf: local })
      : ptrReg('btf_ptr_or_null', { btf: want, id: ref, ref, size: Trust.TRUSTED });
}

/** bpf_kptr_xchg's helper id. */
export const KPTR_XCHG = 194;

/** bpf_per_cpu_ptr and bpf_this_cpu_ptr's helper ids. */
export const PER_CPU_PTR: ReadonlySet<number> = new Set([153, 154]);

/**
 * A `lddw` of typed ksym `ref` (its BTF id where it is loaded): the address of a per-CPU kernel struct, which
 * bpf_this_cpu_ptr / bpf_per_cpu_ptr turn into a pointer the program reads.
 */
export function typedKsym(v: VerifierEnv, pc: number, ref: KsymRef | undefined): Reg {
  if (!ref)
    throw new Reject(
      pc,
      'bad_insn',
      'lddw of a kernel variable names none of the program (imm out of range)',
    );
  if (ref.noAddress)
    throw new Reject(
      pc,
      'ksym_address',
      `ldimm64 failed to find the address for kernel symbol '${ref.name}': the kernel's symbol table has no address for it (its per-CPU variables are listed only with CONFIG_KALLSYMS_ALL), and the kernel refuses the load`,
    );
  const btf = v.kernelBtf;
  const id = btf ? btfStructId(btf, ref.type) : 0;
  if (btf && !id)
    throw new Reject(
      pc,
      'need_btf',
      `kernel variable ${ref.name}: the kernel's BTF has no struct ${ref.type}`,
    );
  return ptrReg('btf_ptr', { btf: id, size: Trust.PERCPU });
}

/**
 * bpf_per_cpu_ptr(percpu_ptr, cpu) gives the variable of one CPU, or NULL past the last; bpf_this_cpu_ptr
 * (percpu_ptr) this CPU's: read-only pointers to the struct (the kernel's PTR_TO_BTF_ID | MEM_RDONLY).
 */
export function perCpuPtr(v: VerifierEnv, pc: number, id: number): void {
  const name = id === 153 ? 'bpf_per_cpu_ptr' : 'bpf_this_cpu_ptr';
  const r1 = v.read(1, pc);
  if (r1.kind !== 'btf_ptr' || r1.size !== Trust.PERCPU || r1.off !== 0)
    throw new Reject(
      pc,
      'bad_arg',
      `argument 1 of ${name} (R1) must be a per-CPU kernel variable (a typed __ksym), but it is ${v.describe(r1)}`,
    );
  if (id === 153 && v.read(2, pc).kind !== 'scalar')
    throw new Reject(pc, 'bad_arg', `argument 2 of ${name} (R2) must be a number (the CPU)`);
  const regs = v.frame.regs;
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  regs[0] =
    id === 153
      ? ptrReg('btf_ptr_or_null', { btf: r1.btf, id: v.newId(), size: Trust.TRUSTED })
      : ptrReg('btf_ptr', { btf: r1.btf, size: Trust.TRUSTED });
}
