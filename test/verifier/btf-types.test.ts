// Tracing and lsm programs: their context is the attach target's arguments, typed by the kernel's BTF, and a
// pointer argument is a pointer to a kernel struct (PTR_TO_BTF_ID) that may be read member by member.
// tp_btf and iter programs load on this kernel, so their verdicts are compared with BPF_PROG_LOAD; fentry,
// fexit and lsm programs cannot be loaded here (no BPF trampolines: EPERM before verification), so those
// are held to the same rules by our own cases.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, Kind, parseBtf } from '../../src/btf/index.js';
import type { Insn } from '../../src/isa/index.js';
import * as kernel from '../../src/kernel/index.js';
import { attachTypeNumber } from '../../src/spec/attach-types.js';
import { programTypeFor } from '../../src/spec/program-types.js';
import { btfNamed } from '../../src/verifier/btf-ctx.js';
import { type VerifiableProgram, verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const haveBtf = existsSync(VMLINUX);
if (!haveBtf && process.env.CI === 'true') throw new Error(`${VMLINUX} is required in CI`);
const oracle = haveBtf && kernelOracle();

let vmlinux: Btf | undefined;
/** The kernel's BTF, parsed once for the file (6 MB). */
const kbtf = (): Btf => {
  vmlinux ??= parseBtf(new Uint8Array(readFileSync(VMLINUX)), VMLINUX);
  return vmlinux;
};

const SZ: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});
const ldx = (size: number, dst: number, src: number, off: number) => I(0x61 | SZ[size]!, dst, src, off, 0);
const stx = (size: number, dst: number, src: number, off: number) => I(0x63 | SZ[size]!, dst, src, off, 0);
const mov = (dst: number, imm: number) => I(0xb7, dst, 0, 0, imm);
const add = (dst: number, imm: number) => I(0x07, dst, 0, 0, imm);
const jeq0 = (dst: number, skip: number) => I(0x15, dst, 0, skip, 0);
const exit = I(0x95, 0, 0, 0, 0);

/** Byte offset of `member` in struct `name` of the kernel's BTF. */
function offsetOf(name: string, member: string): number {
  const t = btfNamed(kbtf(), name, Kind.STRUCT)!;
  if (t.kind !== Kind.STRUCT) throw new Error(name);
  const m = t.members.find((x) => x.name === member);
  if (!m) throw new Error(`${name}.${member}`);
  return m.bitOffset / 8;
}

interface Case {
  section: string;
  insns: Insn[];
}

function ours(c: Case): { accepted: boolean; why: string } {
  const [head, to] = [
    c.section.slice(0, c.section.indexOf('/')),
    c.section.slice(c.section.indexOf('/') + 1),
  ];
  const types: Record<string, [string, string]> = {
    tp_btf: ['tracing', 'trace_raw_tp'],
    iter: ['tracing', 'trace_iter'],
    fentry: ['tracing', 'trace_fentry'],
    fexit: ['tracing', 'trace_fexit'],
    fmod_ret: ['tracing', 'modify_return'],
    lsm: ['lsm', 'lsm_mac'],
  };
  const [type, attachType] = types[head]!;
  const p: VerifiableProgram = { insns: c.insns, type, attachType, attachTo: to };
  const r = verify(p, { btf: kbtf(), logLevel: 1 });
  return { accepted: r.accepted, why: r.diagnostics[0]?.message ?? '' };
}

function kernelAccepts(c: Case): boolean {
  const slash = c.section.indexOf('/');
  const head = c.section.slice(0, slash);
  const to = c.section.slice(slash + 1);
  const target =
    head === 'tp_btf'
      ? btfNamed(kbtf(), `btf_trace_${to}`, Kind.TYPEDEF)
      : btfNamed(kbtf(), `bpf_iter_${to}`, Kind.FUNC);
  const at = head === 'tp_btf' ? 'trace_raw_tp' : 'trace_iter';
  try {
    const { fd } = kernel.progLoad({
      type: programTypeFor('tracing')!.kernel,
      insns: c.insns,
      license: 'GPL',
      expectedAttachType: attachTypeNumber(at)!,
      attachBtfId: target!.id,
      logLevel: 1,
      logSize: 64 * 1024,
    });
    kernel.close(fd);
    return true;
  } catch (e) {
    if (e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError) return false;
    throw e;
  }
}

