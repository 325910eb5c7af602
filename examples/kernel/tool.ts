// What every example tool's driver does the same way: load its object into the kernel (constants set
// first), attach its programs where their sections say, read the ring buffer on a timer, and on stop (or
// SIGINT/SIGTERM in `runUntilSignal`) detach and free everything. Copy it with the tool you take.
//
// In your own project the imports are `from 'tsbpf'` and `from 'tsbpf/node'`.
import type { BtfValue } from '../../src/index.js';
import { setGlobal } from '../../src/index.js';
import { type KernelObject, loadKernelObject } from '../../src/kernel/index.js';
import { readObjectFile, ringBuffer } from '../../src/node/index.js';

/** A loaded and attached tool: `poll()` drains its ring buffer now; `stop()` detaches and frees it. */
export interface Tool {
  readonly obj: KernelObject;
  poll(): number;
  stop(): void;
}

export interface ToolOptions {
  /** `const volatile` globals to set before load (a pid filter …). */
  constants?: Record<string, BtfValue>;
  /** The ring buffer map to read and what to do with each record; none for tools that only count. */
  ring?: { map: string; onRecord: (record: Uint8Array) => void };
  /** How often the ring buffer is drained (ms); it holds 256 KiB, so a busy machine wants it often. */
  intervalMs?: number;
}

/** Load `file`, attach every program (libbpf's auto-attach rules) and start reading. */
export function startTool(file: string, options: ToolOptions = {}): Tool {
  const spec = readObjectFile(file);
  for (const [name, value] of Object.entries(options.constants ?? {})) setGlobal(spec, name, value);
  const obj = loadKernelObject(spec, { objectName: file.replace(/^.*\//, '').replace(/\.bpf\.o$/, '') });
  let links: ReturnType<KernelObject['attachAll']> = [];
  try {
    links = obj.attachAll();
  } catch (e) {
    obj.close();
    throw e;
  }
  const ring = options.ring ? ringBuffer(obj, options.ring.map) : undefined;
  const poll = () => (ring && options.ring ? ring.drain(options.ring.onRecord) : 0);
  const timer = ring ? setInterval(poll, options.intervalMs ?? 50) : undefined;
  let stopped = false;
  return {
    obj,
    poll,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      // Last records first, then the links (detach), then the maps and programs.
      poll();
      for (const l of links) l.close();
      ring?.close();
      obj.close();
    },
  };
}

/** Run until SIGINT or SIGTERM, then stop the tool; resolves with the signal. */
export function runUntilSignal(tool: Tool): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      tool.stop();
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** A NUL-terminated C string of a record. */
export function cString(bytes: Uint8Array, at: number, size: number): string {
  const field = bytes.subarray(at, at + size);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

const SLOTS = 32;

/** A log2 histogram of 32 u64 slots in array map `name` (slot i: [2^i, 2^(i+1)) units). */
export function readLog2Histogram(tool: Tool, name: string): bigint[] {
  const hist = tool.obj.map(name);
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
