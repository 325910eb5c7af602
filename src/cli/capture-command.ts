// What the packet commands (`tsbpf xdp`, `tsbpf tc`) share around their packet loops: every file named and
// compared before any is opened, the object read and its one program chosen, sized and loaded, the capture
// opened (Ethernet only), and the outputs replaced only when the run got to the end.

import type { Command } from 'commander';
import type { LoadedObject } from '../collection/userspace.js';
import type { EngineName } from '../engine/runner.js';
import { LinkType } from '../net/pcap.js';
import type { RunLimits } from '../vm/limits.js';
import { CliError } from './errors.js';
import { Files } from './files.js';
import { limitOptions, runLimits } from './limits.js';
import {
  type CaptureFile,
  captureWriter,
  chooseProgram,
  engineOption,
  loadForProgram,
  openCaptureFile,
  parseMapSets,
  programFlag,
  programOption,
  readObjectFile,
  type SizeFlags,
  sizeOptions,
} from './objects.js';

/** The options every packet command takes. */
export interface CaptureOptions extends SizeFlags {
  read: string;
  write?: string;
  dropped?: string;
  program?: string;
  section?: string;
  mapSet?: string[];
  results?: string;
  events?: string;
  dumpMaps?: boolean;
  json?: boolean;
  engine: EngineName;
  verify: boolean;
  count?: number;
  budget?: number;
  timeout?: number;
}

/** What a packet command's help says of its own: its object, what -w and --dropped get, its program. */
export interface CaptureHelp {
  object: string;
  passed: string;
  dropped: string;
  program: string;
}

/** The options of a packet command (CaptureOptions), on `cmd`. */
export function captureCommandOptions(cmd: Command, help: CaptureHelp): Command {
  cmd
    .argument('<prog.o>', help.object)
    .requiredOption('-r, --read <pcap>', 'capture to read packets from')
    .option('-w, --write <pcap>', help.passed)
    .option('--dropped <pcap>', help.dropped)
    .option(
      '--map-set <map-and-key=value...>',
      'before the run: MAP KEY=VALUE, hex bytes in memory order',
      [],
    )
    .option('--results <file>', 'write one JSON line per packet: index, retval, data_out when changed')
    .option('--events <file>', 'write one JSON line per ring-buffer or perf event')
    .option('--dump-maps', 'print every map after the run')
    .option('--json', 'print one JSON object on stdout')
    .option('-c, --count <n>', 'stop after N packets', (v) => positiveInt(v, '--count'))
    .option('--engine <engine>', 'interp or jit', engineOption, 'jit')
    .option('--no-verify', 'skip the verifier and run in checked mode');
  programOption(cmd, help.program);
  sizeOptions(cmd);
  limitOptions(cmd);
  return cmd;
}

/** A positive integer option (`--count`), or a usage error. */
export function positiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliError(`${what}: expected a positive integer, got '${v}'`, 2);
  return n;
}

/** How a packet command picks its program and what it tells the user about it. */
export interface PacketCommand {
  /** The program type looked for when the object has several programs, and its name in notes (`XDP`). */
  readonly want: { type: string; label: string };
  /** The program types the command runs, and how a refusal names them (`sched_cls or sched_act`). */
  readonly accepts: ReadonlySet<string>;
  readonly accepted: string;
  /** What the program sees, for a capture of another link type (`XDP sees Ethernet frames`). */
  readonly sees: string;
}

/** The loaded program a packet loop runs. */
export type CaptureProgram = ReturnType<LoadedObject['program']>;

/**
 * Run `loop` over the capture `options.read` with the program of `file` the command's rules choose; the
 * outputs are committed only when `loop` returns.
 */
export async function runOverCapture<R>(
  file: string,
  options: CaptureOptions,
  command: PacketCommand,
  loop: (
    obj: LoadedObject,
    prog: CaptureProgram,
    input: CaptureFile,
    files: Files,
    limits: RunLimits,
  ) => Promise<R>,
): Promise<{ obj: LoadedObject; report: R }> {
  const limits = runLimits(options, performance.now());
  // Every file named, compared before any is opened: an output never overwrites an input or another output.
  const files = new Files()
    .input(file, 'object')
    .input(options.read, '-r')
    .output(options.write, '-w')
    .output(options.dropped, '--dropped')
    .output(options.results, '--results')
    .output(options.events, '--events')
    .open();
  try {
    const spec = readObjectFile(file, programFlag(options));
    const sets = parseMapSets(options.mapSet ?? []);
    const chosen = chooseProgram(file, spec, programFlag(options), command.want, sets);
    if (!command.accepts.has(chosen.type)) {
      throw new CliError(
        `${file}: program ${chosen.name} (section ${chosen.section}) is ${chosen.type}, not ${command.accepted}`,
      );
    }
    const obj = loadForProgram(file, spec, chosen, sets, options);
    // The capture is read in chunks and the outputs written as they fill: memory stays small however
    // large the capture is.
    const input = openCaptureFile(options.read);
    let report: R;
    try {
      if (input.stream.header.linkType !== LinkType.ETHERNET) {
        throw new CliError(
          `${options.read}: link type ${input.stream.header.linkType} is not Ethernet; ${command.sees}`,
        );
      }
      report = await loop(obj, obj.program(chosen.name), input, files, limits);
    } finally {
      input.close();
    }
    // Only a run that got to the end replaces the outputs.
    files.commit();
    return { obj, report };
  } finally {
    files.discard();
  }
}

/** The outputs of a packet loop, opened on the run's files: passed and dropped packets, per-packet results. */
export function captureOutputs(files: Files, snaplen: number) {
  const passOut = files.writer('-w');
  const dropOut = files.writer('--dropped');
  return {
    pass: passOut ? captureWriter(passOut, { snaplen }) : undefined,
    drop: dropOut ? captureWriter(dropOut, { snaplen }) : undefined,
    results: files.writer('--results'),
  };
}
