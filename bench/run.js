// `npm run bench`: runs every benchmark script in this folder in turn (each prints its own figures).
// Benchmarks print numbers; they never assert timings.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

console.log(`tsbpf benchmarks — node ${process.version}, ${new Date().toISOString()}`);
let failed = 0;
for (const script of scripts) {
  console.log(`\n== ${script} ==`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, script)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${script} exited with ${r.status ?? r.signal})`);
  }
}
process.exitCode = failed ? 1 : 0;
