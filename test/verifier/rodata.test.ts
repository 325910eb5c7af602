// Loads from frozen read-only maps are constants (src/verifier/rodata.ts), the kernel as the oracle: the
// fixtures of test/fixtures/rodata hide a read the verifier refuses behind a .kconfig or .rodata constant
// that makes it dead. The kernel (libbpf through bpftool, and tsbpf's kernel back end) accepts them and so
// do we; over writable .data, or with the constant changed on the spec before load, both refuse.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMap } from '../../src/maps/registry.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import type { MapSpec } from '../../src/spec/maps.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { verify } from '../../src/verifier/index.js';
import { liveMapSpec } from '../../src/verifier/rodata.js';
import { Runtime } from '../../src/vm/runtime.js';
import { tsbpf } from '../cli/run-cli.js';
import { kernelLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const DIR = new URL('../fixtures/rodata/', import.meta.url);
const CTX_PAST_END = /offset 200 of xdp_md is outside the 24-byte context/;

function object(file: string): ObjectSpec {
  return readObject(new Uint8Array(readFileSync(new URL(file, DIR))), { file });
}

/** The kernel's verdict through libbpf (bpftool prog loadall: .rodata and .kconfig filled and frozen). */
function kernelVerdict(file: string): { verdict: string; reason?: string } {
  const k = kernelLoad(`../rodata/${file}`);
  try {
    return [...k.verdicts.values()][0]!;
  } finally {
    k.release();
  }
}

/** The kernel's verdict on `spec` through tsbpf's kernel back end: undefined when loaded, else the error. */
function backendError(spec: ObjectSpec): string | undefined {
  try {
    loadCollection(spec, { backend: 'kernel' }).close();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Set the u32 at `offset` of a global data map's value on the spec (as `--map-set` or a loader does). */
function setU32(spec: ObjectSpec, map: string, offset: number, value: number): void {
  const m = spec.maps.find((x) => x.name === map)!;
  new DataView(m.contents![0]!.value.buffer, m.contents![0]!.value.byteOffset).setUint32(offset, value, true);
}

describe('frozen read-only maps', () => {
  it.each(['a_kconfig_version.o', 'a_rodata_index.o'])(
    '%s: accepted as the kernel accepts it, the dead branch never walked',
    (file) => {
      const spec = object(file);
      const r = verify(spec.programs[0]!, { maps: spec.maps, logLevel: 2 });
      expect(r.accepted, r.log).toBe(true);
      // The read past the context (offset 200) is never simulated.
      expect(r.log).not.toMatch(/r1 \+ 0xc8/);
      // User space: the collection loader verifies against the same frozen contents.
      loadCollection(spec).close();
      if (!kernelOracle()) return;
      expect(kernelVerdict(file).verdict).toBe('accept');
      expect(backendError(object(file))).toBeUndefined();
    },
  );

  it('the per-instruction log shows the loaded constant (LINUX_KERNEL_VERSION of the running kernel)', () => {
    const spec = object('a_kconfig_version.o');
    const kconfig = spec.maps.find((m) => m.name === '.kconfig')!;
    const version = new DataView(kconfig.contents![0]!.value.buffer).getUint32(0, true);
    expect(version).toBeGreaterThan(0x050b00);
    const r = verify(spec.programs[0]!, { maps: spec.maps, logLevel: 2 });
    const load = r.log.split('\n').find((l) => l.startsWith('4: '));
    expect(load, r.log).toContain(`R2=${version}`);
  });

  it('r_data_index.o: the same options in writable .data are unknown, refused by both', () => {
    const spec = object('r_data_index.o');
    const r = verify(spec.programs[0]!, { maps: spec.maps });
    expect(r.accepted).toBe(false);
    expect(r.diagnostics[0]?.message).toMatch(CTX_PAST_END);
    if (!kernelOracle()) return;
    const k = kernelVerdict('r_data_index.o');
    expect(k.verdict).toBe('reject');
    expect(k.reason).toMatch(/invalid bpf_context access off=200/);
  });

  it('a map that is not frozen read-only stays unknown (readonly unset, or not read-only for programs)', () => {
    const spec = object('a_rodata_index.o');
    const unfrozen = (edit: (m: MapSpec) => MapSpec) =>
      verify(spec.programs[0]!, { maps: spec.maps.map((m) => (m.name === '.rodata' ? edit(m) : m)) });
    for (const r of [unfrozen((m) => ({ ...m, readonly: false })), unfrozen((m) => ({ ...m, flags: 0 }))]) {
      expect(r.accepted).toBe(false);
      expect(r.diagnostics[0]?.message).toMatch(CTX_PAST_END);
    }
  });

  it('the constant is what the spec holds at load: slot 2 accepted, slot 4 and debug refused, as the kernel', () => {
    const cases = [
      { slot: 2, debug: 0, error: undefined },
      { slot: 4, debug: 0, error: /R\d reads up to byte 39 of the 32-byte value of map '\.bss'/ },
      { slot: 0, debug: 1, error: CTX_PAST_END },
    ];
    for (const c of cases) {
      const spec = object('a_rodata_index.o');
      setU32(spec, '.rodata', 0, c.slot);
      spec.maps.find((m) => m.name === '.rodata')!.contents![0]!.value[4] = c.debug;
      const r = verify(spec.programs[0]!, { maps: spec.maps });
      expect(r.accepted, `${JSON.stringify(c)}\n${r.log}`).toBe(c.error === undefined);
      if (c.error) expect(r.diagnostics[0]?.message).toMatch(c.error);
      if (!kernelOracle()) continue;
      const k = backendError(spec);
      if (c.error === undefined) expect(k).toBeUndefined();
      else expect(k).toMatch(c.debug ? /invalid bpf_context access/ : /outside of the allowed memory range/);
    }
  });

  it('a live map counts only once frozen, with the value it holds then (not its spec contents)', () => {
    const spec = object('a_rodata_index.o');
    const runtime = new Runtime();
    const live = spec.maps.map((m) => createMap(runtime.space, m));
    const rodata = live.find((m) => m.spec.name === '.rodata')!;
    const check = () => verify(spec.programs[0]!, { maps: live.map(liveMapSpec) });
    // Not frozen: user space may still write the options, so they are unknown.
    expect(check().diagnostics[0]?.message).toMatch(CTX_PAST_END);
    // Written before the freeze: the value now held counts, not the spec's (slot 3 in the object).
    const value = new Uint8Array(rodata.spec.valueSize);
    value[0] = 9;
    rodata.update(new Uint8Array(4), value);
    rodata.freeze();
    expect(check().diagnostics[0]?.message).toMatch(
      /reads up to byte 79 of the 32-byte value of map '\.bss'/,
    );
    for (const m of live) m.close();
  });

  it("the CLI verifies with the object's .rodata and .kconfig, and `prog run --map-set .rodata` with the set value", () => {
    const obj = 'test/fixtures/rodata/a_rodata_index.o';
    const v = tsbpf(['verify', 'test/fixtures/rodata/a_kconfig_version.o']);
    expect(v.code, v.stderr).toBe(0);
    const pkt = join(mkdtempSync(join(tmpdir(), 'tsbpf-rodata-')), 'pkt.bin');
    writeFileSync(pkt, new Uint8Array(64));
    const run = (slot: string) =>
      tsbpf(['prog', 'run', obj, 'data_in', pkt, '--json', '--map-set', '.rodata', `00000000=${slot}`]);
    const ok = run('02000000');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).retval).toBe(2);
    const bad = run('09000000');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /rejected by the verifier at insn 13: R2 reads up to byte 79 of the 32-byte value of map '\.bss'/,
    );
  });
});
