// Soundness fuzzing: mutants of the generated and hand-made programs that the verifier accepts must run
// in the checked interpreter on random packets and map contents without a single out-of-bounds access,
// and must terminate (the checked run has an instruction budget).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { RuntimeFault } from '../../src/errors.js';
import type { Insn } from '../../src/isa/index.js';
import { createMap } from '../../src/maps/registry.js';
import { verify } from '../../src/verifier/index.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';
import { generate } from '../support/gen.js';
import { CASES } from './corpus.js';
import { mutate, Rand } from './mutate.js';
import { TEST_MAPS, testHelpers } from './support.js';

const XDP_MD_SIZE = 24;
const HEADROOM = 256;

describe('soundness fuzzing', () => {
  it('programs the verifier accepts never fault in the checked interpreter', { timeout: 300_000 }, () => {
    const rt = new Runtime();
    const maps = TEST_MAPS.map((m) => createMap(rt.space, m));
    const rnd = new Rand(4242);
    const bases: Insn[][] = CASES.filter((c) => c.type === 'xdp').map((c) => assemble(c.asm));
    for (let s = 0; s < 30; s++) bases.push(generate(9100 + s, { size: 30, depth: 3 }).insns);
    let tried = 0;
    let accepted = 0;
    let runs = 0;
    const faults: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (const base of bases) {
        const insns = round === 0 ? base : mutate(base, rnd).insns;
        tried++;
        const r = verify(
          { insns, type: 'xdp' },
          { maps: TEST_MAPS, helpers: testHelpers, logLevel: 0, maxInsns: 50_000 },
        );
        if (!r.accepted) continue;
        accepted++;
        let prepared: ReturnType<Runtime['prepare']>;
        try {
          prepared = rt.prepare(insns, maps);
        } catch (e) {
          faults.push(`prepare failed: ${(e as Error).message}`);
          continue;
        }
        for (let k = 0; k < 3; k++) {
          const len = rnd.int(3) === 0 ? rnd.int(16) : 14 + rnd.int(200);
          const packet = rt.space.allocate(HEADROOM + len, 'packet', 'packet');
          const ctx = rt.space.allocate(XDP_MD_SIZE, 'ctx', 'xdp_md', false);
          try {
            const bytes = new Uint8Array(len).map(() => rnd.int(256));
            // The packet region as the XDP hook lays it out: headroom before data, start..end = the frame.
            packet.start = packet.base + HEADROOM;
            packet.end = packet.start + len;
            rt.space.write(packet.start, bytes);
            rt.space.view.setUint32(ctx.start, packet.start, true);
            rt.space.view.setUint32(ctx.start + 4, packet.end, true);
            rt.space.view.setUint32(ctx.start + 8, packet.start, true);
            rt.space.view.setUint32(ctx.start + 12, rnd.next(), true);
            runs++;
            new Interpreter(rt).run(prepared, {
              args: [ctx.start],
              budget: 2_000_000,
              invocation: { ctx: ctx.start, programType: 'xdp', packet },
            });
          } catch (e) {
            if (e instanceof RuntimeFault)
              faults.push(`${e.message}\n${insns.length} slots, accepted by the verifier`);
            else throw e;
          } finally {
            rt.space.release(ctx);
            rt.space.release(packet);
          }
        }
      }
    }
    console.log(
      `soundness fuzz: ${tried} programs tried, ${accepted} accepted by the verifier, ${runs} checked runs, ${faults.length} faults`,
    );
    expect(faults.slice(0, 5), faults.slice(0, 5).join('\n\n')).toEqual([]);
    expect(accepted).toBeGreaterThan(50);
  });
});
