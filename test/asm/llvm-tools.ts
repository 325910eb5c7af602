// clang-19 and llvm-objdump-19 as the reference for the llvm syntax. Like the kernel oracle: when they
// are missing the tests print why and skip, except in CI (CI=true) where that is a failure.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clang } from '../support/kernel.js';

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** True when clang and llvm-objdump-19 are installed; prints the reason (or throws in CI) when not. */
export function llvmTools(): boolean {
  const reason = !clang()
    ? 'clang-19 is not installed'
    : !has('llvm-objdump-19')
      ? 'llvm-objdump-19 is not installed'
      : undefined;
  if (!reason) return true;
  if (process.env.CI === 'true') throw new Error(`llvm tools required in CI but unavailable: ${reason}`);
  console.warn(`[llvm] skipping llvm-objdump comparison tests: ${reason}`);
  return false;
}

const dir = () => mkdtempSync(join(tmpdir(), 'tsbpf-asm-'));

/**
 * `llvm-objdump-19 -d` of an object; `raw` keeps the byte columns. `v4` decodes with --mcpu=v4, which
 * the default lacks for 32-bit atomics (it prints `<unknown>`) but which also prints `wN` for 8-32 bit
 * loads and stores; our text follows the default.
 */
export function objdump(object: string, raw = false, v4 = false): string {
  const args = ['-d', object];
  if (v4) args.unshift('--mcpu=v4');
  if (!raw) args.splice(1, 0, '--no-show-raw-insn');
  return execFileSync('llvm-objdump-19', args, { encoding: 'utf8' });
}

/** Wrap raw bytecode in an object file (via clang's assembler) so llvm-objdump can print it. */
export function objectOfBytes(bytes: Uint8Array): string {
  const d = dir();
  const lines = ['\t.text', '\t.globl f', 'f:'];
  for (let i = 0; i < bytes.length; i += 8)
    lines.push(`\t.byte ${Array.from(bytes.subarray(i, i + 8)).join(', ')}`);
  writeFileSync(join(d, 'p.s'), `${lines.join('\n')}\n`);
  execFileSync(clang()!, ['-target', 'bpf', '-c', join(d, 'p.s'), '-o', join(d, 'p.o')], { stdio: 'pipe' });
  return join(d, 'p.o');
}

/** Compile C source with clang -O2 -target bpf -mcpu=v4 and return the object's path. */
export function compileC(source: string): string {
  const d = dir();
  writeFileSync(join(d, 'p.c'), source);
  execFileSync(clang()!, ['-O2', '-target', 'bpf', '-mcpu=v4', '-c', join(d, 'p.c'), '-o', join(d, 'p.o')], {
    stdio: 'pipe',
  });
  return join(d, 'p.o');
}

/** Slot index → instruction text of objdump lines. */
export function instructionsByIndex(dump: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of dump.split('\n')) {
    const m = /^\s*(\d+):\t(.*)$/.exec(line);
    if (m) out.set(Number(m[1]), m[2]!.replace(/\s<[^<>]*>$/, '').trim());
  }
  return out;
}

/** The instruction text column of objdump lines (`  12:\tr1 = r2`), without `<f+0x10>` annotations. */
export function instructionTexts(dump: string): string[] {
  const out: string[] = [];
  for (const line of dump.split('\n')) {
    const m = /^\s*\d+:\t(.*)$/.exec(line);
    if (m) out.push(m[1]!.replace(/\s<[^<>]*>$/, '').trim());
  }
  return out;
}
