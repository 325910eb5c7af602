// The one errno table (src/spec/errno.ts): its numbers are Linux's, its words strerror's, and every place
// that states an errno (map errors, kernel errors, the CLI's file errors, the test run) states it from here.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeError, errnoReason } from '../../src/cli/errors.js';
import { MapError } from '../../src/errors.js';
import { TestRunError } from '../../src/hooks/test-run.js';
import { KernelError } from '../../src/kernel/errors.js';
import { createMap } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import {
  Errno,
  errnoByName,
  errnoInfo,
  errnoMessage,
  errnoName,
  errnoText,
  KernelErrno,
} from '../../src/spec/errno.js';
import { MapType } from '../../src/spec/maps.js';
import { runC } from './c-oracle.js';

const NAMES = Object.keys(Errno) as (keyof typeof Errno)[];

/** The words the CLI printed for node:fs codes before the table existed (its documented contract). */
const CLI_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EAGAIN: 'resource temporarily unavailable',
  EBADF: 'bad file descriptor',
  EBUSY: 'device or resource busy',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'file exists',
  EFBIG: 'file too large',
  EINVAL: 'invalid argument',
  EIO: 'input/output error',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ENFILE: 'too many open files in the system',
  ENODEV: 'no such device',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device',
  ENOTDIR: 'a component of the path is not a directory',
  ENXIO: 'no such device or address',
  EPERM: 'operation not permitted',
  EPIPE: 'broken pipe',
  EROFS: 'read-only file system',
  ETXTBSY: 'text file busy',
  EXDEV: 'not on the same file system',
};

/** Where the table says more than glibc's strerror, on purpose (the CLI's words for paths). */
const NOT_STRERROR = new Set(['ENOTDIR', 'EXDEV', 'ENFILE']);

describe('the errno table', () => {
  it("numbers every name as Linux does (Node's os.constants.errno)", () => {
    const known = constants.errno as Record<string, number>;
    const checked = NAMES.filter((n) => n in known);
    // Only the kernel-internal ENOTSUPP is unknown to libc (and so to Node).
    expect(NAMES.filter((n) => !(n in known))).toEqual(['ENOTSUPP']);
    for (const name of checked) expect(Errno[name], name).toBe(known[name]);
    expect(Errno.ENOTSUPP).toBe(524);
  });

  it("words each number as glibc's strerror does, lower-cased, but for the CLI's three path words", () => {
    const numbers = NAMES.map((n) => Errno[n]).filter((n) => n !== Errno.ENOTSUPP);
    const words = runC(
      ['stdio.h', 'string.h'],
      numbers.map((n) => `printf("%s\\n", strerror(${n}));`),
    );
    expect(words).toHaveLength(numbers.length);
    numbers.forEach((n, i) => {
      const e = errnoInfo(n)!;
      const glibc = words[i]!.toLowerCase();
      if (NOT_STRERROR.has(e.name)) expect(e.text, e.name).not.toBe(glibc);
      else expect(e.text, e.name).toBe(glibc);
    });
  });

  it('keeps the words the CLI printed for file errors', () => {
    for (const [code, words] of Object.entries(CLI_WORDS)) {
      expect(errnoByName(code)?.text, code).toBe(words);
      expect(errnoReason(Object.assign(new Error(`${code}: x`), { code, syscall: 'open' }))).toBe(words);
    }
  });

  it('names and words a number, with fallbacks for numbers it does not hold', () => {
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoText(22)).toBe('invalid argument');
    expect(errnoMessage(28)).toBe('no space left on device (ENOSPC)');
    expect(errnoMessage(524)).toBe('operation not supported (ENOTSUPP)');
    expect(errnoName(4242)).toBe('errno 4242');
    expect(errnoText(4242)).toBe('unknown error 4242');
    expect(errnoMessage(4242)).toBe('errno 4242');
    expect(errnoInfo(4242)).toBeUndefined();
  });

  it('reads aliases and keeps the kernel-only view consistent', () => {
    expect(errnoByName('ENOTSUP')).toBe(errnoInfo(95));
    expect(errnoByName('ENOTSUP')?.name).toBe('EOPNOTSUPP');
    expect(Errno.ENOTSUP).toBe(Errno.EOPNOTSUPP);
    for (const [name, n] of Object.entries(KernelErrno)) expect(errnoName(n)).toBe(name);
    expect(errnoByName('EWHATEVER')).toBeUndefined();
  });
});

describe('every place states an errno from the table', () => {
  it('a map operation', () => {
    const space = new AddressSpace();
    const spec = { name: 'a', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 };
    const m = createMap(space, spec, { cpus: 1 });
    let err: unknown;
    try {
      m.delete(new Uint8Array(4)); // array elements cannot be deleted: EINVAL, as in the kernel
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MapError);
    expect((err as MapError).message).toBe(`map 'a': delete: ${errnoMessage(Errno.EINVAL)}`);
  });

  it('a kernel call', () => {
    expect(new KernelError('BPF_MAP_LOOKUP_ELEM', Errno.ENOENT).message).toBe(
      'BPF_MAP_LOOKUP_ELEM: no such file or directory (ENOENT)',
    );
  });

  it("a file error the CLI reports, for codes its old list lacked too (Node's words were used)", () => {
    const enomem = Object.assign(new Error('ENOMEM: not enough memory, open'), {
      code: 'ENOMEM',
      syscall: 'open',
      path: 'big.pcap',
    });
    expect(describeError(enomem).line).toBe('big.pcap: cannot allocate memory');
  });

  it("the test run's refusal, in bpftool's words", () => {
    const e = new TestRunError('data_in has 0 bytes', 'p');
    expect(e.message).toBe('p: failed to run program: Invalid argument (EINVAL): data_in has 0 bytes');
    expect([e.code, e.errno]).toEqual(['EINVAL', 22]);
  });
});
