// Typed __ksym variables (per-CPU kernel structs read by BTF id): the reader makes their `lddw` src BTF_ID
// with an index into ProgramSpec.ksyms, and tsbpf's verifier applies the kernel's rules to them when the
// symbol has an address. The reference kernel gives per-CPU variables none (no CONFIG_KALLSYMS_ALL), so it
// refuses every such load first (test/kfuncs/verdicts.test.ts); here the reader is given an address, as a
// kernel with KALLSYMS_ALL would, to check the rules that come after.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PseudoLddw } from '../../src/isa/index.js';
import { readObject } from '../../src/node/root.js';
import { verify } from '../../src/verifier/index.js';

const DIR = new URL('../fixtures/kfuncs/', import.meta.url);
const read = (file: string, address?: bigint) =>
  readObject(new Uint8Array(readFileSync(new URL(file, DIR))), {
    file,
    externs: { ksym: (name) => (name === 'runqueues' ? address : undefined) },
  });

describe('typed __ksym variables', () => {
  it('become a lddw of the program ksym list (src BTF_ID), typed by their kernel struct', () => {
    const p = read('r_typed_ksym.o', 0xffffffff82000000n).programs[0]!;
    expect(p.ksyms).toEqual([{ name: 'runqueues', type: 'rq' }]);
    const lddw = p.insns.filter((i) => i.code === 0x18 && i.src === PseudoLddw.BTF_ID);
    expect(lddw.length).toBeGreaterThanOrEqual(1);
    expect(lddw.every((i) => i.imm === 0)).toBe(true);
  });

  it('without a kernel address are refused as the kernel refuses them', () => {
    const s = read('r_typed_ksym.o');
    expect(s.programs[0]!.ksyms).toEqual([{ name: 'runqueues', type: 'rq', noAddress: true }]);
    const r = verify(s.programs[0]!, { maps: s.maps });
    expect(r.diagnostics[0]?.kind).toBe('ksym_address');
  });

  it.each([
    ['r_typed_ksym.o', undefined],
    ['r_ksym_percpu_deref.o', 'percpu'],
    ['r_per_cpu_unchecked.o', 'null_deref'],
  ] as const)('with an address, %s: bpf_this_cpu_ptr / bpf_per_cpu_ptr rules (%s)', (file, kind) => {
    const s = read(file, 0xffffffff82000000n);
    const r = verify(s.programs[0]!, { maps: s.maps });
    if (kind === undefined) expect(r.accepted, r.log).toBe(true);
    else expect(r.diagnostics[0]?.kind, r.log).toBe(kind);
  });
});