describe.runIf(oracle)('tp_btf and iter programs: our verdict is the kernel’s', () => {
  it('sched_switch: every load of its argument slots (bool, two task pointers, unsigned int, then none)', () => {
    const mismatches: string[] = [];
    for (const size of [1, 2, 4, 8]) {
      for (let off = -8; off < 48; off += size) {
        const c = { section: 'tp_btf/sched_switch', insns: [ldx(size, 2, 1, off), mov(0, 0), exit] };
        const k = kernelAccepts(c);
        const o = ours(c);
        if (k !== o.accepted)
          mismatches.push(`read ${size}@${off}: kernel ${k}, ours ${o.accepted} ${o.why}`);
      }
    }
    // A store into the arguments.
    const st = { section: 'tp_btf/sched_switch', insns: [mov(2, 0), stx(8, 1, 2, 0), mov(0, 0), exit] };
    if (kernelAccepts(st) !== ours(st).accepted) mismatches.push('store into the arguments');
    expect(mismatches).toEqual([]);
  });

  it('loads through a task pointer: members, nested pointers, out of bounds, stores, variable offsets', () => {
    const pid = offsetOf('task_struct', 'pid');
    const parent = offsetOf('task_struct', 'real_parent');
    const comm = offsetOf('task_struct', 'comm');
    const size = (btfNamed(kbtf(), 'task_struct', Kind.STRUCT) as { size: number }).size;
    const prev = (rest: Insn[]): Case => ({
      section: 'tp_btf/sched_switch',
      insns: [ldx(8, 2, 1, 8), ...rest, mov(0, 0), exit],
    });
    const cases: [string, Case][] = [
      ['prev->pid', prev([ldx(4, 3, 2, pid)])],
      ['prev->pid as 8 bytes (pid and tgid)', prev([ldx(8, 3, 2, pid)])],
      ['prev->comm[3]', prev([ldx(1, 3, 2, comm + 3)])],
      ['prev->real_parent->pid', prev([ldx(8, 3, 2, parent), ldx(4, 4, 3, pid)])],
      ['prev + 8, then ->pid - 8', prev([add(2, 8), ldx(4, 3, 2, pid - 8)])],
      ['past the end of task_struct', prev([ldx(8, 3, 2, size)])],
      ['at offset -8', prev([ldx(8, 3, 2, -8)])],
      ['a store into prev->pid', prev([mov(3, 1), stx(4, 2, 3, pid)])],
      ['prev->pid read as 4 bytes at pid+2 (straddles tgid)', prev([ldx(4, 3, 2, pid + 2)])],
      ['the pid of a NULL check of prev', prev([jeq0(2, 1), ldx(4, 3, 2, pid)])],
      ['prev returned', { section: 'tp_btf/sched_switch', insns: [ldx(8, 0, 1, 8), exit] }],
      [
        'iter/task: task read without a NULL check',
        { section: 'iter/task', insns: [ldx(8, 2, 1, 8), ldx(4, 3, 2, pid), mov(0, 0), exit] },
      ],
      [
        'iter/task: task read after a NULL check',
        { section: 'iter/task', insns: [ldx(8, 2, 1, 8), jeq0(2, 1), ldx(4, 3, 2, pid), mov(0, 0), exit] },
      ],
      [
        'iter/task: meta read without a check',
        { section: 'iter/task', insns: [ldx(8, 2, 1, 0), ldx(8, 3, 2, 0), mov(0, 0), exit] },
      ],
      ['iter/task returns 1', { section: 'iter/task', insns: [mov(0, 1), exit] }],
      ['iter/task returns 2', { section: 'iter/task', insns: [mov(0, 2), exit] }],
    ];
    const got = cases.map(([name, c]) => {
      const o = ours(c);
      return { name, kernel: kernelAccepts(c), ours: o.accepted, why: o.why };
    });
    const mismatches = got.filter((g) => g.kernel !== g.ours);
    expect(mismatches).toEqual([]);
    // Both answers occur: the cases reach accepted and refused programs.
    expect(got.filter((g) => g.kernel).length).toBeGreaterThan(3);
    expect(got.filter((g) => !g.kernel).length).toBeGreaterThan(3);
  });
});

