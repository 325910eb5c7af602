// How the CLI fails: one line on stderr, `tsbpf: <what>: <why>`, and an exit code that says which kind of
// failure it was (docs/cli.md). Library errors keep their classes; `describeError` turns any of them —
// and the errno errors node:fs throws — into that line and code.

import { RuntimeFault, TsbpfError } from '../errors.js';
import { errnoByName } from '../spec/errno.js';

/** Exit codes of every command (`tsbpf trace` passes the traced program's own code through). */
export const EXIT = {
  ok: 0,
  /** A missing, unreadable or malformed file; a program the verifier rejects; an output that cannot be written. */
  input: 1,
  /** Bad flags or arguments; outputs that clash with an input or with each other. */
  usage: 2,
  /** A program faulted or ran out of its instruction budget or time. */
  fault: 3,
  /** A bug in tsbpf (sysexits' EX_SOFTWARE). */
  internal: 70,
} as const;

/** A failure the CLI reports as one line and a non-zero exit code (no stack trace). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.input,
    /**
     * A report printed before the error line (a verifier log): the line stays the one-line summary and
     * the report is there for whoever wants the detail.
     */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** An error node:fs (or any libuv call) threw: it has a string `code` such as ENOENT and a `syscall`. */
export function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === 'string' &&
    typeof (e as NodeJS.ErrnoException).syscall === 'string'
  );
}

/** The plain-words reason of an errno error (`no space left on device`). */
export function errnoReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // The code's words from the one errno table (src/spec/errno.ts), as the library's errors say them.
  const known = err?.code ? errnoByName(err.code)?.text : undefined;
  if (known) return known;
  // Node's message is `CODE: reason, syscall 'path'`: keep the reason.
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(String(err?.message ?? err));
  return m ? m[1]! : String(err?.message ?? err);
}

/** `PATH: cannot VERB [WHAT]: reason`, exit 1. */
export function fileError(path: string, verb: string, e: unknown): CliError {
  if (e instanceof CliError) return e;
  return new CliError(`${path}: cannot ${verb}: ${errnoReason(e)}`, EXIT.input);
}

/** Several lines made one: the first line, then the others after `; ` (trimmed, blank ones dropped). */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}

/** The message of a syntax error that carries a caret display (`reason`, `column`, `text`), as one line. */
function syntaxLine(e: TsbpfError & { reason: string; column: number; text: string }): string {
  const near = e.text.slice(Math.max(0, e.column - 1)).trim();
  const at = near ? ` (at '${near.length > 40 ? `${near.slice(0, 40)}…` : near}')` : '';
  return `${e.where ? `${e.where}: ` : ''}${e.reason}${at}`;
}

function hasCaret(e: TsbpfError): e is TsbpfError & { reason: string; column: number; text: string } {
  const x = e as unknown as Record<string, unknown>;
  return typeof x.reason === 'string' && typeof x.column === 'number' && typeof x.text === 'string';
}

/** The line (without `tsbpf: `) and exit code for any error a command throws. */
export function describeError(err: unknown): { line: string; code: number; detail?: string } {
  if (err instanceof CliError) return { line: oneLine(err.message), code: err.exitCode, detail: err.detail };
  if (err instanceof TsbpfError) {
    const kind = err.name === 'TsbpfError' ? '' : `${err.name}: `;
    const text = hasCaret(err) ? syntaxLine(err) : err.message;
    return { line: oneLine(`${kind}${text}`), code: err instanceof RuntimeFault ? EXIT.fault : EXIT.input };
  }
  if (isErrno(err)) {
    const where = err.path ?? (err.syscall ? `${err.syscall}()` : 'file');
    const to = (err as { dest?: unknown }).dest;
    const dest = typeof to === 'string' ? ` -> ${to}` : '';
    return { line: `${where}${dest}: ${errnoReason(err)}`, code: EXIT.input };
  }
  const e = err as Error | undefined;
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(err);
  return {
    line: `internal error: ${oneLine(what)} (run with --debug for the stack trace)`,
    code: EXIT.internal,
  };
}
