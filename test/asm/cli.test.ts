import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { encode } from '../../src/isa/index.js';
import { kernelOracle } from '../support/kernel.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-asm-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsbpf(...args: string[]) {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const r = spawnSync('node', [join(root, 'bin', 'tsbpf.js'), ...args], { cwd: dir, encoding: 'buffer' });
  return { status: r.status, stdout: r.stdout, out: r.stdout.toString(), err: r.stderr.toString() };
}

const SOURCE = `# returns 1 when the packet is at least 14 bytes long, else 2
  ldxw %r2, [%r1+0]      ; data
  ldxw %r3, [%r1+4]      ; data_end
  mov %r0, 2
  mov %r4, %r2
  add %r4, 14
  jgt %r4, %r3, out
  lddw %r5, 0x1122334455667788
  mov %r0, 1
out:
  exit
`;

describe('tsbpf asm / disasm', () => {
  writeFileSync(join(dir, 'p.s'), SOURCE);

  it('assembles to raw bytecode and disassembles back to text that assembles to the same bytes', () => {
    const r = tsbpf('asm', 'p.s', '-o', 'p.bin');
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const bytes = readFileSync(join(dir, 'p.bin'));
    expect(new Uint8Array(bytes)).toEqual(encode(assemble(SOURCE)));
    for (const syntax of ['llvm', 'mnemonic']) {
      const d = tsbpf('disasm', 'p.bin', '--syntax', syntax);
      expect(d.status).toBe(0);
      expect(d.out).toMatch(
        syntax === 'llvm' ? /^ {3}0: r2 = \*\(u32 \*\)\(r1 \+ 0x0\)$/m : /^ {3}0: ldxw %r2, \[%r1\+0\]$/m,
      );
      writeFileSync(join(dir, `back-${syntax}.s`), d.stdout);
      expect(tsbpf('asm', `back-${syntax}.s`, '-o', `back-${syntax}.bin`).status).toBe(0);
      expect(readFileSync(join(dir, `back-${syntax}.bin`))).toEqual(bytes);
    }
  });

  it('writes raw bytes to stdout without -o', () => {
    const r = tsbpf('asm', 'p.s');
    expect(r.status).toBe(0);
    expect(new Uint8Array(r.stdout)).toEqual(encode(assemble(SOURCE)));
  });

  it('names file, line and column of a syntax error', () => {
    writeFileSync(join(dir, 'bad.s'), 'mov %r0, 1\n  addd %r0, 2\nexit\n');
    const r = tsbpf('asm', 'bad.s', '-o', 'bad.bin');
    expect(r.status).toBe(1);
    // One line: file, line, column, reason and the offending text.
    expect(r.err).toBe("tsbpf: bad.s:2:3: unknown mnemonic 'addd' (did you mean 'add'?): addd %r0, 2\n");
    expect(existsSync(join(dir, 'bad.bin'))).toBe(false);
  });

  it('reports bad bytecode and missing files with the file name', () => {
    writeFileSync(join(dir, 't.bin'), Uint8Array.of(0x07, 0x01, 0x00));
    const t = tsbpf('disasm', 't.bin');
    expect(t.status).toBe(1);
    expect(t.err).toMatch(/t\.bin: insn 0: bytecode length 3 is not a multiple of 8/);
    writeFileSync(join(dir, 'u.bin'), Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0));
    expect(tsbpf('disasm', 'u.bin').err).toMatch(/u\.bin: insn 1: unknown opcode 0xff/);
    expect(tsbpf('disasm', 'nope.bin').err).toMatch(/nope\.bin: .*no such file/);
  });

  it('writes an ELF object for -o X.o that disasm (and llvm-objdump) read back', () => {
    const r = tsbpf('asm', 'p.s', '-o', 'p.o', '--section', 'xdp');
    expect(r.err).toBe('');
    const obj = readFileSync(join(dir, 'p.o'));
    expect([...obj.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    const d = tsbpf('disasm', 'p.o');
    expect(d.out).toContain('; program p, section xdp, 10 slots');
    expect(d.out).toMatch(/^ {3}6: r5 = 0x1122334455667788 ll$/m);
    expect(tsbpf('asm', 'p.s', '-o', 'q.o', '--section', 'nonsense').err).toMatch(
      /--section nonsense: not a program section/,
    );
  });

  it.skipIf(!kernelOracle())('produces an object the kernel loads as XDP and as a socket filter', () => {
    for (const section of ['xdp', 'socket']) {
      expect(tsbpf('asm', 'p.s', '-o', `k-${section}.o`, '--section', section).status).toBe(0);
      const pin = `/sys/fs/bpf/tsbpf_asm_test_${process.pid}_${section}`;
      try {
        execFileSync('bpftool', ['prog', 'load', join(dir, `k-${section}.o`), pin], { stdio: 'pipe' });
        const info = JSON.parse(
          execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', pin], { encoding: 'utf8' }),
        );
        expect(info.type).toBe(section === 'xdp' ? 'xdp' : 'socket_filter');
      } finally {
        rmSync(pin, { force: true });
      }
    }
  });
});
