// One test per rule: the verdict and the reason, on small hand-written programs.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { MAP_TYPES } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { ctxAccess, programTypeByName, XDP_MD_OFFSETS } from '../../src/spec/program-types.js';
import { mapAcceptsHelper } from '../../src/verifier/calls.js';
import { verify } from '../../src/verifier/index.js';
import { CASES } from './corpus.js';
import { check, TEST_MAPS, testHelpers, verdict } from './support.js';

const kind = (text: string, type = 'xdp') => {
  const r = check(text, type);
  return r.accepted ? 'accepted' : r.diagnostics[0]!.kind;
};
const byName = (name: string) => CASES.find((c) => c.name === name)!;
const caseKind = (name: string) => kind(byName(name).asm, byName(name).type);

describe('program types', () => {
  it('xdp_md layout: data is a 4-byte field yielding a packet pointer', () => {
    expect(XDP_MD_OFFSETS).toMatchObject({
      data: 0,
      data_end: 4,
      data_meta: 8,
      ingress_ifindex: 12,
      rx_queue_index: 16,
    });
    const xdp = programTypeByName('xdp')!;
    const ok = ctxAccess(xdp, 0, 4, false);
    expect('field' in ok && ok.field.yields).toBe('packet');
    expect('error' in ctxAccess(xdp, 0, 8, false)).toBe(true);
    expect('error' in ctxAccess(xdp, 12, 4, true)).toBe(true);
    expect(programTypeByName('cgroup_skb')!.ret).toEqual({ min: 0, max: 1 });
    expect(programTypeByName('sched_cls')!.kernel).toBe(3);
  });
});

describe('structure', () => {
  it('rejects bad jumps, fall-through, unreachable code, unknown helpers, reserved fields', () => {
    expect(caseKind('cfg: jump out of range')).toBe('bad_insn');
    expect(caseKind('cfg: fall off the end')).toBe('fall_through');
    expect(caseKind('cfg: unreachable instruction')).toBe('unreachable');
    expect(caseKind('cfg: jump into lddw')).toBe('bad_insn');
    expect(caseKind('cfg: unknown helper')).toBe('unknown_helper');
    const insns = assemble('r0 = 2\n exit');
    insns[0] = { ...insns[0]!, src: 3 };
    expect(verify({ insns, type: 'xdp' }).diagnostics[0]!.kind).toBe('reserved_fields');
  });
  it('the dfs loop mode rejects back edges; the default mode runs bounded loops', () => {
    const loop = byName('loop: bounded counter').asm;
    expect(kind(loop)).toBe('accepted');
    expect(check(loop, 'xdp', { loops: 'dfs' }).diagnostics[0]!.kind).toBe('back_edge');
  });
  it('detects loops that never change state and loops that hit the complexity limit', () => {
    expect(caseKind('loop: infinite')).toBe('infinite_loop');
    expect(
      check(byName('loop: unbounded counter').asm, 'xdp', { maxInsns: 20_000 }).diagnostics[0]!.kind,
    ).toBe('too_complex');
  });
  it('enforces the unprivileged size limit', () => {
    const big = `${'r0 = 0\n'.repeat(4100)}exit`;
    expect(check(big, 'xdp', { unprivileged: true }).diagnostics[0]!.kind).toBe('too_large');
    expect(kind(big)).toBe('accepted');
  });
});

describe('packet access', () => {
  it('explains an off-by-one read with the bounds check that covers it', () => {
    const r = check(byName('pkt: off-by-one read past the check').asm);
    expect(r.accepted).toBe(false);
    const d = r.diagnostics[0]!;
    expect(d.kind).toBe('pkt_bounds');
    expect(d.insn).toBe(5);
    expect(d.message).toBe(
      'R2 may point 1 byte past the end of the proven packet: the bounds check at insn 4 covers 14 bytes, this reads byte 14',
    );
    expect(d.disasm).toContain('r0 = *(u8 *)(r2');
    expect(d.path).toEqual([{ insn: 4, taken: false }]);
    expect(d.regs).toContain('R2=pkt(off=0,r=14)');
  });
  it('accepts reads inside the range for every comparison form', () => {
    for (const n of [
      'pkt: read inside the checked range',
      'pkt: reversed operands (end < ptr)',
      'pkt: ptr <= end on the taken side',
      'pkt: ptr >= end, read on fall-through',
      'pkt: variable offset checked again',
      'pkt: data_meta checked against data',
      'pkt: tc reads through __sk_buff data',
    ]) {
      expect(caseKind(n), n).toBe('accepted');
    }
  });
  it('invalidates packet pointers after a helper that changes the packet', () => {
    expect(caseKind('pkt: used after xdp_adjust_head')).toBe('scalar_deref');
    expect(caseKind('pkt: reloaded after xdp_adjust_head')).toBe('accepted');
  });
});

