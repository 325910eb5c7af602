// `tsbpf trace funclatency|funccount|events ... -- node SCRIPT [ARGS]`: run a Node.js program with the trace
// preload (src/node/trace-preload.ts), which wraps the named exports and runs the tool's probe programs in
// that process, and print what it reports.
//
// Output: the program's stdout and stderr pass through untouched, and the report follows on stdout after
// the program exits. With --json, stdout carries exactly one JSON object (the report), so the program's own
// stdout is sent to stderr. `events` prints each event as it arrives. A non-zero exit of the program is
// tsbpf's exit code (128 + signal number when it was killed by a signal). What cannot be traced as asked
// is an error (one line, exit 1), checked here before the program starts when it can be (a --fn file that
// does not exist, an object that does not load) and by the preload when a module loads (a missing export,
// a non-function, a script that does not exist), which then stops the program.

import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { loadObject } from '../../collection/userspace.js';
import { TsbpfError } from '../../errors.js';
import { KernelFuncTool, type KernelFunctionTarget } from '../../kernel/func-tools.js';
import {
  formatEvent,
  formatFunccount,
  formatFunclatency,
  funccountJson,
  funclatencyJson,
  TRACE_ENV,
  type TraceConfig,
  type TracedFunction,
  type TraceMessage,
  type TraceToolName,
} from '../../tools/trace-report.js';
import { positiveInt } from '../capture-command.js';
import { CliError, EXIT, fileError } from '../errors.js';
import { type LimitFlags, parseBudget } from '../limits.js';
import {
  chooseProgram,
  cliRuntime,
  loadSelection,
  programFlag,
  readObjectFile,
  rejected,
} from '../objects.js';

const PRELOAD = fileURLToPath(new URL('../../node/trace-preload.js', import.meta.url));
const FD = 3;

interface ToolOptions extends LimitFlags {
  fn?: string[];
  ufn?: string[];
  kfn?: string[];
  duration?: number;
  pid?: number;
  json?: boolean;
  engine?: string;
  prog?: string;
  program?: string;
}

/** FILE#EXPORT (FILE relative to the current directory); a missing #EXPORT means the default export. */
export function parseFunction(spec: string): TracedFunction {
  const hash = spec.lastIndexOf('#');
  const file = hash < 0 ? spec : spec.slice(0, hash);
  const name = hash < 0 ? 'default' : spec.slice(hash + 1);
  if (file === '' || name === '') throw new CliError(`--fn '${spec}': expected FILE#EXPORT`, 2);
  if (!/^[\p{L}\p{N}_$]+$/u.test(name))
    throw new CliError(`--fn '${spec}': '${name}' is not an export name`, 2);
  return { spec, file: resolvePath(file), export: name };
}

/** The file of a --fn must exist and be a file (its exports are checked when the program loads it). */
function checkFunctionFile(f: TracedFunction): void {
  let isFile: boolean;
  try {
    isFile = statSync(f.file).isFile();
  } catch (e) {
    throw fileError(`--fn ${f.spec}: ${f.file}`, 'trace', e);
  }
  if (!isFile) throw new CliError(`--fn ${f.spec}: ${f.file} is not a file`);
}

/**
 * The probe object of `events` loads (and verifies) here first, so its errors are ours, not the program's;
 * returns the name of the program to run (`--program`, or the only kprobe program), which alone is loaded.
 */
function checkObject(object: string, opts: ToolOptions): string {
  const wanted = programFlag({ program: opts.program, section: opts.prog });
  const spec = readObjectFile(object, wanted);
  const chosen = chooseProgram(object, spec, wanted, { type: 'kprobe', label: 'kprobe' });
  if (chosen.type !== 'kprobe')
    throw new CliError(
      `${object}: program ${chosen.name} is ${chosen.type}; probes run kprobe programs (SEC("uprobe"), SEC("kprobe"))`,
    );
  try {
    loadObject(spec, {
      engine: opts.engine as 'jit' | 'interp' | undefined,
      programs: loadSelection(spec, chosen),
      runtimeOptions: cliRuntime(),
    });
  } catch (e) {
    throw rejected(object, e);
  }
  return chosen.name;
}

function nodeCommand(command: string[]): string[] {
  if (command.length === 0) throw new CliError('no program to trace: add -- node SCRIPT [ARGS]', 2);
  const exe = basename(command[0]!);
  if (!/^node(js)?(\d+)?(\.exe)?$/.test(exe) && command[0] !== process.execPath) {
    throw new CliError(`the traced program must be started with node (got '${command[0]}')`, 2);
  }
  return command;
}

