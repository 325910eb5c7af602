// The fuzz harness itself (not a target): iterations replay from (seed, index) alone, and each bound —
// an exception, CPU time, resident memory, a known failure — is reported with its iteration.

import { describe, expect, it } from 'vitest';
import { check, iterationSeed, Rng, runTarget } from './harness.js';

const quiet = <T>(f: () => Promise<T>): Promise<T> => {
  const log = console.log;
  console.log = () => {};
  return f().finally(() => {
    console.log = log;
  });
};

describe('fuzz harness', () => {
  it('gives each iteration its own generator, the same on a replay of that iteration alone', async () => {
    const seen: number[] = [];
    await quiet(() =>
      runTarget('t', 7, undefined, 200, { seconds: 0 }, ({ r, index }) => {
        if (index < 5) seen[index] = r.u32();
      }),
    );
    const again: number[] = [];
    await quiet(() =>
      runTarget('t', 7, 3, 0, { seconds: 0 }, ({ r }) => {
        again.push(r.u32());
      }),
    );
    expect(again).toEqual([seen[3]]);
    expect(new Rng(iterationSeed(7, 3)).u32()).toBe(seen[3]);
    expect(new Set(seen).size).toBe(5);
  });

  it('reports an exception, a slow input and a memory burst with the iteration that reproduces them', async () => {
    const kept: Uint8Array[] = [];
    const result = await quiet(() =>
      runTarget(
        't',
        0x5eed,
        undefined,
        1500,
        { seconds: 0, cpuMsPerInput: 100, memory: { floorMb: 64 } },
        ({ index, size }) => {
          size(16);
          if (index === 1) check(false, 'broken invariant');
          if (index === 2) throw new TypeError('oops');
          if (index === 3) {
            const t = process.cpuUsage();
            for (;;) {
              const u = process.cpuUsage(t);
              if (u.user + u.system > 300_000) break;
            }
          }
          if (index === 4) {
            // 160 MiB, touched page by page and held while the watchdog samples.
            const a = new Uint8Array(160 * 2 ** 20);
            for (let i = 0; i < a.length; i += 4096) a[i] = 1;
            kept.push(a);
            const t = Date.now();
            while (Date.now() - t < 100);
          }
        },
      ),
    );
    expect(kept.length).toBe(1);
    const failures = result.failures.join('\n');
    expect(failures).toMatch(
      /iteration 1: broken invariant\n {2}reproduce: npm run fuzz -- --target t --seed 0x5eed --iteration 1/,
    );
    expect(failures).toMatch(/iteration 2: unexpected exception: TypeError: oops/);
    expect(failures).toMatch(/iteration 3: one input took \d+ ms of CPU \(bound 100 ms\)/);
    expect(failures).toMatch(/iteration 4: resident memory grew by \d+ MiB during one input/);
    // Iteration 4 may be slow as well as large; iterations 0 and 5 on are clean.
    expect(result.failures.every((f) => / iteration [1-4]: /.test(f))).toBe(true);
  });

  it('counts a known failure and prints it once, without failing', async () => {
    const result = await quiet(() =>
      runTarget(
        't',
        1,
        undefined,
        100,
        { seconds: 0, known: [{ match: /^old bug/, note: 'theirs' }] },
        ({ index }) => {
          if (index % 2 === 0) check(false, 'old bug again');
        },
      ),
    );
    expect(result.failures).toEqual([]);
    expect(result.counts['known failure (theirs)']).toBeGreaterThan(1);
  });
});
