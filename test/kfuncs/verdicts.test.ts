// Kfunc calls verified as the kernel verifies them, kernel as the oracle: every program of
// test/fixtures/kfuncs (a_*.c accepted, r_*.c rejected for one kfunc rule each) and the corpus' two kfunc
// programs, loaded by libbpf (bpftool prog loadall), by tsbpf's verifier and by tsbpf's kernel back end
// (its loader resolves the kfunc calls to vmlinux BTF ids; the kernel verifies): the three verdicts agree,
// and each rejection is for the rule the fixture breaks.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../src/node/root.js';
import { verify } from '../../src/verifier/index.js';
import { kernelLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const DIR = new URL('../fixtures/kfuncs/', import.meta.url);
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.o'))
  .sort();

/**
 * The kernel's refusal of a typed ksym without an address ("ldimm64 failed to find the address"), as the
 * corpus parser reads libbpf's log (a one-line log: its first line); the kernel's errno is ENOENT, which our
 * kernel back end reports (the kernel gives a log with EACCES/EINVAL only).
 */
const KSYM_ADDRESS_LIBBPF = /ldimm64 failed to find the address|^func#0 @0$/;
const SLICE_RDWR = /bpf_dynptr_slice_rdwr\(\) is not allowed/;

/** Why each r_*.c is rejected: our diagnostic's kind, and words of the kernel's log line. */
const REJECTIONS: Record<string, { kind: string; kernel: RegExp; backend?: RegExp }> = {
  'r_after_unlock.o': { kind: 'untrusted_arg', kernel: /must be a rcu pointer/ },
  'r_cgroup_ancestor_leak.o': {
    kind: 'ref_leak',
    kernel: /Unreleased reference|would lead to reference leak/,
  },
  'r_double_release.o': { kind: 'bad_arg', kernel: /must point to scalar/ },
  'r_kptr_unreferenced.o': { kind: 'bad_release', kernel: /must be referenced when passed to release/ },
  'r_leak.o': { kind: 'ref_leak', kernel: /Unreleased reference|would lead to reference leak/ },
  'r_lock_missing_unlock.o': { kind: 'ref_leak', kernel: /bpf_rcu_read_lock-ed region/ },
  'r_not_gpl.o': { kind: 'gpl_only', kernel: /non-GPL compatible/ },
  'r_null_unchecked.o': { kind: 'null_arg', kernel: /Possibly NULL pointer/ },
  'r_outside_rcu.o': { kind: 'untrusted_arg', kernel: /must be a rcu pointer/ },
  'r_release_unreferenced.o': { kind: 'bad_release', kernel: /expects refcounted/ },
  'r_unlock_unmatched.o': { kind: 'rcu_unlock', kernel: /unmatched rcu read unlock/ },
  // No kallsyms address for per-CPU variables on the reference kernel: every typed ksym is refused first
  // (test/kfuncs/ksyms.test.ts checks what follows, given an address).
  'r_typed_ksym.o': { kind: 'ksym_address', kernel: KSYM_ADDRESS_LIBBPF, backend: /ENOENT/ },
  'r_ksym_percpu_deref.o': { kind: 'ksym_address', kernel: KSYM_ADDRESS_LIBBPF, backend: /ENOENT/ },
  'r_per_cpu_unchecked.o': { kind: 'ksym_address', kernel: KSYM_ADDRESS_LIBBPF, backend: /ENOENT/ },
  'r_use_after_release.o': { kind: 'scalar_deref', kernel: /invalid mem access 'scalar'/ },
  'r_walked_untrusted.o': { kind: 'untrusted_arg', kernel: /must be a rcu pointer/ },
  'r_wrong_type.o': {
    kind: 'kfunc_not_allowed',
    kernel: /calling kernel function bpf_cpumask_create is not allowed/,
  },
  'r_dynptr_uninit.o': { kind: 'dynptr_uninit', kernel: /Expected an initialized dynptr/ },
  'r_dynptr_xdp_in_tc.o': {
    kind: 'kfunc_not_allowed',
    kernel: /calling kernel function bpf_dynptr_from_xdp is not allowed/,
  },
  // The kernel refuses these with EPERM: our kernel back end reports the errno (a log comes with EACCES/EINVAL).
  'r_slice_rdwr.o': { kind: 'kfunc_not_allowed', kernel: SLICE_RDWR, backend: /EPERM/ },
  'r_slice_rdwr_cgroup.o': { kind: 'kfunc_not_allowed', kernel: SLICE_RDWR, backend: /EPERM/ },
  'r_slice_after_adjust.o': { kind: 'scalar_deref', kernel: /invalid mem access 'scalar'/ },
  'r_slice_readonly.o': { kind: 'mem_readonly', kernel: /cannot write into rdonly_mem/ },
  'r_slice_unchecked.o': { kind: 'null_deref', kernel: /invalid mem access 'rdonly_mem_or_null'/ },
  // Open-coded iterators: never destroyed, used after destroy or never made, and the NULL of a drained
  // iterator (the kernel explores the drained side first: r0 is the number 0 there) read.
  'r_iter_leak.o': { kind: 'ref_leak', kernel: /Unreleased reference|would lead to reference leak/ },
  'r_iter_after_destroy.o': { kind: 'iter_uninit', kernel: /expected an initialized iter_num/ },
  'r_iter_uninit.o': { kind: 'iter_uninit', kernel: /expected an initialized iter_num/ },
  'r_iter_unchecked.o': { kind: 'scalar_deref', kernel: /invalid mem access 'scalar'/ },
  // bpf_obj_new objects: neither dropped nor stashed, written unchecked, read after the drop, read past the end.
  'r_obj_leak.o': { kind: 'ref_leak', kernel: /Unreleased reference|would lead to reference leak/ },
  'r_obj_unchecked.o': { kind: 'null_deref', kernel: /invalid mem access 'ptr_or_null_'/ },
  'r_obj_after_drop.o': { kind: 'scalar_deref', kernel: /invalid mem access 'scalar'/ },
  'r_obj_oob.o': { kind: 'mem_bounds', kernel: /access beyond struct elem at off 24 size 4/ },
  '../corpus/reject_kfunc_leak.o': {
    kind: 'ref_leak',
    kernel: /Unreleased reference|would lead to reference leak/,
  },
};

const CASES = [...FIXTURES, '../corpus/kfunc_task.o', '../corpus/reject_kfunc_leak.o'];

function tsbpf(file: string) {
  const spec = readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file });
  expect(spec.programs).toHaveLength(1);
  // The object's BTF: the program-local types bpf_obj_new allocates.
  const r = verify(spec.programs[0]!, { maps: spec.maps, ...(spec.btf ? { objectBtf: spec.btf } : {}) });
  let backend: string | undefined;
  try {
    loadCollection(spec, { backend: 'kernel' }).close();
  } catch (e) {
    backend = (e as Error).message;
  }
  return { r, backend };
}

