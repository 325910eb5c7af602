// Maps created with the object's BTF through the kernel back end, as libbpf creates them: map types the
// kernel makes only with BTF (task and socket local storage) and values it must see typed (a spin lock, a
// timer, a kptr). Each fixture loads through loadKernelObject exactly when `bpftool prog loadall` (libbpf)
// loads it, and every map's key and value types, read back from the kernel (BPF_OBJ_GET_INFO_BY_FD, then
// the kernel's own BTF object by id), are the ones libbpf's map of the same name has — compared by kind
// and name, since the two BTF objects number their types independently.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sys from '../../src/kernel/index.js';
import { loadKernelObject } from '../../src/kernel/index.js';
import '../../src/node/index.js'; // the running kernel's BTF as the attach target of tp_btf programs
import { Btf, BtfBuilder, Kind } from '../../src/btf/index.js';
import { readObject } from '../../src/elf/index.js';
import { loadObjectBtf } from '../../src/kernel/program-btf.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURES = new URL('../fixtures/kernel/', import.meta.url).pathname;
const PIN = `/sys/fs/bpf/tsbpf-map-btf-${process.pid}`;

/** A fixture of test/fixtures/kernel by name, or another fixture by its path under test/fixtures. */
const fixture = (name: string): string =>
  name.includes('/') ? new URL(`../fixtures/${name}`, import.meta.url).pathname : `${FIXTURES}${name}.o`;

/** `KIND 'name'` of each type of the kernel's BTF object `id` (bpftool's raw dump). */
function btfTypes(id: number): Map<number, string> {
  const out = new Map<number, string>([[0, 'void']]);
  const text = execFileSync('bpftool', ['btf', 'dump', 'id', String(id)], { encoding: 'utf8' });
  for (const m of text.matchAll(/^\[(\d+)\] (\w+) '([^']*)'/gm)) out.set(Number(m[1]), `${m[2]} '${m[3]}'`);
  return out;
}

interface MapTypes {
  key: string;
  value: string;
}

/** The key and value types the kernel holds for the map behind `fd`. */
function mapTypes(fd: number): MapTypes {
  const info = sys.mapInfo(fd);
  if (info.btfId === 0) return { key: 'no BTF', value: 'no BTF' };
  const types = btfTypes(info.btfId);
  return { key: types.get(info.btfKeyTypeId)!, value: types.get(info.btfValueTypeId)! };
}

/** libbpf's load of `name`.o: whether it loads, and its maps' types by kernel map name. */
function libbpf(name: string): { loaded: boolean; maps: Map<string, MapTypes> } {
  const maps = new Map<string, MapTypes>();
  rmSync(PIN, { recursive: true, force: true });
  mkdirSync(PIN, { recursive: true });
  try {
    try {
      execFileSync('bpftool', ['prog', 'loadall', fixture(name), `${PIN}/progs`, 'pinmaps', `${PIN}/maps`], {
        stdio: 'pipe',
      });
    } catch {
      return { loaded: false, maps };
    }
    for (const pinned of readdirSync(`${PIN}/maps`)) {
      const fd = sys.objGet(`${PIN}/maps/${pinned}`);
      try {
        maps.set(sys.mapInfo(fd).name, mapTypes(fd));
      } finally {
        sys.close(fd);
      }
    }
    return { loaded: true, maps };
  } finally {
    rmSync(PIN, { recursive: true, force: true });
  }
}

/** Our kernel back end's load of `name`.o, the same way. */
function ours(name: string): { loaded: boolean; maps: Map<string, MapTypes>; error?: string } {
  const maps = new Map<string, MapTypes>();
  let obj: ReturnType<typeof loadKernelObject>;
  try {
    obj = loadKernelObject(fixture(name));
  } catch (e) {
    return { loaded: false, maps, error: (e as Error).message };
  }
  try {
    for (const m of obj.maps.values()) maps.set(sys.mapInfo(m.fd).name, mapTypes(m.fd));
  } finally {
    obj.close();
  }
  return { loaded: true, maps };
}

/** Fixture, its map that needs BTF, and that map's value type as the kernel should hold it. */
const CASES: [string, string, string][] = [
  ['task_storage', 'task_counts', "STRUCT 'counts'"],
  ['sk_storage', 'sock_stats_map', "STRUCT 'sock_stats'"],
  ['spin_lock', 'flows', "STRUCT 'flow'"],
  ['timer', 'timers', "STRUCT 'delayed'"],
  ['kptr', 'held', "STRUCT 'holder'"],
  ['graph', 'queues', "STRUCT 'queues'"],
  ['hidden', 'flows', "STRUCT 'flow'"],
  // The outer map's inner template is typed too (the kernel checks the spin lock through it).
  ['inner_lock', 'inner0', "STRUCT 'slot'"],
  // The kernel refuses this object's BTF (graph roots without a lock): libbpf and we load it without.
  ['graph_nolock', 'queues', 'no BTF'],
];

