// Typed errors of the kernel back end: messages by errno, the verifier's reason in the message, and a real
// EPERM from an unprivileged process.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errnoName, KernelError, VerifierRejectedError } from '../../src/kernel/errors.js';
import { VerifierError } from '../../src/verifier/index.js';
import { type ReadableCopy, readableCopy } from '../cli/readable-copy.js';
import { kernelOracle } from '../support/kernel.js';

describe('kernel errors', () => {
  it('say what the common errno values mean to a bpf() user', () => {
    expect(new KernelError('BPF_MAP_CREATE', 1).message).toBe(
      'BPF_MAP_CREATE: operation not permitted (EPERM; run as root or grant CAP_BPF)',
    );
    expect(new KernelError('bpf()', 38, 'koffi is not installed').message).toBe(
      'bpf(): function not implemented (ENOSYS; no bpf() on this system): koffi is not installed',
    );
    // The words are the ones every other place uses (src/spec/errno.ts); the hint is for bpf() alone.
    expect(new KernelError('BPF_MAP_UPDATE_ELEM', 7).message).toBe(
      'BPF_MAP_UPDATE_ELEM: argument list too long (E2BIG)',
    );
    expect(new KernelError('setns', 1, 'network namespace blue').message).toBe(
      'setns: operation not permitted (EPERM): network namespace blue',
    );
    expect(new KernelError('x', 4242).message).toBe('x: errno 4242');
    expect(new KernelError('x', 1).code).toBe('EPERM');
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(4242)).toBe('errno 4242');
  });

  it('a verifier rejection names the program and the log line with the reason', () => {
    const log = '0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000)\n';
    const e = new VerifierRejectedError(13, log, 'xdp_prog');
    // One family with our verifier's rejections (issue 15), with the kernel's errno and log.
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.errno).toBe(13);
    expect(e.code).toBe('EACCES');
    expect(e.message).toBe(
      'BPF_PROG_LOAD: permission denied (EACCES): kernel verifier rejected program xdp_prog: R0 !read_ok',
    );
    expect(e.log).toBe(log);
  });
});

const oracle = kernelOracle();

describe.skipIf(!oracle)('kernel errors from the kernel', () => {
  // The unprivileged user runs a readable copy: the checkout itself may be where only root can read.
  let copy: ReadableCopy;
  beforeAll(() => {
    copy = readableCopy();
  });
  afterAll(() => copy?.remove());

  it('an unprivileged process gets EPERM as a KernelError (or a map, if the system allows unprivileged bpf)', () => {
    const dist = pathToFileURL(join(copy.root, 'dist/kernel/index.js'));
    const script = `const k = await import(${JSON.stringify(dist.href)});
try { k.mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 }); console.log('created'); }
catch (e) { console.log(e.name + ' ' + e.code + ' ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: copy.root,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const disabled = Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8'));
    if (disabled === 0) expect(r.stdout.trim()).toBe('created');
    else {
      expect(r.stdout.trim()).toBe(
        'KernelError EPERM BPF_MAP_CREATE: operation not permitted (EPERM; run as root or grant CAP_BPF)',
      );
    }
  });
});
