// `tsbpf prog run|list`: mirrors `bpftool prog run` — the same keyword arguments and the same output line —
// so results can be compared with the kernel's directly. `prog list` without an object, `prog show` and
// `prog loadall` work on the running kernel (./kernel-inspect.ts).

import type { Command } from 'commander';
import { RuntimeFault } from '../../errors.js';
import { TEST_RUN_MAX_REPEAT, TestRunError, testRun } from '../../hooks/test-run.js';
import { errnoText } from '../../spec/errno.js';
import { programTypeByName } from '../../spec/program-types.js';
import type { ResolvedProgramType } from '../../spec/type-names.js';
import { CliError, EXIT } from '../errors.js';
import { Files, writing } from '../files.js';
import { type LimitFlags, limitOptions, runLimits } from '../limits.js';
import {
  chooseProgram,
  engineOption,
  loadForProgram,
  type ProgramFlags,
  parseMapSets,
  parseProgramType,
  programFlag,
  programOption,
  readBytes,
  readObjectFile,
  runnerFor,
  type SizeFlags,
  sizeOptions,
  withType,
} from '../objects.js';
import { progLoadAll, progShow } from './kernel-inspect.js';
import { progAttach, progDetach, progLoad, TARGET_HELP } from './prog-kernel.js';

interface RunOptions extends LimitFlags, ProgramFlags, SizeFlags {
  type?: ResolvedProgramType;
  mapSet?: string[];
  engine: 'interp' | 'jit';
  verify: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const prog = program
    .command('prog')
    .description('run and inspect the programs of an object (like bpftool prog)');
  const run = prog
    .command('run')
    .description(
      'run a program once or N times on a packet: data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N] (sk_lookup, raw_tracepoint, syscall: a ctx_in and no data_in)',
    )
    .argument('<prog.o>', 'ELF object')
    .argument('<args...>', '[data_in FILE] [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]')
    .option('--engine <engine>', 'interp or jit', engineOption, 'jit')
    .option('--no-verify', 'skip the verifier and run in checked mode')
    .option('--json', 'print {"retval", "duration"} as JSON')
    .option(
      '--type <type>',
      "run the program as this type: the kernel's, bpftool's or libbpf's name (sched_cls, classifier, tc, socket …)",
      parseProgramType,
    )
    .option(
      '--map-set <map-and-key=value...>',
      'before the run: MAP KEY=VALUE, hex bytes in memory order (after the keywords, or before another option)',
      [],
    );
  sizeOptions(programOption(run, 'program to run (default: the only program)'));
  limitOptions(run).action((file: string, args: string[], options: RunOptions) =>
    runProg(file, args, options),
  );
  prog
    .command('list')
    .description(
      "list the programs of an object (name, section, type, instructions), or without one the kernel's (as prog show)",
    )
    .argument('[prog.o]', 'ELF object (none: every program loaded in the kernel)')
    .option('--json', "the kernel's programs as bpftool -j")
    .action((file: string | undefined, o: { json?: boolean }) => {
      if (file === undefined) return progShow([], o.json === true);
      for (const p of readObjectFile(file).programs) {
        process.stdout.write(`${p.name}\tsection ${p.section}\ttype ${p.type}\t${p.insns.length} insns\n`);
      }
    });
  prog
    .command('show')
    .description("show the kernel's programs as bpftool prog show: every one, or id N, or pinned PATH")
    .argument('[selector...]', 'id N | pinned PATH (none: every program)')
    .option('--json', 'as bpftool -j')
    .action((words: string[], o: { json?: boolean }) => progShow(words, o.json === true));
  prog
    .command('loadall')
    .description(
      'load every program of an object into the kernel and pin programs and maps (bpftool prog loadall)',
    )
    .argument('<prog.o>', 'ELF object')
    .argument('<pindir>', 'bpffs directory: programs are pinned at PINDIR/NAME')
    .option('--pinmaps <dir>', 'pin the maps at DIR/NAME (default PINDIR/maps)')
    .option(
      '--autoattach',
      'attach each program where its section says (libbpf rules) and pin its link at PINDIR/NAME instead',
    )
    .action((file: string, dir: string, o: { pinmaps?: string; autoattach?: boolean }) =>
      progLoadAll(file, dir, o.pinmaps, o.autoattach === true),
    );
  prog
    .command('load')
    .description('load an object into the kernel and pin one program at PATH (bpftool prog load)')
    .argument('<prog.o>', 'ELF object')
    .argument('<path>', 'bpffs path the program is pinned at')
    .option('--program <name>', 'the program to pin (default: the first; only it is loaded)')
    .option('--type <type>', 'load the program as this type', parseProgramType)
    .option('--map-set <map-and-key=value...>', 'after load: MAP KEY=VALUE, hex bytes in memory order', [])
    .option('--pinmaps <dir>', 'also pin the maps at DIR/NAME')
    .action((file: string, path: string, o: Parameters<typeof progLoad>[2]) => progLoad(file, path, o));
  prog
    .command('attach')
    .description(
      'attach a kernel program (id N | pinned P) to a target; pin the link with --pin, or hold it until SIGINT/SIGTERM',
    )
    .argument('<words...>', `id N | pinned P, then the target: ${TARGET_HELP}`)
    .option('--pin <path>', 'pin the link at PATH in bpffs and exit (it stays attached)')
    .action((words: string[], o: { pin?: string }) => progAttach(words, o.pin));
  prog
    .command('detach')
    .description('detach every link of a kernel program (id N | pinned P)')
    .argument('<selector...>', 'id N | pinned PATH')
    .action((words: string[]) => progDetach(words));
}

