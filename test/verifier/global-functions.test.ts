// Global (non-static) functions, as the kernel treats them: each is verified on its own with parameters of
// its BTF prototype's types and must return a number; a call checks the arguments against those types
// and leaves r0 an unknown number (the body is not walked with the caller's values). The compiled fixture
// also loads into the kernel, which needs BTF func_info for it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { testRun } from '../../src/hooks/test-run.js';
import type { FuncParam, ProgramSpec } from '../../src/spec/object.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = 'test/fixtures/elf/global_funcs.o';

/** main at slot 0, a global function at `at` with these parameters. */
function program(text: string, at: number, params: FuncParam[] | undefined): ProgramSpec {
  return {
    name: 'main',
    section: 'xdp',
    type: 'xdp',
    license: 'GPL',
    insns: assemble(text),
    funcInfo: [
      { insn: 0, name: 'main' },
      { insn: at, name: 'f', global: true, params },
    ],
  };
}

const verdict = (p: ProgramSpec) => {
  const r = verify(p, { logLevel: 0 });
  return r.accepted ? 'accepted' : `${r.diagnostics[0]!.kind}: ${r.diagnostics[0]!.message}`;
};

// main: r1 = 7; call f; exit with f's result. f (slot 4): r0 = r1 + 1.
const CALLS_F = `
  r1 = 7
  call pc+2
  r0 &= 1
  exit
  r0 = r1
  r0 += 1
  exit`;

describe('global functions', () => {
  it('verifies a global function on its own and accepts a call with a number', () => {
    expect(verdict(program(CALLS_F, 4, [{ kind: 'scalar' }]))).toBe('accepted');
  });

  it('rejects a global function that may return without setting r0, whatever the caller passes', () => {
    // f: if r1 > 5 then r0 = 1; exit — the caller's 7 always takes the branch, but f is checked alone.
    const text = `
      r1 = 7
      call pc+2
      r0 &= 1
      exit
      if r1 <= 5 goto +1
      r0 = 1
      exit`;
    expect(verdict(program(text, 4, [{ kind: 'scalar' }]))).toMatch(/R0 is read before it is written/);
    // The same function static (walked with the caller's r1 = 7) returns 1 on every path.
    const asStatic = program(text, 4, [{ kind: 'scalar' }]);
    asStatic.funcInfo = [
      { insn: 0, name: 'main' },
      { insn: 4, name: 'f' },
    ];
    expect(verdict(asStatic)).toBe('accepted');
  });

  it('leaves r0 an unknown number after the call: the caller cannot rely on what f returns', () => {
    // f returns 0, but main uses r0 as a stack offset: fine if walked, not for a global function.
    const text = `
      r1 = 7
      call pc+4
      r2 = r10
      r2 += r0
      r0 = *(u8 *)(r2 - 1)
      exit
      r0 = 0
      exit`;
    const global = verify(program(text, 6, [{ kind: 'scalar' }]), { logLevel: 0, allowUninitStack: true });
    expect(global.accepted).toBe(false);
    expect(global.diagnostics[0]!.message).toMatch(/R2: adding a number with no lower bound \(scalar\(\)\)/);
    expect(global.diagnostics[0]!.insn).toBe(3);
    const asStatic = program(text, 6, undefined);
    asStatic.funcInfo = [
      { insn: 0, name: 'main' },
      { insn: 6, name: 'f' },
    ];
    // Walked with the caller, r0 is the known 0 and the stack read is at fp-1 (uninitialised: allowed
    // only with allowUninitStack, so compare with that).
    expect(verify(asStatic, { logLevel: 0, allowUninitStack: true }).accepted).toBe(true);
  });

  it('checks arguments against the parameter types', () => {
    const pointerForNumber = `
      r1 = r10
      call pc+2
      r0 = 0
      exit
      r0 = 0
      exit`;
    expect(verdict(program(pointerForNumber, 4, [{ kind: 'scalar' }]))).toMatch(
      /argument 1 of the global function at 4 \(R1\) must be a number/,
    );
    // A pointer to 8 bytes: the stack pointer must have 8 initialised bytes behind it (or be NULL).
    const stackPtr = (init: boolean) => `
      ${init ? '*(u64 *)(r10 - 8) = 0' : 'r0 = 0'}
      r1 = r10
      r1 += -8
      call pc+2
      r0 = 0
      exit
      r0 = 0
      exit`;
    const ptr: FuncParam[] = [{ kind: 'pointer', size: 8 }];
    expect(verdict(program(stackPtr(true), 6, ptr))).toBe('accepted');
    expect(verdict(program(stackPtr(false), 6, ptr))).not.toBe('accepted');
    // Inside f the pointer may be NULL: dereferencing it unchecked is refused.
    const deref = `
      r1 = 0
      call pc+2
      r0 = 0
      exit
      r0 = *(u64 *)(r1 + 0)
      exit`;
    expect(verdict(program(deref, 4, ptr))).toMatch(/null|NULL/);
  });

  it('refuses a global function whose parameters the kernel does not accept', () => {
    expect(verdict(program(CALLS_F, 4, undefined))).toMatch(/^unsupported: .*make it static/);
  });

  it('runs the compiled fixture (global functions with a number, the context, and a nullable pointer)', () => {
    const spec = readObject(readFileSync(FIXTURE), { file: FIXTURE });
    const p = spec.programs[0]!;
    expect(p.funcInfo?.filter((f) => f.global).map((f) => f.name)).toEqual(
      expect.arrayContaining(['classify', 'bump', 'packet_len']),
    );
    expect(verify(p, { maps: spec.maps, logLevel: 0 }).accepted).toBe(true);
    const obj = loadObject(spec);
    const verdicts = [64, 300, 1000].map(
      (n) => testRun(obj.program().runner(), { dataIn: new Uint8Array(n) }).retval,
    );
    expect(verdicts).toEqual([2, 2, 1]);
  });

  it.skipIf(!oracle)('loads into the kernel with BTF func_info, with the same verdicts', async () => {
    const k = await import('../../src/kernel/index.js');
    const obj = k.loadKernelObject(FIXTURE);
    try {
      expect([64, 300, 1000].map((n) => obj.program().run({ dataIn: new Uint8Array(n) }).retval)).toEqual([
        2, 2, 1,
      ]);
    } finally {
      obj.close();
    }
  });
});
