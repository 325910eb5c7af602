// The fuzz suite's harness: each target runs iterations from a seed for a time budget, and every failure
// is printed with what reproduces it. Iteration i draws its input from its own generator, seeded by
// (seed, i) alone, so one iteration replays without the ones before it:
//
//   npm run fuzz -- --target elf --seed 0x5eed --iteration 1234      (scripts/fuzz.js)
//   TSBPF_FUZZ_SEED=0x5eed TSBPF_FUZZ_ITERATION=1234 npx vitest run test/fuzz/elf.test.ts
//
// Settings come from the environment (scripts/fuzz.js sets them): TSBPF_FUZZ_SEED (default a fixed seed,
// so `npm test` is reproducible), TSBPF_FUZZ_SECONDS (per target; default each target's CI share, the
// whole suite about a minute), TSBPF_FUZZ_ITERATION (run that one iteration, verbosely),
// TSBPF_FUZZ_HANG_SECONDS (wall time one input may take before it counts as a hang; default 120).
//
// Bounds, per input: CPU time (process.cpuUsage, so a loaded machine does not fail a fast input), and
// memory — a watchdog thread samples the process's resident size and flags the input during which it grew
// past a bound proportional to the input's size. The same thread ends the process, after printing the
// iteration, when one input runs past the hang limit: synchronous code cannot be interrupted otherwise.

import { mkdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { Rng } from '../support/gen.js';

export { Rng };

/** The seed `npm test` uses. */
export const DEFAULT_SEED = 0x5eed;

/** What one iteration gets. */
export interface Iteration {
  /** Its generator, seeded by (seed, index). */
  r: Rng;
  index: number;
  /** True when only this iteration runs (a reproduction): print the input. */
  verbose: boolean;
  /** Count an outcome (printed at the end of the target). */
  count(what: string, n?: number): void;
  /** The size in bytes of the input being processed, for the memory bound. */
  size(bytes: number): void;
}

export interface TargetOptions {
  /** CI budget of the target in seconds (TSBPF_FUZZ_SECONDS overrides it). */
  seconds: number;
  /** CPU milliseconds one input may take (default 2000). */
  cpuMsPerInput?: number;
  /** Resident growth an input may cause: `floorMb` MiB plus `perByte` bytes per input byte (256, 1024). */
  memory?: { floorMb?: number; perByte?: number };
  /** Iterations run side by side (async targets that wait on child processes; default 1). */
  concurrency?: number;
  /**
   * Defects found in code another engineer is changing right now (their report names the seed): a failure
   * matching one is counted and its first occurrence printed, without failing the target. Remove the
   * entry when the fix lands — the count shows whether it still happens.
   */
  known?: { match: RegExp; note: string }[];
  /** Checks on the totals after the run (e.g. that inputs were not all rejected). */
  after?: (counts: Record<string, number>, iterations: number) => void;
}

/** Failures printed before the target gives up (the same defect tends to repeat). */
const MAX_FAILURES = 20;
/** Wall time after which an input is taken for a hang (the process is ended). */
const HANG_MS = Number(process.env.TSBPF_FUZZ_HANG_SECONDS ?? 120) * 1000;

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}=${text}: not a non-negative number`);
  return v;
}

/** The seed of iteration `index`: a mix of both, so neighbouring iterations get unrelated generators. */
export function iterationSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The command that replays iteration `index` of `target`. */
export function reproduce(target: string, seed: number, index: number): string {
  return `npm run fuzz -- --target ${target} --seed ${hex(seed)} --iteration ${index}`;
}

/** Short text of any thrown value, with the stack of an unexpected exception (where it broke). */
export function describeThrown(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

/** An invariant broken by an input: the message is the whole report. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

/** Throw a FuzzFailure unless `ok`. */
export function check(ok: boolean, message: string | (() => string)): asserts ok {
  if (!ok) throw new FuzzFailure(typeof message === 'string' ? message : message());
}

// Shared words of the watchdog: [active, iteration, flagged-iteration + 1], and [start ms, bound bytes].
const I_ACTIVE = 0;
const I_ITER = 1;
const I_FLAG = 2;
const F_START = 0;
const F_BOUND = 1;
const F_PEAK = 2;

// The thread samples every 10 ms; the base is the least resident size of the last second, so the heap's
// slow growth moves it and one input's burst does not.
const WATCHDOG = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { target, seed, hangMs, shared, command } = workerData;
const ints = new Int32Array(shared, 0, 4);
const floats = new Float64Array(shared, 16, 4);
const recent = [];
let flagged = -1;
setInterval(() => {
  const rss = process.memoryUsage.rss();
  const active = Atomics.load(ints, ${I_ACTIVE}) === 1;
  const iter = Atomics.load(ints, ${I_ITER});
  // What a flagged input allocated is its own: the next input is measured from where that one ended.
  if (flagged >= 0 && (!active || iter !== flagged)) {
    recent.length = 0;
    flagged = -1;
  }
  recent.push(rss);
  if (recent.length > 100) recent.shift();
  if (!active) return;
  const grown = rss - Math.min(...recent);
  if (flagged < 0 && grown > floats[${F_BOUND}]) {
    floats[${F_PEAK}] = grown;
    Atomics.store(ints, ${I_FLAG}, iter + 1);
    flagged = iter;
  }
  if (flagged === iter) floats[${F_PEAK}] = Math.max(floats[${F_PEAK}], grown);
  if (Date.now() - floats[${F_START}] > hangMs) {
    writeSync(2, '\\nfuzz ' + target + ': FAILED: iteration ' + iter + ' (seed ' + seed + ') still running after ' +
      hangMs / 1000 + ' s: a hang. Reproduce: ' + command.replace('ITER', iter) + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}, 10);
recent.push(process.memoryUsage.rss());
parentPort.postMessage('ready');
`;

