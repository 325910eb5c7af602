// What both back ends share, written once: the order of a load (maps with their initial contents, the
// chosen programs against them, the program-array and map-in-map slots BTF `.values` gives, `.rodata`
// frozen), the release of everything already created when a step fails, and what a loaded collection
// offers (maps and programs by name, typed maps, globals, tail-call targets). A back end supplies only
// "create a map", "load a program" and what a slot stores (./types.ts Backend).

import type { BtfValue } from '../btf/index.js';
import { TsbpfError } from '../errors.js';
import type { TypedMap } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ObjectSpec } from '../spec/object.js';
import { collect, findGlobal, globalVariables, readGlobal, writeGlobal } from './globals.js';
import { btfTypedMap } from './typed.js';
import type { Backend, BackendName, Collection, Program } from './types.js';

/** Which programs a load takes. */
export interface ProgramSelection {
  /**
   * Load only these programs (function names, or section names that name one program); the others are left
   * out, and every map is still created (a sibling's maps may be shared through pins or slots).
   */
  programs?: readonly string[];
}

/** The maps and programs one load created, by name. */
export interface Loaded<M, P> {
  maps: Map<string, M>;
  programs: Map<string, P>;
}

/** A u32 in memory order (slot keys and references). */
function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/**
 * Load `spec` with `backend`: every map, the selected programs, the `.values` slots, `.rodata` frozen. On
 * any failure whatever was created is released before the error is thrown.
 */
export function loadWith<M extends BpfMap, P extends Program>(
  backend: Backend<M, P>,
  spec: ObjectSpec,
  selection: ProgramSelection = {},
): Loaded<M, P> {
  const wanted = selectPrograms(spec, selection.programs);
  const maps = new Map<string, M>();
  const programs = new Map<string, P>();
  try {
    for (const m of spec.maps) maps.set(m.name, backend.createMap(loaderSized(m)));
    const ordered = spec.maps.map((m) => maps.get(m.name)!);
    for (const p of spec.programs) {
      if (wanted && !wanted.has(p.name)) continue;
      programs.set(p.name, backend.loadProgram(p, ordered, spec.btf, spec));
    }
    // Initial program-array / map-in-map slots (BTF `values`), once their targets exist; a program left out
    // of the selection leaves its slot empty.
    for (const slot of spec.mapSlots ?? []) {
      const map = maps.get(slot.map);
      const program = slot.program === undefined ? undefined : programs.get(slot.program);
      const inner = slot.innerMap === undefined ? undefined : maps.get(slot.innerMap);
      const ref = program ? backend.programRef(program) : inner ? backend.mapRef(inner) : undefined;
      if (map && ref !== undefined) map.update(u32(slot.key), u32(ref));
    }
    // As libbpf: .rodata is frozen once loaded; programs read what the user set before loading.
    for (const m of spec.maps) if (m.readonly) backend.freeze(maps.get(m.name)!);
  } catch (e) {
    for (const p of programs.values()) p.close();
    for (const m of maps.values()) backend.closeMap(m);
    throw e;
  }
  return { maps, programs };
}

/** The page size ring buffers are sized in (the kernel's on the machines we target). */
const RINGBUF_PAGE = 4096;

/**
 * A ring buffer's size as libbpf creates it: max_entries rounded up to a power-of-2 number of pages (512 →
 * 4096), which the kernel requires; 0 stays 0 (a size the user must set), a size past 2^31 unchanged (the
 * map's checks refuse it). Other maps are created as specified.
 */
export function loaderSized(m: MapSpec): MapSpec {
  if (m.type !== MapType.RINGBUF && m.type !== MapType.USER_RINGBUF) return m;
  const n = m.maxEntries;
  if (n <= 0 || n > 2 ** 31) return m;
  let size = RINGBUF_PAGE;
  while (size < n) size *= 2;
  return size === n ? m : { ...m, maxEntries: size };
}

