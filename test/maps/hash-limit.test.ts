// Hash maps are charged at their largest when created, as the kernel preallocates them (src/maps/cost.ts);
// under Node a user-space loadCollection takes the machine's map memory limit (a quarter of its memory,
// within the 1 GiB address space: src/node/userspace-defaults.ts), as loadObject and the CLI do, so two
// hashes of 10240 16-KiB values (320 MiB, bcc blkalgn) load as they do in the kernel. The core default
// (256 MiB, for browsers) still refuses them, naming the limit and the option that raises it.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../src/node/root.js';
import { kernelLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const FILE = 'a_big_hashes.o';
const MiB = 1024 * 1024;
const spec = () =>
  readObject(new Uint8Array(readFileSync(new URL(`../fixtures/rodata/${FILE}`, import.meta.url))), {
    file: FILE,
  });

describe('map memory of large hashes', () => {
  it(`${FILE}: 320 MiB of hashes load under Node's default limit, as in the kernel`, () => {
    const obj = loadCollection(spec());
    try {
      const space = obj.runtime.space;
      expect(space.mapMemoryLimit).toBe(Math.min(Math.floor(totalmem() / 4), space.maxBytes));
      // Both charged in full (over 320 MiB), though nothing is allocated for their elements yet.
      expect(space.mapMemoryCharged).toBeGreaterThan(320 * MiB);
      expect(obj.map('first').lookup(new Uint8Array(4))).toBeUndefined();
    } finally {
      obj.close();
    }
    if (!kernelOracle()) return;
    const k = kernelLoad(`../rodata/${FILE}`);
    try {
      expect([...k.verdicts.values()][0]?.verdict).toBe('accept');
    } finally {
      k.release();
    }
  });

  it('the core default (256 MiB) or a limit given by the caller still refuses them, naming the option', () => {
    expect(() => loadCollection(spec(), { runtimeOptions: { mapMemoryLimit: 256 * MiB } })).toThrow(
      /map 'second': a hash of 10240 entries needs 160\.\d MiB, over the map memory limit of 256\.0 MiB \(160\.\d MiB charged to other maps\); raise RuntimeOptions\.mapMemoryLimit/,
    );
  });
});