async function runTraced(
  tool: TraceToolName,
  command: string[],
  opts: ToolOptions,
  object?: string,
): Promise<void> {
  if (!existsSync(PRELOAD)) throw new CliError(`trace preload not found at ${PRELOAD} (run npm run build)`);
  const functions = (opts.fn ?? []).map(parseFunction);
  if (functions.length === 0)
    throw new CliError(
      'name at least one function with --fn FILE#EXPORT, --ufn BINARY:SYMBOL or --kfn PATTERN',
      2,
    );
  if (opts.engine && opts.engine !== 'jit' && opts.engine !== 'interp') {
    throw new CliError(`unknown engine '${opts.engine}' (expected jit or interp)`, 2);
  }
  const [node, ...args] = nodeCommand(command);
  for (const f of functions) checkFunctionFile(f);
  const chosen = object ? checkObject(object, opts) : undefined;
  const config: TraceConfig = {
    tool,
    functions,
    fd: FD,
    engine: opts.engine as TraceConfig['engine'],
    budget: opts.budget,
    object: object ? resolvePath(object) : undefined,
    program: chosen,
  };
  const child = spawn(node!, ['--import', PRELOAD, ...args], {
    stdio: ['inherit', opts.json ? 2 : 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [TRACE_ENV]: JSON.stringify(config) },
  });
  // Ctrl-C reaches the program too; tsbpf waits for its report instead of dying first.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);

  const messages: TraceMessage[] = [];
  const lines = createInterface({ input: child.stdio[FD] as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    let m: TraceMessage;
    try {
      m = JSON.parse(line) as TraceMessage;
    } catch {
      return;
    }
    if (m.type === 'event') {
      process.stdout.write(opts.json ? `${JSON.stringify(m)}\n` : `${formatEvent(m)}\n`);
    } else messages.push(m);
  });
  const started = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new CliError(`cannot start ${node}: ${e.message}`)));
  });
  await started;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  );
  process.off('SIGINT', ignore);
  process.off('SIGTERM', ignore);

  // The trace failed: that is the one line to print (the program was stopped when the module loaded).
  const error = messages.find((m) => m.type === 'error');
  if (error) throw new CliError(error.message, error.internal ? EXIT.internal : EXIT.input);
  for (const m of messages) if (m.type === 'warning') process.stderr.write(`tsbpf: warning: ${m.message}\n`);
  report(tool, messages, opts.json === true);
  const exit = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0);
  if (exit !== 0) process.exitCode = exit;
}

/**
 * `--ufn`/`--kfn`: the kernel traces the functions (src/kernel/func-tools.ts) while COMMAND (any program,
 * when given) runs, for `--duration` seconds, or until Ctrl-C / SIGTERM, whichever ends first; then the
 * report, in the same forms as `--fn`'s. Exit code: the command's, as with `--fn`.
 */
async function runKernelTraced(
  tool: 'funccount' | 'funclatency',
  command: string[],
  opts: ToolOptions,
): Promise<void> {
  if (opts.fn?.length) {
    throw new CliError(
      '--fn traces JS functions of a node program, --ufn/--kfn through the kernel: use one or the other',
      2,
    );
  }
  const targets: KernelFunctionTarget[] = [
    ...(opts.ufn ?? []).map((spec) => ({ kind: 'user' as const, spec })),
    ...(opts.kfn ?? []).map((pattern) => ({ kind: 'kernel' as const, pattern })),
  ];
  let t: KernelFuncTool;
  try {
    t = new KernelFuncTool(tool, targets, { pid: opts.pid });
  } catch (e) {
    if (e instanceof TsbpfError) throw new CliError(e.message);
    throw e;
  }
  let exit = 0;
  try {
    const ends: Promise<void>[] = [];
    let stop = (): void => {};
    ends.push(new Promise<void>((r) => (stop = r)));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    let timer: NodeJS.Timeout | undefined;
    if (opts.duration !== undefined)
      ends.push(new Promise<void>((r) => (timer = setTimeout(r, opts.duration! * 1000))));
    let child: ReturnType<typeof spawn> | undefined;
    if (command.length > 0) {
      child = spawn(command[0]!, command.slice(1), {
        stdio: ['inherit', opts.json ? 2 : 'inherit', 'inherit'],
      });
      const c = child;
      ends.push(
        new Promise<void>((resolve, reject) => {
          c.once('error', (e) => reject(new CliError(`cannot start ${command[0]}: ${e.message}`)));
          c.once('close', (code, signal) => {
            exit = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0);
            resolve();
          });
        }),
      );
    }
    try {
      await Promise.race(ends);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (timer) clearTimeout(timer);
    }
    const message: TraceMessage =
      tool === 'funccount'
        ? { type: 'counts', counts: t.counts() }
        : { type: 'latency', functions: t.latency() };
    report(tool, [message], opts.json === true);
  } finally {
    t.close();
  }
  if (exit !== 0) process.exitCode = exit;
}

