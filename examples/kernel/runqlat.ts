// runqlat: run-queue latency (wake-up to running) as a log2 histogram in microseconds, from runqlat.bpf.c's
// `hist` map. `main()` prints the histogram every `intervalS` seconds until Ctrl-C; `runqlat()` and
// `readHistogram()` are what the test uses.
import { runUntilSignal, startTool, type Tool } from './tool.js';

export const RUNQLAT_O = new URL('./runqlat.bpf.o', import.meta.url).pathname;

const SLOTS = 32;

/** Start measuring; `pid` limits it to one process's threads. Stop with `tool.stop()`. */
export function runqlat(options: { pid?: number } = {}): Tool {
  return startTool(RUNQLAT_O, { constants: { target_tgid: options.pid ?? 0 } });
}

/** The histogram now: counts by slot (slot i: [2^i, 2^(i+1)) µs). */
export function readHistogram(tool: Tool): bigint[] {
  const hist = tool.obj.map('hist');
  const key = new Uint8Array(4);
  const out: bigint[] = [];
  for (let i = 0; i < SLOTS; i++) {
    new DataView(key.buffer).setUint32(0, i, true);
    const v = hist.lookup(key)!;
    out.push(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
  }
  return out;
}

/** The histogram as text, one line per slot from the first to the last non-empty one. */
export function formatHistogram(counts: readonly bigint[]): string[] {
  const used = counts.flatMap((c, i) => (c ? [i] : []));
  if (!used.length) return ['(no samples)'];
  const max = counts.reduce((a, b) => (b > a ? b : a), 0n);
  const lines = [`${'usecs'.padStart(21)} : count`];
  for (let i = used[0]!; i <= used.at(-1)!; i++) {
    const lo = i === 0 ? 0 : 2 ** i;
    const bar = '*'.repeat(Number((counts[i]! * 40n) / max));
    lines.push(`${String(lo).padStart(10)} -> ${String(2 ** (i + 1) - 1).padEnd(10)}: ${String(counts[i]).padEnd(8)} |${bar.padEnd(40)}|`);
  }
  return lines;
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
