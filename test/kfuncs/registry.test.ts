// The kfunc registry against the kernel: every kfunc's prototype is vmlinux's (its BTF FUNC_PROTO), and the
// program types that may call it are those whose kfunc sets hold it (probed by loading a call of it in a
// program of each type: the kernel refuses it, before checking any argument, with "calling kernel function
// … is not allowed" exactly where the set lacks it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../../src/btf/parse.js';
import { Kind } from '../../src/btf/types.js';
import { encode, type Insn } from '../../src/isa/index.js';
import { close, progLoad } from '../../src/kernel/index.js';
import { kfuncBtfId } from '../../src/kernel/kfuncs.js';
import { KFUNC_ID_BASE, KFUNCS, kfuncAllowed, kfuncHelper, kfuncHelperId } from '../../src/kfuncs/index.js';
import { programTypeByName } from '../../src/spec/program-types.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const vmlinux = (): Btf => parseBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')), 'vmlinux');

/** What a registry argument or result kind is in BTF terms. */
function kindOf(btf: Btf, id: number): string {
  const t = btf.resolve(id);
  if (t.kind === Kind.VOID) return 'void';
  if (t.kind === Kind.INT || t.kind === Kind.ENUM || t.kind === Kind.ENUM64) return 'scalar';
  if (t.kind === Kind.PTR) {
    const to = btf.resolve(t.type);
    if (to.kind === Kind.STRUCT || to.kind === Kind.UNION) return `btf:${to.name}`;
    return to.kind === Kind.VOID ? 'void*' : 'ptr';
  }
  return `kind${t.kind}`;
}

/**
 * The kernel's log for a program of type `type` that sets r1..r5 to 0 and calls kfunc `name` (empty when it
 * loads): "calling kernel function … is not allowed" before any argument is checked where the type's kfunc
 * sets lack it.
 */
function probe(name: string, type: string, id = kfuncBtfId(name)!): string {
  const insns: Insn[] = [
    ...[1, 2, 3, 4, 5].map((r) => ({ code: 0xb7, dst: r, src: 0, off: 0, imm: 0 })),
    { code: 0x85, dst: 0, src: 2, off: 0, imm: id },
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  try {
    const kernel = programTypeByName(type)!.kernel;
    close(progLoad({ type: kernel, insns: encode(insns), license: 'GPL', logLevel: 1 }).fd);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('kfunc registry', () => {
  it('gives each kfunc with an implementation a helper id of its own, past every helper', () => {
    const ids = KFUNCS.map((k) => kfuncHelperId(k.name)).filter((x) => x !== undefined);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toBeGreaterThanOrEqual(KFUNC_ID_BASE);
      expect(kfuncHelper(id)?.name).toBe(KFUNCS[id - KFUNC_ID_BASE]!.name);
    }
    expect(kfuncHelper(KFUNC_ID_BASE + KFUNCS.length)).toBeUndefined();
  });

  it.runIf(oracle)("has vmlinux's prototype for every kfunc", () => {
    const btf = vmlinux();
    const wrong: string[] = [];
    for (const k of KFUNCS) {
      const f = btf.types.find((t) => t.kind === Kind.FUNC && t.name === k.name);
      if (!f || f.kind !== Kind.FUNC) {
        wrong.push(`${k.name}: not in vmlinux`);
        continue;
      }
      const proto = btf.type(f.type);
      if (proto.kind !== Kind.FUNC_PROTO) throw new Error(`${k.name}: no prototype`);
      // Parameter name suffixes are the kernel's argument annotations; a context is its uapi struct.
      const want = proto.params.map((p) => {
        if (p.name.endsWith('__ign')) return 'ign';
        if (p.name.endsWith('__k')) return 'const';
        if (p.name.endsWith('__szk')) return 'szk';
        if (p.name.endsWith('__opt')) return 'buffer_opt';
        const kind = kindOf(btf, p.type);
        if (kind === 'btf:bpf_dynptr') return p.name.endsWith('__uninit') ? 'dynptr_uninit' : 'dynptr';
        return kind === 'btf:__sk_buff' || kind === 'btf:xdp_md' ? 'ctx' : kind;
      });
      // An iterator argument is a struct bpf_iter_num pointer (the kfunc's ITER_NEW flag says it is made
      // there); an iterator's next element an int pointer.
      const got = k.args.map((a) =>
        a.kind === 'btf'
          ? `btf:${a.struct}`
          : a.kind === 'obj'
            ? 'void*'
            : a.kind === 'iter' || a.kind === 'iter_uninit'
              ? 'btf:bpf_iter_num'
              : a.kind,
      );
      const ret =
        k.ret.kind === 'btf'
          ? `btf:${k.ret.struct}`
          : k.ret.kind === 'obj' || k.ret.kind === 'slice'
            ? 'void*'
            : k.ret.kind === 'iter_next'
              ? 'ptr'
              : k.ret.kind;
      if (JSON.stringify(got) !== JSON.stringify(want) || ret !== kindOf(btf, proto.ret))
        wrong.push(`${k.name}: (${got}) -> ${ret}, vmlinux (${want}) -> ${kindOf(btf, proto.ret)}`);
    }
    expect(wrong).toEqual([]);
  });

  it.runIf(oracle)('lets the program types whose kfunc sets hold a kfunc call it, as the kernel does', () => {
    const types = ['socket_filter', 'kprobe', 'sched_cls', 'xdp', 'cgroup_skb', 'raw_tracepoint', 'syscall'];
    const wrong: string[] = [];
    const seen = { refused: 0, allowed: 0 };
    for (const k of KFUNCS) {
      const id = kfuncBtfId(k.name)!;
      for (const name of types) {
        const refused = /calling kernel function .* is not allowed/.test(probe(k.name, name, id));
        seen[refused ? 'refused' : 'allowed']++;
        if (refused === kfuncAllowed(name, k))
          wrong.push(`${k.name} in ${name}: kernel ${refused ? 'refuses' : 'allows'}`);
      }
    }
    expect(wrong).toEqual([]);
    // Both outcomes occur (the probe tells them apart): e.g. cpumasks in xdp, bpf_rcu_read_lock everywhere.
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.allowed).toBeGreaterThan(0);
  });
});
