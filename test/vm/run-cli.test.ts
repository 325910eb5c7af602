// `tsbpf run`: raw bytecode, assembler text and ELF input; memory from hex or a file; text and JSON output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { writeObject } from '../../src/elf/index.js';
import { encode } from '../../src/isa/index.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-run-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsbpf(...args: string[]) {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const r = spawnSync('node', [join(root, 'bin', 'tsbpf.js'), 'run', ...args], { cwd: dir });
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

// r0 = r2 (length) * 256 + the second byte of the memory
const SUM = 'mov %r0, %r2\nlsh %r0, 8\nldxb %r3, [%r1+1]\nadd %r0, %r3\nexit\n';

describe('tsbpf run', () => {
  writeFileSync(join(dir, 'sum.bin'), encode(assemble(SUM)));
  writeFileSync(join(dir, 'sum.s'), SUM);
  writeFileSync(join(dir, 'mem.bin'), Uint8Array.from([9, 8, 7]));
  writeFileSync(join(dir, 'neg.bin'), encode(assemble('mov %r0, -2\nexit')));

  it('runs raw bytecode with r1 = memory and r2 = its length', () => {
    const r = tsbpf('sum.bin', '--mem', '01 2a 03 04');
    expect(r.err).toBe('');
    expect(r.out).toBe(`r0 = ${4 * 256 + 0x2a} (0x42a)\n`);
  });

  it('reads memory from @file and assembler text from .s', () => {
    expect(tsbpf('sum.s', '--mem', '@mem.bin').out).toBe(`r0 = ${3 * 256 + 8} (0x308)\n`);
  });

  it('prints JSON with the unsigned and signed values', () => {
    const r = tsbpf('neg.bin', '--json');
    expect(JSON.parse(r.out)).toEqual({
      r0: '18446744073709551614',
      r0Signed: '-2',
      hex: '0xfffffffffffffffe',
    });
    expect(tsbpf('neg.bin').out).toBe('r0 = 18446744073709551614 (0xfffffffffffffffe) = -2\n');
  });

  it('fails cleanly on a fault, a bad --mem, a bad --budget and an exhausted budget', () => {
    const fault = tsbpf('sum.bin');
    expect(fault.status).toBe(3); // a runtime fault (docs/cli.md)
    expect(fault.err).toMatch(/^tsbpf: RuntimeFault: insn 2: invalid read of 1 byte/);
    expect(fault.err).not.toMatch(/\n\s+at /);
    expect(tsbpf('sum.bin', '--mem', 'zz').err).toMatch(/--mem: 'zz' is not hexadecimal/);
    expect(tsbpf('sum.bin', '--budget', '-3').err).toMatch(/--budget: '-3' is not a positive integer/);
    expect(tsbpf('sum.bin', '--mem', '00 00', '--budget', '3').err).toMatch(
      /instruction budget of 3 exhausted/,
    );
  });

  it('runs a program from an ELF object, by default the first, or the one named', () => {
    const program = (name: string, source: string) => ({
      name,
      section: `socket/${name}`,
      type: 'socket_filter',
      insns: assemble(source),
      license: 'GPL',
    });
    const object = writeObject({
      programs: [program('first', 'mov %r0, 11\nexit'), program('second', 'mov %r0, %r2\nexit')],
      maps: [],
      license: 'GPL',
    });
    writeFileSync(join(dir, 'two.o'), object);
    expect(tsbpf('two.o').out).toBe('r0 = 11 (0xb)\n');
    expect(tsbpf('two.o', '--program', 'second', '--mem', '01 02 03').out).toBe('r0 = 3 (0x3)\n');
    expect(tsbpf('two.o', '--program', 'third').err).toMatch(/no program 'third' \(have: first/);
  });
});
