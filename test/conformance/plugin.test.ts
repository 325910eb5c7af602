// The conformance plugin protocol end to end: base16 program on stdin, base16 memory as an argument,
// r0 in hex on stdout (exit 0), or a message on stderr (exit 1), through the real CLI process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { encode } from '../../src/isa/index.js';
import { conformanceFiles, loadConformanceFile } from '../support/conformance.js';

const root = join(import.meta.dirname, '..', '..');
const base16 = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

function plugin(stdin: string, ...args: string[]) {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const r = spawnSync('node', [join(root, 'bin', 'tsbpf.js'), 'conformance-plugin', ...args], {
    input: stdin,
  });
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('tsbpf conformance-plugin', () => {
  // A few files end to end (each case is a process start); the in-process runner covers all of them.
  const sample = conformanceFiles().filter((f) => /\/(alu64|atomic|call|ldx)\.data$/.test(f));
  it('samples four files', () => expect(sample).toHaveLength(4));
  for (const file of sample) {
    const c = loadConformanceFile(file).find((x) => x.result !== undefined && !x.raw);
    if (!c) continue;
    it(`${c.name} gives r0 in hex`, () => {
      // The runner passes the memory and then its (possibly empty) plugin options.
      const r = plugin(`${base16(encode(assemble(c.asm)))}\n`, base16(c.mem), '');
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      expect(r.out).toBe(`${c.result!.toString(16)}\n`);
    });
  }

  it('reports a fault on stderr with exit code 3 (a runtime fault, docs/cli.md)', () => {
    const r = plugin(base16(encode(assemble('ldxw %r0, [%r1+2]\nexit'))), '00 01 02 03');
    expect(r.status).toBe(3);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      /^tsbpf: RuntimeFault: insn 0: invalid read of 4 bytes out of bounds of input memory/,
    );
  });

  it('rejects malformed bytecode and an empty program', () => {
    expect(plugin('95 00 00').err).toMatch(/not a multiple of 8/);
    expect(plugin('').err).toMatch(/no program/);
  });

  it('accepts the program with --program and raw binary on stdin', () => {
    const bytes = encode(assemble('mov %r0, 0x1234\nexit'));
    expect(plugin('', '--program', base16(bytes)).out).toBe('1234\n');
    const r = spawnSync('node', [join(root, 'bin', 'tsbpf.js'), 'conformance-plugin'], { input: bytes });
    expect(r.stdout.toString()).toBe('1234\n');
  });

  it('runs the program on the JIT engine', () => {
    const bytes = encode(assemble('mov %r0, 0x1234\nexit'));
    const r = plugin('', '--program', base16(bytes), '--engine', 'jit');
    expect(r.status).toBe(0);
    expect(r.out).toBe('1234\n');
  });
});