describe.skipIf(!oracle)('maps with BTF through the kernel back end', () => {
  it.each(CASES)('%s loads as libbpf loads it, its maps typed as libbpf types them', (name, map, value) => {
    const theirs = libbpf(name);
    const mine = ours(name);
    expect(mine.loaded, mine.error).toBe(theirs.loaded);
    expect(theirs.loaded, `${name}.o: libbpf loads it on this kernel`).toBe(true);
    expect(mine.maps.get(map)?.value).toBe(value);
    expect([...mine.maps.keys()].sort()).toEqual([...theirs.maps.keys()].sort());
    for (const [n, t] of theirs.maps) expect(mine.maps.get(n), `map ${n}`).toEqual(t);
  });

  // Map types the kernel creates only without BTF types (devmap, cpumap, sockmap, cgroup array …, refused
  // with ENOTSUPP): created again without them, as libbpf does. Global data of sections with a dot of their
  // own keeps the bare section name (`.data.custom`, `.rodata.str1.1`), as libbpf names it. The .kconfig map
  // is typed by its DATASEC laid out as the map's value.
  it.each([
    'corpus/xdp_devmap.o',
    'corpus/xdp_cpumap.o',
    'corpus/sockmap_proxy.o',
    'corpus/sk_lookup.o',
    'corpus/cgroup_filter.o',
    'tc/helper_codes.o',
    'elf/globals.o',
    'helpers/storage.o',
    'cli/kconfig.o',
    'corpus/usdt_probe.o',
    'corpus/newer_attach.o',
  ])('%s loads as libbpf loads it, its maps named and typed as libbpf has them', (name) => {
    const theirs = libbpf(name);
    const mine = ours(name);
    expect(mine.loaded, mine.error).toBe(theirs.loaded);
    expect(theirs.loaded).toBe(true);
    expect([...mine.maps.keys()].sort()).toEqual([...theirs.maps.keys()].sort());
    for (const [n, t] of theirs.maps) expect(mine.maps.get(n), `map ${n}`).toEqual(t);
  });

  it('global data maps get their DATASEC as value type and no key type, as libbpf gives them', () => {
    const mine = ours('spin_lock');
    const bss = [...mine.maps.entries()].find(([n]) => n.endsWith('.bss'));
    expect(bss?.[1]).toEqual({ key: 'void', value: "DATASEC '.bss'" });
  });

  it('bpf_core_type_id_local ids name the same types in the BTF the kernel holds, as with libbpf', () => {
    // What the program stored (.bss: marker_id, other_id), read as types of the .bss map's kernel BTF.
    const named = (bssFd: number): string[] => {
      const types = btfTypes(sys.mapInfo(bssFd).btfId);
      const v = new DataView(sys.mapLookup(bssFd, new Uint8Array(4), 8)!.buffer);
      return [types.get(v.getUint32(0, true))!, types.get(v.getUint32(4, true))!];
    };
    const obj = loadKernelObject(`${FIXTURES}type_id.o`);
    let mine: string[];
    try {
      obj.program('store_ids').run({ dataIn: new Uint8Array(64) });
      mine = named(obj.map('.bss').fd);
      // One BTF object for the maps and the program, as libbpf loads them.
      expect(sys.progInfo(obj.program('store_ids').fd).btfId).toBe(sys.mapInfo(obj.map('.bss').fd).btfId);
    } finally {
      obj.close();
    }
    expect(mine).toEqual(["STRUCT 'marker'", "UNION 'other'"]);
    rmSync(PIN, { recursive: true, force: true });
    mkdirSync(PIN, { recursive: true });
    try {
      execFileSync('bpftool', ['prog', 'loadall', `${FIXTURES}type_id.o`, `${PIN}/p`, 'pinmaps', `${PIN}/m`]);
      const prog = sys.objGet(`${PIN}/p/store_ids`);
      const bss = sys.objGet(`${PIN}/m/type_id_bss`);
      try {
        sys.progTestRun(prog, { data: new Uint8Array(64) });
        expect(named(bss)).toEqual(mine);
      } finally {
        sys.close(prog);
        sys.close(bss);
      }
    } finally {
      rmSync(PIN, { recursive: true, force: true });
    }
  });

  it('a spin-locked hash value and a .bss counter work in a test run', () => {
    const obj = loadKernelObject(`${FIXTURES}spin_lock.o`);
    try {
      const flows = obj.map('flows');
      const key = new Uint8Array(4);
      const value = new Uint8Array(24);
      flows.update(key, value);
      const prog = obj.program('count_locked');
      prog.run({ dataIn: new Uint8Array(64), repeat: 3 });
      const after = new DataView(flows.lookup(key)!.buffer);
      expect(after.getBigUint64(8, true)).toBe(3n);
      expect(after.getBigUint64(16, true)).toBe(192n);
    } finally {
      obj.close();
    }
  });

  it.each(['cli/ksym.o', 'cli/kconfig.o', 'corpus/usdt_probe.o'])(
    '%s: the kernel refuses its extern VARs as clang leaves them, and takes the BTF we upload',
    (f) => {
      const file = new URL(`../fixtures/${f}`, import.meta.url).pathname;
      const spec = readObject(readFileSync(file), { file });
      const raw = new BtfBuilder();
      raw.copyAll(spec.btf!);
      expect(() => sys.close(sys.btfLoad(raw.encode()))).toThrow(/Linkage not supported/);
      const uploaded = loadObjectBtf(spec)!;
      expect(uploaded.fd).toBeGreaterThan(0);
      sys.close(uploaded.fd);
    },
  );

  it("a map needing BTF, when the kernel refuses the object's BTF, fails saying why", () => {
    const file = `${FIXTURES}sk_storage.o`;
    const spec = readObject(readFileSync(file), { file });
    // A linkage no kernel takes on the first VAR (the license): the kernel refuses the whole BTF.
    const types = spec.btf!.types.map((t) =>
      t.kind === Kind.VAR && t.name === 'LICENSE' ? { ...t, linkage: 7 } : t,
    );
    const broken = { ...spec, btf: new Btf(types, spec.btf!.strings, spec.btf!.where) };
    expect(() => loadKernelObject(broken)).toThrow(
      /map sock_stats_map, created without BTF: the kernel refused the object's BTF \(.*Linkage not supported/,
    );
  });
});
