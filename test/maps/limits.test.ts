// The kernel's creation limits against ours: huge max_entries, key and value sizes and their products, for
// every map type the registry has. Each spec goes to the kernel through bpf(BPF_MAP_CREATE) (src/kernel)
// and to createMap; the errno must be the same. Only specs the kernel refuses at once, or that are far
// beyond any machine's memory (its vmalloc refuses a size over the RAM without trying), are sent: specs the
// kernel would really allocate (an array of 0xffffffff u64 = 32 GiB fits some machines) are tested on our
// side only (test/maps/memory.test.ts).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMap, Errno, type MapSpec, mapTypeByName } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { kernelOracle } from '../support/kernel.js';
import { possibleCpus } from './bpftool.js';

const oracle = kernelOracle();
const cpus = oracle ? possibleCpus() : 1;
/** The kernel's NR_CPUS (kernel_max is its highest CPU number): what a CPUMAP may hold. */
const nrCpus = oracle ? Number(readFileSync('/sys/devices/system/cpu/kernel_max', 'utf8')) + 1 : 8192;

const KMALLOC_MAX = 4 * 1024 * 1024;
const NO_PREALLOC = 1;
const NO_COMMON_LRU = 2;

type Case = [type: string, key: number, value: number, entries: number, flags?: number];

const CASES: Case[] = [
  // Hash maps: more than 2^27 entries would need a bucket array of 4 GiB or more (E2BIG).
  ['hash', 4, 4, 0xffffffff],
  ['hash', 4, 4, 0x80000000],
  ['hash', 4, 4, 2 ** 27 + 1],
  ['hash', 4, 4, 0xffffffff, NO_PREALLOC],
  ['hash', 4, 4, 2 ** 27 + 1, NO_PREALLOC],
  ['percpu_hash', 4, 8, 0xffffffff],
  ['percpu_hash', 4, 8, 2 ** 27 + 1],
  ['lru_hash', 4, 8, 0xffffffff],
  ['lru_hash', 4, 8, 2 ** 27 + 1],
  ['lru_hash', 4, 8, 0xffffffff, NO_COMMON_LRU],
  ['lru_hash', 4, 8, 2 ** 27 + 1, NO_COMMON_LRU],
  ['lru_percpu_hash', 4, 8, 0xffffffff],
  ['hash_of_maps', 4, 4, 0xffffffff],
  ['hash_of_maps', 4, 4, 2 ** 27 + 1],
  // Key + value just under and at KMALLOC_MAX_SIZE - sizeof(struct htab_elem).
  ['hash', 4, KMALLOC_MAX - 48 - 5, 1],
  ['hash', 4, KMALLOC_MAX - 48 - 4, 1],
  ['lru_hash', 4, KMALLOC_MAX - 48 - 4, 1],
  ['percpu_hash', 4, 32768, 1],
  ['percpu_hash', 4, 32769, 1],
  // Millions of entries of megabyte values: far beyond memory (ENOMEM).
  ['hash', 4, KMALLOC_MAX - 64, 2 ** 20],
  ['lru_hash', 4, KMALLOC_MAX - 64, 2 ** 20],
  ['array', 4, 2 ** 20, 2 ** 24],
  ['array', 4, 0x7fffffff, 0xffffffff],
  ['queue', 0, 2 ** 20, 2 ** 24],
  ['stack', 0, KMALLOC_MAX, 0xffffffff],
  // Array values up to INT_MAX (E2BIG past it); an 8 MiB value is fine.
  ['array', 4, 8 * 1024 * 1024, 1],
  ['array', 4, 0x80000000, 1],
  ['array', 4, 0xffffffff, 1],
  ['percpu_array', 4, 32768, 1],
  ['percpu_array', 4, 32769, 1],
  ['percpu_array', 4, 0x80000000, 1],
  // LPM values up to KMALLOC_MAX_SIZE - 256 - 24 (EINVAL past it), whatever the key size.
  ['lpm_trie', 8, KMALLOC_MAX - 280, 1, NO_PREALLOC],
  ['lpm_trie', 8, KMALLOC_MAX - 279, 1, NO_PREALLOC],
  ['lpm_trie', 260, KMALLOC_MAX - 280, 1, NO_PREALLOC],
  ['lpm_trie', 260, KMALLOC_MAX - 279, 1, NO_PREALLOC],
  // Queue and stack values up to KMALLOC_MAX_SIZE (E2BIG past it).
  ['queue', 0, KMALLOC_MAX, 1],
  ['queue', 0, KMALLOC_MAX + 1, 1],
  ['stack', 0, KMALLOC_MAX + 1, 0xffffffff],
  // Ring buffers: a power of two and a page multiple, whatever the size.
  ['ringbuf', 0, 0, 3 * 4096],
  ['ringbuf', 0, 0, 0x80000001],
  ['ringbuf', 0, 0, 0xffffffff],
  ['ringbuf', 0, 0, 0xfffff000],
  // Redirect maps: a CPUMAP holds at most NR_CPUS, a DEVMAP_HASH at most 2^31 entries.
  ['cpumap', 4, 4, nrCpus],
  ['cpumap', 4, 4, nrCpus + 1],
  ['cpumap', 4, 4, 0xffffffff],
  ['devmap_hash', 4, 4, 2 ** 31 + 1],
  ['devmap_hash', 4, 8, 0xffffffff],
  // Reference arrays and redirect arrays check their value size before their size.
  ['prog_array', 4, 8, 0xffffffff],
  ['perf_event_array', 4, 8, 0xffffffff],
  ['array_of_maps', 4, 8, 0xffffffff],
  ['devmap', 4, 12, 0xffffffff],
  ['xskmap', 4, 8, 0xffffffff],
];

