// Maps pinned by name against the kernel: a load pins `__uint(pinning, LIBBPF_PIN_BY_NAME)` maps under the
// pin root, a second load reuses the pinned map (same kernel id, contents kept), a map of another shape is
// refused naming the difference, a failed load takes back the pins it made, `pin`/`unpin` by hand.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readObject } from '../../../src/elf/index.js';
import * as k from '../../../src/kernel/index.js';
import { kernelOracle } from '../../support/kernel.js';
import { leftovers } from '../attach/support.js';

const oracle = kernelOracle();
const fixture = (n: string) => new URL(`../../fixtures/kernel-tools/${n}`, import.meta.url).pathname;
const PINNED = fixture('pinned.o');
const BIGGER = fixture('pinned_bigger.o');
const ROOT = `/sys/fs/bpf/tsbpf-pinning-test-${process.pid}`;
const PIN = `${ROOT}/tsbpf_pin_counts`;
const KEY = new Uint8Array([1, 0, 0, 0]);
const frame = new Uint8Array(64);

/** The kernel's view of a pinned map (bpftool), or undefined when there is none. */
function bpftoolMap(args: string[]): { id: number; max_entries: number } | undefined {
  try {
    return JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', ...args], { stdio: 'pipe' }).toString());
  } catch {
    return undefined;
  }
}
const count = (obj: k.KernelObject) => {
  const v = obj.map('tsbpf_pin_counts').lookup(KEY);
  return v ? new DataView(v.buffer).getBigUint64(0, true) : undefined;
};

describe.skipIf(!oracle)('maps pinned by name', () => {
  beforeAll(() => mkdirSync(ROOT, { recursive: true }));
  afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

  it('pins at <root>/<name>, and a second load reuses the map with its contents', () => {
    const a = k.loadKernelObject(PINNED, { pinRoot: ROOT });
    let id: number;
    try {
      const m = a.map('tsbpf_pin_counts');
      expect(m.pinnedPath).toBe(PIN);
      expect(m.reused).toBe(false);
      id = k.mapInfo(m.fd).id;
      expect(bpftoolMap(['pinned', PIN])?.id).toBe(id);
      for (let i = 0; i < 3; i++) a.program().run({ dataIn: frame });
      expect(count(a)).toBe(3n);
    } finally {
      a.close();
    }
    // The pin keeps the map alive after the object is closed.
    expect(bpftoolMap(['id', String(id)])?.id).toBe(id);
    const b = k.loadKernelObject(PINNED, { pinRoot: ROOT });
    try {
      const m = b.map('tsbpf_pin_counts');
      expect(m.reused).toBe(true);
      expect(k.mapInfo(m.fd).id).toBe(id);
      expect(count(b)).toBe(3n);
      for (let i = 0; i < 2; i++) b.program().run({ dataIn: frame });
      expect(count(b)).toBe(5n);
    } finally {
      b.close();
    }
  });

  it('refuses a pinned map of another shape, naming the difference, and leaves the pin alone', () => {
    const before = bpftoolMap(['pinned', PIN]);
    expect(before).toBeDefined();
    expect(() => k.loadKernelObject(BIGGER, { pinRoot: ROOT })).toThrow(
      `map tsbpf_pin_counts: the map pinned at ${PIN} cannot be reused: max_entries 16 where the object's map has 32`,
    );
    expect(bpftoolMap(['pinned', PIN])?.id).toBe(before!.id);
  });

  it('a pin that is not a map is refused by path', () => {
    const root = `${ROOT}/prog-root`;
    mkdirSync(root);
    // a root that does not exist yet is made, as libbpf makes it
    const obj = k.loadKernelObject(PINNED, { pinRoot: `${ROOT}/other/deeper` });
    try {
      expect(existsSync(`${ROOT}/other/deeper/tsbpf_pin_counts`)).toBe(true);
      obj.program().pin(`${root}/tsbpf_pin_counts`);
      expect(() => k.loadKernelObject(PINNED, { pinRoot: root })).toThrow(
        `${root}/tsbpf_pin_counts is pinned but is not a map`,
      );
    } finally {
      obj.close();
    }
  });

  it('a load that fails removes the pins it made, not those it reused', () => {
    const root = `${ROOT}/failing`;
    mkdirSync(root);
    const spec = readObject(readFileSync(PINNED), { file: PINNED });
    // `exit` with r0 never written: the kernel's verifier refuses it, after the maps exist.
    spec.programs[0]!.insns = [{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
    expect(() => k.loadKernelObject(spec, { pinRoot: root })).toThrow(k.VerifierRejectedError);
    expect(existsSync(`${root}/tsbpf_pin_counts`)).toBe(false);
    expect(() => k.loadKernelObject(spec, { pinRoot: ROOT })).toThrow(k.VerifierRejectedError);
    expect(existsSync(PIN)).toBe(true);
  });

  it('unpin removes the pin; the map then lives only while open', async () => {
    const obj = k.loadKernelObject(PINNED, { pinRoot: ROOT });
    const m = obj.map('tsbpf_pin_counts');
    const id = k.mapInfo(m.fd).id;
    m.unpin();
    expect(existsSync(PIN)).toBe(false);
    expect(m.pinnedPath).toBeUndefined();
    expect(() => m.unpin()).toThrow('map tsbpf_pin_counts is not pinned');
    expect(count(obj)).toBe(5n);
    // pin by hand at another path, unpin again
    const other = `${ROOT}/by-hand`;
    m.pin(other);
    expect(bpftoolMap(['pinned', other])?.id).toBe(id);
    m.unpin();
    expect(existsSync(other)).toBe(false);
    obj.close();
    expect(await leftovers({ prog: [], map: [id], link: [] })).toEqual([]);
  });

  it('refuses a map name that is not a file name', () => {
    expect(() => k.pinPath('/sys/fs/bpf', '../x')).toThrow(
      "map '../x': cannot pin by name (not a file name)",
    );
    expect(k.pinPath(undefined, 'counts')).toBe('/sys/fs/bpf/counts');
  });
});
