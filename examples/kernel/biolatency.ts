// biolatency: block I/O latency (issue to completion) as a log2 histogram in microseconds, from
// biolatency.bpf.c's `hist` map, for every disk or the one holding a given path. `main()` prints the
// histogram every `intervalS` seconds until Ctrl-C; `biolatency()` and `readHistogram()` are what the
// test uses.
import { statSync } from 'node:fs';
import { formatHistogram, readLog2Histogram, runUntilSignal, startTool, type Tool } from './tool.js';

export { formatHistogram };

export const BIOLATENCY_O = new URL('./biolatency.bpf.o', import.meta.url).pathname;

/** The device (major, minor) of the filesystem holding `path`. */
export function deviceOf(path: string): { major: number; minor: number } {
  const dev = statSync(path).dev;
  // Linux's dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 and 20-31.
  return { major: (dev >> 8) & 0xfff, minor: (dev & 0xff) | ((dev >> 12) & 0xfff00) };
}

/** Start measuring; `path` limits it to the disk holding that path. Stop with `tool.stop()`. */
export function biolatency(options: { path?: string } = {}): Tool {
  const dev = options.path ? deviceOf(options.path) : { major: 0, minor: 0 };
  return startTool(BIOLATENCY_O, { constants: { target_major: dev.major, target_minor: dev.minor } });
}

/** The histogram now: counts by slot (slot i: [2^i, 2^(i+1)) µs). */
export function readHistogram(tool: Tool): bigint[] {
  return readLog2Histogram(tool, 'hist');
}

export async function main(print: (line: string) => void = console.log, intervalS = 5): Promise<void> {
  const tool = biolatency();
  const timer = setInterval(() => {
    for (const l of formatHistogram(readHistogram(tool))) print(l);
    print('');
  }, intervalS * 1000);
  await runUntilSignal(tool);
  clearInterval(timer);
}