/**
 * Specs the kernel accepts because it allocates their elements one by one (an LPM trie's nodes); here
 * every map is charged at its largest when it is created, so they fail with ENOMEM (the address space
 * could never hold them).
 */
const CHARGED_AT_CREATION: Case[] = [
  ['lpm_trie', 8, 8, 0xffffffff, NO_PREALLOC],
  ['lpm_trie', 20, 64, 2 ** 24, NO_PREALLOC],
];

function specOf([type, key, value, entries, flags = 0]: Case): MapSpec {
  const info = mapTypeByName(type);
  if (!info) throw new Error(`no map type ${type}`);
  const spec: MapSpec = {
    name: 'limits',
    type: info.type,
    keySize: key,
    valueSize: value,
    maxEntries: entries,
    flags,
  };
  if (type.endsWith('_of_maps'))
    spec.innerMap = { ...spec, name: 'inner', type: 2, valueSize: 4, maxEntries: 1, flags: 0 };
  return spec;
}

function describeCase(c: Case): string {
  const [type, key, value, entries, flags = 0] = c;
  return `${type} key ${key} value ${value} max_entries 0x${entries.toString(16)} flags ${flags}`;
}

/** Our errno for a spec (0 when created), and how long createMap took. */
function ours(c: Case): { errno: number; ms: number } {
  const space = new AddressSpace(1 << 20);
  const t0 = performance.now();
  try {
    createMap(space, specOf(c), { cpus, nrCpus }).close();
    return { errno: 0, ms: performance.now() - t0 };
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === undefined) throw e;
    return { errno, ms: performance.now() - t0 };
  }
}

describe.skipIf(!oracle)('map creation limits against the kernel', () => {
  async function kernel(c: Case): Promise<number> {
    const { mapCreate, close } = await import('../../src/kernel/syscall.js');
    const spec = specOf(c);
    let inner = 0;
    try {
      if (spec.innerMap) inner = mapCreate({ ...spec.innerMap, name: 'tsbpf_inner' });
      close(mapCreate({ ...spec, name: 'tsbpf_limits', innerMapFd: inner }));
      return 0;
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === undefined) throw e;
      return errno;
    } finally {
      if (inner) close(inner);
    }
  }

  it('gives the errno the kernel gives, for every map type, at once', async () => {
    const rows: string[] = [];
    for (const c of CASES) {
      const k = await kernel(c);
      const o = ours(c);
      rows.push(`${describeCase(c)}: kernel ${k} ours ${o.errno} (${o.ms.toFixed(1)} ms)`);
      expect(o.errno, rows[rows.length - 1]).toBe(k);
      // Refused or not, nothing large is allocated: the checks and the charge come first.
      expect(o.ms, rows[rows.length - 1]).toBeLessThan(250);
    }
  });

  it('charges maps the kernel allocates per element at their largest (ENOMEM where the kernel accepts)', async () => {
    for (const c of CHARGED_AT_CREATION) {
      expect(await kernel(c), describeCase(c)).toBe(0);
      expect(ours(c).errno, describeCase(c)).toBe(Errno.ENOMEM);
    }
  });
});
