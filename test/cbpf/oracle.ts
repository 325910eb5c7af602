// tcpdump as an oracle for the filter tests: availability (never a silent skip in CI) and helpers.

import { execFileSync } from 'node:child_process';

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
  return execFileSync('tcpdump', ['-y', DLT[linkType] ?? 'EN10MB', flag, expr], { stdio: 'pipe' }).toString();
}

/** Indices (0-based) of the packets of FILE that tcpdump's filter accepts. */
export function tcpdumpMatches(file: string, expr: string): number[] {
  const out = execFileSync('tcpdump', ['-#', '-n', '-t', '-r', file, expr], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => Number.parseInt(l.trim(), 10) - 1);
}
