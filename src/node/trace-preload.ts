// Runs inside the traced Node.js process (`node --import <this file> SCRIPT`), started by `tsbpf trace`.
// It reads its configuration from TSBPF_TRACE, wraps the named exports of the named files when they load —
// CommonJS through Module._extensions, ES modules through loader hooks (./trace-hooks.ts) that put a
// wrapper module in front of the original — runs the tool's probe programs in this process, and writes
// results as JSON lines to the file descriptor tsbpf gave it. Without TSBPF_TRACE it does nothing (so a
// process the target forks with the same flags is not traced twice).
//
// What cannot be traced as asked — the script to run does not exist, a --fn names a file that does not
// exist, an export that is missing or not a function — is an error, not an empty report: the preload
// sends it to tsbpf and ends the process before the program runs further (as bpftrace refuses to run a
// command whose probes do not attach), and tsbpf prints it as one line.

import { readFileSync, realpathSync, statSync, writeSync } from 'node:fs';
import Module, { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { loadObject } from '../collection/userspace.js';
import { readObject } from '../elf/index.js';
import './externs.js';
import { bytesToHex } from '../hex.js';
import { events } from '../hooks/events.js';
import type { ProbeLink, ProbeSite } from '../hooks/probe.js';
import { probeSite } from '../hooks/probe.js';
import { Errno, errnoText } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { FuncCount } from '../tools/funccount.js';
import { FuncLatency } from '../tools/funclatency.js';
import { TRACE_ENV, type TraceConfig, type TraceMessage } from '../tools/trace-report.js';

type AnyFunction = (...args: unknown[]) => unknown;

/** The tool running in this process: attaches to sites, reports at exit. */
interface Tool {
  attach(site: ProbeSite): ProbeLink;
  report(names: Map<number, string>): TraceMessage[];
}

function send(fd: number, message: TraceMessage): void {
  const buf = Buffer.from(`${JSON.stringify(message)}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return; // tsbpf went away: stay silent
    }
  }
}

/** Set once the trace has failed: nothing more is reported. */
let failed = false;

/** Send the error to tsbpf and end the process (exit code 1; tsbpf reports the error, not the code). */
function fail(fd: number, message: string, internal = false): never {
  failed = true;
  send(fd, { type: 'error', message, internal });
  process.exit(1);
}

/**
 * The script Node is about to run must exist (else Node prints its own stack trace): resolved the way
 * Node finds a main module (exact name, then .js/.json/.node, then a directory's package.json or index).
 */
function checkMain(fd: number): void {
  const main = process.argv[1];
  // No script: `node -e`, `node -p`, or a program on standard input.
  if (!main || main === '-' || process.execArgv.some((a) => /^(-e|-p|--eval|--print)(=|$)/.test(a))) return;
  try {
    createRequire(import.meta.url).resolve(main);
  } catch {
    let why = errnoText(Errno.ENOENT);
    try {
      if (statSync(main).isDirectory()) why = 'a directory without an index.js or package.json main';
    } catch {
      // Does not exist: the default reason.
    }
    fail(fd, `${main}: cannot run the program to trace: ${why}`);
  }
}

function makeTool(config: TraceConfig): Tool {
  const { engine, budget } = config;
  if (config.tool === 'funccount') {
    const t = new FuncCount({ engine, budget });
    return {
      attach: (site) => t.attach(site),
      report: (names) => {
        const found = t.results();
        const counts: Record<string, number> = {};
        for (const [id, name] of names) counts[name] = (counts[name] ?? 0) + (found.get(id) ?? 0);
        for (const f of config.functions) counts[f.spec] ??= 0;
        return [{ type: 'counts', counts }];
      },
    };
  }
  if (config.tool === 'funclatency') {
    const t = new FuncLatency({ engine, budget });
    return {
      attach: (site) => t.attach(site),
      report: (names) => {
        const found = t.results();
        const functions: Record<string, { counts: number[] }> = {};
        for (const f of config.functions) functions[f.spec] = { counts: new Array(65).fill(0) };
        for (const [id, name] of names) {
          const h = found.get(id);
          if (h) for (const [i, c] of h.counts.entries()) functions[name]!.counts[i]! += c;
        }
        return [{ type: 'latency', functions }];
      },
    };
  }
  // events: a compiled probe program (tsbpf loaded it once already to check it); every ring buffer /
  // perf event array it has is streamed.
  // Only the program tsbpf chose (and its tail-call targets), so an unsupported sibling does not block it.
  // As the CLI read it: the kernel's extern values, the chosen program alone when the whole does not link.
  const bytes = readFileSync(config.object!);
  let spec: ReturnType<typeof readObject>;
  try {
    spec = readObject(bytes, { file: config.object });
  } catch (e) {
    if (config.program === undefined) throw e;
    spec = readObject(bytes, { file: config.object, programs: [config.program] });
  }
  const only = config.program === undefined ? undefined : [config.program];
  const slots = (spec.mapSlots ?? []).flatMap((s) => (s.program === undefined ? [] : [s.program]));
  const obj = loadObject(spec, { engine, programs: only && [...only, ...slots] });
  const program = obj.program(config.program);
  const streams = [...obj.maps.values()]
    .filter((m) => m.spec.type === MapType.RINGBUF || m.spec.type === MapType.PERF_EVENT_ARRAY)
    .map((m) => {
      const s = events(m, { decode: (d, cpu) => ({ cpu, data: d }) });
      const pump = (): void => {
        for (const e of s.poll())
          send(config.fd, { type: 'event', map: m.spec.name, cpu: e.cpu, data: bytesToHex(e.data) });
      };
      // Deliver as records arrive (the reader wakes in a microtask after a commit).
      (async () => {
        for await (const e of s) {
          send(config.fd, { type: 'event', map: m.spec.name, cpu: e.cpu, data: bytesToHex(e.data) });
          pump();
        }
      })();
      return { name: m.spec.name, stream: s, pump };
    });
  if (streams.length === 0)
    send(config.fd, { type: 'warning', message: `${config.object} has no ring buffer or perf event array` });
  return {
    attach: (site) => {
      try {
        return site.attach(program, { engine, budget });
      } catch (e) {
        return fail(config.fd, `${config.object}: ${(e as Error).message}`);
      }
    },
    report: () =>
      streams.map(({ name, stream, pump }) => {
        pump();
        return { type: 'lost', map: name, lost: stream.lost, received: stream.received } as TraceMessage;
      }),
  };
}

function start(config: TraceConfig): void {
  const tool = makeTool(config);
  const names = new Map<number, string>(); // probe id -> FILE#EXPORT
  const seen = new Set<string>();
  const warn = (message: string): void => send(config.fd, { type: 'warning', message });

  const fileOf = new Map(config.functions.map((f) => [f.spec, f]));
  /** Wrap one export: called for CommonJS exports and from the ESM wrapper modules. */
  const wrap = (spec: string, value: unknown): unknown => {
    seen.add(spec);
    if (typeof value !== 'function') {
      const f = fileOf.get(spec);
      const what = f?.export === 'default' ? 'default export' : `export '${f?.export ?? spec}'`;
      const file = f?.file ?? spec;
      if (value === undefined) fail(config.fd, `--fn ${spec}: ${file} has no ${what}`);
      const is = value === null ? 'null' : `a ${typeof value}`;
      fail(config.fd, `--fn ${spec}: the ${what} of ${file} is ${is}, not a function`);
    }
    const site = probeSite(value as AnyFunction, spec);
    if (!names.has(site.probeId)) {
      tool.attach(site);
      names.set(site.probeId, spec);
    }
    return site.wrapper;
  };
  (globalThis as Record<symbol, unknown>)[Symbol.for('tsbpf.trace')] = { wrap };

  const byFile = new Map<string, { spec: string; name: string }[]>();
  for (const f of config.functions) {
    let file = f.file;
    try {
      file = realpathSync(file);
    } catch {
      fail(config.fd, `--fn ${f.spec}: ${f.file}: ${errnoText(Errno.ENOENT)}`);
    }
    const list = byFile.get(file) ?? [];
    list.push({ spec: f.spec, name: f.export });
    byFile.set(file, list);
  }

  // CommonJS (and CommonJS imported from ES modules, which Node loads through the same path).
  const extensions = (Module as unknown as { _extensions: Record<string, AnyFunction> })._extensions;
  // '.js' also loads '.cjs' files unless a '.cjs' handler exists (Node 20 has none).
  for (const ext of ['.js', '.cjs']) {
    const load = extensions[ext];
    if (!load) continue;
    extensions[ext] = function (this: unknown, ...args: unknown[]) {
      const result = load.apply(this, args);
      const [mod, filename] = args as [{ exports: unknown }, string];
      const wanted = byFile.get(filename);
      if (wanted) wrapCommonJs(mod, wanted, wrap, (m) => fail(config.fd, m));
      return result;
    };
  }

  // ES modules: the hooks put a wrapper module in front of each named file.
  const targets: Record<string, string[]> = {};
  for (const [file, list] of byFile) targets[pathToFileURL(file).href] = list.map((x) => x.name);
  const specs: Record<string, string[]> = {};
  for (const [file, list] of byFile) specs[pathToFileURL(file).href] = list.map((x) => x.spec);
  register('./trace-hooks.js', { parentURL: import.meta.url, data: { targets, specs } });

  let reported = false;
  const report = (): void => {
    if (reported || failed) return;
    reported = true;
    for (const f of config.functions) {
      if (!seen.has(f.spec)) warn(`${f.spec} was never loaded (is ${f.file} imported by the program?)`);
    }
    for (const m of tool.report(names)) send(config.fd, m);
  };
  process.on('exit', report);
  // Interrupted: report, then die of the same signal, unless the program handles the signal itself.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      if (process.listenerCount(signal) > 1) return;
      report();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function wrapCommonJs(
  mod: { exports: unknown },
  wanted: { spec: string; name: string }[],
  wrap: (spec: string, value: unknown) => unknown,
  fail: (message: string) => never,
): void {
  for (const { spec, name } of wanted) {
    if (name === 'default') {
      const replaced = wrap(spec, mod.exports);
      if (replaced !== mod.exports && typeof replaced === 'function') {
        Object.assign(replaced, mod.exports);
        mod.exports = replaced;
      }
      continue;
    }
    const exports = mod.exports as Record<string, unknown> | null;
    if (exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) {
      fail(
        `--fn ${spec}: module.exports is ${exports === null ? 'null' : `a ${typeof exports}`}, not an object with '${name}'`,
      );
    }
    const replaced = wrap(spec, exports[name]);
    try {
      exports[name] = replaced;
    } catch {
      fail(`--fn ${spec}: the export cannot be replaced (are the module's exports frozen?)`);
    }
  }
}

const raw = process.env[TRACE_ENV];
if (raw) {
  delete process.env[TRACE_ENV];
  const config = JSON.parse(raw) as TraceConfig;
  try {
    checkMain(config.fd);
    start(config);
  } catch (e) {
    // A bug here would otherwise print Node's stack trace in the traced program's output.
    const err = e as Error;
    fail(config.fd, `internal error in the trace preload: ${err?.name}: ${err?.message ?? e}`, true);
  }
}
