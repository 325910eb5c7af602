// `tsbpf --btf FILE`: the BTF CO-RE relocations are resolved against, for every command that reads an
// object (the running kernel's /sys/kernel/btf/vmlinux without it). Runs the built CLI (npm run build).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../src/btf/builder.js';
import { tsbpf } from '../cli/run-cli.js';

const REGS = new URL('../fixtures/core/regs.o', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-core-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A raw BTF file holding a `struct pt_regs` with si (and di when asked) where x86-64 has them. */
function ptRegsFile(withDi: boolean): string {
  const b = new BtfBuilder();
  const ul = b.int('long unsigned int', 8);
  b.struct('pt_regs', 168, [
    { name: 'si', type: ul, bitOffset: 104 * 8 },
    ...(withDi ? [{ name: 'di', type: ul, bitOffset: 112 * 8 }] : []),
  ]);
  const file = join(dir, withDi ? 'regs.btf' : 'no-di.btf');
  writeFileSync(file, b.encode());
  return file;
}

interface Verdicts {
  accepted: boolean;
  programs: { name: string; accepted: boolean; diagnostics: { kind: string; insn: number }[] }[];
}

describe('tsbpf --btf FILE', () => {
  it('relocates against the file: a field it lacks is refused where reached', () => {
    const r = tsbpf(['verify', REGS, '--json', '--btf', ptRegsFile(false)]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Verdicts;
    expect(out.programs.map((p) => [p.name, p.accepted, p.diagnostics[0]?.kind])).toEqual([
      ['regs_sum', false, 'core_poison'],
      ['regs_guarded', true, undefined],
      ['regs_sub', false, 'core_poison'],
    ]);
  });

  it('a file that has the fields: both programs accepted (also after the command)', () => {
    const r = tsbpf(['--btf', ptRegsFile(true), 'verify', REGS, '--json']);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as Verdicts).accepted).toBe(true);
  });

  it("an ELF file's .BTF works too (an object relocated against its own types keeps its offsets)", () => {
    const r = tsbpf(['verify', REGS, '--json', '--btf', REGS]);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as Verdicts).accepted).toBe(true);
  });

  it('a missing or malformed file is one line naming it', () => {
    const missing = tsbpf(['verify', REGS, '--btf', join(dir, 'nope.btf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`tsbpf: ${join(dir, 'nope.btf')}: cannot read BTF: no such file`);
    const junk = join(dir, 'junk.btf');
    writeFileSync(junk, new Uint8Array(64));
    const bad = tsbpf(['verify', REGS, '--btf', junk]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(new RegExp(`^tsbpf: FormatError: ${junk}: bad magic 0x0`));
  });
});
