// CO-RE against the running kernel, with libbpf as the oracle: the clang-built fixtures of
// test/fixtures/core are relocated by tsbpf against /sys/kernel/btf/vmlinux and loaded through the kernel
// back end; bpftool (libbpf) loads the same objects; the kernel's translated instructions of each program
// (BPF_OBJ_GET_INFO_BY_FD's xlated_prog_insns, through `bpftool prog dump xlated ... file`) must be the same
// one for one — only the addresses the kernel puts in map references differ between two loads. The
// user-space side runs the relocated kprobe of regs.o on tsbpf's probe context.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../src/btf/builder.js';
import { setDefaultCoreTarget } from '../../src/btf/core/index.js';
import { type Btf, parseBtf } from '../../src/btf/parse.js';
import { loadCollection } from '../../src/collection/load.js';
import type { LoadedProgram } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { probe } from '../../src/hooks/probe.js';
import { decode, type Insn, LDDW } from '../../src/isa/index.js';
import '../../src/kernel/register.js';
import type { KernelProgram } from '../../src/kernel/object.js';
import { progInfo } from '../../src/kernel/syscall.js';
import { kernelCoreTarget } from '../../src/node/core-target.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURES = new URL('../fixtures/core/', import.meta.url).pathname;
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
const PIN = `/sys/fs/bpf/tsbpf_core_${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-core-'));

afterAll(() => {
  rmSync(PIN, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

/** The kernel's translated instructions of a loaded program (by id or pin path). */
function xlated(how: ['id', string] | ['pinned', string]): Insn[] {
  const file = join(tmp, `x${Math.random().toString(36).slice(2)}.bin`);
  execFileSync('bpftool', ['prog', 'dump', 'xlated', ...how, 'file', file], { stdio: 'pipe' });
  return decode(new Uint8Array(readFileSync(file)));
}

/** Map references (lddw src 1/2) carry per-load kernel addresses: blank them out of both sides. */
function withoutMapAddresses(insns: Insn[]): Insn[] {
  return insns.map((x, i) => {
    const prev = insns[i - 1];
    const isMapRef = (y: Insn | undefined) => y?.code === LDDW && (y.src === 1 || y.src === 2);
    if (isMapRef(x) || (prev && isMapRef(prev) && x.code === 0)) return { ...x, imm: 0 };
    return x;
  });
}

/** The object as compiled (no target), to count the instructions relocation changed. */
function compiled(bytes: Uint8Array): ObjectSpec {
  setDefaultCoreTarget(undefined);
  try {
    return readObject(bytes, { file: 'compiled' });
  } finally {
    setDefaultCoreTarget(kernelCoreTarget);
  }
}

describe.skipIf(!oracle)('CO-RE against the running kernel, compared with libbpf', () => {
  it('parses /sys/kernel/btf/vmlinux once per process', () => {
    const bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
    const t0 = performance.now();
    const btf = parseBtf(bytes, 'vmlinux');
    const ms = performance.now() - t0;
    console.log(
      `[core] vmlinux BTF: ${bytes.length} bytes, ${btf.types.length} types, parsed in ${ms.toFixed(0)} ms`,
    );
    const target = kernelCoreTarget();
    expect(target?.btf.types.length).toBe(btf.types.length);
    expect(kernelCoreTarget()).toBe(target);
  });

  for (const file of ['task.o', 'regs.o']) {
    it(`${file}: every program's instructions equal libbpf's once the kernel has loaded both`, () => {
      const bytes = fixture(file);
      const asCompiled = compiled(bytes);
      const spec = readObject(bytes, { file, btf: kernelCoreTarget() });
      expect(spec.warnings ?? []).toEqual(
        file === 'task.o'
          ? [
              expect.stringMatching(
                /^section kprobe\/do_nanosleep insn \d+: the program reads field state of struct task_struct___old, which the target BTF \(vmlinux\) does not have \(byte offset of struct task_struct___old\.state\): poisoned/,
              ),
              expect.stringMatching(
                /^section kprobe\/do_nanosleep insn \d+: the program reads value PIDTYPE_NOPE of enum pid_type, which the target BTF \(vmlinux\) does not have/,
              ),
            ]
          : [],
      );
      // Relocation changed what it should: some offsets and values differ from the compiled ones.
      const changed = spec.programs.flatMap((p, i) =>
        p.insns.filter((x, j) => JSON.stringify(x) !== JSON.stringify(asCompiled.programs[i]!.insns[j])),
      );
      expect(changed.length).toBeGreaterThan(file === 'task.o' ? 20 : 1);

      const dir = `${PIN}_${file.replace('.o', '')}`;
      execFileSync('bpftool', ['prog', 'loadall', join(FIXTURES, file), dir], { stdio: 'pipe' });
      const coll = loadCollection(spec, { backend: 'kernel' });
      try {
        for (const p of spec.programs) {
          const ours = coll.program(p.name) as unknown as KernelProgram;
          const id = String(progInfo(ours.fd).id);
          const mine = withoutMapAddresses(xlated(['id', id]));
          const libbpf = withoutMapAddresses(xlated(['pinned', `${dir}/${p.name}`]));
          expect(mine.length, p.name).toBeGreaterThan(5);
          expect(mine, p.name).toEqual(libbpf);
        }
      } finally {
        coll.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('task.o: the values libbpf computes, read back from the kernel-loaded types_enums', () => {
    const spec = readObject(fixture('task.o'), { btf: kernelCoreTarget() });
    const p = spec.programs.find((x) => x.name === 'types_enums')!;
    const btf = kernelCoreTarget()!.btf;
    const task = btf.byName('task_struct', 4)!;
    // r0 = type size; r1 = lddw type id; …: the immediates the program now carries
    const imms = p.insns.map((x) => x.imm);
    expect(imms).toContain(task.size);
    expect(imms).toContain(task.id);
  });
});

/** A BTF holding x86-64's `struct pt_regs` registers si and di where the kernel has them (or si alone). */
function x86PtRegs(withDi = true): Btf {
  const b = new BtfBuilder();
  const ul = b.int('long unsigned int', 8);
  b.struct('pt_regs', 168, [
    { name: 'si', type: ul, bitOffset: 104 * 8 },
    ...(withDi ? [{ name: 'di', type: ul, bitOffset: 112 * 8 }] : []),
  ]);
  return parseBtf(b.encode(), withDi ? 'x86 pt_regs' : 'pt_regs without di');
}

describe('a relocation the target cannot satisfy: refused only where reached, by both verifiers', () => {
  // Against a pt_regs without di, regs_sum reads di unconditionally; regs_guarded only after
  // bpf_core_field_exists, which relocates to 0 and leaves the poisoned read dead.
  const spec = () => readObject(fixture('regs.o'), { file: 'regs.o', btf: x86PtRegs(false) });

  it('names the poisoned relocations and refuses the program that reaches one (ours)', () => {
    const s = spec();
    const lacks =
      'the program reads field di of struct pt_regs___l, which the target BTF (pt_regs without di) does not have (byte offset of struct pt_regs___l.di)';
    expect(s.warnings).toEqual([
      `section kprobe/do_nanosleep insn 5: ${lacks}: poisoned, the verifier refuses it if reached`,
      `section kprobe/do_nanosleep insn 30: ${lacks}: poisoned, the verifier refuses it if reached`,
      `section .text insn 0: ${lacks}: poisoned, the verifier refuses it if reached`,
    ]);
    // In a subprogram: named at the slot it was linked to.
    const sub = s.programs.find((p) => p.name === 'regs_sub')!;
    const at = sub.funcInfo!.find((f) => f.name === 'read_di')!.insn;
    expect(sub.corePoisoned).toEqual([{ insn: at, reason: lacks }]);
    const subResult = verify(sub, { maps: s.maps });
    expect(subResult.diagnostics[0]).toMatchObject({ kind: 'core_poison', insn: at });
    expect(subResult.diagnostics[0]!.message).toMatch(/^the program reads field di of struct pt_regs___l/);
    const sum = verify(s.programs.find((p) => p.name === 'regs_sum')!, { maps: s.maps });
    expect(sum.accepted).toBe(false);
    expect(sum.diagnostics[0]).toMatchObject({ kind: 'core_poison', insn: 5 });
    expect(s.programs.find((p) => p.name === 'regs_sum')!.corePoisoned).toEqual([
      { insn: 5, reason: expect.stringMatching(/^the program reads field di of struct pt_regs___l/) },
    ]);
    expect(sum.diagnostics[0]!.message).toBe(
      "the program reads field di of struct pt_regs___l, which the target BTF (pt_regs without di) does not have (byte offset of struct pt_regs___l.di): the CO-RE relocation could not be applied (libbpf's poisoned call 0xbad2310 is reached)",
    );
    expect(verify(s.programs.find((p) => p.name === 'regs_guarded')!, { maps: s.maps }).accepted).toBe(true);
    const coll = loadCollection(s, { backend: 'userspace', programs: ['regs_guarded'] });
    const host = { f: (a: number) => a };
    const link = probe(host, 'f', coll.program('regs_guarded') as LoadedProgram);
    host.f(42);
    expect(coll.typedMap<number, bigint>('out').get(0)).toBe(1n);
    link.close();
    coll.close();
  });

  it.skipIf(!oracle)('the kernel refuses the same program and accepts the guarded one', () => {
    const s = spec();
    expect(() => loadCollection(s, { backend: 'kernel', programs: ['regs_sum'] })).toThrow(
      /unknown#195896080|invalid func/,
    );
    loadCollection(s, { backend: 'kernel', programs: ['regs_guarded'] }).close();
  });
});

describe('CO-RE in user space: the relocated kprobe on the probe context', () => {
  it('regs.o reads di and si where the kernel (and tsbpf) keep them', () => {
    // Without the kernel's BTF, a pt_regs shaped as x86-64's stands in (si at 104, di at 112).
    const btf = kernelCoreTarget() ?? x86PtRegs();
    const spec = readObject(fixture('regs.o'), { file: 'regs.o', btf });
    const coll = loadCollection(spec, { backend: 'userspace' });
    try {
      const host = { add: (a: number, b: number) => a + b };
      for (const [engine, a, b] of [
        ['interp', 7, 5],
        ['jit', 9, 4],
      ] as const) {
        const link = probe(host, 'add', coll.program('regs_sum') as LoadedProgram, { engine });
        expect(host.add(a, b)).toBe(a + b);
        expect(coll.typedMap<number, bigint>('out').get(0), engine).toBe(BigInt(a * 1000 + b));
        link.close();
      }
      // As compiled, di is read at 0 (the probe's timestamp) and si at 8: not the arguments.
      const raw = loadCollection(compiled(fixture('regs.o')), { backend: 'userspace' });
      const l2 = probe(host, 'add', raw.program('regs_sum') as LoadedProgram);
      host.add(7, 5);
      expect(raw.typedMap<number, bigint>('out').get(0)).not.toBe(7005n);
      l2.close();
      raw.close();
    } finally {
      coll.close();
    }
  });
});
