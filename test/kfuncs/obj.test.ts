// bpf_obj_new / bpf_obj_drop in user space: a_obj_new.c (allocate a program-local struct, write and read its
// fields, drop it) and a_obj_kptr.c (stash each run's object in a map's __kptr field, read and drop the one
// it replaces) run on both engines and by the kernel's BPF_PROG_TEST_RUN with the same contexts: return
// values and contexts are the kernel's, and the objects left are the ones the map holds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/engine/runner.js';
import { progTestRun } from '../../src/kernel/syscall.js';
import { liveKfuncObjects } from '../../src/kfuncs/index.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelOracle } from '../support/kernel.js';

const DIR = new URL('../fixtures/kfuncs/', import.meta.url);
const spec = (file: string) => readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file });
const ctx = (x: number) => new Uint8Array(new Int32Array([x]).buffer);
const word = (u: Uint8Array | undefined) => new Int32Array((u ?? new Uint8Array(4)).slice().buffer)[0];

/** Runs of program `name` of `file` with each x in turn: [retval, the int written back]. */
function runs(file: string, name: string, xs: number[]): { got: number[][][]; live: number[] } {
  const live: number[] = [];
  const got = ENGINES.map((engine) => {
    // A runtime per engine: a stashed object lives in its address space.
    const runtime = new Runtime({ cpus: 1 });
    const coll = loadCollection(spec(file), { runtime });
    const out = xs.map((x) => {
      const r = coll.program(name).run({ dataIn: new Uint8Array(0), ctxIn: ctx(x), engine });
      return [r.retval, word(r.ctxOut)!];
    });
    live.push(liveKfuncObjects(runtime.space));
    coll.close();
    return out;
  });
  return { got, live };
}

function kernelRuns(file: string, name: string, xs: number[]): number[][] {
  const coll = loadCollection(spec(file), { backend: 'kernel' });
  try {
    const p = coll.program(name) as unknown as { fd: number };
    return xs.map((x) => {
      const r = progTestRun(p.fd, { ctx: ctx(x), type: 'syscall' });
      return [r.retval, word(r.ctx)!];
    });
  } finally {
    coll.close();
  }
}

describe('bpf_obj_new objects in user space', () => {
  it("a_obj_new: fields written and read, the rest zero, as the kernel's runs; every object dropped", () => {
    const XS = [5, -7, 1 << 20, 0];
    const { got, live } = runs('a_obj_new.o', 'obj_new', XS);
    expect(got[1]).toEqual(got[0]);
    // b = 2a, c[3] zero: the return value is 2x (as a u32), and 2x is written back.
    expect(got[0]).toEqual(XS.map((x) => [(2 * x) >>> 0, 2 * x]));
    expect(live).toEqual([0, 0]);
    if (kernelOracle()) expect(kernelRuns('a_obj_new.o', 'obj_new', XS)).toEqual(got[0]);
  });

  it("a_obj_kptr: each run gets back the previous run's object from the map, as in the kernel", () => {
    const XS = [3, 9, 11, -4];
    const { got, live } = runs('a_obj_kptr.o', 'obj_kptr', XS);
    expect(got[1]).toEqual(got[0]);
    expect(got[0]!.map((r) => r[0])).toEqual([0, 3, 9, 11]);
    // The last run's object stays in the map (freed with the address space).
    expect(live).toEqual([1, 1]);
    if (kernelOracle()) expect(kernelRuns('a_obj_kptr.o', 'obj_kptr', XS)).toEqual(got[0]);
  });
});

describe('bpf_obj_new through the CLI', () => {
  it('tsbpf verify reads the local types from the object: a_obj_new accepted, r_obj_leak refused for the leak', () => {
    const verify = (file: string) =>
      spawnSync('node', [new URL('../../bin/tsbpf.js', import.meta.url).pathname, 'verify', file], {
        cwd: DIR.pathname,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const ok = verify('a_obj_new.o');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^obj_new: accepted/);
    expect(ok.status).toBe(0);
    const leak = verify('r_obj_leak.o');
    expect(leak.status).toBe(1);
    expect(leak.stderr).toMatch(/not released|Unreleased reference/);
  });
});