describe.runIf(oracle)('every load through kernel struct pointers agrees with the kernel', () => {
  // [tracepoint, argument slot, struct]: pointers to structs with padding, bitfields, arrays, unions, nested
  // structs and pointer members.
  const walks: [string, number, string][] = [
    ['sched_process_exec', 2, 'linux_binprm'],
    ['sched_process_fork', 0, 'task_struct'],
    ['kfree_skb', 0, 'sk_buff'],
  ];
  for (const [tp, slot, struct] of walks) {
    it(`tp_btf/${tp}: struct ${struct} (first 1024 bytes), 1/2/4/8-byte loads at every aligned offset`, () => {
      const size = (btfNamed(kbtf(), struct, Kind.STRUCT) as { size: number }).size;
      const end = Math.min(size + 8, 1024);
      const mismatches: string[] = [];
      let accepted = 0;
      let tried = 0;
      for (const bytes of [1, 2, 4, 8]) {
        for (let off = -8; off < end; off += bytes) {
          const c = {
            section: `tp_btf/${tp}`,
            insns: [ldx(8, 2, 1, slot * 8), ldx(bytes, 3, 2, off), mov(0, 0), exit],
          };
          const k = kernelAccepts(c);
          const o = ours(c);
          tried++;
          if (k) accepted++;
          if (k !== o.accepted) mismatches.push(`${bytes}@${off}: kernel ${k}, ours ${o.accepted} ${o.why}`);
        }
      }
      expect(mismatches).toEqual([]);
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(tried);
    });
  }
});

describe.runIf(haveBtf)(
  'fentry, fexit, fmod_ret and lsm (the same rules; not loadable on this kernel)',
  () => {
    // do_unlinkat(int dfd, struct filename *name) returns int.
    const nameOff = offsetOf('filename', 'name');
    it('fentry/do_unlinkat: dfd is a number, name a struct filename pointer; there is no third argument', () => {
      expect(
        ours({ section: 'fentry/do_unlinkat', insns: [ldx(8, 2, 1, 0), mov(0, 0), exit] }).accepted,
      ).toBe(true);
      expect(
        ours({
          section: 'fentry/do_unlinkat',
          insns: [ldx(8, 2, 1, 8), ldx(8, 3, 2, nameOff), mov(0, 0), exit],
        }).accepted,
      ).toBe(true);
      const third = ours({ section: 'fentry/do_unlinkat', insns: [ldx(8, 2, 1, 16), mov(0, 0), exit] });
      expect(third).toMatchObject({ accepted: false });
      expect(third.why).toMatch(/fentry\/do_unlinkat has 2 argument slots/);
      // The return value: fentry must return 0.
      expect(ours({ section: 'fentry/do_unlinkat', insns: [mov(0, 1), exit] }).accepted).toBe(false);
    });

    it('fexit/do_unlinkat reads the return value as its third slot; fmod_ret may return anything', () => {
      expect(
        ours({ section: 'fexit/do_unlinkat', insns: [ldx(8, 2, 1, 16), mov(0, 0), exit] }).accepted,
      ).toBe(true);
      expect(
        ours({ section: 'fexit/do_unlinkat', insns: [ldx(8, 2, 1, 24), mov(0, 0), exit] }).accepted,
      ).toBe(false);
      expect(ours({ section: 'fmod_ret/do_unlinkat', insns: [mov(0, -1), exit] }).accepted).toBe(true);
    });

    it('lsm/file_open: returns 0 or -errno, as a 32-bit int; its file pointer may be read', () => {
      const flags = offsetOf('file', 'f_flags');
      const lsm = (insns: Insn[]) => ours({ section: 'lsm/file_open', insns });
      expect(lsm([ldx(8, 2, 1, 0), ldx(4, 3, 2, flags), mov(0, 0), exit]).accepted).toBe(true);
      expect(lsm([mov(0, -1), exit]).accepted).toBe(true);
      expect(lsm([I(0xb4, 0, 0, 0, -13), exit]).accepted).toBe(true); // w0 = -EACCES
      expect(lsm([mov(0, 1), exit]).accepted).toBe(false);
      expect(lsm([mov(0, -4096), exit]).accepted).toBe(false);
      expect(lsm([mov(2, 0), stx(8, 1, 2, 0), mov(0, 0), exit]).accepted).toBe(false);
      // The slot after file: the return value of the LSM programs before this one; then nothing.
      // The kernel bounds that value by the hook's range [-4095, 0]: returning it is allowed.
      expect(lsm([ldx(8, 0, 1, 8), exit]).accepted).toBe(true);
      expect(lsm([ldx(8, 0, 1, 8), add(0, 1), exit]).accepted).toBe(false);
      expect(lsm([ldx(8, 2, 1, 8), mov(0, 0), exit]).accepted).toBe(true);
      expect(lsm([ldx(8, 2, 1, 16), mov(0, 0), exit]).accepted).toBe(false);
    });

    it('lsm return ranges by hook: any for a void hook, 1 for a void hook under lsm_cgroup', () => {
      const run = (attachType: string, to: string, r: number) =>
        verify(
          { insns: [mov(0, r), exit], type: 'lsm', attachType, attachTo: to },
          { btf: kbtf(), logLevel: 0 },
        ).accepted;
      expect([run('lsm_mac', 'bpf_map_free', 7), run('lsm_mac', 'file_open', 7)]).toEqual([true, false]);
      expect([0, 1, 2].map((r) => run('lsm_cgroup', 'bpf_map_free', r))).toEqual([false, true, false]);
      expect([0, 1, 2].map((r) => run('lsm_cgroup', 'file_open', r))).toEqual([true, true, false]);
    });

    it('without the kernel’s BTF, or with a target it lacks, the program is refused in one line', () => {
      const r = verify(
        {
          name: 'x',
          section: 'fentry/do_unlinkat',
          type: 'tracing',
          insns: [mov(0, 0), exit],
          license: 'GPL',
        },
        { logLevel: 1 },
      );
      expect(r.accepted).toBe(false);
      expect(r.diagnostics[0]?.message).toBe(
        "fentry/do_unlinkat needs the kernel's BTF to know its arguments: give --btf (e.g. /sys/kernel/btf/vmlinux)",
      );
      const missing = ours({ section: 'fentry/no_such_function_xyz', insns: [mov(0, 0), exit] });
      expect(missing.why).toBe(
        "fentry/no_such_function_xyz: the kernel's BTF has no function 'no_such_function_xyz' to attach to",
      );
    });
  },
);

