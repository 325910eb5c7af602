// What `verify` answers: the verdict, what it cost, and the rejection in words. Its own module so that
// the verifier's error (errors.ts) can carry one without importing the front door that throws it.

import type { Diagnostic } from './log.js';

/** The verifier's verdict: accepted or not, the work it took, the diagnostics and the log. */
export interface VerifyResult {
  accepted: boolean;
  /** Instructions simulated (the kernel's "processed N insns"). */
  insnsProcessed: number;
  /** States remembered at prune points. */
  states: number;
  durationMs: number;
  /** Empty when accepted; otherwise the rejection (one entry). */
  diagnostics: Diagnostic[];
  /** Human-readable log: the rejection in words (level >= 1), the instruction trace (level 2). */
  log: string;
  /**
   * Notes on an accepted program the kernel loads but that is almost certainly a bug (a read of stack
   * never written: verifier/privileged.ts), each in words.
   */
  warnings?: string[];
  /**
   * Accepted: the context field each context store writes, by pc (only stores that always write the
   * context; the engines apply the kernel's conversions of those stores, vm/ctx-stores.ts).
   */
  ctxStores?: ReadonlyMap<number, string>;
}
