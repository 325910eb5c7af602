// The `tsbpf` command line: parses arguments and calls the library. Each command lives in
// ./commands/<name>.ts and exports `register(program)`.

import { Command, CommanderError } from 'commander';
import { TsbpfError } from '../errors.js';
import * as asm from './commands/asm.js';
import * as conformance from './commands/conformance.js';
import * as disasm from './commands/disasm.js';
import * as filter from './commands/filter.js';
import * as map from './commands/map.js';
import * as prog from './commands/prog.js';
import * as run from './commands/run.js';
import * as trace from './commands/trace.js';
import * as verify from './commands/verify.js';
import * as xdp from './commands/xdp.js';

/** A failure the CLI reports as one line and a non-zero exit code (no stack trace). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function buildProgram(): Command {
  const program = new Command('tsbpf')
    .description('The eBPF system in TypeScript: assemble, verify, run, JIT, filter and trace.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const command of [asm, disasm, run, conformance, prog, map, xdp, verify, filter, trace]) {
    command.register(program);
  }
  return program;
}

/** Runs the CLI; resolves to the exit code. User errors print `tsbpf: message` on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError) {
      process.stderr.write(`tsbpf: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof TsbpfError) {
      const kind = err.name === 'TsbpfError' ? '' : `${err.name}: `;
      process.stderr.write(`tsbpf: ${kind}${err.message}\n`);
      return 1;
    }
    if (
      err &&
      typeof err === 'object' &&
      'code' in err &&
      typeof (err as NodeJS.ErrnoException).path === 'string'
    ) {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`tsbpf: ${e.path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}\n`);
      return 1;
    }
    throw err;
  }
}
