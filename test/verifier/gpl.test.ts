// GPL-only helpers: a program whose licence is not GPL-compatible may not call them; helpers that may sleep
// only sleepable programs may call. For every helper our
// registry has, called from the first program type of a list that may call it, the kernel's answer under
// licence "Proprietary" (refused as GPL-restricted or not) must be ours; under "GPL" we never refuse for it.

import { describe, expect, it } from 'vitest';
import { helperById } from '../../src/helpers/registry.js';
import type { HelperDef } from '../../src/helpers/types.js';
import type { Insn } from '../../src/isa/index.js';
import * as kernel from '../../src/kernel/index.js';
import { attachTypeNumber } from '../../src/spec/attach-types.js';
import { helperAllowed, programTypeFor } from '../../src/spec/program-types.js';
import { BPF_F_SLEEPABLE } from '../../src/verifier/btf-ctx.js';
import { GPL_ONLY_HELPERS, gplCompatible, MIGHT_SLEEP_HELPERS } from '../../src/verifier/gpl.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/** Program types to call helpers from, first match wins: [type, expected attach type]. */
const TYPES: [string, string | undefined][] = [
  ['kprobe', undefined],
  ['sched_cls', undefined],
  ['xdp', undefined],
  ['socket_filter', undefined],
  ['tracepoint', undefined],
  ['perf_event', undefined],
  ['cgroup_skb', undefined],
  ['sock_ops', undefined],
  ['sk_skb', undefined],
  ['sk_msg', undefined],
  ['raw_tracepoint', undefined],
  ['cgroup_sock_addr', 'cgroup_inet4_connect'],
  ['cgroup_sockopt', 'cgroup_getsockopt'],
  ['cgroup_sysctl', undefined],
  ['sk_lookup', 'sk_lookup'],
];

/** Whether the kernel refuses the call as GPL-only; undefined when its build withholds the helper from the
 * type (probe_write_user under lockdown), which hides the answer. */
function kernelSaysGpl(type: string, attachType: string | undefined, insns: Insn[]): boolean | undefined {
  try {
    const { fd } = kernel.progLoad({
      type: programTypeFor(type, attachType)!.kernel,
      insns,
      license: 'Proprietary',
      expectedAttachType: attachType ? attachTypeNumber(attachType)! : 0,
      logLevel: 1,
      logSize: 64 * 1024,
    });
    kernel.close(fd);
    return false;
  } catch (e) {
    if (!(e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError)) throw e;
    const log = (e as { log?: string }).log ?? '';
    if (/cannot use helper/.test(log)) return undefined;
    return /GPL-restricted/.test(log);
  }
}

describe('licences', () => {
  it('GPL-compatible licences are the kernel’s, compared exactly', () => {
    expect(['GPL', 'GPL v2', 'Dual BSD/GPL', 'Dual MIT/GPL'].map(gplCompatible)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['Proprietary', 'gpl', 'BSD', 'MIT', ''].map(gplCompatible)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe.runIf(oracle)('GPL-only helpers agree with the kernel', () => {
  it('every helper of the registry, called under a non-GPL licence', () => {
    const mismatches: string[] = [];
    let gpl = 0;
    let checked = 0;
    for (let id = 1; id < 212; id++) {
      const h = helperById(id);
      if (!h) continue;
      const at = TYPES.find(([t, a]) => helperAllowed(programTypeFor(t, a)!, h));
      if (!at) continue;
      const [type, attachType] = at;
      const insns = [I(0x85, 0, 0, 0, id), I(0xb7, 0, 0, 0, 0), I(0x95, 0, 0, 0, 0)];
      const program = {
        name: 'p',
        section: '',
        type,
        insns,
        license: 'Proprietary',
        ...(attachType ? { attachType } : {}),
      };
      const k = kernelSaysGpl(type, attachType, insns);
      if (k === undefined) continue;
      const ours = verify(program, { logLevel: 1 }).diagnostics[0]?.kind === 'gpl_only';
      const underGpl =
        verify({ ...program, license: 'GPL' }, { logLevel: 1 }).diagnostics[0]?.kind === 'gpl_only';
      checked++;
      if (k) gpl++;
      if (k !== ours || underGpl)
        mismatches.push(
          `${h.name} (#${id}) from ${type}: kernel ${k}, ours ${ours}${underGpl ? ', refused under GPL' : ''}`,
        );
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    expect(gpl).toBeGreaterThan(20);
    // Every GPL-only id of the table that the registry has was seen to be one.
    expect(gpl).toBeLessThanOrEqual(GPL_ONLY_HELPERS.size);
  });
});

describe.runIf(oracle)('helpers that may sleep agree with the kernel', () => {
  it('copy_from_user(_task) from a kprobe, plain and sleepable (uprobe.s)', () => {
    const rows: string[] = [];
    for (const id of MIGHT_SLEEP_HELPERS) {
      // Until the registry has them, a stand-in with the kernel's name and no arguments.
      const h: HelperDef = helperById(id) ?? {
        id,
        name: id === 148 ? 'copy_from_user' : 'copy_from_user_task',
        proto: { ret: 'integer', args: [] },
        call: () => 0n,
      };
      const helpers = (n: number) => (n === id ? h : helperById(n));
      for (const sleepable of [false, true]) {
        const insns = [I(0x85, 0, 0, 0, id), I(0xb7, 0, 0, 0, 0), I(0x95, 0, 0, 0, 0)];
        let log = '';
        try {
          const { fd } = kernel.progLoad({
            type: programTypeFor('kprobe')!.kernel,
            insns,
            license: 'GPL',
            flags: sleepable ? BPF_F_SLEEPABLE : 0,
            logLevel: 1,
            logSize: 64 * 1024,
          });
          kernel.close(fd);
        } catch (e) {
          if (!(e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError)) throw e;
          log = (e as { log?: string }).log ?? e.message;
        }
        const section = sleepable ? 'uprobe.s//bin/true:main' : 'kprobe/do_sys_open';
        const r = verify(
          { name: 'p', section, type: 'kprobe', insns, license: 'GPL' },
          { logLevel: 1, helpers },
        );
        const k = /might sleep/.test(log);
        const ours = r.diagnostics[0]?.kind === 'might_sleep';
        rows.push(`${h.name} ${sleepable ? 'sleepable' : 'plain'}: kernel ${k}, ours ${ours}`);
      }
    }
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => !/kernel (true|false), ours \1/.test(r))).toEqual([]);
    expect(rows.some((r) => /kernel true/.test(r)) && rows.some((r) => /kernel false/.test(r))).toBe(true);
  });
});