describe('maps, stack, registers', () => {
  it('an array lookup with a key the kernel knows and below max_entries cannot return NULL', () => {
    expect(caseKind('map: array lookup with a zero key needs no NULL check')).toBe('accepted');
    // The kernel knows a spilled key only when the spill has the key's size (this 3 is spilled as 8 bytes).
    expect(caseKind('map: array lookup with a 4-byte key in an 8-byte spill')).toBe('null_deref');
    expect(caseKind('map: array lookup with a constant key out of range')).toBe('null_deref');
    expect(caseKind('map: array lookup with a non-zero key not spilled')).toBe('null_deref');
    // Only arrays: a hash lookup may fail for any key; and only privileged, as in the kernel.
    expect(caseKind('map: lookup without NULL check')).toBe('null_deref');
    const zeroKey = byName('map: array lookup with a zero key needs no NULL check');
    expect(check(zeroKey.asm, 'xdp', { unprivileged: true }).diagnostics[0]!.kind).toBe('null_deref');
  });
  it("trace_printk's format arguments are optional; malformed instructions count only when reached", () => {
    expect(caseKind('helper: trace_printk with only a format')).toBe('accepted');
    expect(caseKind('alu: neg with an immediate')).toBe('reserved_fields');
    expect(caseKind('alu: malformed instruction on a path never taken')).toBe('accepted');
    expect(caseKind('atomic: 2-byte atomic add')).toBe('bad_insn');
    // The kernel accepts this one (it checks atomics when reached); our engines have no such opcode.
    expect(caseKind('atomic: 2-byte atomic on a path never taken')).toBe('bad_insn');
    // A function need not set r0; reading the result of one that did not is the error.
    expect(caseKind('call: void subprogram')).toBe('accepted');
    expect(caseKind('call: result of a void subprogram read')).toBe('uninit_reg');
  });
  it('requires NULL checks, also through copies', () => {
    expect(caseKind('map: lookup without NULL check')).toBe('null_deref');
    expect(caseKind('map: NULL check on a copy')).toBe('accepted');
    expect(caseKind('map: NULL check inverted (reads on the NULL side)')).toBe('scalar_deref');
  });
  it('bounds map value accesses by value_size, also with variable offsets', () => {
    expect(caseKind('map: read past the value')).toBe('map_bounds');
    expect(caseKind('map: variable index bounded by mask')).toBe('accepted');
    expect(verdict(byName('map: variable index one too large').asm)).toMatch(
      /reads up to byte 22 of the 16-byte value of map 'hash16'/,
    );
  });
  it('tracks stack initialisation and spills', () => {
    expect(caseKind('stack: read uninitialised')).toBe('uninit_stack');
    expect(caseKind('map: key partly initialised')).toBe('uninit_stack');
    expect(caseKind('stack: spill and fill a pointer')).toBe('accepted');
    expect(caseKind('stack: partial spill of a pointer')).toBe('partial_spill');
    expect(caseKind('stack: misaligned')).toBe('misaligned_stack');
    // Privileged kernel loads read unwritten stack as unknown numbers; we do only when asked to.
    const uninit = byName('stack: read uninitialised').asm;
    expect(kind(uninit)).toBe('uninit_stack');
    expect(check(uninit, 'xdp', { allowUninitStack: true }).accepted).toBe(true);
    expect(check(uninit, 'xdp', { allowUninitStack: true, unprivileged: true }).diagnostics[0]!.kind).toBe(
      'uninit_stack',
    );
    expect(check(byName('map: key partly initialised').asm, 'xdp', { allowUninitStack: true }).accepted).toBe(
      true,
    );
    // Pruning must not let an unwritten slot (read as a number) stand for a saved pointer.
    const mixed = byName('stack: unwritten on one path, a pointer on the other').asm;
    expect(check(mixed, 'xdp', { allowUninitStack: true }).diagnostics[0]!.kind).toBe('ptr_op');
    // Alignment is checked before the frame bounds, through moved pointers, for loads and atomics.
    expect(verdict(byName('stack: misaligned store above the frame pointer').asm)).toBe(
      'misaligned_stack: misaligned stack access: 8 bytes at fp+4 (must be 8-byte aligned)',
    );
    expect(caseKind('stack: misaligned through a moved pointer')).toBe('misaligned_stack');
    expect(caseKind('stack: misaligned 2-byte read')).toBe('misaligned_stack');
    expect(caseKind('stack: misaligned atomic')).toBe('misaligned_stack');
    expect(caseKind('map value: misaligned atomic')).toBe('misaligned');
    expect(caseKind('map value: aligned atomic')).toBe('accepted');
    expect(caseKind('stack: bytes at any offset')).toBe('accepted');
    expect(verdict('*(u64 *)(r10 + 8) = 1\n r0 = 2\n exit')).toMatch(/8 bytes at fp\+8 is outside/);
    expect(caseKind('stack: below the frame')).toBe('stack_bounds');
  });
  it('rejects uninitialised registers and writes to r10', () => {
    expect(verdict('r0 = r2\n exit')).toBe(
      'uninit_reg: R2 is read before it is written on this path (not initialised)',
    );
    expect(caseKind('reg: write r10')).toBe('write_fp');
    expect(caseKind('reg: r1-r5 clobbered by a call')).toBe('uninit_reg');
    expect(caseKind('reg: r6 survives a call')).toBe('accepted');
  });
  it('forbids the pointer arithmetic the kernel forbids', () => {
    expect(caseKind('ptr: ctx + ctx')).toBe('ptr_ptr');
    expect(caseKind('ptr: multiply a pointer')).toBe('ptr_op');
    expect(caseKind('ptr: 32-bit add to a pointer')).toBe('ptr_alu32');
    expect(caseKind('map: pointer arithmetic before NULL check')).toBe('null_arith');
    expect(caseKind('ctx: modified ctx pointer')).toBe('ctx_modified');
    expect(kind('r2 = r10\n r2 -= 8\n r0 = 2\n exit')).toBe('ptr_op');
  });
  it('checks the return range of the program type', () => {
    expect(caseKind('ret: cgroup_skb returns 2')).toBe('bad_return');
    expect(caseKind('ret: cgroup_skb returns masked')).toBe('accepted');
  });
  it('tracks ringbuf references to the exit', () => {
    expect(caseKind('ringbuf: reserve, write, submit')).toBe('accepted');
    expect(verdict(byName('ringbuf: leaked record').asm)).toMatch(
      /^ref_leak: ringbuf memory reserved at insn 4/,
    );
    expect(caseKind('ringbuf: write past the record')).toBe('mem_bounds');
    expect(caseKind('ringbuf: use after submit')).toBe('scalar_deref');
  });
  it('checks helper arguments against prototypes and program types', () => {
    expect(caseKind('map: lookup in a ringbuf')).toBe('map_helper');
    expect(caseKind('helper: tail call with a non-ctx')).toBe('bad_arg');
    expect(caseKind('helper: probe_read with an unbounded size')).toBe('bad_size');
    expect(caseKind('cfg: helper of another program type')).toBe('helper_not_allowed');
  });
  it('takes which helpers a map type accepts from the maps registry', () => {
    const lookup =
      'r1 = 0\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n r1 = map_fd(0) ll\n call 1\n r0 = 2\n exit';
    let types = 0;
    for (const info of MAP_TYPES.values()) {
      const maps = [{ name: 'm', type: info.type, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 }];
      const r = verify({ insns: assemble(lookup), type: 'xdp' }, { maps, helpers: testHelpers });
      // A socket map's lookup gives a referenced socket: kept, it leaks (the kernel refuses that too).
      const socket = info.type === MapType.SOCKMAP || info.type === MapType.SOCKHASH;
      const expected = !info.helpers.includes('map_lookup_elem')
        ? 'map_helper'
        : socket
          ? 'ref_leak'
          : 'accepted';
      expect(r.accepted ? 'accepted' : r.diagnostics[0]!.kind, info.name).toBe(expected);
      types++;
    }
    expect(types).toBeGreaterThan(15);
    // Types the registry does not model keep the kernel's rules: a bloom filter takes push/peek only.
    expect(mapAcceptsHelper(30, 'bpf_map_push_elem')).toBe(true);
    expect(mapAcceptsHelper(30, 'map_lookup_elem')).toBe(false);
    expect(mapAcceptsHelper(MapType.STACK_TRACE, 'get_stackid')).toBe(true);
    expect(mapAcceptsHelper(1000, 'map_lookup_elem')).toBe(false);
  });
  it('bpf-to-bpf calls get their own frame', () => {
    expect(caseKind('call: subprogram returns a value')).toBe('accepted');
    expect(caseKind('call: caller r1 clobbered')).toBe('uninit_reg');
    expect(caseKind('call: callee returns its stack')).toBe('stack_escape');
  });
  it('prints a kernel-style trace at log level 2', () => {
    const r = check(byName('pkt: read inside the checked range').asm, 'xdp', { logLevel: 2 });
    expect(r.log).toMatch(/^0: r2 = \*\(u32 \*\)\(r1 \+ 0x0\) {4}; R1=ctx\(off=0\) R10=fp0$/m);
    expect(r.log).toContain('accepted: processed');
  });
  it('verifies maps given by index and rejects unknown ones', () => {
    const r = verify(
      { insns: assemble('r1 = map_fd(9) ll\n r0 = 0\n exit'), type: 'xdp' },
      { maps: TEST_MAPS, helpers: testHelpers },
    );
    expect(r.diagnostics[0]!.kind).toBe('bad_map');
  });
  it('verifies bpf_loop callbacks for any number of calls', () => {
    expect(caseKind('loop helper: callback sums into the context')).toBe('accepted');
    expect(caseKind('loop helper: callback returns 2')).toBe('bad_return');
    expect(caseKind('loop helper: callback writes past its context')).toBe('stack_bounds');
    expect(caseKind('loop helper: callback reads uninitialised context')).toBe('uninit_stack');
  });
});