describe('kfunc fixtures', () => {
  it('cover both verdicts: every reject fixture has its rule, every accept none', () => {
    for (const f of FIXTURES) expect(f.startsWith('r_'), f).toBe(f in REJECTIONS);
    expect(FIXTURES.filter((f) => f.startsWith('a_')).length).toBeGreaterThanOrEqual(6);
  });

  it.each(CASES)("%s: tsbpf's verdict is the kernel's, for the same reason", (file) => {
    const { r, backend } = tsbpf(file);
    const want = REJECTIONS[file];
    if (want) {
      expect(r.accepted, r.log).toBe(false);
      expect(r.diagnostics[0]?.kind, r.log).toBe(want.kind);
    } else expect(r.accepted, r.log).toBe(true);
    if (!kernelOracle()) return;
    const k = kernelLoad(`../kfuncs/${file}`);
    try {
      const kv = [...k.verdicts.values()][0];
      expect(kv?.verdict, kv?.reason).toBe(want ? 'reject' : 'accept');
      if (want) expect(kv?.reason).toMatch(want.kernel);
    } finally {
      k.release();
    }
    // tsbpf's kernel back end: kfunc calls resolved to vmlinux BTF ids, the kernel's verdict for the same reason.
    if (want) expect(backend).toMatch(want.backend ?? want.kernel);
    else expect(backend).toBeUndefined();
  });
});
