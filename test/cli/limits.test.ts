// `--budget` and `--timeout` on every command that runs programs (src/cli/limits.ts): a runaway run or a
// command out of time stops with one line and exit 3; bad values are usage errors (exit 2).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tsbpf, xdpObject } from './run-cli.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = join(root, 'examples/xdp/iperf.pcap');
const UDP_DROP = join(root, 'examples/xdp/udp_drop.o');

/** An XDP object whose program loops `n` times (bounded: the verifier accepts it), then passes. */
function loopObject(name: string, n: number): string {
  return xdpObject(dir, name, `r0 = 0\nl: r0 += 1\nif r0 < ${n} goto l\nr0 = 2\nexit`);
}

const packet = join(dir, 'pkt.bin');
writeFileSync(packet, new Uint8Array(64));

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tsbpf: /);
  expect(lines[0]).toMatch(pattern);
}

describe('run limits on the command line', () => {
  it('xdp: a verified loop over its --budget stops with exit 3, naming the packets and the limit', () => {
    const obj = loopObject('loop1000', 1000);
    expect(tsbpf(['xdp', obj, '-r', CAPTURE, '--budget', '999']).code).toBe(0);
    const r = tsbpf(['xdp', obj, '-r', CAPTURE, '--budget', '998']);
    expect(r.code).toBe(3);
    expectOneLine(
      r.stderr,
      /packets 0-\d+: program loop1000 faulted: .*budget of 998 loop iterations exhausted/,
    );
  });

  it('xdp --no-verify: the budget counts instructions, the fault names the packet', () => {
    const obj = loopObject('loop1000', 1000);
    const r = tsbpf(['xdp', obj, '-r', CAPTURE, '--no-verify', '--budget', '50']);
    expect(r.code).toBe(3);
    expectOneLine(r.stderr, /packet 0: program loop1000 faulted: .*instruction budget of 50 exhausted/);
  });

  it('xdp, filter and prog run stop when --timeout is up', () => {
    for (const args of [
      ['xdp', UDP_DROP, '-r', CAPTURE, '--timeout', '1ms'],
      ['filter', 'udp', '-r', CAPTURE, '-w', '/dev/null', '--timeout', '1ms'],
      // (a loop of 2^31 is too complex for the verifier: checked, with a budget that never ends it)
      [
        'prog',
        'run',
        loopObject('forever', 0x7fffffff),
        'data_in',
        packet,
        '--no-verify',
        '--budget',
        '9007199254740991',
        '--timeout',
        '200ms',
      ],
    ]) {
      const r = tsbpf(args);
      expect(r.code, args.join(' ')).toBe(3);
      expectOneLine(r.stderr, /time limit/);
    }
  });

  it('run and conformance-plugin: --budget counts instructions, --timeout stops a runaway', () => {
    const forever = join(dir, 'forever.s');
    writeFileSync(forever, 'r0 = 0\nl: r0 += 1\ngoto l\n');
    const budget = tsbpf(['run', forever, '--budget', '1000']);
    expect(budget.code).toBe(3);
    expectOneLine(budget.stderr, /instruction budget of 1000 exhausted/);
    const timeout = tsbpf(['run', forever, '--budget', '9007199254740991', '--timeout', '0.2']);
    expect(timeout.code).toBe(3);
    expectOneLine(timeout.stderr, /time limit reached/);
    const plugin = tsbpf(
      ['conformance-plugin', '--budget', '100'],
      'b7 00 00 00 00 00 00 00 05 00 ff ff 00 00 00 00',
    );
    expect(plugin.code).toBe(3);
    expectOneLine(plugin.stderr, /instruction budget of 100 exhausted/);
  });

  it('bad values are usage errors', () => {
    for (const [flag, value] of [
      ['--budget', 'abc'],
      ['--budget', '0'],
      ['--budget', '1.5'],
      ['--timeout', '5x'],
      ['--timeout', '-1s'],
    ] as const) {
      const r = tsbpf(['xdp', UDP_DROP, '-r', CAPTURE, flag, value]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expectOneLine(r.stderr, new RegExp(flag));
    }
    // trace takes --budget for its probe runs (and no --timeout: the traced program runs as long as it does)
    const trace = tsbpf(['trace', 'funccount', '--fn', 'x.mjs#f', '--budget', 'abc', '--', 'node', 'x.mjs']);
    expect(trace.code).toBe(2);
    expectOneLine(trace.stderr, /--budget: 'abc' is not a positive integer/);
  });
});
