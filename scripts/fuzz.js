#!/usr/bin/env node
// The fuzz suite (test/fuzz/) for longer than CI runs it:
//
//   npm run fuzz -- --minutes N [--seed S] [--target T[,T...]] [--iteration I]
//
// --minutes  wall time of the whole run (default 5); the targets share it, two at a time as vitest runs
//            files (maxWorkers 2), so each gets about 2N/targets minutes
// --seed     the seed (decimal or 0x hex); default a random one, printed
// --target   only these targets (file names in test/fuzz/ without .test.ts); default all
// --iteration  replay that one iteration of one target (a failure prints the command), verbosely
//
// Every target prints its seed, its iteration count and each failure with the command that replays it.

import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}test/fuzz/`;
// Every test file there is a target, but the harness's own tests.
const TARGETS = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts') && f !== 'harness.test.ts')
  .map((f) => f.slice(0, -'.test.ts'.length))
  .sort();
/** Files vitest runs side by side (vitest.config.ts: maxWorkers). */
const WORKERS = 2;

function usage(message) {
  process.stderr.write(
    `fuzz: ${message}\nusage: npm run fuzz -- --minutes N [--seed S] [--target T[,T...]] [--iteration I]\n` +
      `targets: ${TARGETS.join(', ')}\n`,
  );
  process.exit(2);
}

function parse(argv) {
  const out = { minutes: 5, seed: undefined, targets: TARGETS, iteration: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') usage('run the fuzz targets for longer');
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    if (flag === '--minutes') {
      out.minutes = Number(value);
      if (!(out.minutes > 0)) usage(`--minutes ${value}: not a positive number`);
    } else if (flag === '--seed') {
      out.seed = Number(value);
      if (!Number.isInteger(out.seed) || out.seed < 0 || out.seed > 0xffffffff)
        usage(`--seed ${value}: not a 32-bit unsigned integer`);
    } else if (flag === '--target') {
      out.targets = value.split(',');
      for (const t of out.targets) if (!TARGETS.includes(t)) usage(`--target ${t}: no such target`);
    } else if (flag === '--iteration') {
      out.iteration = Number(value);
      if (!Number.isInteger(out.iteration) || out.iteration < 0) usage(`--iteration ${value}: not an index`);
    } else usage(`unknown flag ${flag}`);
  }
  if (out.iteration !== undefined && out.seed === undefined) usage('--iteration needs the --seed it ran with');
  return out;
}

const opts = parse(process.argv.slice(2));
const seed = opts.seed ?? randomInt(0, 0x1_0000_0000);
// Files run two at a time: each target gets its share of the wall time, less a little for start-up.
const rounds = Math.ceil(opts.targets.length / WORKERS);
const seconds = Math.max(1, Math.floor((opts.minutes * 60) / rounds) - 5);
const env = { ...process.env, TSBPF_FUZZ_SEED: String(seed), TSBPF_FUZZ_SECONDS: String(seconds) };
if (opts.iteration !== undefined) env.TSBPF_FUZZ_ITERATION = String(opts.iteration);
process.stdout.write(
  opts.iteration === undefined
    ? `fuzz: seed 0x${seed.toString(16)}, ${opts.targets.length} targets, ${seconds} s each (${opts.targets.join(', ')})\n`
    : `fuzz: replaying iteration ${opts.iteration} of seed 0x${seed.toString(16)} (${opts.targets.join(', ')})\n`,
);
const files = opts.targets.map((t) => `test/fuzz/${t}.test.ts`);
const r = spawnSync('npx', ['vitest', 'run', ...files], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
