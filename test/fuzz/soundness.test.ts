// Soundness: every program the verifier accepts runs in checked mode — every access validated against
// what the run was given (src/vm/sandbox.ts) — on both engines, many times, on random packets and random
// map contents, without a single fault. A checked-mode fault in a verified program is a verifier soundness
// bug. Programs: the generated programs of test/support/gen.ts, the hand-made XDP cases of the verifier's
// corpus and the compiled XDP examples, each as it is and as mutants (test/verifier/mutate.ts: one slip per
// mutant — an offset, an immediate, a condition, a register, a size — the kind that makes a safe program
// unsafe).

import { readFileSync } from 'node:fs';
import { assemble, disassemble } from '../../src/asm/index.js';
import { readObject } from '../../src/elf/index.js';
import { createRunner, ENGINES } from '../../src/engine/runner.js';
import { InvalidBytecodeError, RunLimitError, RuntimeFault } from '../../src/errors.js';
import { XDP_MAX_PACKET } from '../../src/hooks/xdp.js';
import { XdpBatch } from '../../src/hooks/xdp-batch.js';
import type { Insn } from '../../src/isa/index.js';
import { createMap } from '../../src/maps/registry.js';
import type { BpfMap } from '../../src/maps/types.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { verify } from '../../src/verifier/index.js';
import type { PreparedProgram } from '../../src/vm/program.js';
import { Runtime } from '../../src/vm/runtime.js';
import { generate } from '../support/gen.js';
import { CASES } from '../verifier/corpus.js';
import { mutate, Rand } from '../verifier/mutate.js';
import { TEST_MAPS } from '../verifier/support.js';
import { check, describeThrown, FuzzFailure, fuzzTarget, printNow, type Rng } from './harness.js';

interface Base {
  name: string;
  insns: Insn[];
  maps: MapSpec[];
}

const EXAMPLES = [
  'udp_drop',
  'proto_count',
  'src_limit',
  'lpm_block',
  'vlan_pop',
  'ipv6_exthdr',
  'bpf_calls',
  'tail_call',
  'syn_events',
];

const CORPUS_BASES: Base[] = [
  ...CASES.filter((c) => c.type === 'xdp').map((c) => ({
    name: `corpus ${c.name}`,
    insns: assemble(c.asm),
    maps: TEST_MAPS,
  })),
];
const EXAMPLE_BASES: Base[] = [
  ...EXAMPLES.flatMap((name) => {
    const obj = readObject(new Uint8Array(readFileSync(`examples/xdp/${name}.o`)), { file: `${name}.o` });
    return obj.programs
      .filter((p) => p.type === 'xdp')
      .map((p) => ({ name: `example ${name}.o ${p.name}`, insns: p.insns, maps: obj.maps }));
  }),
];

/** Random contents: initial values where the object has them, random keys near 0 and random values. */
function fill(r: Rng, base: Base, made: BpfMap[]): void {
  made.forEach((m, i) => {
    const spec = base.maps[i]!;
    if (
      spec.type === MapType.RINGBUF ||
      spec.type === MapType.PERF_EVENT_ARRAY ||
      spec.type === MapType.PROG_ARRAY
    )
      return;
    if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS || spec.valueSize === 0)
      return;
    const bytes = (n: number) => new Uint8Array(n).map(() => (r.chance(0.5) ? r.int(4) : r.int(256)));
    for (const c of spec.contents ?? []) if (r.chance(0.8)) tryUpdate(m, c.key, c.value);
    for (let k = 0; k < 1 + r.int(6); k++) {
      const key = bytes(spec.keySize);
      if (r.chance(0.6)) key.fill(0, 1); // small keys: what programs look up
      tryUpdate(m, key, bytes(spec.valueSize));
    }
  });
}

function tryUpdate(m: BpfMap, key: Uint8Array, value: Uint8Array): void {
  try {
    m.update(key, value);
  } catch {
    // A full map, a key an LPM trie or an array refuses: the contents are random anyway.
  }
}

function packet(r: Rng): Uint8Array {
  const len = r.chance(0.2) ? r.int(20) : r.chance(0.8) ? 14 + r.int(120) : r.int(XDP_MAX_PACKET + 1);
  const p = new Uint8Array(len).map(() => r.int(256));
  // Often a plausible Ethernet/IPv4 or IPv6 header, so parsing programs get past their first checks.
  if (len >= 14 && r.chance(0.6)) {
    const v6 = r.chance(0.3);
    p[12] = v6 ? 0x86 : 0x08;
    p[13] = v6 ? 0xdd : 0x00;
    if (len > 14) p[14] = v6 ? 0x60 : 0x45;
    if (len > 23 && !v6) p[23] = r.pick([6, 17, 1, 58, 47]);
    if (len > 20 && v6) p[20] = r.pick([6, 17, 58, 0, 43, 44, 60]);
  }
  return p;
}

