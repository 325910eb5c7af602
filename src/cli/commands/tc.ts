// `tsbpf tc PROG.o -r in.pcap …`: run a tc (sched_cls/sched_act) program over a capture, each packet as
// the skb the kernel's test run builds (loopback device, data from the Ethernet header); write what
// passed and what was dropped, per-packet results and events, then the maps — the options and output
// shapes of `tsbpf xdp`, verdicts named by the TC_ACT_* table (src/spec/verdicts.ts).
//
// What passes (-w) is what the ingress hook lets through: every verdict but SHOT (--dropped), STOLEN,
// QUEUED, TRAP (consumed) and REDIRECT (sent elsewhere) — OK, UNSPEC, PIPE, RECLASSIFY, REPEAT and values
// no table names, as sch_handle_ingress's default.

import { basename } from 'node:path';
import type { Command } from 'commander';
import type { LoadedObject } from '../../collection/userspace.js';
import { RuntimeFault } from '../../errors.js';
import { LOOPBACK_MAX_LEN, SkbHook } from '../../hooks/skb.js';
import { CaptureBatch } from '../../net/pcap.js';
import { TcAction, type TcActionName, tcActionName } from '../../spec/verdicts.js';
import type { RunLimits } from '../../vm/limits.js';
import {
  type CaptureOptions,
  captureCommandOptions,
  captureOutputs,
  type PacketCommand,
  runOverCapture,
} from '../capture-command.js';
import { CliError, EXIT } from '../errors.js';
import type { Files } from '../files.js';
import { checkTime } from '../limits.js';
import { bytesToHex, type CaptureFile, printMaps, runnerFor } from '../objects.js';
import { dumpAll, EventSink, flush, writeRecord } from './xdp.js';

type TcOptions = CaptureOptions;

const TC_COMMAND: PacketCommand = {
  want: { type: 'sched_cls', label: 'tc' },
  accepts: new Set(['sched_cls', 'sched_act']),
  accepted: 'sched_cls or sched_act',
  sees: 'tc programs see Ethernet frames',
};

/** Verdicts whose packet does not go on (the rest pass, as the ingress hook's default). */
const NOT_PASSED = new Set<number>([
  TcAction.SHOT,
  TcAction.STOLEN,
  TcAction.QUEUED,
  TcAction.TRAP,
  TcAction.REDIRECT,
]);
/** Verdict names in the order the summary lists them (the table's, by number). */
const ORDER = (Object.entries(TcAction) as [TcActionName, number][]).sort((a, b) => a[1] - b[1]);

export function register(program: Command): void {
  const run = program
    .command('tc')
    .description('run a tc program (sched_cls/sched_act) over a packet capture (pcap or pcapng)');
  captureCommandOptions(run, {
    object: 'ELF object with the tc program',
    passed:
      'write the packets that passed (all but SHOT, STOLEN, QUEUED, TRAP, REDIRECT; as the program left them)',
    dropped: 'write the packets that were dropped (TC_ACT_SHOT)',
    program: 'program to run (default: the only tc program)',
  });
  run.action((file: string, options: TcOptions) => runTc(file, options));
}

async function runTc(file: string, options: TcOptions): Promise<void> {
  const { obj, report } = await runOverCapture(file, options, TC_COMMAND, (obj, prog, input, files, limits) =>
    runCapture(options, obj, prog, input, files, limits),
  );
  printReport(file, options, obj, report);
}

/** What a run over a capture found. */
interface Report {
  program: string;
  total: number;
  seconds: number;
  verdicts: Map<number, number>;
  events: number;
}

/** Packets read from the capture at a time; yield to the event loop after each chunk that took long. */
const CHUNK = 256;
const YIELD_MS = 50;

