// Runs the built CLI (`npm run build` first; `npm test` does it) and captures its output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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