/** From this many repeats on, durations are measured in process CPU time rather than wall time. */
const CPU_CLOCK_REPEAT = 100_000;

function cpuClock(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** bpftool's keyword arguments: data_in, data_out, ctx_in, ctx_out, repeat. */
interface Keywords {
  /** Absent for the types whose test run takes none (sk_lookup, raw_tracepoint, syscall), as bpftool allows. */
  dataIn?: string;
  dataOut?: string;
  ctxIn?: string;
  ctxOut?: string;
  /** Absent: the kernel's default (one run; the types that take no repeat count get none). */
  repeat?: number;
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
  return {
    dataIn: kv.get('data_in'),
    dataOut: kv.get('data_out'),
    ctxIn: kv.get('ctx_in'),
    ctxOut: kv.get('ctx_out'),
    repeat: parseRepeat(kv.get('repeat')),
  };
}

/**
 * `repeat N`: decimal or 0x hex, 0 to 2^32-1 (bpf_attr's field is a u32; bpftool passes larger numbers
 * on cut to 32 bits, which turns 2^32 into 0, so they are refused here). 0 is one run, as in the kernel.
 */
function parseRepeat(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > TEST_RUN_MAX_REPEAT)
    throw new CliError(`prog run: repeat '${text}' is not a count from 0 to ${TEST_RUN_MAX_REPEAT}`, 2);
  return n;
}

function runProg(file: string, args: string[], options: RunOptions): void {
  const limits = runLimits(options, performance.now());
  const kw = parseKeywords(args);
  const files = new Files()
    .input(file, 'object')
    .input(kw.dataIn, 'data_in')
    .input(kw.ctxIn, 'ctx_in')
    .output(kw.dataOut, 'data_out', { stdout: true })
    .output(kw.ctxOut, 'ctx_out');
  const result = writing(files, () => {
    const spec = readObjectFile(file, programFlag(options));
    const sets = parseMapSets(options.mapSet ?? []);
    const chosen = chooseProgram(file, spec, programFlag(options), undefined, sets);
    // --type: the program loads as that type (the section said another, or none).
    if (options.type)
      spec.programs = spec.programs.map((p) => (p === chosen ? withType(p, options.type!) : p));
    else if (!programTypeByName(chosen.type)) {
      throw new CliError(
        `${file}: program ${chosen.name} (section ${chosen.section}) has no program type tsbpf knows: give --type (e.g. classifier, socket, xdp)`,
        2,
      );
    }
    const obj = loadForProgram(file, spec, chosen, sets, options);
    const prog = obj.program(chosen.name);
    const dataIn = kw.dataIn ? readBytes(kw.dataIn, 'data_in') : new Uint8Array(0);
    let r: ReturnType<typeof testRun>;
    try {
      r = testRun(runnerFor(prog, options.engine, limits), {
        dataIn,
        deadline: limits.deadline,
        ctxIn: kw.ctxIn ? readBytes(kw.ctxIn, 'ctx_in') : undefined,
        repeat: kw.repeat,
        // The kernel's clock stops while its thread is scheduled out; process CPU time does too (in µs,
        // so only for runs long enough to measure with it).
        clock: (kw.repeat ?? 1) >= CPU_CLOCK_REPEAT ? cpuClock : undefined,
      });
    } catch (e) {
      // bpftool's words for the kernel's refusal, with the file and the reason.
      if (e instanceof TestRunError) {
        const words = errnoText(e.errno);
        throw new CliError(
          `${file}: failed to run program ${prog.name}: ${words[0]!.toUpperCase()}${words.slice(1)} (${e.code}): ${e.reason}${kw.dataIn ? ` (data_in ${kw.dataIn})` : ''}`,
        );
      }
      if (e instanceof RuntimeFault)
        throw new CliError(`${file}: program ${prog.name} faulted: ${e.message}`, EXIT.fault);
      throw e;
    }
    if (kw.dataOut) files.writer('data_out')!.write(r.dataOut);
    if (kw.ctxOut) files.writer('ctx_out')!.write(r.ctxOut);
    return r;
  });
  const ns = Math.round(result.durationNs);
  if (options.json) process.stdout.write(`${JSON.stringify({ retval: result.retval, duration: ns })}\n`);
  else
    process.stdout.write(
      `Return value: ${result.retval}, duration${(kw.repeat ?? 1) > 1 ? ' (average)' : ''}: ${ns}ns\n`,
    );
}
