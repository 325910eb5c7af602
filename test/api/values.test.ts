// BTF `.values` slots filled by the one loader, the same on both back ends and as libbpf fills them.
// test/fixtures/elf/values.c has a program array (slots 0 and 2), an array of maps (slots 0 and 2) and a
// hash of maps (keys 1 and 5, one inner map shared with the array). The object is loaded with
// loadCollection into user space (run on the interpreter and on the JIT) and into the kernel, and by
// libbpf (bpftool prog loadall); every packet of a set that hits each slot, each empty slot and indices
// out of range gives the same retval and data_out everywhere — and what a model of values.c predicts, so
// slots left empty on every back end alike would still fail — and the maps read the same afterwards.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Collection,
  type LoadedObject,
  loadCollection,
  type RunResult,
} from '../../src/collection/index.js';
import { readObject } from '../../src/elf/index.js';
import '../../src/kernel/register.js';
import { type KernelObject, mapInfo, progInfo } from '../../src/kernel/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const OBJECT = new URL('../fixtures/elf/values.o', import.meta.url).pathname;
const spec = () => readObject(new Uint8Array(readFileSync(OBJECT)), { file: 'values.o' });

const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3 } as const;
// Offsets in the packet (values.c): the slot, the inner key, the mark, the addend, the inner value.
const SEL = 14;
const KEY = 15;
const MARK = 16;
const ADD = 17;
const VALUE = 20;

/** A 24-byte frame carrying the slot, the inner key and the addend (an EtherType for local experiments). */
function frame(sel: number, key = 0, add = 0): Uint8Array {
  const f = new Uint8Array(24);
  f.set([2, 0, 0, 0, 0, 0x0b, 2, 0, 0, 0, 0, 0x0a, 0x88, 0xb5]);
  f[SEL] = sel;
  f[KEY] = key;
  f[ADD] = add;
  return f;
}

interface Case {
  program: string;
  dataIn: Uint8Array;
}

/** Every slot, every empty slot, indices out of range, inner keys in and out of range; a short frame each. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const sel of [0, 1, 2, 3, 4, 255]) out.push({ program: 'dispatch', dataIn: frame(sel) });
  for (const sel of [0, 1, 2, 3, 4, 255])
    for (const key of [0, 3, 4])
      out.push({ program: 'lookup_array', dataIn: frame(sel, key, 1 + sel + 7 * key) });
  for (const sel of [0, 1, 2, 5, 7, 8, 255])
    for (const key of [0, 3, 4])
      out.push({ program: 'lookup_hash', dataIn: frame(sel, key, 2 + sel + 5 * key) });
  // Shared inner map: slot 0 of by_index and key 5 of by_key both add to inner_x[0].
  out.push(
    { program: 'lookup_array', dataIn: frame(0, 0, 9) },
    { program: 'lookup_hash', dataIn: frame(5, 0, 11) },
  );
  for (const program of ['dispatch', 'lookup_array', 'lookup_hash'])
    out.push({ program, dataIn: frame(0).subarray(0, 14) });
  return out;
}

/** What values.c does, as slots → targets say (the model the back ends are held to). */
interface State {
  hits: bigint[];
  inner: Record<string, number[]>;
}
const SLOTS = {
  jumps: { 0: 'prog_a', 2: 'prog_b' } as Record<number, string>,
  by_index: { 0: 'inner_x', 2: 'inner_y' } as Record<number, string>,
  by_key: { 1: 'inner_z', 5: 'inner_x' } as Record<number, string>,
};
const INNER = ['inner_x', 'inner_y', 'inner_z'];

function model(c: Case, s: State): { retval: number; dataOut: Uint8Array } {
  const p = c.dataIn.slice();
  if (p.length < VALUE + 4) return { retval: XDP.ABORTED, dataOut: p };
  if (c.program === 'dispatch') {
    const target = SLOTS.jumps[p[SEL]!];
    const path = target === 'prog_a' ? 0 : target === 'prog_b' ? 1 : 2;
    s.hits[path]!++;
    p[MARK] = [0xad, 0xbd, 0xff][path]!;
    return { retval: [XDP.DROP, XDP.TX, XDP.PASS][path]!, dataOut: p };
  }
  const byIndex = c.program === 'lookup_array';
  const inner = (byIndex ? SLOTS.by_index : SLOTS.by_key)[p[SEL]!];
  if (!inner) {
    s.hits[byIndex ? 4 : 6]!++;
    p[MARK] = byIndex ? 0xe4 : 0xe6;
    return { retval: XDP.DROP, dataOut: p };
  }
  const key = p[KEY]!;
  if (key >= 4) {
    s.hits[7]!++;
    p[MARK] = 0xe7;
    return { retval: XDP.PASS, dataOut: p };
  }
  const hit = byIndex ? 3 : 5;
  s.hits[hit]!++;
  const v = (s.inner[inner]![key]! + p[ADD]!) >>> 0;
  s.inner[inner]![key] = v;
  new DataView(p.buffer).setUint32(VALUE, v, true);
  p[MARK] = 0x10 + hit;
  return { retval: XDP.TX, dataOut: p };
}