/** The packet loop: verdicts counted, outputs written as they fill (flushed before the function returns). */
async function runCapture(
  options: TcOptions,
  obj: LoadedObject,
  prog: ReturnType<LoadedObject['program']>,
  input: CaptureFile,
  files: Files,
  limits: RunLimits,
): Promise<Report> {
  const capture = input.stream;
  const { pass, drop, results: resultsOut } = captureOutputs(files, capture.header.snaplen);
  const hook = new SkbHook(runnerFor(prog, options.engine, limits));
  const verdicts = new Map<number, number>();
  const results: string[] = [];
  const events = new EventSink(obj, files.writer('--events'));
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  const packets = new CaptureBatch(CHUNK);
  let total = 0;
  let ms = 0;
  let yielded = performance.now();
  try {
    for (;;) {
      const want = Math.min(CHUNK, limit - total);
      if (want <= 0) break;
      const { count } = capture.readBatch(want, packets);
      if (count === 0) break;
      checkTime(limits, options);
      const t0 = performance.now();
      for (let k = 0; k < count; k++) {
        const index = total + k;
        const data = packets.data(k);
        if (data.length > LOOPBACK_MAX_LEN) {
          throw new CliError(
            `${options.read}: packet ${index}: ${data.length} bytes, more than the loopback device takes (${LOOPBACK_MAX_LEN})`,
          );
        }
        let r: ReturnType<SkbHook['run']>;
        try {
          r = hook.run(data);
        } catch (e) {
          if (!(e instanceof RuntimeFault)) throw e;
          throw new CliError(
            `${options.read}: packet ${index}: program ${prog.name} faulted: ${e.message}`,
            EXIT.fault,
          );
        }
        const v = r.verdict;
        verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
        const origLen = packets.origLen[k]!;
        if (!NOT_PASSED.has(v)) {
          if (pass) writeRecord(pass, r.data, origLen - data.length + r.data.length, packets, k);
        } else if (drop && v === TcAction.SHOT) writeRecord(drop, data, origLen, packets, k);
        if (resultsOut) {
          const out = r.changed ? `,"data_out":"${bytesToHex(r.data)}"` : '';
          results.push(`{"index":${index},"retval":${v}${out}}`);
          if (results.length >= 4096) flush(resultsOut, results);
        }
        events.collect();
      }
      total += count;
      const t1 = performance.now();
      ms += t1 - t0;
      if (t1 - yielded >= YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded = performance.now();
      }
    }
  } finally {
    hook.close();
  }
  if (resultsOut) flush(resultsOut, results);
  events.close();
  pass?.flush();
  drop?.flush();
  return { program: prog.name, total, seconds: ms / 1000, verdicts, events: events.count };
}

/** The summary on stdout (after the outputs are in place). */
function printReport(file: string, options: TcOptions, obj: LoadedObject, r: Report): void {
  const { total, seconds } = r;
  // Every named verdict (0 when none), then values no table names, in order of appearance.
  const named: [string, number][] = ORDER.map(([name, v]) => [name, r.verdicts.get(v) ?? 0]);
  const known = new Set(ORDER.map(([, v]) => v));
  const others: [string, number][] = [...r.verdicts]
    .filter(([v]) => !known.has(v))
    .map(([v, n]) => [tcActionName(v), n]);
  if (options.json) {
    const out: Record<string, unknown> = {
      program: r.program,
      engine: options.engine,
      packets: total,
      verdicts: Object.fromEntries([...named, ...others]),
      seconds,
      packets_per_second: seconds > 0 ? Math.round(total / seconds) : null,
    };
    if (options.events) out.events = r.events;
    if (options.dumpMaps) out.maps = dumpAll(obj);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const rate = seconds > 0 ? `${Math.round(total / seconds).toLocaleString('en-US')} packets/s` : 'n/a';
  process.stdout.write(
    `${basename(file)}: ${r.program} over ${basename(options.read)} — ${total} packets in ${(seconds * 1000).toFixed(1)} ms (${rate}, ${options.engine})\n`,
  );
  for (const [name, n] of [...named, ...others]) if (n) process.stdout.write(`  ${name.padEnd(10)} ${n}\n`);
  if (options.events) process.stdout.write(`  events     ${r.events} (written to ${options.events})\n`);
  for (const line of obj.runtime.traceLines) process.stdout.write(`trace: ${line}\n`);
  if (options.dumpMaps) printMaps(obj, (s) => process.stdout.write(s));
}
