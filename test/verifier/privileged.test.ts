// Loads are privileged, as the kernel's for root (src/verifier/privileged.ts): a program that reads stack
// it never wrote (corpus tc_flows_uninit: a map key with its ports unset) is accepted by the loaders as
// BPF_PROG_LOAD accepts it, with the strict rule's note as a warning; an unprivileged verification still
// refuses it. At run time the unset bytes are what the stack frame held: zeros in a new runtime, the same
// on both engines.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { rawKeys } from '../../src/maps/typed.js';
import { verify } from '../../src/verifier/index.js';
import { verifyPrivileged } from '../../src/verifier/privileged.js';
import { Runtime } from '../../src/vm/runtime.js';
import { PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/corpus/tc_flows_uninit.o';
const spec = () => readObject(readFileSync(FILE), { file: FILE });
const program = () => spec().programs.find((p) => p.name === 'count_flows')!;

describe('uninitialised stack reads under a privileged load', () => {
  it('the loader accepts tc_flows_uninit with a warning naming the read', () => {
    const obj = loadObject(spec(), { programs: ['count_flows'] });
    try {
      const r = obj.program('count_flows').verified!;
      expect(r.accepted).toBe(true);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings![0]).toMatch(/never written \(uninitialised stack\).*privileged/);
      expect(r.log).toMatch(/^warning: /);
    } finally {
      obj.close();
    }
  });

  it('unprivileged, or with the strict rule asked for, it is refused (uninit_stack)', () => {
    const maps = spec().maps;
    for (const opts of [{ unprivileged: true }, { allowUninitStack: false }]) {
      const r = verifyPrivileged(program(), { maps, ...opts });
      expect(r.accepted).toBe(false);
      expect(r.diagnostics[0]!.kind).toBe('uninit_stack');
    }
    // verify() itself keeps its strict default; a program with no such read gets no warning.
    expect(verify(program(), { maps }).accepted).toBe(false);
    const clean = readObject(readFileSync('test/fixtures/tc/nat.o'));
    expect(verifyPrivileged(clean.programs[0]!, { maps: clean.maps }).warnings).toBeUndefined();
  });

  it('the unset bytes read as the stack held them: zeros in a new runtime, on both engines', () => {
    const packet = PACKETS.find((p) => p.length >= 60 && p[12] === 8 && p[13] === 0)!;
    const keys = (['interp', 'jit'] as const).map((engine) => {
      const obj = loadObject(spec(), { programs: ['count_flows'], engine });
      try {
        testRun(obj.program('count_flows').runner(engine), { dataIn: packet });
        return [...rawKeys(obj.map('flows'))].map((k) => Buffer.from(k).toString('hex'));
      } finally {
        obj.close();
      }
    });
    expect(keys[0]).toHaveLength(1);
    expect(keys[1]).toEqual(keys[0]);
    // saddr, daddr from the packet; sport and dport (never written) 0; proto.
    const ip = packet.subarray(14);
    const want = `${Buffer.from(ip.subarray(12, 20)).toString('hex')}00000000${ip[9]!.toString(16).padStart(2, '0')}000000`;
    expect(keys[0]![0]).toBe(want);
  });

  it('never another run’s bytes: after a program filled the stack with 0xff, still zeros (runs and batches)', () => {
    const packet = PACKETS.find((p) => p.length >= 60 && p[12] === 8 && p[13] === 0)!;
    // 64 stores of all ones over the 512-byte frame, in the same runtime.
    const fill = [
      'r1 = -1',
      ...Array.from({ length: 64 }, (_, i) => `*(u64 *)(r10 - ${8 * (i + 1)}) = r1`),
      'r0 = 0',
      'exit',
    ].join('\n');
    for (const engine of ['interp', 'jit'] as const) {
      const runtime = new Runtime();
      const dirty = runtime.prepare({
        name: 'fill',
        section: 'tc',
        type: 'sched_cls',
        insns: assemble(fill),
        license: 'GPL',
      });
      const filler = createRunner(runtime, dirty, { engine, checked: false });
      const obj = loadObject(spec(), { programs: ['count_flows'], engine, runtime });
      try {
        for (const repeat of [1, 3]) {
          testRun(filler, { dataIn: packet });
          testRun(obj.program('count_flows').runner(engine), { dataIn: packet, repeat });
          const keys = [...rawKeys(obj.map('flows'))].map((k) => Buffer.from(k).toString('hex'));
          expect(keys, `${engine}, repeat ${repeat}`).toHaveLength(1);
          expect(keys[0]!.slice(16, 24), `${engine}, repeat ${repeat}: the ports`).toBe('00000000');
        }
      } finally {
        obj.close();
      }
    }
  });

  it.skipIf(!oracle)('the kernel loads it (BPF_PROG_LOAD, privileged), as we do', async () => {
    const kernel = await import('../../src/kernel/index.js');
    const obj = kernel.loadKernelObject(spec(), { programs: ['count_flows'] });
    obj.close();
  });
});
