// Errors of the Linux back end. A failed bpf() call becomes a KernelError naming the command and the errno;
// a program the kernel's verifier refuses becomes a VerifierRejectedError carrying the kernel's log.

import { TsbpfError } from '../errors.js';

/** Linux errno numbers (x86_64 / generic) and their names, for the ones bpf() returns. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  7: 'E2BIG',
  9: 'EBADF',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  20: 'ENOTDIR',
  22: 'EINVAL',
  24: 'EMFILE',
  28: 'ENOSPC',
  34: 'ERANGE',
  38: 'ENOSYS',
  95: 'EOPNOTSUPP',
  524: 'ENOTSUPP',
};

/** What each common errno means to someone calling bpf(). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: 'no permission: run as root or grant CAP_BPF',
  ENOSYS: 'no bpf() on this system',
  ENOENT: 'no such element or object',
  E2BIG: 'argument too big (attribute, map size or program too large)',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'out of memory (or locked-memory limit reached)',
  EACCES: 'permission denied by the verifier',
  EFAULT: 'bad address passed to the kernel',
  EBUSY: 'resource busy (another program is attached?)',
  EEXIST: 'already exists',
  ENODEV: 'no such device',
  EINVAL: 'invalid argument',
  EMFILE: 'too many open files',
  ENOSPC: 'no space (map full, or an output buffer too small)',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUPP: 'operation not supported by this kernel',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** A bpf() (or close()) call that failed. `errno` is positive; `code` its name (EPERM ...). */
export class KernelError extends TsbpfError {
  override name = 'KernelError';
  readonly code: string;
  constructor(
    /** The command that failed, e.g. `BPF_MAP_CREATE`. */
    readonly command: string,
    readonly errno: number,
    detail?: string,
  ) {
    const code = errnoName(errno);
    const text = ERRNO_TEXT[code] ?? 'failed';
    super(`${text} (${code})${detail ? `: ${detail}` : ''}`, command);
    this.code = code;
  }
}

/** BPF_PROG_LOAD refused by the kernel's verifier (EACCES, EINVAL, or E2BIG: too complex), with its log. */
export class VerifierRejectedError extends KernelError {
  override name = 'VerifierRejectedError';
  constructor(
    errno: number,
    /** The kernel verifier's log (may be empty if the kernel wrote none). */
    readonly log: string,
    /** Program name, for the message. */
    readonly program: string,
    /** Our own verifier's explanation, when a caller adds it. */
    public explanation?: string,
  ) {
    super(
      'BPF_PROG_LOAD',
      errno,
      `kernel verifier rejected program ${program || '(unnamed)'}${lastLine(log)}`,
    );
  }
}

/** The last non-empty line of a verifier log: usually the reason. */
function lastLine(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('processed '));
  const last = lines[lines.length - 1];
  return last ? `: ${last.trim()}` : '';
}
