// Errors of the Linux back end. A failed bpf() call becomes a KernelError naming the command and the errno;
// a program the kernel's verifier refuses becomes a VerifierRejectedError carrying the kernel's log.

import { TsbpfError } from '../errors.js';
import { Errno, errnoInfo, errnoMessage, errnoName } from '../spec/errno.js';
import { VerifierError } from '../verifier/errors.js';

export { errnoName };

/**
 * What to do about an errno bpf() returns, where the words alone (src/spec/errno.ts) do not say it. Only
 * for bpf() commands: an EPERM from socket() or setns() wants another capability.
 */
const HINTS: Readonly<Record<number, string>> = {
  [Errno.EPERM]: 'run as root or grant CAP_BPF',
  [Errno.ENOSYS]: 'no bpf() on this system',
  [Errno.EBUSY]: 'another program attached?',
};

/** A bpf() (or close()) call that failed. `errno` is positive; `code` its name (EPERM ...). */
/** `operation not permitted (EPERM; run as root or grant CAP_BPF): detail`: errno, hint, detail. */
function kernelMessage(command: string, errno: number, detail?: string): string {
  const e = errnoInfo(errno);
  const hint = /^(BPF_|bpf)/.test(command) ? HINTS[errno] : undefined;
  const said = e ? `${e.text} (${e.name}${hint ? `; ${hint}` : ''})` : errnoMessage(errno);
  return `${said}${detail ? `: ${detail}` : ''}`;
}

/** A bpf() call the kernel refused: the command, the errno and what it means. */
export class KernelError extends TsbpfError {
  override name = 'KernelError';
  readonly code: string;
  constructor(
    /** The command that failed, e.g. `BPF_MAP_CREATE`. */
    readonly command: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(kernelMessage(command, errno, detail), command);
    this.code = errnoName(errno);
  }
}

/** BPF_PROG_LOAD refused by the kernel's verifier (EACCES, EINVAL, or E2BIG: too complex), with its log. */
/**
 * The kernel's verifier refused a program: a VerifierError (one family with ours) carrying the kernel's log
 * and errno, and our verifier's explanation when the loader adds it.
 */
export class VerifierRejectedError extends VerifierError {
  override name = 'VerifierRejectedError';
  readonly command = 'BPF_PROG_LOAD';
  readonly code: string;
  constructor(
    readonly errno: number,
    /** The kernel verifier's log (may be empty if the kernel wrote none). */
    readonly log: string,
    program: string,
    /** Our own verifier's explanation, when a caller adds it. */
    public explanation?: string,
  ) {
    super(
      program,
      undefined,
      kernelMessage(
        'BPF_PROG_LOAD',
        errno,
        `kernel verifier rejected program ${program || '(unnamed)'}${lastLine(log)}`,
      ),
      'BPF_PROG_LOAD',
    );
    this.code = errnoName(errno);
  }
}

/** The last non-empty line of a verifier log: usually the reason. */
function lastLine(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('processed '));
  const last = lines[lines.length - 1];
  return last ? `: ${last.trim()}` : '';
}
