// One error for a program a verifier refused, whichever verifier it was: ours (its diagnostics, the
// instruction and source line, the path) and, when the kernel back end loaded it, the kernel's own log.

import { TsbpfError } from '../errors.js';
import type { VerifyResult } from './result.js';

/**
 * A program a verifier rejected at load time. `result` holds our verifier's diagnostics and log when ours
 * judged it; when the kernel refused it (the kernel back end), the subclass there carries the kernel's log,
 * its errno, and our verifier's explanation beside it.
 */
export class VerifierError extends TsbpfError {
  override name = 'VerifierError';
  constructor(
    readonly program: string,
    /** Our verifier's result, when ours rejected the program. */
    readonly result?: VerifyResult,
    message?: string,
    where?: string,
  ) {
    super(
      message ?? result?.diagnostics[0]?.message ?? 'rejected by the verifier',
      where ?? `program ${program}`,
    );
  }
}
