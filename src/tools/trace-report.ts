// What the `tsbpf trace` tools send from the traced process to the tsbpf process (one JSON object per
// line) and how the tsbpf process prints it. The traced side lives in src/node/trace-preload.ts; the CLI
// in src/cli/commands/trace.ts.

import { type Bucket, Log2Histogram } from './histogram.js';

export type TraceToolName = 'funccount' | 'funclatency' | 'events';

/** A traced function: `FILE#EXPORT` as the user wrote it, and the file resolved to an absolute path. */
export interface TracedFunction {
  spec: string;
  file: string;
  export: string;
}

/** Handed to the traced process (environment variable TSBPF_TRACE). */
export interface TraceConfig {
  tool: TraceToolName;
  functions: TracedFunction[];
  /** File descriptor the traced process writes its messages to. */
  fd: number;
  engine?: 'interp' | 'jit';
  /** Loop iterations each probe run may take (`--budget`). */
  budget?: number;
  /** events: the compiled probe program and, optionally, the program's name inside it. */
  object?: string;
  program?: string;
}

export const TRACE_ENV = 'TSBPF_TRACE';

export interface LatencyJson {
  count: number;
  buckets: { low_ns: number; high_ns: number; count: number }[];
}

export type TraceMessage =
  | { type: 'warning'; message: string }
  /**
   * The trace cannot do what was asked (a --fn naming a missing file, a missing export or a non-function;
   * a script that does not exist; a probe program that cannot attach): the traced process stops with it,
   * and tsbpf prints it as its one error line. `internal` marks a bug in the preload itself.
   */
  | { type: 'error'; message: string; internal?: boolean }
  | { type: 'event'; map: string; cpu: number; data: string }
  | { type: 'counts'; counts: Record<string, number> }
  | { type: 'latency'; functions: Record<string, { counts: number[] }> }
  | { type: 'lost'; map: string; lost: number; received: number };

/** The --json report of funccount. */
export function funccountJson(counts: Record<string, number>): { counts: Record<string, number> } {
  return { counts };
}

/** The --json report of funclatency. */
export function funclatencyJson(functions: Record<string, { counts: number[] }>): {
  functions: Record<string, LatencyJson>;
} {
  const out: Record<string, LatencyJson> = {};
  for (const [name, { counts }] of Object.entries(functions)) {
    const h = Log2Histogram.fromCounts(counts);
    out[name] = {
      count: h.total,
      buckets: h.buckets().map((b: Bucket) => ({ low_ns: b.low, high_ns: b.high, count: b.count })),
    };
  }
  return { functions: out };
}

/** BCC funccount's table: FUNC and COUNT columns. */
export function formatFunccount(counts: Record<string, number>): string {
  const names = Object.keys(counts);
  const width = Math.max(36, ...names.map((n) => n.length + 2));
  const lines = [`${'FUNC'.padEnd(width)}COUNT`];
  for (const n of names) lines.push(`${n.padEnd(width)}${counts[n]}`);
  return `${lines.join('\n')}\n`;
}

/** BCC funclatency's output: per function a `Function = ...` line, the nsecs histogram and a summary. */
export function formatFunclatency(functions: Record<string, { counts: number[] }>): string {
  const parts: string[] = [];
  for (const [name, { counts }] of Object.entries(functions)) {
    const h = Log2Histogram.fromCounts(counts);
    parts.push(`\nFunction = ${name}\n`);
    parts.push(h.total === 0 ? '     (no calls)\n' : h.format('nsecs'));
    parts.push(`\ncount: ${h.total}\n`);
  }
  return parts.join('');
}

/** One ring-buffer/perf event as a line: map, size, the bytes in hex and, for 8-byte multiples, as u64s. */
export function formatEvent(e: { map: string; cpu: number; data: string }): string {
  const bytes = e.data.match(/../g) ?? [];
  let line = `${e.map} cpu=${e.cpu} len=${bytes.length}: ${bytes.join(' ')}`;
  if (bytes.length > 0 && bytes.length % 8 === 0) {
    const words: string[] = [];
    for (let i = 0; i < bytes.length; i += 8) {
      words.push(
        BigInt(
          `0x${bytes
            .slice(i, i + 8)
            .reverse()
            .join('')}`,
        ).toString(),
      );
    }
    line += ` | u64: ${words.join(' ')}`;
  }
  return line;
}
