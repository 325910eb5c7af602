// `tsbpf prog run|list`: mirrors `bpftool prog run` — the same keyword arguments and the same output line —
// so results can be compared with the kernel's directly.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { testRun } from '../../hooks/test-run.js';
import { loadObject } from '../../object/load.js';
import { CliError } from '../main.js';
import { engineOption, readBytes, readObjectFile, runnerFor } from '../objects.js';

interface RunOptions {
  section?: string;
  engine: 'interp' | 'jit';
  verify: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const prog = program
    .command('prog')
    .description('run and inspect the programs of an object (like bpftool prog)');
  prog
    .command('run')
    .description(
      'run a program once or N times on a packet: data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]',
    )
    .argument('<prog.o>', 'ELF object')
    .argument('<args...>', 'data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]')
    .option('--section <name>', 'program to run: a section or function name (default: the first program)')
    .option('--engine <engine>', 'interp or jit', engineOption, 'jit')
    .option('--no-verify', 'skip the verifier and run in checked mode')
    .option('--json', 'print {"retval", "duration"} as JSON')
    .action((file: string, args: string[], options: RunOptions) => runProg(file, args, options));
  prog
    .command('list')
    .description('list the programs of an object: name, section, type, instructions')
    .argument('<prog.o>', 'ELF object')
    .action((file: string) => {
      for (const p of readObjectFile(file).programs) {
        process.stdout.write(`${p.name}\tsection ${p.section}\ttype ${p.type}\t${p.insns.length} insns\n`);
      }
    });
}

/** From this many repeats on, durations are measured in process CPU time rather than wall time. */
const CPU_CLOCK_REPEAT = 100_000;

function cpuClock(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** bpftool's keyword arguments: data_in, data_out, ctx_in, ctx_out, repeat. */
interface Keywords {
  dataIn: string;
  dataOut?: string;
  ctxIn?: string;
  ctxOut?: string;
  repeat: number;
}

const KEYWORDS = ['data_in', 'data_out', 'ctx_in', 'ctx_out', 'repeat'];

function parseKeywords(args: readonly string[]): Keywords {
  const kv = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i]!;
    const value = args[i + 1];
    if (!KEYWORDS.includes(key)) {
      throw new CliError(`prog run: unknown argument '${key}' (expected ${KEYWORDS.join(', ')})`, 2);
    }
    if (value === undefined) throw new CliError(`prog run: '${key}' needs a value`, 2);
    if (kv.has(key)) throw new CliError(`prog run: '${key}' given twice`, 2);
    kv.set(key, value);
  }
  const dataIn = kv.get('data_in');
  if (!dataIn) throw new CliError('prog run: data_in FILE is required', 2);
  const repeat = Number(kv.get('repeat') ?? 1);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new CliError(`prog run: repeat must be a positive integer`, 2);
  return { dataIn, dataOut: kv.get('data_out'), ctxIn: kv.get('ctx_in'), ctxOut: kv.get('ctx_out'), repeat };
}

function runProg(file: string, args: string[], options: RunOptions): void {
  const kw = parseKeywords(args);
  const obj = loadObject(readObjectFile(file), { engine: options.engine, verify: options.verify });
  const prog = obj.program(options.section);
  const result = testRun(runnerFor(prog, options.engine), {
    dataIn: readBytes(kw.dataIn, 'data_in'),
    ctxIn: kw.ctxIn ? readBytes(kw.ctxIn, 'ctx_in') : undefined,
    repeat: kw.repeat,
    // The kernel's clock stops while its thread is scheduled out; process CPU time does too (in µs, so
    // only for runs long enough to measure with it).
    clock: kw.repeat >= CPU_CLOCK_REPEAT ? cpuClock : undefined,
  });
  if (kw.dataOut) {
    if (kw.dataOut === '-') process.stdout.write(result.dataOut);
    else writeFileSync(kw.dataOut, result.dataOut);
  }
  if (kw.ctxOut) writeFileSync(kw.ctxOut, result.ctxOut);
  const ns = Math.round(result.durationNs);
  if (options.json) process.stdout.write(`${JSON.stringify({ retval: result.retval, duration: ns })}\n`);
  else
    process.stdout.write(
      `Return value: ${result.retval}, duration${kw.repeat > 1 ? ' (average)' : ''}: ${ns}ns\n`,
    );
}
