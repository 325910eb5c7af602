// Cgroup storage (src/maps/cgroup-storage.ts, bpf_get_local_storage in src/helpers/cgroup-storage.ts).
// Against the kernel: map creation (key, value and flag rules, errno for errno), and the clang-built
// cgroup_skb program `count` (test/fixtures/helpers2/cgroup.c) test-run with repeats — the shared and the
// per-CPU storage as the program leaves them, copied to an array — on both engines. In user space: the
// storage is the task's cgroup's, found by its id (8- or 16-byte key) once a program made it, updated in
// place, never deleted.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { testRun } from '../../src/hooks/test-run.js';
import { mapMemory } from '../../src/maps/cost.js';
import { createMap, type MapSpec, MapType } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/helpers2/cgroup.o';

const SPECS: [what: string, spec: Partial<MapSpec>][] = [
  ['16-byte key', {}],
  ['8-byte key', { keySize: 8 }],
  ['4-byte key', { keySize: 4 }],
  ['no value', { valueSize: 0 }],
  ['value 65407', { valueSize: 65407 }],
  ['value 65408', { valueSize: 65408 }],
  ['per-CPU value 32768', { type: MapType.PERCPU_CGROUP_STORAGE, valueSize: 32768 }],
  ['per-CPU value 32769', { type: MapType.PERCPU_CGROUP_STORAGE, valueSize: 32769 }],
  ['max_entries 1', { maxEntries: 1 }],
  ['NUMA node flag', { flags: 0x4 }],
  ['read-only for programs', { flags: 0x80 }],
  ['read- and write-only', { flags: 0x180 }],
  ['no-prealloc flag', { flags: 0x1 }],
];

const spec = (s: Partial<MapSpec>): MapSpec => ({
  name: 'cg',
  type: MapType.CGROUP_STORAGE,
  keySize: 16,
  valueSize: 16,
  maxEntries: 0,
  flags: 0,
  ...s,
});

function ourErrno(s: MapSpec): number {
  try {
    createMap(new AddressSpace(1 << 22), s, { cpus: 2 }).close();
    return 0;
  } catch (e) {
    return (e as { errno?: number }).errno ?? -1;
  }
}

describe('cgroup storage maps', () => {
  it.runIf(oracle)('are created and refused as the kernel creates and refuses them', async () => {
    const { mapCreate, close } = await import('../../src/kernel/syscall.js');
    const rows: string[] = [];
    for (const [what, s] of SPECS) {
      let kernel = 0;
      try {
        close(mapCreate({ ...spec(s), name: 'tsbpf_cg' }));
      } catch (e) {
        kernel = (e as { errno: number }).errno;
      }
      rows.push(`${what}: kernel ${kernel}, ours ${ourErrno(spec(s))}`);
    }
    expect(rows.filter((r) => !/kernel (\d+), ours \1$/.test(r))).toEqual([]);
    expect(rows.filter((r) => /kernel 0,/.test(r)).length).toBeGreaterThan(3);
  });

  it.runIf(oracle)('a test run with repeats leaves the storage as the kernel’s does', async () => {
    const { loadKernelObject } = await import('../../src/kernel/index.js');
    const packet = new Uint8Array(74);
    packet.set([8, 0], 12);
    packet.set([0x45, 0, 0, 60], 14);
    for (const repeat of [1, 7]) {
      const kobj = loadKernelObject(readObject(readFileSync(FILE)), { programs: ['count'] });
      try {
        const k = kobj.program('count').run({ dataIn: packet, repeat });
        const seen = (m: { lookup(k: Uint8Array): Uint8Array | undefined }) =>
          [0, 1, 2].map((i) => Buffer.from(m.lookup(new Uint8Array([i, 0, 0, 0]))!).toString('hex'));
        const want = seen(kobj.map('seen'));
        // The kernel's numbers: `repeat` packets of 74 bytes, 2 per packet in the per-CPU value.
        expect(want[0]).toBe(Buffer.from(new BigUint64Array([BigInt(repeat)]).buffer).toString('hex'));
        for (const engine of ['interp', 'jit'] as const) {
          const obj = loadObject(readObject(readFileSync(FILE)), { programs: ['count'] });
          const r = testRun(obj.program('count').runner(engine), { dataIn: packet, repeat });
          expect(r.retval, engine).toBe(k.retval);
          expect(seen(obj.map('seen')), `${engine}, repeat ${repeat}`).toEqual(want);
          obj.close();
        }
      } finally {
        kobj.close();
      }
    }
  });

  it('are charged for their storage, a value per CPU for the per-CPU type', () => {
    const space = new AddressSpace(1 << 22);
    const pcpu = spec({ type: MapType.PERCPU_CGROUP_STORAGE, valueSize: 4096 });
    const before = space.mapMemoryCharged;
    const m = createMap(space, pcpu, { cpus: 8 });
    expect(space.mapMemoryCharged - before).toBe(mapMemory(pcpu, 8));
    expect(mapMemory(pcpu, 8)).toBeGreaterThanOrEqual(8 * 4096);
    // The shared type holds one value whatever the CPUs.
    expect(mapMemory(spec({ valueSize: 4096 }), 8)).toBe(mapMemory(spec({ valueSize: 4096 }), 1));
    m.close();
  });

  it('hold the cgroup’s storage, found by its id, updated in place, never deleted', () => {
    const obj = loadObject(readObject(readFileSync(FILE)), { programs: ['count'] });
    const cg = obj.map('cg');
    const key = (id: bigint, size = 16) => {
      const k = new Uint8Array(size);
      new DataView(k.buffer).setBigUint64(0, id, true);
      return k;
    };
    // Before any run, no cgroup has the storage.
    expect(cg.lookup(key(1n))).toBeUndefined();
    expect(cg.nextKey(undefined)).toBeUndefined();
    const packet = new Uint8Array(54);
    packet.set([8, 0], 12);
    testRun(obj.program('count').runner('interp'), { dataIn: packet, repeat: 3 });
    // The root cgroup (id 1) of the default task: 3 packets of 40 bytes (cgroup_skb sees from the IP header).
    const v = cg.lookup(key(1n))!;
    expect(new DataView(v.buffer).getBigUint64(0, true)).toBe(3n);
    expect(new DataView(v.buffer).getBigUint64(8, true)).toBe(120n);
    expect(cg.lookup(key(2n))).toBeUndefined();
    expect(cg.nextKey(undefined)).toEqual(key(1n));
    expect(cg.nextKey(key(1n))).toBeUndefined();
    cg.update(key(1n), new Uint8Array(16).fill(1));
    testRun(obj.program('count').runner('jit'), { dataIn: packet });
    expect(new DataView(cg.lookup(key(1n))!.buffer).getBigUint64(0, true)).toBe(0x0101010101010102n);
    expect(() => cg.update(key(2n), new Uint8Array(16))).toThrow(/ENOENT|no such/i);
    expect(() => cg.delete(key(1n))).toThrow(/EINVAL|invalid/i);
    obj.close();
  });
});
