// probe_write_user, d_path, bprm_opts_set and the IMA hashes in user space (src/helpers/security.ts): a
// write reaches only the run's own input memory (the kernel's copy_to_user refuses its own memory: every
// other region here is the kernel's side), and the helpers with nothing to act on answer -EOPNOTSUPP after
// their argument checks, never a pretended success. d_path's verifier rules (the kernel's allow list of
// fentry targets; a struct path embedded in another struct) on test/fixtures/helpers2/dpath.c, which this
// machine's kernel cannot load (trampolines): the kernel's rules, our verifier alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { readObject } from '../../src/elf/index.js';
import { helperByName } from '../../src/helpers/registry.js';
import '../../src/node/core-target.js';
import { FakeEnv } from './env.js';

const call = (env: FakeEnv, name: string, ...args: number[]) =>
  helperByName(name)!.call(
    env,
    ...(args.concat([0, 0, 0, 0, 0]).slice(0, 5).map(BigInt) as [bigint, bigint, bigint, bigint, bigint]),
  );

describe('security helpers', () => {
  it('probe_write_user writes the run’s input memory, and nothing else (-EFAULT)', () => {
    const env = new FakeEnv();
    const input = env.space.allocate(64, 'input', 'input memory');
    env.invocation = { ctx: input.start, programType: 'kprobe', tailCalls: 0 };
    const other = env.space.allocate(64, 'input', 'another run’s input');
    const src = env.buf(new Uint8Array([1, 2, 3, 4]));
    const stack = env.buf(8);
    expect(call(env, 'probe_write_user', input.start + 8, src, 4)).toBe(0n);
    expect([...env.read(input.start + 8, 4)]).toEqual([1, 2, 3, 4]);
    // Past the end of the input, another run's input, the stack, NULL: -EFAULT, nothing written.
    expect(call(env, 'probe_write_user', input.end - 2, src, 4)).toBe(-14n);
    expect(call(env, 'probe_write_user', other.start, src, 4)).toBe(-14n);
    expect(call(env, 'probe_write_user', stack, src, 4)).toBe(-14n);
    expect(call(env, 'probe_write_user', 0, src, 4)).toBe(-14n);
    expect([...env.read(other.start, 4)]).toEqual([0, 0, 0, 0]);
    expect([...env.read(stack, 4)]).toEqual([0, 0, 0, 0]);
  });

  it('d_path, bprm_opts_set, ima_*: -EOPNOTSUPP (nothing to act on), bad flags -EINVAL, buffers cleared', () => {
    const env = new FakeEnv();
    const buf = env.buf(new Uint8Array(16).fill(0x5a));
    expect(call(env, 'd_path', env.buf(16), buf, 16)).toBe(-95n);
    expect([...env.read(buf, 16)]).toEqual(new Array(16).fill(0));
    expect(call(env, 'bprm_opts_set', env.buf(8), 1)).toBe(-95n);
    expect(call(env, 'bprm_opts_set', env.buf(8), 2)).toBe(-22n);
    expect(call(env, 'ima_inode_hash', env.buf(8), buf, 16)).toBe(-95n);
    expect(call(env, 'ima_file_hash', env.buf(8), buf, 16)).toBe(-95n);
  });
});

describe('d_path in fentry programs', () => {
  const spec = readObject(readFileSync('test/fixtures/helpers2/dpath.o'));
  const verdict = (name: string) => {
    try {
      loadCollection(spec, { backend: 'userspace', programs: [name] }).close();
      return 'accepted';
    } catch (e) {
      return (e as Error).message;
    }
  };
  it('is allowed on filp_close, with &file->f_path', () => {
    expect(verdict('ok_d_path_filp_close')).toBe('accepted');
  });
  it('is refused on do_truncate, which is not on the kernel’s list', () => {
    expect(verdict('bad_d_path_do_truncate')).toMatch(
      /d_path \(#147\) may not be called from a program attached to 'do_truncate'/,
    );
  });
  it('is refused a struct file where it wants a struct path', () => {
    expect(verdict('bad_d_path_file')).toMatch(
      /argument 1 of d_path \(R1\) must be a pointer to a path, but it is ptr_file/,
    );
  });
});
