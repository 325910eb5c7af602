// An object without a `license` section (test/fixtures/tc/no_license.c) loads as libbpf loads it, with an
// empty licence, which the kernel does not count as GPL-compatible: a program calling a GPL-only helper is
// refused by both back ends (ours naming the helper and the missing section), one calling none loads.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { VerifierError, verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/no_license.o';
const spec = () => readObject(readFileSync(FILE), { file: FILE });

/** Our loader's verdict on one program of the object: 'accept' or the error's message. */
function ours(name: string): string {
  try {
    loadObject(spec(), { programs: [name] }).close();
    return 'accept';
  } catch (e) {
    expect(e).toBeInstanceOf(VerifierError);
    return (e as Error).message;
  }
}

describe('an object without a license section', () => {
  it('reads as the empty licence', () => {
    expect(spec().license).toBe('');
    expect(spec().programs.every((p) => p.license === '')).toBe(true);
  });

  it('a GPL-only helper is refused, naming the helper and the missing section; other programs load', () => {
    expect(ours('printk_mark')).toMatch(
      /trace_printk \(#6\) may only be called by GPL-compatible programs.*no license section/,
    );
    expect(ours('plain_mark')).toBe('accept');
    // The same program under a GPL licence is accepted: only the licence differs.
    const p = spec().programs.find((x) => x.name === 'printk_mark')!;
    expect(verify({ ...p, license: 'GPL' }, { maps: spec().maps }).accepted).toBe(true);
    expect(verify({ ...p, license: 'Dual BSD/GPL' }, { maps: spec().maps }).accepted).toBe(true);
    expect(verify({ ...p, license: 'Proprietary' }, { maps: spec().maps }).diagnostics[0]!.kind).toBe(
      'gpl_only',
    );
  });

  it.skipIf(!oracle)(
    'the kernel back end sends the empty licence: the same verdicts (BPF_PROG_LOAD)',
    async () => {
      const kernel = await import('../../src/kernel/index.js');
      const load = (name: string) => {
        try {
          kernel.loadKernelObject(spec(), { programs: [name] }).close();
          return 'accept';
        } catch (e) {
          return (e as Error).message;
        }
      };
      expect(load('printk_mark')).toMatch(
        /cannot call GPL-restricted function from non-GPL compatible program/,
      );
      expect(load('plain_mark')).toBe('accept');
    },
  );
});
