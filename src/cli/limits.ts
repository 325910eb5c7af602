// `--budget N` and `--timeout DURATION`, the same on every command that runs programs (the rules are
// src/vm/limits.ts): the budget bounds each run (instructions when a program runs checked, loop iterations
// when it was verified); the timeout bounds the whole command, from its start.

import type { Command } from 'commander';
import { Option } from 'commander';
import { RunLimitError } from '../errors.js';
import { checkDeadline, DEFAULT_BUDGET, DEFAULT_ITERATIONS, type RunLimits } from '../vm/limits.js';
import { CliError, EXIT } from './errors.js';

/** What commander gives for the two options. */
export interface LimitFlags {
  budget?: number;
  timeout?: number;
}

const BUDGET_HELP =
  `the most a run may do: instructions when it runs checked (--no-verify; default ${DEFAULT_BUDGET}), ` +
  `loop iterations — backward jumps, callback calls, tail calls — when it was verified (default ${DEFAULT_ITERATIONS})`;

/** Add `--budget` (and `--timeout`, unless the command has no use for it) to a command. */
export function limitOptions(command: Command, timeout = true): Command {
  command.addOption(new Option('--budget <n>', BUDGET_HELP).argParser(parseBudget));
  if (timeout) {
    command.addOption(
      new Option(
        '--timeout <duration>',
        'stop the command after this long: 500ms, 10s, 2m (plain numbers are seconds)',
      ).argParser(parseDuration),
    );
  }
  return command;
}

export function parseBudget(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0)
    throw new CliError(`--budget: '${value}' is not a positive integer`, EXIT.usage);
  return n;
}

/** `500ms`, `10s`, `2m`, `1h`, or plain seconds (fractions allowed) → milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']! : Number.NaN;
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new CliError(`--timeout: '${value}' is not a duration (e.g. 500ms, 10s, 2m)`, EXIT.usage);
  return ms;
}

/** The engine limits of a command that started at `started` (performance.now()). */
export function runLimits(flags: LimitFlags, started: number): RunLimits {
  return {
    budget: flags.budget,
    deadline: flags.timeout === undefined ? undefined : started + flags.timeout,
  };
}

/**
 * Between batches: stop when the command's time is up. Runs that do not loop never read the clock
 * themselves, so commands that run many of them check here.
 */
export function checkTime(limits: RunLimits, flags: LimitFlags): void {
  if (limits.deadline === undefined) return;
  try {
    checkDeadline(limits.deadline, -1);
  } catch (e) {
    if (e instanceof RunLimitError)
      throw new CliError(`--timeout: time limit of ${flags.timeout} ms reached`, EXIT.fault);
    throw e;
  }
}
