// Program types on clang-built programs (test/fixtures/types/*.c): every program is loaded alone into the
// kernel with the expected attach type (and attach BTF id) its section gives, as libbpf would, and verified
// by us; the verdicts must be equal. Programs are named ok_* or bad_* after what the kernel does with them,
// so a fixture that stops testing what it says fails too.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { setDefaultCoreTarget } from '../../src/btf/core/index.js';
import { type Btf, Kind, parseBtf } from '../../src/btf/index.js';
import { readObject } from '../../src/elf/index.js';
import * as kernel from '../../src/kernel/index.js';
import { loadKernelObject } from '../../src/kernel/index.js';
import { attachTypeNumber } from '../../src/spec/attach-types.js';
import type { ProgramSpec } from '../../src/spec/object.js';
import { programTypeFor } from '../../src/spec/program-types.js';
import { programTypeForSection } from '../../src/spec/sections.js';
import { btfNamed } from '../../src/verifier/btf-ctx.js';
import { verify } from '../../src/verifier/index.js';
import { clang, kernelOracle } from '../support/kernel.js';

const DIR = new URL('../fixtures/types/', import.meta.url);
const VMLINUX = '/sys/kernel/btf/vmlinux';
const oracle = kernelOracle();

let vmlinux: Btf | undefined;
const kbtf = (): Btf => {
  vmlinux ??= parseBtf(new Uint8Array(readFileSync(VMLINUX)), VMLINUX);
  return vmlinux;
};

/** BPF_F_SLEEPABLE, which libbpf sets for syscall programs and `.s` sections. */
const SLEEPABLE = 1 << 4;

