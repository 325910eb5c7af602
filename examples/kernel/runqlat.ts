// runqlat: run-queue latency (wake-up to running) as a log2 histogram in microseconds, from runqlat.bpf.c's
// `hist` map. `main()` prints the histogram every `intervalS` seconds until Ctrl-C; `runqlat()` and
// `readHistogram()` are what the test uses.
import { formatHistogram, readLog2Histogram, runUntilSignal, startTool, type Tool } from './tool.js';

export { formatHistogram };

export const RUNQLAT_O = new URL('./runqlat.bpf.o', import.meta.url).pathname;

/** Start measuring; `pid` limits it to one process's threads. Stop with `tool.stop()`. */
export function runqlat(options: { pid?: number } = {}): Tool {
  return startTool(RUNQLAT_O, { constants: { target_tgid: options.pid ?? 0 } });
}

/** The histogram now: counts by slot (slot i: [2^i, 2^(i+1)) µs). */
export function readHistogram(tool: Tool): bigint[] {
  return readLog2Histogram(tool, 'hist');
}

export async function main(print: (line: string) => void = console.log, intervalS = 5): Promise<void> {
  const tool = runqlat();
  const timer = setInterval(() => {
    for (const l of formatHistogram(readHistogram(tool))) print(l);
    print('');
  }, intervalS * 1000);
  await runUntilSignal(tool);
  clearInterval(timer);
}