fuzzTarget(
  'soundness',
  {
    seconds: 8,
    cpuMsPerInput: 10_000,
    after: (counts, n) => {
      check((counts.accepted ?? 0) > n / 20, `only ${counts.accepted} of ${n} programs accepted`);
      check((counts['checked runs'] ?? 0) > 0, 'no checked run');
    },
  },
  ({ r, index, verbose, count }) => {
    // Examples are few but rich (parsers, maps, calls): a third of the draws.
    const pool = r.chance(0.3) ? EXAMPLE_BASES : CORPUS_BASES;
    const base = pool[r.int(pool.length)]!;
    const fresh = base.name.startsWith('corpus') ? r.chance(0.1) : r.chance(0.2);
    const generated = r.chance(0.25);
    const source = generated ? `generated program ${index}` : base.name;
    let insns = generated ? generate(r.u32(), { size: 10 + r.int(40), depth: 3 }).insns : base.insns;
    const specs = generated ? [] : base.maps;
    let what = 'as it is';
    if (!fresh) {
      // One to three slips (mutate takes its own generator; seeded from ours).
      const rand = new Rand(r.u32() | 1);
      const slips: string[] = [];
      for (let k = 0; k <= r.int(3); k++) {
        const m = mutate(insns, rand);
        insns = m.insns;
        slips.push(m.what);
      }
      what = slips.join('; ');
    }
    count('programs');
    const verdict = verify({ insns, type: 'xdp' }, { maps: specs, logLevel: 0, maxInsns: 200_000 });
    const kind = generated ? 'generated' : base.name.split(' ')[0]!;
    count(`${kind} ${fresh ? 'as is' : 'mutants'}`);
    if (!verdict.accepted) return;
    count('accepted');
    count(`accepted ${kind} ${fresh ? 'as is' : 'mutants'}`);
    const listing = () =>
      `${source} (${what}):\n${disassemble(insns)
        .map((l, i) => `  ${i}: ${l}`)
        .join('\n')}`;
    if (verbose) printNow(listing());
    // A fresh runtime and maps per program: what an iteration meets depends on its seed alone.
    const runtime = new Runtime({ space: new AddressSpace(4 * 1024 * 1024) });
    const made = specs.map((s) => createMap(runtime.space, s));
    fill(r, { ...base, maps: specs }, made);
    let prog: PreparedProgram;
    try {
      // Verified: an instruction no engine runs in code no path reaches becomes a trap, as loadObject does
      // (seed 0x5eed iteration 5505: `w10 <<= 2` behind a branch never taken; bpftool loads it too). A
      // trap that runs is a fault below: a soundness failure.
      prog = runtime.prepare({ name: 'fuzz', section: 'xdp', type: 'xdp', insns, license: 'GPL' }, made, {
        trapInvalid: true,
      });
    } catch (e) {
      // Which kind: an instruction the verifier simulated (its bug), or one no path reaches (the kernel
      // loads those too: it never looks at them; Runtime.prepare checks every slot).
      const pc = e instanceof InvalidBytecodeError ? e.index : -1;
      const trace = verify({ insns, type: 'xdp' }, { maps: specs, logLevel: 2, maxInsns: 200_000 }).log;
      const reached = trace.split('\n').some((l) => l.startsWith(`${pc}: `));
      throw new FuzzFailure(
        `the verifier accepts what the runtime refuses to load${reached ? '' : ' (in code no path reaches)'}: ${describeThrown(e)}\n${listing()}`,
      );
    }
    for (const engine of ENGINES) {
      const batch = new XdpBatch(
        createRunner(runtime, prog, { engine, checked: true, budget: 2_000_000 }),
        4,
      );
      try {
        for (let round = 0; round < 3; round++) {
          const packets = Array.from({ length: 1 + r.int(4) }, () => packet(r));
          try {
            batch.run(packets);
            count('checked runs', packets.length);
          } catch (e) {
            if (e instanceof RunLimitError) {
              count('budget exhausted');
              continue;
            }
            if (e instanceof RuntimeFault) {
              throw new Error(
                `a verified program faulted in checked mode on the ${engine} engine: ${e.message}\n` +
                  `packets: ${packets.map((p) => Buffer.from(p).toString('hex')).join(' ')}\n${listing()}`,
              );
            }
            throw e;
          }
        }
      } finally {
        batch.close();
      }
    }
  },
);