describe.runIf(oracle)('struct_ops programs typed by their member: our verdict is the kernel’s', () => {
  const ops = 'tcp_congestion_ops';
  function load(member: string, insns: Insn[]): { kernel: boolean; ours: boolean; why: string } {
    const st = btfNamed(kbtf(), ops, Kind.STRUCT)!;
    if (st.kind !== Kind.STRUCT) throw new Error(ops);
    let k = true;
    try {
      const { fd } = kernel.progLoad({
        type: programTypeFor('struct_ops')!.kernel,
        insns,
        license: 'GPL',
        // For struct_ops the expected attach type is the member's index, the attach BTF id the struct's.
        expectedAttachType: st.members.findIndex((m) => m.name === member),
        attachBtfId: st.id,
        logLevel: 1,
        logSize: 64 * 1024,
      });
      kernel.close(fd);
    } catch (e) {
      if (!(e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError)) throw e;
      k = false;
    }
    const r = verify(
      { insns, type: 'struct_ops', attachTo: `${ops}.${member}` },
      { btf: kbtf(), logLevel: 1 },
    );
    return { kernel: k, ours: r.accepted, why: r.diagnostics[0]?.message ?? '' };
  }
  it('tcp_congestion_ops members: argument slots, socket fields, return values', () => {
    const state = offsetOf('sock_common', 'skc_state');
    const cases: [string, Insn[]][] = [];
    for (const member of ['ssthresh', 'cong_avoid', 'init', 'cwnd_event', 'undo_cwnd']) {
      for (let slot = 0; slot < 4; slot++)
        cases.push([`${member}: slot ${slot}`, [ldx(8, 2, 1, slot * 8), mov(0, 0), exit]]);
      cases.push([`${member}: sk->skc_state`, [ldx(8, 2, 1, 0), ldx(1, 0, 2, state), exit]]);
      cases.push([
        `${member}: a store into sk`,
        [ldx(8, 2, 1, 0), mov(3, 0), stx(4, 2, 3, 0), mov(0, 0), exit],
      ]);
      for (const r of [-1, 0, 1]) cases.push([`${member}: returns ${r}`, [mov(0, r), exit]]);
    }
    const rows = cases.map(([name, insns]) => ({ name, ...load(name.split(':')[0]!, insns) }));
    expect(
      rows
        .filter((r) => r.kernel !== r.ours)
        .map((r) => `${r.name}: kernel ${r.kernel}, ours ${r.ours} ${r.why}`),
    ).toEqual([]);
    expect(rows.filter((r) => r.kernel).length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.kernel).length).toBeGreaterThan(5);
  });
});
