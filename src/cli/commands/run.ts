// `tsbpf run FILE [--mem HEX|@file] [--json] [--budget N]`: run a program the way user-space VMs do —
// r1 points at a copy of the memory, r2 holds its length — and print r0. FILE is raw bytecode, an ELF
// object (first program, or --program NAME) or assembler text (.s/.asm).

import type { Command } from 'commander';
import { assemble } from '../../asm/index.js';
import { readObject } from '../../elf/index.js';
import { FormatError, RuntimeFault, TsbpfError } from '../../errors.js';
import { hexToBytes } from '../../hex.js';
import { decode } from '../../isa/index.js';
import { runJitWithMemory } from '../../jit/index.js';
import { createMap } from '../../maps/index.js';
import type { ProgramSpec } from '../../spec/object.js';
import { type PreparedProgram, type RunLimits, Runtime, runWithMemory } from '../../vm/index.js';
import { CliError, EXIT } from '../errors.js';
import { type LimitFlags, limitOptions, runLimits } from '../limits.js';
import { cliRuntime, readBytes } from '../objects.js';

/** An execution engine for `run` and the conformance plugin: runs with r1 = memory copy, r2 = length. */
export type Engine = (rt: Runtime, prog: PreparedProgram, mem: Uint8Array, limits: RunLimits) => bigint;

/** Engines by name. The JIT registers itself here once it can run programs. */
export const ENGINES: Record<string, Engine | undefined> = {
  interp: (rt, prog, mem, limits) => runWithMemory(rt, prog, mem, limits).r0,
  jit: (rt, prog, mem, limits) => runJitWithMemory(rt, prog, mem, limits).r0,
};

export function engineByName(name: string): Engine {
  if (!(name in ENGINES))
    throw new CliError(`unknown engine '${name}' (choose ${Object.keys(ENGINES).join(' or ')})`, EXIT.usage);
  const engine = ENGINES[name];
  if (!engine) throw new CliError(`the ${name} engine is not available yet`);
  return engine;
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
export const isElf = (bytes: Uint8Array): boolean => ELF_MAGIC.every((b, i) => bytes[i] === b);

export interface LoadOptions {
  /** Name shown in messages. */
  file: string;
  /** Program (function or section name) to pick from an ELF object; default the first. */
  program?: string;
  /** Treat the bytes as assembler text. */
  text?: boolean;
}

/**
 * Raw bytecode, an ELF object or assembler text → a program prepared on `rt` (maps created there).
 * A malformed program is an error naming the file.
 */
export function loadProgram(rt: Runtime, bytes: Uint8Array, options: LoadOptions): PreparedProgram {
  try {
    return prepareProgram(rt, bytes, options);
  } catch (e) {
    if (e instanceof TsbpfError && !(e instanceof RuntimeFault) && !e.message.startsWith(options.file))
      throw new CliError(`${options.file}: ${e.name === 'TsbpfError' ? '' : `${e.name}: `}${e.message}`);
    throw e;
  }
}

function prepareProgram(rt: Runtime, bytes: Uint8Array, options: LoadOptions): PreparedProgram {
  if (options.text) {
    const insns = assemble(new TextDecoder().decode(bytes));
    if (insns.length === 0) throw new CliError(`${options.file}: no instructions`);
    return rt.prepare(insns);
  }
  if (!isElf(bytes)) {
    if (bytes.length === 0) throw new CliError(`${options.file}: empty program`);
    return rt.prepare(decode(bytes));
  }
  const object = readObjectFor(bytes, options);
  if (object.programs.length === 0) throw new CliError(`${options.file}: the object has no programs`);
  const wanted = options.program;
  const spec: ProgramSpec | undefined = wanted
    ? object.programs.find((p) => p.name === wanted || p.section === wanted)
    : object.programs[0];
  if (!spec) {
    const names = object.programs.map((p) => `${p.name} (${p.section})`).join(', ');
    throw new CliError(`${options.file}: no program '${wanted}' (have: ${names})`);
  }
  const maps = object.maps.map((m) => createMap(rt.space, m, { cpus: rt.cpus }));
  return rt.prepare(spec, maps);
}

/** The object, or with --program and an object that does not link as a whole, that program alone. */
function readObjectFor(bytes: Uint8Array, options: LoadOptions): ReturnType<typeof readObject> {
  try {
    return readObject(bytes, { file: options.file });
  } catch (e) {
    if (options.program === undefined || !(e instanceof FormatError)) throw e;
    const alone = readObject(bytes, { file: options.file, programs: [options.program] });
    if (alone.programs.length === 0) throw e;
    process.stderr.write(`tsbpf: note: ${e.message}; loading ${options.program} alone\n`);
    return alone;
  }
}

/**
 * Hex bytes, spaced (`01 0a ff`) or packed (`010aff`, optional 0x), as the conformance suite writes them.
 * Bad hex is a usage error (exit 2) unless `code` says otherwise (a program read from stdin: exit 1).
 */
export function parseHex(text: string, what: string, code: number = EXIT.usage): Uint8Array {
  const tokens = text.split(/[\s,]+/).filter(Boolean);
  const out: number[] = [];
  for (const token of tokens) {
    const t = token.replace(/^0x/i, '');
    if (!/^[0-9a-f]+$/i.test(t)) throw new CliError(`${what}: '${token}' is not hexadecimal`, code);
    if (t.length <= 2) out.push(Number.parseInt(t, 16));
    else {
      const bytes = hexToBytes(t);
      if (!bytes) throw new CliError(`${what}: '${token}' has an odd number of hex digits`, code);
      out.push(...bytes);
    }
  }
  return Uint8Array.from(out);
}

/** `--mem` value: hex bytes, or `@path` for a binary file. */
export function readMemoryOption(value: string | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (value.startsWith('@')) return readBytes(value.slice(1), 'memory');
  return parseHex(value, '--mem');
}

interface RunFlags extends LimitFlags {
  mem?: string;
  json?: boolean;
  program?: string;
  engine: string;
}

export function register(program: Command): void {
  const run = program
    .command('run')
    .description('run a program with r1 = a copy of the memory and r2 = its length; print r0')
    .argument('<file>', 'raw bytecode, an ELF object, or assembler text (.s, .asm)')
    .option('--mem <hex|@file>', 'input memory: hex bytes, or @path of a binary file')
    .option('--json', 'print the result as JSON')
    .option('--program <name>', 'program (function or section) to run from an ELF object')
    .option('--engine <name>', 'execution engine: interp or jit', 'interp');
  limitOptions(run).action((file: string, flags: RunFlags) => {
    const limits = runLimits(flags, performance.now());
    const engine = engineByName(flags.engine);
    const bytes = readBytes(file, 'program');
    const mem = readMemoryOption(flags.mem);
    const rt = new Runtime(cliRuntime());
    const text = /\.(s|asm)$/i.test(file);
    const prog = loadProgram(rt, bytes, { file, program: flags.program, text });
    const r0 = engine(rt, prog, mem, limits);
    const signed = BigInt.asIntN(64, r0);
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ r0: r0.toString(), r0Signed: signed.toString(), hex: `0x${r0.toString(16)}` })}\n`,
      );
    } else {
      const sign = signed < 0n ? ` = ${signed}` : '';
      process.stdout.write(`r0 = ${r0} (0x${r0.toString(16)})${sign}\n`);
    }
  });
}