/** The watchdog thread of one target's run. */
class Watchdog {
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;
  private readonly worker: Worker;

  constructor(target: string, seed: number) {
    const shared = new SharedArrayBuffer(16 + 8 * 4);
    this.ints = new Int32Array(shared, 0, 4);
    this.floats = new Float64Array(shared, 16, 4);
    const command = reproduce(target, seed, -1).replace('-1', 'ITER');
    this.worker = new Worker(WATCHDOG, {
      eval: true,
      workerData: { target, seed: hex(seed), hangMs: HANG_MS, shared, command },
    });
    this.worker.unref();
  }

  /** Resolves once the thread samples (iterations begun earlier would go unwatched). */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', () => resolve());
      this.worker.once('error', reject);
    });
  }

  begin(index: number, boundBytes: number): void {
    this.floats[F_START] = Date.now();
    this.floats[F_BOUND] = boundBytes;
    Atomics.store(this.ints, I_ITER, index);
    Atomics.store(this.ints, I_ACTIVE, 1);
  }

  /** Ends the iteration; the resident growth (bytes) if this iteration went past its bound. */
  end(index: number): number | undefined {
    Atomics.store(this.ints, I_ACTIVE, 0);
    if (Atomics.load(this.ints, I_FLAG) !== index + 1) return undefined;
    Atomics.store(this.ints, I_FLAG, 0);
    return this.floats[F_PEAK];
  }

  /** Raise the bound of the running iteration once its input's size is known. */
  bound(boundBytes: number): void {
    this.floats[F_BOUND] = boundBytes;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Register the vitest test of fuzz target `name`: `body` runs once per iteration until the budget is
 * spent, and throws (a FuzzFailure, or anything unexpected) when an invariant breaks.
 */
export function fuzzTarget(
  name: string,
  options: TargetOptions,
  body: (it: Iteration) => void | Promise<void>,
): void {
  const seed = (envNumber('TSBPF_FUZZ_SEED') ?? DEFAULT_SEED) >>> 0;
  const only = envNumber('TSBPF_FUZZ_ITERATION');
  const seconds = envNumber('TSBPF_FUZZ_SECONDS') ?? options.seconds;
  const budgetMs = seconds * 1000;
  const title =
    only === undefined
      ? `fuzz ${name}: seed ${hex(seed)}, ${seconds} s`
      : `fuzz ${name}: seed ${hex(seed)}, iteration ${only}`;
  it(title, { timeout: budgetMs + HANG_MS + 60_000 }, async () => {
    const result = await runTarget(name, seed, only, budgetMs, options, body);
    expect(result.failures, result.failures.join('\n\n')).toEqual([]);
    options.after?.(result.counts, result.iterations);
  });
}

export interface RunResult {
  iterations: number;
  counts: Record<string, number>;
  failures: string[];
}

export async function runTarget(
  name: string,
  seed: number,
  only: number | undefined,
  budgetMs: number,
  options: TargetOptions,
  body: (it: Iteration) => void | Promise<void>,
): Promise<RunResult> {
  const counts: Record<string, number> = {};
  const failures: string[] = [];
  const cpuBound = options.cpuMsPerInput ?? 2000;
  const floor = (options.memory?.floorMb ?? 256) * 1024 * 1024;
  const perByte = options.memory?.perByte ?? 1024;
  const concurrency = only === undefined ? (options.concurrency ?? 1) : 1;
  const watchdog = concurrency === 1 ? new Watchdog(name, seed) : undefined;
  await watchdog?.ready();
  const started = performance.now();
  let next = only ?? 0;
  let iterations = 0;

  const fail = (index: number, message: string): void => {
    const known = options.known?.find((k) => k.match.test(message));
    if (known) {
      const key = `known failure (${known.note})`;
      if (counts[key] === undefined) {
        console.log(
          `fuzz ${name}: ${key} at seed ${hex(seed)} iteration ${index}: ${message}\n  reproduce: ${reproduce(name, seed, index)}`,
        );
      }
      counts[key] = (counts[key] ?? 0) + 1;
      return;
    }
    const text = `fuzz ${name}: FAILED at seed ${hex(seed)} iteration ${index}: ${message}\n  reproduce: ${reproduce(name, seed, index)}`;
    console.log(text);
    failures.push(text);
  };

  const one = async (index: number): Promise<void> => {
    const count = (what: string, n = 1) => {
      counts[what] = (counts[what] ?? 0) + n;
    };
    const iteration: Iteration = {
      r: new Rng(iterationSeed(seed, index)),
      index,
      verbose: only !== undefined,
      count,
      size: (bytes) => watchdog?.bound(floor + perByte * bytes),
    };
    watchdog?.begin(index, floor);
    const cpu = process.cpuUsage();
    try {
      await body(iteration);
    } catch (e) {
      fail(index, e instanceof FuzzFailure ? e.message : `unexpected exception: ${describeThrown(e)}`);
    } finally {
      const grown = watchdog?.end(index);
      if (grown !== undefined) {
        fail(
          index,
          `resident memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB during one input (bound ${(floor / 2 ** 20).toFixed(0)} MiB + ${perByte} B per input byte)`,
        );
      }
    }
    if (concurrency === 1) {
      const used = process.cpuUsage(cpu);
      const ms = (used.user + used.system) / 1000;
      if (ms > cpuBound) fail(index, `one input took ${ms.toFixed(0)} ms of CPU (bound ${cpuBound} ms)`);
    }
    iterations++;
  };

  const more = () =>
    failures.length < MAX_FAILURES &&
    (only === undefined ? performance.now() - started < budgetMs : next === only);
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (more()) await one(next++);
      }),
    );
  } finally {
    await watchdog?.close();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const summary = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `fuzz ${name}: seed ${hex(seed)}, ${iterations} iterations in ${seconds} s, ${failures.length} failures${summary ? `; ${summary}` : ''}`,
  );
  return { iterations, counts, failures };
}

/**
 * Keep a reproduction's input for a closer look: written under the system's temporary directory, its path
 * printed. Only replays (`verbose`) call it, so `npm test` leaves no files.
 */
export function saveInput(target: string, index: number, name: string, data: Uint8Array | string): string {
  const dir = join(tmpdir(), 'tsbpf-fuzz');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${target}-${index}-${name}`);
  writeFileSync(path, data);
  printNow(`fuzz ${target}: iteration ${index}: ${name} written to ${path}`);
  return path;
}

/** Where two texts first differ, with a little context (for "changed" failures). */
export function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 60);
  return `at character ${i}: ...${a.slice(from, i + 60)}... became ...${b.slice(from, i + 60)}...`;
}

/** Write to standard error at once, even while the event loop is busy (for a reproduction's details). */
export function printNow(text: string): void {
  writeSync(2, `${text}\n`);
}