type Outcome = { retval: number; dataOut: number[] };
const outcome = (r: { retval: number; dataOut: Uint8Array }): Outcome => ({
  retval: r.retval,
  dataOut: [...r.dataOut],
});

function expected(): { runs: Outcome[]; state: State } {
  const state: State = { hits: new Array(8).fill(0n), inner: {} };
  for (const n of INNER) state.inner[n] = [0, 0, 0, 0];
  return { runs: cases().map((c) => outcome(model(c, state))), state };
}

/** The data maps' contents as plain values: hits by path, each inner array's four values. */
function dataMaps(c: Collection): State {
  const state: State = { hits: [...c.typedMap<number, bigint>('hits').values()], inner: {} };
  for (const n of INNER) state.inner[n] = [...c.typedMap<number, number>(n).values()];
  return state;
}

/** Each reference map's occupied slots by the name of what they hold; `nameOf` reads a slot's u32. */
function slotsByName(
  c: Collection,
  nameOf: (map: string, ref: number) => string,
): Record<string, Record<number, string>> {
  const out: Record<string, Record<number, string>> = {};
  for (const map of Object.keys(SLOTS)) {
    const m = c.map(map);
    const slots: Record<number, string> = {};
    // Bounded: an array's keys are 0..max_entries-1, a hash holds at most max_entries.
    let key: Uint8Array | undefined;
    for (let i = 0; i <= m.spec.maxEntries; i++) {
      key = m.nextKey(key);
      if (!key) break;
      const ref = m.lookup(key);
      if (ref)
        slots[new DataView(key.buffer, key.byteOffset).getUint32(0, true)] = nameOf(
          map,
          new DataView(ref.buffer, ref.byteOffset).getUint32(0, true),
        );
    }
    out[map] = slots;
  }
  return out;
}

/** User space: a program-array slot holds the runtime's program id, a map-of-maps slot the inner map's address. */
function userspaceSlots(obj: LoadedObject): Record<string, Record<number, string>> {
  return slotsByName(obj, (map, ref) => {
    if (map === 'jumps')
      return [...obj.programs.values()].find((p) => p.id === ref)?.name ?? `program id ${ref}`;
    return [...obj.maps.values()].find((m) => m.addr === ref)?.spec.name ?? `map at ${ref}`;
  });
}

function runAll(run: (program: string, dataIn: Uint8Array) => RunResult): Outcome[] {
  return cases().map((c) => outcome(run(c.program, c.dataIn)));
}

