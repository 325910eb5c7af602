// Differential test of the core against the Linux kernel: thousands of random valid programs (see
// test/support/gen.ts) run in the kernel through BPF_PROG_TEST_RUN and in each of our engines; every
// register, the random stack area and the verdict must agree. A program the kernel refuses is a
// generator bug and fails the test too.

import { describe, expect, it } from 'vitest';
import { formatInsn } from '../../src/asm/index.js';
import { LDDW } from '../../src/isa/index.js';
import { VerifierRejectedError } from '../../src/kernel/index.js';
import { type Dump, type GeneratedProgram, generate } from '../support/gen.js';
import { kernelOracle } from '../support/kernel.js';
import { ENGINES, type Engine, kernelEngine } from './engines.js';

const PROGRAMS = Number(process.env.TSBPF_DIFF_PROGRAMS ?? 3000);
const BASE_SEED = Number(process.env.TSBPF_DIFF_SEED ?? 0x5eed);
/** Body size and nesting depth of the generated programs. */
const SIZE = Number(process.env.TSBPF_DIFF_SIZE ?? 40);
const DEPTH = Number(process.env.TSBPF_DIFF_DEPTH ?? 3);
/** Generous: the JIT compiles every program; a loaded 2-core machine runs ~20 programs a second. */
const TIMEOUT_MS = Math.max(180_000, PROGRAMS * 60);
/** Stop collecting details after this many failures (the counts keep going). */
const MAX_REPORTS = 5;

const oracle = kernelOracle();

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

/** Disassembly with slot indices, for failure reports (the body only, the rest is fixed scaffolding). */
function show(p: GeneratedProgram): string {
  const lines: string[] = [`  (prologue: slots 0..${p.body[0] - 1}; body:)`];
  for (let i = p.body[0]; i < p.body[1]; i++) {
    lines.push(`  ${String(i).padStart(4)}: ${formatInsn(p.insns, i)}`);
    if (p.insns[i]!.code === LDDW) i++;
  }
  lines.push(`  (epilogue: slots ${p.body[1]}..${p.insns.length - 1})`);
  return lines.join('\n');
}

function diff(a: Dump, b: Dump): string[] {
  const out: string[] = [];
  if (a.retval !== b.retval) out.push(`verdict ${a.retval} vs ${b.retval}`);
  if (a.checksum !== b.checksum)
    out.push(`checksum of intermediate results ${hex(a.checksum)} vs ${hex(b.checksum)}`);
  a.regs.forEach((v, i) => {
    if (v !== b.regs[i]) out.push(`r${i}: ${hex(v)} vs ${hex(b.regs[i]!)}`);
  });
  for (let i = 0; i < a.stack.length; i += 8) {
    const x = a.stack.subarray(i, i + 8);
    const y = b.stack.subarray(i, i + 8);
    if (x.some((v, j) => v !== y[j]))
      out.push(`stack fp${i - 512}: ${Buffer.from(x).toString('hex')} vs ${Buffer.from(y).toString('hex')}`);
  }
  return out;
}

function registerFile(d: Dump): string {
  return d.regs.map((v, i) => `r${i}=${hex(v)}`).join(' ');
}

