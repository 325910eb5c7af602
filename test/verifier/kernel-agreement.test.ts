// Agreement with the Linux verifier on a corpus: the hand-made safe/unsafe programs, random programs from
// the differential generator, and mutants of both. The kernel's verdict (BPF_PROG_LOAD, as root) is the
// reference. A program only the kernel rejects is a soundness bug of ours and fails the test; programs
// only the kernel accepts are false alarms, reported.

import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { readObject } from '../../src/elf/index.js';
import type { Insn } from '../../src/isa/index.js';
import { KernelError, loadKernelObject } from '../../src/kernel/index.js';
import type { ObjectSpec } from '../../src/object/spec.js';
import { verify } from '../../src/verifier/index.js';
import { generate } from '../support/gen.js';
import { kernelOracle } from '../support/kernel.js';
import { CASES } from './corpus.js';
import { closeMaps, kernelVerdict } from './kernel.js';
import { mutate, Rand } from './mutate.js';
import { TEST_MAPS, testHelpers } from './support.js';

const oracle = kernelOracle();

interface Item {
  name: string;
  type: string;
  insns: Insn[];
}

function corpus(): Item[] {
  const items: Item[] = CASES.filter((c) => !c.noOracle).map((c) => ({
    name: c.name,
    type: c.type,
    insns: assemble(c.asm),
  }));
  for (let s = 0; s < 60; s++) {
    items.push({
      name: `generated seed ${s}`,
      type: 'xdp',
      insns: generate(7000 + s, { size: 30, depth: 3 }).insns,
    });
  }
  const rnd = new Rand(12345);
  const bases = [...items];
  for (let k = 0; k < 6; k++) {
    for (const b of bases) {
      const m = mutate(b.insns, rnd);
      if (m.what !== 'unchanged')
        items.push({ name: `${b.name} / mutant ${m.what}`, type: b.type, insns: m.insns });
    }
  }
  return items;
}

describe.skipIf(!oracle)('verifier agrees with the kernel', () => {
  afterAll(() => closeMaps());

  it('never accepts a program the kernel rejects; reports false alarms', { timeout: 300_000 }, () => {
    const items = corpus();
    let both = 0;
    let neither = 0;
    const falseAlarms: string[] = [];
    const unsound: string[] = [];
    const t0 = performance.now();
    let oursMs = 0;
    for (const it of items) {
      const k = kernelVerdict(it.insns, it.type, TEST_MAPS);
      const a = performance.now();
      const r = verify(
        { insns: it.insns, type: it.type },
        { maps: TEST_MAPS, helpers: testHelpers, logLevel: 0, maxInsns: 100_000 },
      );
      oursMs += performance.now() - a;
      if (k.accepted && r.accepted) both++;
      else if (!k.accepted && !r.accepted) neither++;
      else if (k.accepted)
        falseAlarms.push(`${it.name}: ${r.diagnostics[0]!.kind}: ${r.diagnostics[0]!.message}`);
      else unsound.push(`${it.name} [${it.type}]: kernel says: ${k.reason}`);
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `${items.length} programs: accepted by both ${both}, rejected by both ${neither}, ` +
        `only kernel accepts (our false alarms) ${falseAlarms.length}, only kernel rejects (soundness bugs) ${unsound.length}; ` +
        `${secs} s (ours ${(oursMs / 1000).toFixed(1)} s)`,
    );
    if (falseAlarms.length) console.log(`false alarms:\n  ${falseAlarms.join('\n  ')}`);
    expect(unsound, unsound.join('\n')).toEqual([]);
    expect(items.length).toBeGreaterThanOrEqual(300);
    expect(both).toBeGreaterThan(50);
    expect(neither).toBeGreaterThan(50);
  });

  it('agrees on the compiled C examples and fixtures and on their mutants', { timeout: 300_000 }, () => {
    const dirs = ['examples/xdp', 'test/fixtures/elf', 'test/fixtures/verifier'];
    const objects: { file: string; spec: ObjectSpec }[] = [];
    for (const d of dirs) {
      let files: string[] = [];
      try {
        files = readdirSync(d).filter((f) => f.endsWith('.o'));
      } catch {
        continue;
      }
      for (const f of files)
        objects.push({
          file: `${d}/${f}`,
          spec: readObject(readFileSync(`${d}/${f}`), { file: `${d}/${f}` }),
        });
    }
    const rnd = new Rand(777);
    let both = 0;
    let neither = 0;
    let total = 0;
    const falseAlarms: string[] = [];
    const unsound: string[] = [];
    for (const { file, spec } of objects) {
      for (const p of spec.programs) {
        const variants = [{ what: 'original', insns: p.insns }];
        for (let k = 0; k < 8; k++) {
          const m = mutate(p.insns, rnd);
          if (m.what !== 'unchanged') variants.push(m);
        }
        for (const v of variants) {
          const prog = { ...p, insns: v.insns };
          let kernelOk = true;
          let why = '';
          try {
            loadKernelObject({ ...spec, programs: [prog] }, { programs: [p.name] }).close();
          } catch (e) {
            if (!(e instanceof KernelError)) throw e;
            kernelOk = false;
            why = ((e as { log?: string }).log ?? e.message).trim().split('\n').slice(-3).join(' | ');
          }
          const r = verify(prog, { maps: spec.maps, logLevel: 0, maxInsns: 100_000 });
          total++;
          const name = `${file} ${p.name} (${v.what})`;
          if (kernelOk && r.accepted) both++;
          else if (!kernelOk && !r.accepted) neither++;
          else if (kernelOk)
            falseAlarms.push(`${name}: ${r.diagnostics[0]!.kind}: ${r.diagnostics[0]!.message}`);
          else unsound.push(`${name}: kernel says: ${why}`);
        }
      }
    }
    console.log(
      `${total} object programs: accepted by both ${both}, rejected by both ${neither}, ` +
        `only kernel accepts (our false alarms) ${falseAlarms.length}, only kernel rejects (soundness bugs) ${unsound.length}`,
    );
    if (falseAlarms.length) console.log(`false alarms:\n  ${falseAlarms.join('\n  ')}`);
    expect(unsound, unsound.join('\n')).toEqual([]);
    expect(both).toBeGreaterThan(10);
  });
});
