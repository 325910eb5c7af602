// The verifier's cost is bounded: the kernel's complexity limits (1,000,000 processed instructions; 8192
// pending branches) reject the same programs with the same meaning, a wall-clock cap and a cap on the
// states kept end any verification with a verdict, and the pathological loops of complexity/*.s (a loop
// bounded only by the packet length) reach theirs quickly. Times are printed, never asserted.

import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import type { Insn } from '../../src/isa/index.js';
import { close as closeFd, progLoad, VerifierRejectedError } from '../../src/kernel/index.js';
import { programTypeByName } from '../../src/spec/program-types.js';
import { type VerifyOptions, type VerifyResult, verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';
import { check } from './support.js';

const DIR = new URL('./complexity/', import.meta.url);

interface Shape {
  name: string;
  type: string;
  insns: Insn[];
}

/** complexity/NAME.s: assembler text whose first line names the program type (`# type: xdp`). */
function shape(name: string): Shape {
  const text = readFileSync(new URL(`${name}.s`, DIR), 'utf8');
  const type = /^# type: (\S+)/.exec(text)?.[1];
  if (!type) throw new Error(`complexity/${name}.s: the first line must be '# type: <program type>'`);
  return { name, type, insns: assemble(text) };
}

// No time limit unless a test sets one: a busy machine must not change the reason.
const run = (s: Shape, opts: VerifyOptions = {}): VerifyResult =>
  verify(s, { logLevel: 1, timeLimitMs: Number.POSITIVE_INFINITY, ...opts });
const reason = (r: VerifyResult) =>
  r.accepted ? 'accepted' : `${r.diagnostics[0]!.kind}: ${r.diagnostics[0]!.message}`;

/** What each shape must get, as the kernel (Linux 6.18) decides it. */
const TOO_MANY_INSNS =
  /^too_complex: .*more than 1000000 instructions processed .*"BPF program is too large\. Processed 1000001 insn"/;
const EXPECTED: Record<string, { reason: RegExp; insn?: number; processed?: number }> = {
  'xdp-walk': { reason: TOO_MANY_INSNS },
  'xdp-walk-counter': { reason: TOO_MANY_INSNS },
  'xdp-len-counter': { reason: TOO_MANY_INSNS },
  'skb-len-counter': { reason: TOO_MANY_INSNS },
  'skb-ld-ind': { reason: TOO_MANY_INSNS },
  // No state repeats, so nothing is pruned: the kernel too counts 57350 processed instructions when the
  // bounds check at insn 5 queues the 8193rd branch.
  'xdp-walk-load': {
    insn: 5,
    reason:
      /^too_complex: .*8193 branches wait to be explored.*"The sequence of 8193 jumps is too complex\."/,
    processed: 57350,
  },
};

const oracle = kernelOracle();

describe('pathological loops reach the kernel verdict', () => {
  const names = readdirSync(DIR)
    .filter((f) => f.endsWith('.s'))
    .map((f) => f.slice(0, -2))
    .sort();
  const times: string[] = [];
  afterAll(() => {
    if (times.length) console.log(`verification times (not asserted):\n  ${times.join('\n  ')}`);
  });

  it('has an expectation for every shape', () => {
    expect(names).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const name of names) {
    it(name, { timeout: 60_000 }, () => {
      const s = shape(name);
      const want = EXPECTED[name]!;
      const r = run(s);
      times.push(
        `${name}: ${r.durationMs.toFixed(0)} ms, ${r.insnsProcessed} insns processed, ${r.states} states`,
      );
      expect(reason(r)).toMatch(want.reason);
      if (want.insn !== undefined) expect(r.diagnostics[0]!.insn).toBe(want.insn);
      if (want.processed !== undefined) expect(r.insnsProcessed).toBe(want.processed);
    });
  }

  it.skipIf(!oracle)(
    'the kernel rejects each of them as too complex, after as many insns',
    {
      timeout: 120_000,
    },
    () => {
      for (const name of names) {
        const s = shape(name);
        let got: unknown;
        try {
          const { fd } = progLoad({
            type: programTypeByName(s.type)!.kernel,
            insns: s.insns,
            license: 'GPL',
            name: 'complexity',
            logLevel: 4, // statistics only: the per-instruction log of level 1 takes seconds here
          });
          closeFd(fd);
        } catch (e) {
          got = e;
        }
        // E2BIG with the verifier's log (a KernelError without one before src/kernel passed it on).
        expect(got, name).toBeInstanceOf(VerifierRejectedError);
        const e = got as VerifierRejectedError;
        expect([name, e.errno]).toEqual([name, 7]);
        const processed = EXPECTED[name]!.processed ?? 1_000_001;
        expect(e.log, name).toContain(`processed ${processed} insns`);
        const us = /verification time (\d+) usec/.exec(e.log)?.[1];
        times.push(`${name}: the kernel ${Math.round(Number(us) / 1000)} ms, ${processed} insns processed`);
      }
    },
  );
});

describe('limits', () => {
  const walk = () => shape('xdp-walk');

  it('a wall-clock cap ends verification with a verdict', () => {
    const r = run(walk(), { timeLimitMs: 1 });
    expect(reason(r)).toMatch(
      /^too_complex: the program is too complex: gave up after \d+ ms \(the time limit is 1 ms\)/,
    );
    expect(r.insnsProcessed).toBeLessThan(1_000_000);
  });

  it('a cap on the states kept ends verification with a verdict', () => {
    const r = run(walk(), { maxStates: 100 });
    expect(reason(r)).toMatch(/^too_complex: .*more than 100 states kept/);
    expect(r.states).toBe(100);
  });

  it('counts processed instructions as the kernel does (the one where a path is pruned included)', () => {
    // The fall-through path processes insns 0-12 and leaves a state at 11 (after 2 jumps and 8 insns);
    // the taken path is pruned at 11, which counts: 14, as the kernel reports.
    const text = `
      r2 = *(u32 *)(r1 + 16)
      if r2 == 0 goto +9
      ${'r3 = 0\n'.repeat(8)}
      goto +0
      r0 = 0
      exit`;
    const r = check(text);
    expect(r.accepted).toBe(true);
    expect([r.insnsProcessed, r.states]).toEqual([14, 1]);
    if (oracle) {
      const { fd, log } = progLoad({
        type: programTypeByName('xdp')!.kernel,
        insns: assemble(text),
        license: 'GPL',
        logLevel: 4,
      });
      closeFd(fd);
      expect(log).toMatch(/processed 14 insns .* total_states 1 /);
    }
  });

  it.each([
    ['timeLimitMs', { timeLimitMs: 0 }],
    ['timeLimitMs', { timeLimitMs: Number.NaN }],
    ['maxStates', { maxStates: -1 }],
    ['maxInsns', { maxInsns: 1.5 }],
  ] as const)('rejects a bad %s with a clear error', (name, opts) => {
    expect(() => run(walk(), opts as VerifyOptions)).toThrow(new RegExp(`^verify: ${name} must be`));
  });
});