/** The kernel's verdict on one program, loaded as libbpf loads it from its section. */
function kernelVerdict(p: ProgramSpec): { accepted: boolean; log: string } {
  const sec = programTypeForSection(p.section)!;
  const t = programTypeFor(p.type, sec.attachType)!;
  let attachBtfId: number | undefined;
  if (p.type === 'tracing') {
    const name = sec.attachType === 'trace_raw_tp' ? `btf_trace_${sec.attachTo}` : `bpf_iter_${sec.attachTo}`;
    attachBtfId = btfNamed(kbtf(), name, sec.attachType === 'trace_raw_tp' ? Kind.TYPEDEF : Kind.FUNC)?.id;
  }
  try {
    const { fd } = kernel.progLoad({
      type: t.kernel,
      insns: p.insns,
      license: 'GPL',
      name: p.name.slice(0, 15),
      expectedAttachType: sec.attachType ? attachTypeNumber(sec.attachType)! : 0,
      attachBtfId,
      flags: p.type === 'syscall' || p.section.includes('.s/') ? SLEEPABLE : 0,
      logLevel: 1,
      logSize: 256 * 1024,
    });
    kernel.close(fd);
    return { accepted: true, log: '' };
  } catch (e) {
    if (e instanceof kernel.VerifierRejectedError || e instanceof kernel.KernelError) {
      const log = ((e as { log?: string }).log ?? e.message).trim().split('\n').slice(-2).join(' | ');
      return { accepted: false, log };
    }
    throw e;
  }
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.o'));
/** Objects whose meaning depends on what libbpf does to them (BTF linkage): loaded with bpftool instead. */
const LIBBPF = files.filter((f) => f.startsWith('libbpf_'));
const direct = files.filter((f) => !LIBBPF.includes(f));

describe.runIf(oracle)('program types on clang-built fixtures: our verdict is the kernel’s', () => {
  it('finds the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });
  for (const file of direct) {
    it(file, () => {
      const spec = readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file, btf: kbtf() });
      const rows = spec.programs.map((p) => {
        const k = kernelVerdict(p);
        const ours = verify(p, { btf: kbtf(), maps: spec.maps, logLevel: 1 });
        return {
          program: `${p.section} ${p.name}`,
          named: p.name.startsWith('ok_'),
          kernel: k.accepted,
          ours: ours.accepted,
          why: `kernel: ${k.log || 'loaded'}; ours: ${ours.diagnostics[0]?.message ?? 'accepted'}`,
        };
      });
      // The fixture says what the kernel does, and we do the same.
      expect(rows.filter((r) => r.named !== r.kernel).map((r) => `${r.program}: ${r.why}`)).toEqual([]);
      expect(rows.filter((r) => r.ours !== r.kernel).map((r) => `${r.program}: ${r.why}`)).toEqual([]);
      expect(rows.some((r) => r.kernel) && rows.some((r) => !r.kernel)).toBe(true);
    });
  }

  it('the kernel back end loads programs with the expected attach type of their section', () => {
    const spec = readObject(new Uint8Array(readFileSync(new URL('sock_addr.o', DIR))), { btf: kbtf() });
    for (const name of ['ok_connect4_rewrite', 'ok_sendmsg4_sets_source', 'ok_bind4_returns_3']) {
      const coll = loadKernelObject(spec, { programs: [name] });
      expect(coll.program(name).spec.section).toMatch(/^cgroup\//);
      coll.close();
    }
    // The kernel decides by the attach type: the same bytes as connect4 do not load.
    const bad = spec.programs.find((p) => p.name === 'ok_sendmsg4_sets_source')!;
    const asConnect = { ...spec, programs: [{ ...bad, attachType: 'cgroup_inet4_connect' }] };
    expect(() => loadKernelObject(asConnect, { programs: [bad.name] })).toThrow();
  });

  it('the kernel back end loads tp_btf, iter, netfilter and syscall programs (attach BTF id, sleepable flag)', () => {
    const spec = readObject(new Uint8Array(readFileSync(new URL('kernel_typed.o', DIR))), { btf: kbtf() });
    const ok = spec.programs.filter((p) => p.name.startsWith('ok_'));
    expect(ok.map((p) => p.section)).toEqual(['tp_btf/sched_switch', 'iter/task', 'netfilter', 'syscall']);
    for (const p of ok) {
      // The kernel's BTF comes from the host's default target, as under the Node entry.
      setDefaultCoreTarget(() => ({ btf: kbtf(), name: 'vmlinux' }));
      try {
        const coll = loadKernelObject(spec, { programs: [p.name] });
        coll.close();
      } finally {
        setDefaultCoreTarget(undefined);
      }
    }
  });
});

describe.runIf(oracle)('objects loaded by libbpf (bpftool prog load): our verdict is the kernel’s', () => {
  for (const file of LIBBPF) {
    it(file, () => {
      const path = fileURLToPath(new URL(file, DIR));
      const pin = `/sys/fs/bpf/tsbpf_types_${process.pid}`;
      let kernelOk = true;
      try {
        execFileSync('bpftool', ['prog', 'load', path, pin], { stdio: 'pipe' });
      } catch {
        kernelOk = false;
      } finally {
        rmSync(pin, { force: true });
      }
      const spec = readObject(new Uint8Array(readFileSync(path)), { file });
      expect(spec.programs).toHaveLength(1);
      const p = spec.programs[0]!;
      expect(kernelOk, `${p.name}: the kernel`).toBe(p.name.startsWith('ok_'));
      const ours = verify(p, { maps: spec.maps, logLevel: 1 });
      expect(ours.accepted, ours.diagnostics[0]?.message).toBe(kernelOk);
      // Our kernel back end gives the kernel the same BTF linkage libbpf does.
      let backendOk = true;
      try {
        loadKernelObject(spec).close();
      } catch {
        backendOk = false;
      }
      expect(backendOk, `${p.name} through loadKernelObject`).toBe(kernelOk);
    });
  }
});

const cc = clang();
describe.runIf(cc !== undefined)('the committed fixtures are what their sources build to', () => {
  it('each .o equals a fresh build of its .c with the Makefile’s flags', () => {
    const dir = fileURLToPath(DIR);
    const make = readFileSync(join(dir, 'Makefile'), 'utf8');
    const flags = /^CFLAGS := (.*)$/m
      .exec(make)![1]!
      .replace('$(ARCH_INC)', `/usr/include/${process.arch === 'x64' ? 'x86_64' : 'aarch64'}-linux-gnu`);
    const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-types-'));
    try {
      const stale = files.filter((o) => {
        const out = join(tmp, o);
        execFileSync(cc!, [...flags.split(/\s+/), '-c', o.replace(/\.o$/, '.c'), '-o', out], {
          cwd: dir,
          stdio: 'pipe',
        });
        return !readFileSync(out).equals(readFileSync(join(dir, o)));
      });
      expect(stale, 'rebuild with make -C test/fixtures/types').toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
