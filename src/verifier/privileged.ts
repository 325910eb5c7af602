// Verification with the rules of a privileged load, as the loaders make it (user-space collection, trace
// programs, the CLI, our reading beside the kernel's): the kernel lets a program holding CAP_PERFMON read
// stack bytes it never wrote (their value is unknown), and refuses that only for unprivileged loads.
// Such a read is almost always a bug, so the note the strict rule gives stays, as a warning on the
// accepted program: a program is verified under the strict rule first, and only one refused for an
// uninitialised stack read is verified again under the kernel's (twice the cost for those alone).
//
// What such a read gives at run time in user space: 0. The loaders prepare such a program with
// `clearStack` (vm/program.ts), so both engines zero its stack before each run, as checked runs do: never
// bytes an earlier run (of any program on the runtime) left there. In the kernel it is whatever the stack
// held.

import { type VerifiableProgram, type VerifyOptions, verify } from './index.js';
import { formatDiagnostic } from './log.js';
import type { VerifyResult } from './result.js';

const WHY =
  'accepted as the kernel accepts it from a privileged user (an unprivileged load is refused); the bytes read are whatever the kernel stack held (0 here)';

/**
 * verify() with the kernel's privileged rule for uninitialised stack reads (allowed unless
 * `opts.unprivileged`; an explicit `opts.allowUninitStack` wins); an accepted program that reads such
 * bytes carries the strict rule's diagnostic in `warnings` and at the start of its log.
 */
export function verifyPrivileged(program: VerifiableProgram, opts: VerifyOptions = {}): VerifyResult {
  if (opts.unprivileged || opts.allowUninitStack !== undefined) return verify(program, opts);
  const strict = verify(program, { ...opts, allowUninitStack: false });
  if (strict.accepted || strict.diagnostics[0]?.kind !== 'uninit_stack') return strict;
  const loose = verify(program, { ...opts, allowUninitStack: true });
  if (!loose.accepted) return loose;
  const d = strict.diagnostics[0]!;
  const long = `warning: ${formatDiagnostic(d)}\n  ${WHY}`;
  return {
    ...loose,
    durationMs: strict.durationMs + loose.durationMs,
    warnings: [`insn ${d.insn}: ${d.message}: ${WHY}`],
    log: (opts.logLevel ?? 0) >= 1 ? `${long}\n${loose.log}` : loose.log,
  };
}