/** `--fn` runs a node program with the preload; `--ufn`/`--kfn` trace through the kernel. */
function runTool(tool: 'funccount' | 'funclatency', command: string[], opts: ToolOptions): Promise<void> {
  if (opts.ufn?.length || opts.kfn?.length) return runKernelTraced(tool, command, opts);
  if (opts.duration !== undefined || opts.pid !== undefined)
    throw new CliError('--duration and --pid go with --ufn/--kfn (kernel tracing)', 2);
  return runTraced(tool, command, opts);
}

/** The kernel tracing options of funccount and funclatency. */
function kernelOptions(c: Command, what: string): Command {
  return c
    .option(
      '--ufn <BINARY:SYMBOL>',
      `user function to ${what} through uprobes (SYMBOL may be a pattern; repeatable)`,
      collect,
    )
    .option('--kfn <PATTERN>', `kernel function(s) to ${what} through kprobe.multi (repeatable)`, collect)
    .option('--duration <s>', 'with --ufn/--kfn: report after S seconds', (v) => positiveInt(v, '--duration'))
    .option('--pid <n>', 'with --ufn: only this process', (v) => positiveInt(v, '--pid'));
}

function report(tool: TraceToolName, messages: TraceMessage[], json: boolean): void {
  const out = (s: string): boolean => process.stdout.write(s);
  for (const m of messages) {
    if (m.type === 'counts')
      out(json ? `${JSON.stringify(funccountJson(m.counts))}\n` : formatFunccount(m.counts));
    else if (m.type === 'latency') {
      out(json ? `${JSON.stringify(funclatencyJson(m.functions))}\n` : formatFunclatency(m.functions));
    } else if (m.type === 'lost') {
      process.stderr.write(`tsbpf: ${m.map}: ${m.received} events received, ${m.lost} lost\n`);
    }
  }
  const expected = tool === 'funccount' ? 'counts' : tool === 'funclatency' ? 'latency' : undefined;
  if (expected && !messages.some((m) => m.type === expected)) {
    process.stderr.write('tsbpf: the program ended without a report (killed before it could send one?)\n');
  }
}

/**
 * `--budget` for probe runs. There is no `--timeout`: the traced program runs as long as it runs, and each
 * probe run is bounded by its budget.
 */
function budgetOption(): Option {
  return new Option('--budget <n>', 'loop iterations each probe run may take (default 2^24)').argParser(
    parseBudget,
  );
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function register(program: Command): void {
  const trace = program
    .command('trace')
    .description('trace functions of a Node.js program: funclatency, funccount, events');

  kernelOptions(
    trace
      .command('funclatency')
      .description('log2 histogram of the duration of each named function, printed when the program exits')
      .option('--fn <FILE#EXPORT>', 'JS function to time (repeatable)', collect),
    'time',
  )
    .option('--json', 'print {"functions": {...}} as the only stdout (program stdout goes to stderr)')
    .option('--engine <name>', 'jit or interp', 'jit')
    .addOption(budgetOption())
    .argument('[command...]', '-- node SCRIPT [ARGS] (--fn); -- PROGRAM [ARGS], optional (--ufn/--kfn)')
    .action((command: string[], opts: ToolOptions) => runTool('funclatency', command, opts));

  kernelOptions(
    trace
      .command('funccount')
      .description('count calls of each named function, printed when the program exits')
      .option('--fn <FILE#EXPORT>', 'JS function to count (repeatable)', collect),
    'count',
  )
    .option('--json', 'print {"counts": {...}} as the only stdout (program stdout goes to stderr)')
    .option('--engine <name>', 'jit or interp', 'jit')
    .addOption(budgetOption())
    .argument('[command...]', '-- node SCRIPT [ARGS] (--fn); -- PROGRAM [ARGS], optional (--ufn/--kfn)')
    .action((command: string[], opts: ToolOptions) => runTool('funccount', command, opts));

  trace
    .command('events')
    .description('attach a compiled probe program and print its ring buffer / perf events as they arrive')
    .argument('<object>', 'BPF object file (kprobe/uprobe/uretprobe program)')
    .requiredOption('--fn <FILE#EXPORT>', 'function to attach to (repeatable)', collect)
    .option(
      '--program <name>',
      'program in the object: a function or section name (default: the only kprobe program)',
    )
    .addOption(new Option('--prog <name>', 'the same as --program').hideHelp())
    .option('--json', 'events as JSON lines')
    .option('--engine <name>', 'jit or interp', 'jit')
    .addOption(budgetOption())
    .argument('<command...>', '-- node SCRIPT [ARGS]')
    .action((object: string, command: string[], opts: ToolOptions) =>
      runTraced('events', command, opts, object),
    );
}
