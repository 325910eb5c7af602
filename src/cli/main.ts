// The `tsbpf` command line: parses arguments and calls the library. Each command lives in
// ./commands/<name>.ts and exports `register(program)`. Every failure ends here as one line on stderr,
// `tsbpf: …`, and an exit code from ./errors.ts (documented in docs/cli.md and the help's epilogue).

import { Command, CommanderError } from 'commander';
import { useCoreBtfFile } from '../node/core-target.js';
import * as asm from './commands/asm.js';
import * as conformance from './commands/conformance.js';
import * as disasm from './commands/disasm.js';
import * as filter from './commands/filter.js';
import * as link from './commands/link.js';
import * as map from './commands/map.js';
import * as prog from './commands/prog.js';
import * as run from './commands/run.js';
import * as tc from './commands/tc.js';
import * as trace from './commands/trace.js';
import * as verify from './commands/verify.js';
import * as xdp from './commands/xdp.js';
import { CliError, describeError, EXIT, oneLine } from './errors.js';

export { CliError, EXIT };

const EPILOGUE = `
Exit codes:
  0   success
  1   input error: a missing, unreadable or malformed file, a program the verifier rejects, a map
      error, an output that cannot be written (no space, no permission, a directory)
  2   usage: bad flags or arguments, an output that is an input or another output
  3   runtime fault: a program faulted or ran out of its instruction budget or time
  70  internal error (a bug): one line; run again with --debug for the stack trace
  tsbpf trace exits with the traced program's own code.`;

export function buildProgram(): Command {
  const program = new Command('tsbpf')
    .description('The eBPF system in TypeScript: assemble, verify, run, JIT, filter and trace.')
    .version('0.1.0')
    .option('--debug', 'print the stack trace of an internal error')
    .option('--btf <file>', "BTF that CO-RE relocations are resolved against (default: the running kernel's)")
    .exitOverride()
    // Usage errors are printed by `main` as one line; commander's own printing is turned off, and so is
    // the help it shows on stderr when a command is missing (report says that in one line).
    .configureOutput({ outputError: () => {}, writeErr: () => {} })
    .addHelpText('after', EPILOGUE);
  for (const command of [asm, disasm, run, conformance, prog, map, link, xdp, tc, verify, filter, trace]) {
    command.register(program);
  }
  trackCommand(program);
  program.hook('preAction', (root) => {
    const btf = root.opts().btf as string | undefined;
    if (btf !== undefined) useCoreBtfFile(btf);
  });
  return program;
}

/** The command being run, for the `--help` hint of a usage error. */
let current: Command | undefined;

function trackCommand(command: Command): void {
  if (command.commands.length === 0) return;
  command.hook('preSubcommand', (_parent, sub) => {
    current = sub;
  });
  for (const sub of command.commands) trackCommand(sub);
}

function commandPath(c: Command | undefined): string {
  const names: string[] = [];
  for (let x = c; x; x = x.parent ?? undefined) names.unshift(x.name());
  return names.join(' ') || 'tsbpf';
}

/** The program `main` built, for reports of errors that happen before any subcommand is chosen. */
let root: Command | undefined;

/** `--debug` among the arguments before `--` (after it they belong to a traced program). */
function debugRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--debug');
}

/** Runs the CLI; resolves to the exit code. Never rejects: every error is reported here. */
export async function main(argv: string[]): Promise<number> {
  current = undefined;
  let program: Command;
  try {
    program = buildProgram();
    root = program;
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    return report(err, debugRequested(argv.slice(2)));
  }
}

/** Print the one line for `err` (and with `debug` its stack); returns the exit code. */
export function report(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version exit with 0.
    if (err.exitCode === 0) return EXIT.ok;
    if (err.code === 'commander.help') {
      // A command that needs a subcommand got none (`tsbpf`, `tsbpf prog`, `tsbpf help bogus`).
      const c = current ?? root;
      const names = c ? c.commands.map((x) => x.name()).join(', ') : '';
      const sub = commandPath(c).replace(/^tsbpf ?/, '');
      process.stderr.write(
        `tsbpf: ${sub ? `${sub}: ` : ''}missing command${names ? ` (one of ${names})` : ''} (see ${commandPath(c)} --help)\n`,
      );
      return EXIT.usage;
    }
    const message = oneLine(err.message.replace(/^error: /, ''));
    process.stderr.write(`tsbpf: ${message} (see ${commandPath(current)} --help)\n`);
    return EXIT.usage;
  }
  const { line: described, code, detail } = describeError(err);
  const line = debug ? described.replace(/ \(run with --debug for the stack trace\)$/, '') : described;
  if (detail) process.stderr.write(`${detail.trimEnd()}\n`);
  process.stderr.write(`tsbpf: ${line}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}
