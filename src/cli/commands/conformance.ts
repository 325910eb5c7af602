// `tsbpf conformance-plugin [MEMHEX] [--elf] [--engine interp|jit]`: the plugin protocol of the
// bpf_conformance runner. The program comes on stdin as base16 bytes (`b7 00 00 00 ...`, the runner's
// encoding; raw binary is accepted too), or with `--program HEX`; the memory is the optional base16
// argument. Success: r0 in hex (no 0x prefix, like the reference plugins) on stdout, exit 0. Failure: the
// message on stderr and a non-zero exit, as the runner expects — 1 for an invalid program, 3 for a fault
// or an exhausted budget (the codes of every tsbpf command, docs/cli.md).
//
// The runner takes a single executable, so point it at a wrapper such as
//   #!/bin/sh
//   exec tsbpf conformance-plugin "$@"

import type { Command } from 'commander';
import { Runtime } from '../../vm/index.js';
import { CliError } from '../errors.js';
import { readInput } from '../files.js';
import { type LimitFlags, limitOptions, runLimits } from '../limits.js';
import { cliRuntime } from '../objects.js';
import { engineByName, loadProgram, parseHex } from './run.js';

interface PluginFlags extends LimitFlags {
  elf?: boolean;
  engine: string;
  program?: string;
  debug?: boolean;
}

/** The plugin's instruction budget unless --budget says otherwise (the conformance suite's programs are small). */
const PLUGIN_BUDGET = 10_000_000;

/** stdin as program bytes: base16 text when it is only hex digits and separators, else raw binary. */
function programBytes(input: Uint8Array): Uint8Array {
  const text = new TextDecoder('latin1').decode(input);
  if (/^[\s0-9a-fA-Fx,]*$/.test(text)) return parseHex(text, 'program on stdin', 1);
  return input;
}

export function register(program: Command): void {
  const plugin = program
    .command('conformance-plugin')
    .description('bpf_conformance plugin: program bytes (base16) on stdin, memory as base16 argument')
    .argument('[memory...]', 'input memory as base16 bytes (one argument; empty arguments are ignored)')
    .option('--elf', 'the program is an ELF object (its first program runs)')
    .option('--engine <name>', 'execution engine: interp or jit', 'interp')
    .option('--program <hex>', 'program bytes as base16 instead of stdin')
    .option('--debug', 'accepted for compatibility with the reference plugins');
  limitOptions(plugin).action((memory: string[], flags: PluginFlags) => {
    const engine = engineByName(flags.engine);
    const limits = runLimits({ ...flags, budget: flags.budget ?? PLUGIN_BUDGET }, performance.now());
    const mem = parseHex(memory.join(' '), 'memory argument');
    const bytes =
      flags.program !== undefined ? parseHex(flags.program, '--program') : programBytes(readStdin());
    if (bytes.length === 0) throw new CliError('no program on stdin');
    if (flags.elf && bytes[0] !== 0x7f) throw new CliError('--elf: the program is not an ELF object');
    const rt = new Runtime(cliRuntime());
    const prog = loadProgram(rt, bytes, { file: flags.elf ? 'ELF on stdin' : 'program on stdin' });
    const r0 = engine(rt, prog, mem, limits);
    process.stdout.write(`${r0.toString(16)}\n`);
  });
}

function readStdin(): Uint8Array {
  return readInput('-', 'program');
}
