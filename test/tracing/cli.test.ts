// `tsbpf trace` end to end: the built CLI (npm run build first) on small ESM and CommonJS scripts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures/trace');

function tsbpf(...args: string[]) {
  if (!existsSync(join(root, 'dist/node/trace-preload.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const r = spawnSync('node', [join(root, 'bin/tsbpf.js'), 'trace', ...args], {
    cwd: fixtures,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tsbpf trace', () => {
  it('funccount --json counts ESM, default and CommonJS exports; the program output goes to stderr', () => {
    const r = tsbpf(
      'funccount',
      '--json',
      '--fn',
      'lib.mjs#add',
      '--fn',
      'lib.mjs#wait',
      '--fn',
      'lib.mjs#default',
      '--fn',
      'lib.cjs#mul',
      '--',
      'node',
      'main.mjs',
      '40',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      counts: { 'lib.mjs#add': 40, 'lib.mjs#wait': 2, 'lib.mjs#default': 1, 'lib.cjs#mul': 1 },
    });
    expect(r.stderr).toContain('sum=780 hello esm 42 42');
  });

  it('funccount text: program stdout untouched, then the table; a non-zero exit code is propagated', () => {
    const r = tsbpf('funccount', '--fn', 'lib.mjs#add', '--', 'node', 'main.mjs', '5', '3');
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('sum=10 hello esm 42 42');
    expect(lines[1]).toMatch(/^FUNC +COUNT$/);
    expect(lines[2]).toMatch(/^lib\.mjs#add +5$/);
  });

  it('funclatency --json: every traced call of a CommonJS recursion lands in a bucket', () => {
    const r = tsbpf('funclatency', '--json', '--fn', 'lib.cjs#fib', '--', 'node', 'main.cjs', '12');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      functions: Record<
        string,
        { count: number; buckets: { low_ns: number; high_ns: number; count: number }[] }
      >;
    };
    const fib = report.functions['lib.cjs#fib']!;
    expect(fib.count).toBe(465); // fib(12) makes 2 * fib(13) - 1 calls
    expect(fib.buckets.reduce((a, b) => a + b.count, 0)).toBe(465);
    for (const b of fib.buckets) expect(b.high_ns).toBe(b.low_ns === 0 ? 0 : 2 * b.low_ns - 1);
    expect(r.stderr).toContain('fib(12)=144');
  });

  it('funclatency text prints a BCC-style histogram for an async ESM function', () => {
    const r = tsbpf('funclatency', '--fn', 'lib.mjs#wait', '--', 'node', 'main.mjs', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Function = lib.mjs#wait');
    expect(r.stdout).toMatch(/ {5}nsecs {14} : count {5}distribution/);
    expect(r.stdout).toMatch(/count: 2\n/);
    // Awaited durations: both calls slept at least 1 ms (>= 2^19 ns buckets).
    expect(r.stdout).toMatch(/ {3}\d{7,} -> \d+ +: [12] +\|\*+/);
  });

  it('events prints the ring buffer records of a compiled program as they arrive', () => {
    const obj = join(root, 'examples/trace/calls.o');
    const r = tsbpf('events', obj, '--fn', 'lib.mjs#add', '--', 'node', 'main.mjs', '4');
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.split('\n').filter((l) => l.startsWith('events '));
    expect(events.length).toBe(4);
    // u64 words: call id, duration, arg1 (the running sum), return value.
    const words = events.map((l) => l.split('| u64: ')[1]!.split(' ').map(Number));
    expect(words.map((w) => w[3])).toEqual([0, 1, 3, 6]);
    expect(words.map((w) => w[2])).toEqual([0, 0, 1, 3]);
    expect(r.stderr).toContain('events: 4 events received, 0 lost');
  });

  it('reports user mistakes clearly', () => {
    expect(tsbpf('funccount', '--fn', 'lib.mjs#add', '--', 'python3', 'x.py').stderr).toMatch(
      /must be started with node/,
    );
    expect(tsbpf('funccount', '--fn', '#add', '--', 'node', 'main.mjs').stderr).toMatch(
      /expected FILE#EXPORT/,
    );
    // What cannot be traced is an error, one line and exit 1 (test/cli/errors.test.ts has the rest).
    const r = tsbpf('funccount', '--fn', 'lib.mjs#nope', '--', 'node', 'main.mjs', '1');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(`tsbpf: --fn lib.mjs#nope: ${join(fixtures, 'lib.mjs')} has no export 'nope'\n`);
    const m = tsbpf('funccount', '--fn', 'missing.mjs#x', '--', 'node', 'main.mjs', '1');
    expect(m.code, m.stderr).toBe(1);
    expect(m.stderr).toMatch(
      /^tsbpf: --fn missing\.mjs#x: .*missing\.mjs: cannot trace: no such file or directory\n$/,
    );
  });
});
