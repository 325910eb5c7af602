// Global variables by name, as libbpf skeletons give them: `.rodata`, `.data`, `.bss` (and their
// `.data.foo` variants) are single-entry array maps whose value is the section, and the section's BTF
// DATASEC names each variable and its offset. On a spec (before load) the variables live in the map's
// initial contents, so `setGlobal(spec, 'blocked_port', 5002)` is how a constant is set: `.rodata` is
// frozen once loaded. On a loaded object (`LoadedObject.globals()/setGlobal()`) they live in the map.

import type { Btf, BtfValue } from '../btf/index.js';
import { formatValue, Kind, parseValue } from '../btf/index.js';
import { TsbpfError } from '../errors.js';
import type { MapSpec } from '../spec/maps.js';
import type { ObjectSpec } from '../spec/object.js';

/** A global variable of an object, from its BTF: the data map holding it, its offset, size and type. */
export interface GlobalVariable {
  name: string;
  /** The data map holding it: `.rodata`, `.data`, `.bss`, `.data.foo` ... */
  map: string;
  /** Byte offset in the map's value (the section). */
  offset: number;
  size: number;
  /** BTF type id of the variable's type (what `formatValue` decodes it as). */
  typeId: number;
}

/** Every variable of every global data map the object's BTF describes, in section then offset order. */
export function globalVariables(spec: { maps: readonly MapSpec[]; btf?: Btf }): GlobalVariable[] {
  const btf = spec.btf;
  if (!btf) return [];
  const out: GlobalVariable[] = [];
  for (const m of spec.maps) {
    const id = m.btfValueTypeId;
    if (!id) continue;
    const sec = btf.type(id);
    if (sec.kind !== Kind.DATASEC) continue;
    for (const v of [...sec.vars].sort((a, b) => a.offset - b.offset)) {
      const t = btf.type(v.type);
      if (t.kind !== Kind.VAR) continue;
      out.push({ name: t.name, map: m.name, offset: v.offset, size: v.size, typeId: t.type });
    }
  }
  return out;
}

/**
 * The variable called `name`, or `section:name` (`.data:counter`) when two sections hold one of that name.
 * Throws a TsbpfError naming the variables there are.
 */
export function findGlobal(spec: { maps: readonly MapSpec[]; btf?: Btf }, name: string): GlobalVariable {
  const all = globalVariables(spec);
  const colon = name.lastIndexOf(':');
  const [section, bare] = colon > 0 ? [name.slice(0, colon), name.slice(colon + 1)] : [undefined, name];
  const hits = all.filter((v) => v.name === bare && (section === undefined || v.map === section));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) {
    const names = hits.map((v) => `${v.map}:${v.name}`).join(', ');
    throw new TsbpfError(`global '${name}' is ambiguous; name the section (${names})`);
  }
  if (!spec.btf) throw new TsbpfError(`no global '${name}': the object has no BTF to name its variables`);
  const known = all.map((v) => `${v.map}:${v.name}`).join(', ') || 'none';
  throw new TsbpfError(`no global '${name}' (globals: ${known})`);
}

/** The variable's value decoded from a section's bytes. */
export function readGlobal(btf: Btf, v: GlobalVariable, section: Uint8Array): BtfValue {
  return formatValue(btf, v.typeId, section.subarray(v.offset, v.offset + v.size));
}

/** A copy of the section's bytes with the variable set to `value` (encoded by its BTF type). */
export function writeGlobal(btf: Btf, v: GlobalVariable, section: Uint8Array, value: BtfValue): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = parseValue(btf, v.typeId, value);
  } catch (e) {
    if (e instanceof TsbpfError) throw new TsbpfError(e.message, `global ${v.map}:${v.name}`);
    throw e;
  }
  const out = new Uint8Array(section);
  out.set(bytes.subarray(0, v.size), v.offset);
  return out;
}

/** The section bytes a data map starts with (its key-0 initial contents; zeros when it has none). */
function initialSection(m: MapSpec): Uint8Array {
  const entry = m.contents?.find((c) => c.key.every((b) => b === 0));
  return entry?.value ?? new Uint8Array(m.valueSize);
}

/** A global variable's value in the spec (what the program will see unless it is set before load). */
export function getGlobal(spec: ObjectSpec, name: string): BtfValue {
  const v = findGlobal(spec, name);
  return readGlobal(spec.btf!, v, initialSection(mapOf(spec, v)));
}

/** Set a global variable in the spec before `loadObject` (the way to set `const volatile` constants). */
export function setGlobal(spec: ObjectSpec, name: string, value: BtfValue): void {
  const v = findGlobal(spec, name);
  const m = mapOf(spec, v);
  const section = writeGlobal(spec.btf!, v, initialSection(m), value);
  const others = (m.contents ?? []).filter((c) => !c.key.every((b) => b === 0));
  m.contents = [{ key: new Uint8Array(m.keySize), value: section }, ...others];
}

/** Every global variable of the spec by name, decoded (`section:name` where names repeat). */
export function getGlobals(spec: ObjectSpec): Record<string, BtfValue> {
  return collect(globalVariables(spec), (v) => readGlobal(spec.btf!, v, initialSection(mapOf(spec, v))));
}

/** Variables as one object keyed by name; names that occur in two sections are keyed `section:name`. */
export function collect(
  vars: readonly GlobalVariable[],
  read: (v: GlobalVariable) => BtfValue,
): Record<string, BtfValue> {
  const count = new Map<string, number>();
  for (const v of vars) count.set(v.name, (count.get(v.name) ?? 0) + 1);
  const out: Record<string, BtfValue> = {};
  for (const v of vars) out[count.get(v.name)! > 1 ? `${v.map}:${v.name}` : v.name] = read(v);
  return out;
}

function mapOf(spec: ObjectSpec, v: GlobalVariable): MapSpec {
  return spec.maps.find((m) => m.name === v.map)!;
}
