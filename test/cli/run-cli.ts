// Runs the built CLI (`npm run build` first; `npm test` does it) and captures its output.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../src/asm/index.js';
import { writeObject } from '../../src/elf/index.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function tsbpf(args: readonly string[], input?: string | Uint8Array): CliResult {
  if (!existsSync('dist/cli/main.js')) throw new Error('dist/ is missing: run `npm run build` first');
  const r = spawnSync(process.execPath, ['bin/tsbpf.js', ...args], {
    input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const ROOT = new URL('../../', import.meta.url).pathname;

/** `tsbpf` in `cwd` without blocking (so cases can run side by side); `input` goes to its stdin. */
export function tsbpfIn(
  cwd: string,
  args: readonly string[],
  input?: Uint8Array | string,
): Promise<CliResult> {
  if (!existsSync(`${ROOT}dist/cli/main.js`)) throw new Error('dist/ is missing: run `npm run build` first');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/tsbpf.js`, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** How many CLI processes `limited` lets run at once (one per core, at least two). */
const WIDTH = Math.max(2, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

/** Run `job` once fewer than WIDTH limited jobs are running (shared by every test of the file). */
export async function limited<T>(job: () => Promise<T>): Promise<T> {
  if (running >= WIDTH) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await job();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Write an ELF object with one XDP program `name` assembled from `text` into `dir`; returns its path. */
export function xdpObject(dir: string, name: string, text: string): string {
  const file = join(dir, `${name}.o`);
  writeFileSync(
    file,
    writeObject({
      programs: [{ name, section: 'xdp', type: 'xdp', insns: assemble(text), license: 'GPL' }],
      maps: [],
      license: 'GPL',
    }),
  );
  return file;
}
