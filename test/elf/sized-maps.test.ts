// Maps an object leaves for its loader to size (issue 16): a perf event array declared without
// max_entries gets one slot per CPU from the loader itself, on either back end, as libbpf gives it.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import * as k from '../../src/kernel/index.js';
import { possibleCpus } from '../../src/kernel/object.js';
import { kernelOracle } from '../support/kernel.js';

const spec = () => {
  const s = readObject(new Uint8Array(readFileSync('test/fixtures/cli/sized_maps.o')), {
    file: 'sized_maps.o',
  });
  s.maps.find((m) => m.name === 'allowed')!.maxEntries = 8;
  return s;
};

describe('perf event arrays declared without max_entries', () => {
  it('user space: one slot per modelled CPU', () => {
    expect(spec().maps.find((m) => m.name === 'events')!.maxEntries).toBe(0);
    for (const cpus of [1, 3]) {
      const obj = loadObject(spec(), { runtimeOptions: { cpus } });
      expect(obj.map('events').spec.maxEntries).toBe(cpus);
    }
  });

  it.skipIf(!kernelOracle())('the kernel back end: one per possible CPU, as libbpf sizes it', () => {
    const obj = k.loadKernelObject(spec());
    try {
      expect(k.mapInfo(obj.map('events').fd).maxEntries).toBe(possibleCpus());
    } finally {
      obj.close();
    }
  });
});