describe('.values slots (test/fixtures/elf/values.o)', () => {
  it('user space fills the program array and both maps of maps: every run and map as values.c says, on both engines', () => {
    const want = expected();
    for (const engine of ['interp', 'jit'] as const) {
      const obj = loadCollection(spec(), { backend: 'userspace' });
      try {
        expect(userspaceSlots(obj), engine).toEqual(SLOTS);
        const runs = runAll((name, dataIn) => obj.program(name).run({ dataIn, engine }));
        expect(runs, engine).toEqual(want.runs);
        expect(dataMaps(obj), engine).toEqual(want.state);
      } finally {
        obj.close();
      }
    }
    // The model is not trivial: each slot, each empty slot and the out-of-range indices are visited.
    expect(want.state.hits.every((n) => n > 0n)).toBe(true);
    expect(want.state.inner.inner_x![0]).toBe(1 + 9 + 2 + 5 + 11);
  });

  it('a program left out of the load leaves its slot empty: the tail call falls through', () => {
    const obj = loadCollection(spec(), { backend: 'userspace', programs: ['dispatch', 'prog_a'] });
    try {
      expect(userspaceSlots(obj).jumps).toEqual({ 0: 'prog_a' });
      const run = (sel: number) => obj.program('dispatch').run({ dataIn: frame(sel) });
      expect([run(0).retval, run(0).dataOut[MARK]]).toEqual([XDP.DROP, 0xad]);
      expect([run(2).retval, run(2).dataOut[MARK]]).toEqual([XDP.PASS, 0xff]);
    } finally {
      obj.close();
    }
  });

  it.skipIf(!oracle)('the kernel back end fills the same slots: same runs, same maps as user space', () => {
    const want = expected();
    const ours = loadCollection(spec(), { backend: 'userspace' });
    const kernel = loadCollection(spec(), { backend: 'kernel' }) as KernelObject;
    try {
      // The kernel gives back program and map ids for a slot, whatever file descriptor was stored.
      const progIds = new Map([...kernel.programs].map(([name, p]) => [progInfo(p.fd).id, name]));
      const mapIds = new Map([...kernel.maps].map(([name, m]) => [mapInfo(m.fd).id, name]));
      const slots = slotsByName(
        kernel,
        (map, id) => (map === 'jumps' ? progIds : mapIds).get(id) ?? `id ${id}`,
      );
      expect(slots).toEqual(userspaceSlots(ours));
      expect(slots).toEqual(SLOTS);
      const runs = runAll((name, dataIn) => kernel.program(name).run({ dataIn }));
      expect(runs).toEqual(runAll((name, dataIn) => ours.program(name).run({ dataIn })));
      expect(runs).toEqual(want.runs);
      expect(dataMaps(kernel)).toEqual(dataMaps(ours));
      expect(dataMaps(kernel)).toEqual(want.state);
    } finally {
      kernel.close();
      ours.close();
    }
  });

  it.skipIf(!oracle)(
    'libbpf (bpftool prog loadall) fills the slots as our kernel loader does, with the same runs',
    () => {
      const want = expected();
      const dir = mkdtempSync(join(tmpdir(), 'tsbpf-values-'));
      const pins = `/sys/fs/bpf/tsbpf_values_${process.pid}`;
      const bpftool = (...args: string[]) => execFileSync('bpftool', args, { stdio: 'pipe' }).toString();
      const json = <T>(...args: string[]) => JSON.parse(bpftool('-j', ...args)) as T;
      try {
        mkdirSync(pins);
        bpftool('prog', 'loadall', OBJECT, `${pins}/progs`, 'pinmaps', `${pins}/maps`);
        const u32 = (bytes: string[]) =>
          new DataView(Uint8Array.from(bytes, (b) => Number.parseInt(b, 16)).buffer).getUint32(0, true);
        const u64 = (bytes: string[]) =>
          new DataView(Uint8Array.from(bytes, (b) => Number.parseInt(b, 16)).buffer).getBigUint64(0, true);
        const dump = (map: string) =>
          json<{ key: string[]; value: string[] }[]>('map', 'dump', 'pinned', `${pins}/maps/${map}`);
        const slots: Record<string, Record<number, string>> = {};
        for (const map of Object.keys(SLOTS)) {
          slots[map] = {};
          for (const e of dump(map)) {
            const kind = map === 'jumps' ? 'prog' : 'map';
            slots[map]![u32(e.key)] = json<{ name: string }>(kind, 'show', 'id', String(u32(e.value))).name;
          }
        }
        expect(slots).toEqual(SLOTS);

        const runs = cases().map((c, i) => {
          const input = join(dir, `in${i}`);
          const output = join(dir, `out${i}`);
          writeFileSync(input, c.dataIn);
          const text = bpftool(
            'prog',
            'run',
            'pinned',
            `${pins}/progs/${c.program}`,
            'data_in',
            input,
            'data_out',
            output,
          );
          const retval = /Return value: (\d+)/.exec(text);
          if (!retval) throw new Error(`bpftool prog run printed no return value: ${text}`);
          return { retval: Number(retval[1]), dataOut: [...readFileSync(output)] };
        });
        expect(runs).toEqual(want.runs);
        const state: State = { hits: dump('hits').map((e) => u64(e.value)), inner: {} };
        for (const n of INNER) state.inner[n] = dump(n).map((e) => u32(e.value));
        expect(state).toEqual(want.state);
      } finally {
        rmSync(pins, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
