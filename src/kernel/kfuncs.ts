// Kfunc calls for the kernel back end: each call's imm (an index into the program's kfunc list) becomes the
// kfunc's BTF id in the running kernel's vmlinux BTF, as libbpf resolves them. A `__weak` kfunc the kernel
// lacks becomes libbpf's poisoned call (helper 2002000000 + the kfunc's index), which the kernel refuses
// only if a path reaches it; any other missing kfunc is an error naming it. Typed ksyms (per-CPU kernel
// variables) resolve the same way to their VAR's id. Kfuncs of modules (module BTF, passed through fd_array)
// are not resolved yet: such a call fails naming the module.

import { readdirSync, readFileSync } from 'node:fs';
import { type Btf, parseBtf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { Class, type Insn, JmpOp, LDDW, PseudoCall, PseudoLddw } from '../isa/index.js';
import { Errno } from '../spec/errno.js';
import type { ProgramSpec } from '../spec/object.js';
import { KernelError } from './errors.js';

const BTF_DIR = '/sys/kernel/btf';
/** libbpf's POISON_CALL_KFUNC_BASE: an unresolved weak kfunc's call becomes this helper id plus its index. */
export const POISON_CALL_KFUNC_BASE = 2002000000;

let vmlinux: { btf: Btf; funcs: Map<string, number>; vars: Map<string, number> } | null | undefined;

/** vmlinux's BTF and its FUNC and VAR ids by name, read once per process (undefined when it has none). */
function kernelFuncs(): { btf: Btf; funcs: Map<string, number>; vars: Map<string, number> } | undefined {
  if (vmlinux !== undefined) return vmlinux ?? undefined;
  try {
    const btf = parseBtf(new Uint8Array(readFileSync(`${BTF_DIR}/vmlinux`)), `${BTF_DIR}/vmlinux`);
    const funcs = new Map<string, number>();
    const vars = new Map<string, number>();
    for (const t of btf.types) {
      if (t.kind === Kind.FUNC && !funcs.has(t.name)) funcs.set(t.name, t.id);
      if (t.kind === Kind.VAR && !vars.has(t.name)) vars.set(t.name, t.id);
    }
    vmlinux = { btf, funcs, vars };
  } catch {
    vmlinux = null;
  }
  return vmlinux ?? undefined;
}

/** The module whose BTF has FUNC `name` (for the error), read only when vmlinux lacks it. */
function moduleWith(name: string, base: Btf): string | undefined {
  let names: string[] = [];
  try {
    names = readdirSync(BTF_DIR).filter((n) => n !== 'vmlinux');
  } catch {
    return undefined;
  }
  for (const m of names.sort()) {
    try {
      const btf = parseBtf(new Uint8Array(readFileSync(`${BTF_DIR}/${m}`)), `${BTF_DIR}/${m}`, base);
      if (btf.types.some((t) => t.kind === Kind.FUNC && t.name === name)) return m;
    } catch {
      // A module unloaded meanwhile, or BTF this parser refuses.
    }
  }
  return undefined;
}

/** The kernel's BTF id of kfunc `name` in vmlinux, or undefined. */
export function kfuncBtfId(name: string): number | undefined {
  return kernelFuncs()?.funcs.get(name);
}

/**
 * `insns` (the program's, maps already relocated) with every kfunc call's imm the kernel's BTF id, and every
 * typed ksym's `lddw` (src BTF_ID) its VAR's id in vmlinux (the second imm 0: vmlinux, no module fd); a
 * missing __weak one loads 0, as libbpf makes it.
 */
export function resolveKfuncCalls(p: ProgramSpec, insns: Insn[]): Insn[] {
  const list = p.kfuncs ?? [];
  return insns.map((ins, i) => {
    if (ins.code === LDDW && ins.src === PseudoLddw.BTF_ID) return resolveKsym(p, ins, i);
    if (ins.code !== (Class.JMP | JmpOp.CALL) || ins.src !== PseudoCall.KFUNC) return ins;
    const fail = (why: string) =>
      new KernelError('BPF_PROG_LOAD', Errno.EINVAL, `program ${p.name}: insn ${i}: ${why}`);
    const k = list[ins.imm];
    if (!k) throw fail(`kfunc call ${ins.imm} names no kfunc of the program (it lists ${list.length})`);
    const kernel = kernelFuncs();
    if (!kernel) throw fail(`call to kfunc ${k.name}: the kernel publishes no BTF (${BTF_DIR}/vmlinux)`);
    const id = kernel.funcs.get(k.name);
    if (id !== undefined) return { ...ins, imm: id, off: 0 };
    const module = moduleWith(k.name, kernel.btf);
    if (module)
      throw fail(
        `kfunc ${k.name} is in module ${module}'s BTF; module kfuncs (fd_array) are not resolved by tsbpf's kernel back end yet`,
      );
    if (k.weak) return { ...ins, src: PseudoCall.HELPER, imm: POISON_CALL_KFUNC_BASE + ins.imm, off: 0 };
    throw fail(
      `kfunc ${k.name} is not in the kernel's BTF (vmlinux or a module); declare it __weak to load without it`,
    );
  });
}

/** A typed ksym's `lddw`: the VAR's BTF id in vmlinux. */
function resolveKsym(p: ProgramSpec, ins: Insn, i: number): Insn {
  const fail = (why: string) =>
    new KernelError('BPF_PROG_LOAD', Errno.EINVAL, `program ${p.name}: insn ${i}: ${why}`);
  const k = p.ksyms?.[ins.imm];
  if (!k)
    throw fail(`lddw ${ins.imm} names no kernel variable of the program (it lists ${p.ksyms?.length ?? 0})`);
  const id = kernelFuncs()?.vars.get(k.name);
  if (id !== undefined) return { ...ins, imm: id };
  if (k.weak) return { ...ins, src: PseudoLddw.IMM64, imm: 0 };
  throw fail(
    `kernel variable ${k.name} (a typed __ksym) is not in the kernel's BTF; declare it __weak to load 0`,
  );
}
