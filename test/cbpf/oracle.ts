// tcpdump as an oracle for the filter tests: availability (never a silent skip in CI) and helpers.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readCapture } from '../../src/net/pcap.js';

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

const DLT: Record<number, string> = { 1: 'EN10MB', 101: 'RAW', 113: 'LINUX_SLL' };

/** `tcpdump -y DLT -ddd EXPR` parsed, or the error text tcpdump printed. */
export function tcpdumpProgram(expr: string, linkType: number, flag = '-ddd'): string {
  return execFileSync('tcpdump', ['-y', DLT[linkType] ?? 'EN10MB', flag, ` ${expr}`], {
    stdio: 'pipe',
  }).toString();
}

/**
 * Indices (0-based) of the packets of FILE that tcpdump's filter accepts: tcpdump writes the matching
 * packets (-w -) and they are identified by timestamp and bytes.
 */
export function tcpdumpMatches(file: string, expr: string): number[] {
  const all = readCapture(new Uint8Array(readFileSync(file))).packets;
  const out = execFileSync('tcpdump', ['-r', file, '-w', '-', ` ${expr}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const got = readCapture(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)).packets;
  const key = (p: { tsNs: bigint; data: Uint8Array }) =>
    `${p.tsNs / 1000n}/${Buffer.from(p.data).toString('hex')}`;
  const index = new Map<string, number[]>();
  for (const [i, p] of all.entries()) index.set(key(p), [...(index.get(key(p)) ?? []), i]);
  return got.map((p) => {
    const list = index.get(key(p));
    const i = list?.shift();
    if (i === undefined) throw new Error(`tcpdump wrote a packet that is not in ${file}`);
    return i;
  });
}
