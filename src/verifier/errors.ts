// One error for a program a verifier refused, whichever verifier it was: ours (its diagnostics, the
// instruction and source line, the path) and, when the kernel back end loaded it, the kernel's own log.

import { TsbpfError } from '../errors.js';
import type { VerifyResult } from './result.js';

/** A program the verifier rejected at load time; `result` holds our diagnostics and log. */
export class VerifierError extends TsbpfError {
  override name = 'VerifierError';
  constructor(
    readonly program: string,
    readonly result: VerifyResult,
  ) {
    super(result.diagnostics[0]?.message ?? 'rejected by the verifier', `program ${program}`);
  }
}
