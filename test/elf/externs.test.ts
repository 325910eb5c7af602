// Extern calls clang leaves in old objects (issue 16): a call to libc's memset/memcpy cannot load in any
// kernel, and libbpf refuses the object; readObject names the function, the program and the fix, and a
// reader asked for one program links that one alone, so a sibling's call does not stop it.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { FormatError } from '../../src/errors.js';
import { kernelOracle } from '../support/kernel.js';

const FILE = 'test/fixtures/cli/libc_calls.o';
const bytes = new Uint8Array(readFileSync(FILE));

describe('calls to libc memory functions', () => {
  it('refuse the object, naming the program, the function and the fix', () => {
    expect(() => readObject(bytes, { file: FILE })).toThrow(FormatError);
    expect(() => readObject(bytes, { file: FILE })).toThrow(
      `${FILE}: section xdp: instruction 6: call to extern function memset: BPF programs have no libc memset`,
    );
    expect(() => readObject(bytes, { file: FILE, programs: ['copy_buffer'] })).toThrow(
      /instruction \d+: call to extern function memcpy: .*rebuild with clang -O2 .*__builtin_memcpy.* \(program copy_buffer\)/,
    );
  });

  it('a read of one program links it alone (by function or section name)', () => {
    const one = readObject(bytes, { file: FILE, programs: ['no_calls'] });
    expect(one.programs.map((p) => p.name)).toEqual(['no_calls']);
    expect(() => readObject(bytes, { file: FILE, programs: ['xdp'] })).toThrow(/memset/);
  });

  it.skipIf(!kernelOracle())('libbpf refuses the same object for the same extern', () => {
    const pin = `/sys/fs/bpf/tsbpf_libc_${process.pid}`;
    let log = '';
    try {
      execFileSync('bpftool', ['prog', 'loadall', FILE, pin], { stdio: 'pipe' });
    } catch (e) {
      log = String((e as { stderr?: Buffer }).stderr);
    } finally {
      rmSync(pin, { recursive: true, force: true });
    }
    expect(log).toMatch(/failed to find BTF for extern 'mem(set|cpy)'/);
  });
});
