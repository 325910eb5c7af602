// Where a packet program runs, against the kernel: test/fixtures/helpers/netinfo.c's TC and XDP programs
// test-run by the kernel (BPF_PROG_TEST_RUN: a fresh socket, the loopback device) and on both engines, every
// stored value compared. The socket cookie is the kernel's global counter (compared as non-zero) and the
// namespace cookie this machine's (the model is given the kernel's, as a user would give theirs).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { DEFAULT_NET } from '../../src/helpers/route.js';
import { testRun } from '../../src/hooks/test-run.js';
import '../../src/kernel/register.js';
import type { BpfMap } from '../../src/collection/types.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/netinfo.o');
const PACKET = new Uint8Array(64).map((_, i) => (i < 12 ? 0x02 : i));

function values(m: BpfMap): number[] {
  return Array.from({ length: 22 }, (_, k) => {
    const v = m.lookup(new Uint8Array([k, 0, 0, 0]))!;
    return Number(new DataView(v.buffer, v.byteOffset).getBigInt64(0, true));
  });
}

function ours(engine: (typeof ENGINES)[number], netnsCookie = 1): number[] {
  const obj = loadObject(readObject(readFileSync(FIXTURE)), {
    runtimeOptions: { net: { ...DEFAULT_NET, netnsCookie } },
  });
  for (const p of ['ok_tc_info', 'ok_xdp_info']) testRun(obj.program(p).runner(engine), { dataIn: PACKET });
  return values(obj.map('out'));
}

describe('packet programs asking where they run', () => {
  it.each(ENGINES)('%s: the test run of a fresh socket on loopback', (engine) => {
    const o = ours(engine);
    expect(o.slice(0, 16)).toEqual([1, 0, 1, 1, 1, 1, 0, 0, 0, 65536, 1, 65536, 1, -22, -19, 0]);
    expect(o.slice(16)).toEqual([64, 0, 65536, 1, -22, -19]);
  });

  it.runIf(oracle)('the kernel stores the same values', () => {
    const k = loadCollection(readObject(readFileSync(FIXTURE)), { backend: 'kernel' });
    let kernel: number[];
    try {
      for (const p of ['ok_tc_info', 'ok_xdp_info']) k.program(p).run({ dataIn: PACKET });
      kernel = values(k.map('out'));
    } finally {
      k.close();
    }
    expect(kernel[0]).toBe(1);
    for (const engine of ENGINES) expect(ours(engine, kernel[2])).toEqual(kernel);
  });
});
