// tcpdump as an oracle for the filter tests: availability (never a silent skip in CI) and helpers.
// tcpdump's start-up dominates its cost, so the helpers are asynchronous (a small pool runs a few at once)
// and captures of one link type are merged into one file, so one `tcpdump -r` answers for all of them.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CapturedPacket, readCapture, writePcap } from '../../src/net/pcap.js';

let reason: string | undefined | null = null;

export function tcpdumpUnavailableReason(): string | undefined {
  if (reason !== null) return reason;
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'pipe' });
    reason = undefined;
  } catch {
    reason = 'tcpdump is not installed (apt-get install tcpdump)';
  }
  return reason;
}

/** True when tcpdump can be used; prints why not; throws in CI so these tests never skip there. */
export function tcpdumpOracle(): boolean {
  const r = tcpdumpUnavailableReason();
  if (r === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`tcpdump oracle required in CI but unavailable: ${r}`);
  console.warn(`[tcpdump oracle] skipping: ${r}`);
  return false;
}

export const DLT: Record<number, string> = { 1: 'EN10MB', 101: 'RAW', 113: 'LINUX_SLL' };

/** `tcpdump -y DLT -ddd EXPR` (or another dump flag): the program text, or throws with tcpdump's error. */
export function tcpdumpProgram(expr: string, linkType: number, flag = '-ddd'): string {
  return execFileSync('tcpdump', ['-y', DLT[linkType] ?? 'EN10MB', flag, ` ${expr}`], {
    stdio: 'pipe',
  }).toString();
}

function tcpdump(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile('tcpdump', args, { encoding: 'buffer', maxBuffer: 64 << 20 }, (e, out, err) =>
      e
        ? reject(new Error(`tcpdump ${args.join(' ')}: ${err.toString().trim() || e.message}`))
        : resolve(out),
    ),
  );
}

/** Runs `jobs` with at most `width` in flight; results in order. */
export async function pool<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const out = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

export const tcpdumpProgramAsync = async (expr: string, linkType: number, flag = '-ddd') =>
  (await tcpdump(['-y', DLT[linkType] ?? 'EN10MB', flag, ` ${expr}`])).toString();

/** Captures of one link type merged into a temporary pcap whose packet i has timestamp i µs. */
export interface MergedCapture {
  file: string;
  linkType: number;
  packets: CapturedPacket[];
  /** Where each source capture's packets start in `packets`, by name. */
  starts: Map<string, number>;
}

export function mergeCaptures(
  linkType: number,
  sources: { name: string; bytes: Uint8Array }[],
): MergedCapture {
  const packets: CapturedPacket[] = [];
  const starts = new Map<string, number>();
  let snaplen = 0;
  for (const s of sources) {
    const cap = readCapture(s.bytes, s.name);
    if (cap.linkType !== linkType) throw new Error(`${s.name}: link type ${cap.linkType}, not ${linkType}`);
    snaplen = Math.max(snaplen, cap.snaplen);
    starts.set(s.name, packets.length);
    for (const p of cap.packets) packets.push({ ...p, tsNs: BigInt(packets.length) * 1000n });
  }
  const file = join(mkdtempSync(join(tmpdir(), 'tsbpf-filter-')), `merged-${linkType}.pcap`);
  writeFileSync(file, writePcap(packets, { linkType, snaplen }));
  return { file, linkType, packets, starts };
}

/** Indices of the packets of a merged capture that tcpdump's filter accepts (from their timestamps). */
export async function tcpdumpMatchesAsync(merged: MergedCapture, expr: string): Promise<number[]> {
  const out = await tcpdump(['-r', merged.file, '-w', '-', ` ${expr}`]);
  const got = readCapture(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)).packets;
  return got.map((p) => Number(p.tsNs / 1000n));
}