describe.skipIf(!oracle)('kernel differential: random programs', () => {
  it(
    `${PROGRAMS} programs agree with the kernel in every engine`,
    () => {
      const rejected: string[] = [];
      const mismatches: string[] = [];
      const perEngine = new Map<string, number>(ENGINES.map((e) => [e.name, 0]));
      const runs = new Map<string, number>(ENGINES.map((e) => [e.name, 0]));
      const timeMs = new Map<string, number>([kernelEngine, ...ENGINES].map((e) => [e.name, 0]));
      const timed = <T>(engine: Engine, f: () => T): T => {
        const t0 = performance.now();
        try {
          return f();
        } finally {
          timeMs.set(engine.name, timeMs.get(engine.name)! + performance.now() - t0);
        }
      };
      let compared = 0;
      const started = performance.now();

      const report = (engine: Engine, p: GeneratedProgram, why: string, k?: Dump, e?: Dump) => {
        perEngine.set(engine.name, perEngine.get(engine.name)! + 1);
        if (mismatches.length >= MAX_REPORTS) return;
        mismatches.push(
          [
            `seed ${p.seed}: ${engine.name} differs from the kernel: ${why}`,
            k ? `  kernel: ${registerFile(k)}` : '',
            e ? `  ${engine.name}: ${registerFile(e)}` : '',
            show(p),
          ].join('\n'),
        );
      };

      for (let n = 0; n < PROGRAMS; n++) {
        const program = generate(BASE_SEED + n, { size: SIZE, depth: DEPTH });
        let reference: Dump;
        try {
          reference = timed(kernelEngine, () => kernelEngine.run(program));
        } catch (e) {
          if (!(e instanceof VerifierRejectedError)) throw e;
          if (rejected.length < MAX_REPORTS)
            rejected.push(`seed ${program.seed}: ${e.message}\n${e.log}\n${show(program)}`);
          else rejected.push(`seed ${program.seed}`);
          continue;
        }
        compared++;
        for (const engine of ENGINES) {
          if (n % (engine.every ?? 1) !== 0) continue;
          let got: Dump;
          try {
            got = timed(engine, () => engine.run(program));
          } catch (e) {
            report(engine, program, `threw ${(e as Error).message}`, reference);
            continue;
          }
          runs.set(engine.name, runs.get(engine.name)! + 1);
          const d = diff(reference, got);
          if (d.length) report(engine, program, d.join('; '), reference, got);
        }
      }

      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const m = [...perEngine.values()].reduce((a, b) => a + b, 0);
      const engines =
        [...perEngine].map(([name, c]) => `${name}: ${c} of ${runs.get(name)}`).join(', ') ||
        'no engines yet';
      const times = [...timeMs].map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(', ');
      console.log(
        `${compared} programs compared, ${m} mismatches (${engines}); ${rejected.length} rejected by the kernel; ${seconds} s (${times})`,
      );
      expect(
        rejected,
        `programs the kernel rejected (generator bugs):\n${rejected.slice(0, MAX_REPORTS).join('\n\n')}`,
      ).toEqual([]);
      expect(mismatches, mismatches.join('\n\n')).toEqual([]);
      expect(compared).toBe(PROGRAMS);
      for (const e of ENGINES) expect(runs.get(e.name)).toBe(Math.ceil(PROGRAMS / (e.every ?? 1)));
    },
    TIMEOUT_MS,
  );

  it('the comparison sees a change in the program body (the harness can fail)', () => {
    // The kernel runs each program, every engine a copy where one always-executed `rd op= imm`
    // (add/sub/xor/mov, followed by its checksum fold) has a different immediate: every pair must differ.
    const VALUE_CHANGING = [0x07, 0x17, 0xa7, 0xb7]; // ALU64 add/sub/xor/mov with K
    let differing = 0;
    let tried = 0;
    for (let seed = 1; tried < 50; seed++) {
      const program = generate(seed, { size: SIZE, depth: DEPTH });
      const spanned = new Uint8Array(program.insns.length);
      program.insns.forEach((i, n) => {
        const cls = i.code & 0x07;
        if (
          (cls === 0x05 || cls === 0x06) &&
          i.code !== 0x95 &&
          n >= program.body[0] &&
          n < program.body[1]
        ) {
          const target = n + 1 + (i.code === 0x06 ? i.imm : i.off);
          spanned.fill(1, n + 1, target);
        }
      });
      const at = program.insns.findIndex(
        (i, n) =>
          n >= program.body[0] &&
          n + 1 < program.body[1] &&
          !spanned[n] &&
          VALUE_CHANGING.includes(i.code) &&
          program.insns[n + 1]!.code === 0xdb && // the fold of this result
          program.insns[n + 1]!.src === i.dst,
      );
      if (at < 0) continue;
      tried++;
      const mutated = {
        ...program,
        insns: program.insns.map((i, n) => (n === at ? { ...i, imm: i.imm ^ 0x5a5a } : i)),
      };
      const reference = kernelEngine.run(program);
      for (const engine of ENGINES) if (diff(reference, engine.run(mutated)).length > 0) differing++;
    }
    expect(differing).toBe(tried * ENGINES.length);
  });
});
