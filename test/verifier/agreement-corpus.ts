// The programs of the kernel-agreement test: the hand-made corpus (minus what the kernel cannot judge
// from raw instructions), random programs of the differential generator, and mutants of both.

import { assemble } from '../../src/asm/index.js';
import type { Insn } from '../../src/isa/index.js';
import { generate } from '../support/gen.js';
import { CASES } from './corpus.js';
import { mutate, Rand } from './mutate.js';

export interface Item {
  name: string;
  type: string;
  insns: Insn[];
}

export function corpus(): Item[] {
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
