// examples/kernel/runqlat against the kernel: a single-threaded C program of ours (built here with cc)
// sleeps 1 ms 100 times after we tell it to start; each wake-up is one run-queue wait of its thread, so
// the histogram of its process (the pid filter is in the program) holds about 100 samples (a timer that
// fires before the task has left the CPU wakes it without the sched_wakeup tracepoint; the read of stdin
// and the exit add one or two), each a short wait; nothing is left in the kernel after stop.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatHistogram, readHistogram, runqlat } from '../../examples/kernel/runqlat.js';
import { progInfo } from '../../src/kernel/index.js';
import { exists } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

const SLEEPER = `#include <time.h>
#include <unistd.h>
int main(void) {
  char c;
  if (read(0, &c, 1) != 1) return 1;
  struct timespec ts = { 0, 1000000 };
  for (int i = 0; i < 100; i++) nanosleep(&ts, 0);
  return 0;
}
`;

describe.skipIf(!oracle)('examples/kernel/runqlat', () => {
  it('100 sleeps of one process: 90 to 110 samples in its histogram, all under a second', async () => {
    const dir = mkdtempSync('/tmp/tsbpf-runqlat-');
    try {
      writeFileSync(`${dir}/sleeper.c`, SLEEPER);
      const cc = spawnSync('cc', ['-O2', '-o', `${dir}/sleeper`, `${dir}/sleeper.c`], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).toBe(0);
      const child = spawn(`${dir}/sleeper`, [], { stdio: ['pipe', 'ignore', 'inherit'] });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const tool = runqlat({ pid: child.pid! });
      const ids = [...tool.obj.programs.values()].map((p) => progInfo(p.fd).id);
      expect(ids).toHaveLength(3);
      let counts: bigint[];
      try {
        child.stdin!.end('g');
        expect(await exited).toBe(0);
        counts = readHistogram(tool);
      } finally {
        tool.stop();
      }
      const total = counts.reduce((a, b) => a + b, 0n);
      expect(total, formatHistogram(counts).join('\n')).toBeGreaterThanOrEqual(90n);
      expect(total, formatHistogram(counts).join('\n')).toBeLessThanOrEqual(110n);
      // Slot 20 starts at 2^20 µs, about a second: no wait of a lightly loaded machine reaches it.
      expect(counts.slice(20).every((c) => c === 0n)).toBe(true);
      const deadline = Date.now() + 5000;
      while (ids.some((id) => exists('prog', id)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(ids.filter((id) => exists('prog', id))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