/** The program names a selection keeps (section names resolve to the program of that section). */
function selectPrograms(spec: ObjectSpec, names: readonly string[] | undefined): Set<string> | undefined {
  if (!names) return undefined;
  const out = new Set<string>();
  for (const n of names) {
    const byName = spec.programs.find((p) => p.name === n);
    const bySection = spec.programs.filter((p) => p.section === n);
    if (byName) out.add(byName.name);
    else if (bySection.length === 1) out.add(bySection[0]!.name);
    else if (bySection.length > 1) {
      throw new TsbpfError(
        `'${n}' names ${bySection.length} programs (section ${n}: ${bySection.map((p) => p.name).join(', ')}); name the function`,
      );
    } else throw new TsbpfError(`no program '${n}' (programs: ${describePrograms(spec)})`);
  }
  return out;
}

function describePrograms(spec: ObjectSpec): string {
  return spec.programs.map((p) => `${p.name} (${p.section})`).join(', ') || 'none';
}

/** What a collection offers on either back end, over the maps and programs a load made. */
export abstract class CollectionBase<M extends BpfMap, P extends Program> implements Collection {
  constructor(
    readonly spec: ObjectSpec,
    readonly maps: ReadonlyMap<string, M>,
    readonly programs: ReadonlyMap<string, P>,
    protected readonly impl: Backend<M, P>,
  ) {}

  get backend(): BackendName {
    return this.impl.name;
  }

  /** The map called `name` (global data maps are `.bss`, `.data`, `.rodata`). */
  map(name: string): M {
    const m = this.maps.get(name);
    if (!m) throw new TsbpfError(`no map '${name}' (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /** The program with this function name or section name, or the first program when none is given. */
  program(name?: string): P {
    if (name === undefined) {
      const first = this.programs.values().next().value;
      if (!first) throw new TsbpfError('the object has no programs');
      return first;
    }
    const p = this.programs.get(name) ?? [...this.programs.values()].find((x) => x.spec.section === name);
    if (!p) {
      const list = [...this.programs.values()].map((x) => `${x.name} (${x.spec.section})`).join(', ');
      throw new TsbpfError(`no program or section '${name}' (programs: ${list || 'none'})`);
    }
    return p;
  }

  /**
   * The map as a Map-like view typed by the object's BTF: `typedMap('drops').get(5001)` →
   * `{ packets: 12n, bytes: 3400n }`. Integers of up to 4 bytes are numbers, 8-byte ones bigints (numbers
   * are accepted on input); maps without BTF get the default codecs (see src/maps/typed.ts).
   */
  typedMap<K = BtfValue, V = BtfValue>(name: string): TypedMap<K, V> {
    return btfTypedMap<K, V>(this.map(name), this.spec.btf);
  }

  /** Global variables as they are now in the maps, by name (`section:name` where a name repeats). */
  globals(): Record<string, BtfValue> {
    return collect(globalVariables(this.spec), (v) => readGlobal(this.spec.btf!, v, this.section(v.map)));
  }

  /** One global variable's current value (`name`, or `section:name`). */
  getGlobal(name: string): BtfValue {
    const v = findGlobal(this.spec, name);
    return readGlobal(this.spec.btf!, v, this.section(v.map));
  }

  /**
   * Set a global variable in its map (`.data`, `.bss`). `.rodata` is frozen after load, as in the kernel:
   * set constants on the spec with `setGlobal(spec, ...)` before loading.
   */
  setGlobal(name: string, value: BtfValue): void {
    const v = findGlobal(this.spec, name);
    const map = this.map(v.map);
    if (map.spec.readonly) {
      throw new TsbpfError(
        `global '${v.name}' is in ${v.map}, which is read-only after load; ` +
          `set it on the spec with setGlobal(spec, '${v.name}', value) before loading`,
      );
    }
    map.update(new Uint8Array(map.spec.keySize), writeGlobal(this.spec.btf!, v, this.section(v.map), value));
  }

  private section(mapName: string): Uint8Array {
    const map = this.map(mapName);
    return map.lookup(new Uint8Array(map.spec.keySize))?.slice(0, map.spec.valueSize) ?? new Uint8Array(0);
  }

  /** Put program `program` at `index` of the program array `mapName` (what `--map-set jt 17=prog` does). */
  setTailCall(mapName: string, index: number, program: string): void {
    const map = this.map(mapName);
    if (map.spec.type !== MapType.PROG_ARRAY) throw new TsbpfError(`map '${mapName}' is not a program array`);
    map.update(u32(index), u32(this.impl.programRef(this.program(program))));
  }

  /** Release every program and map. */
  close(): void {
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) this.impl.closeMap(m);
  }
}
