// The system's C headers and libc as the oracle for vocabulary tables: a small C program, built by clang
// and run, prints what the headers and glibc say (as test/kernel/attr.test.ts does for bpf_attr).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { clang } from '../support/kernel.js';

/** Build `main`'s body with `includes` and run it; returns its output lines. */
export function runC(includes: readonly string[], body: readonly string[]): string[] {
  const cc = clang();
  expect(cc, 'clang is needed to ask the system headers').toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-spec-'));
  try {
    const src = [
      ...includes.map((h) => `#include <${h}>`),
      'int main(void) {',
      ...body,
      'return 0;',
      '}',
      '',
    ];
    writeFileSync(join(dir, 'oracle.c'), src.join('\n'));
    execFileSync(cc!, ['-o', join(dir, 'oracle'), join(dir, 'oracle.c')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'oracle')).toString().trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
