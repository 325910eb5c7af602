// Global data memory-mapped, as libbpf maps it: `.bss`, `.data`, `.rodata` (and their `.data.foo` variants,
// `.kconfig`) are array maps created BPF_F_MMAPABLE, and user space reads and writes the variables through a
// shared mapping of the map's value memory, the same pages the programs use — no bpf() call per access.
// `.rodata` is mapped read-only once frozen (the kernel refuses a writable mapping of a frozen map, and a
// freeze while one exists); the others read-write.

import { MapFlag, type MapSpec, MapType } from '../spec/maps.js';
import { type Mapping, mapShared, pageSize } from './ffi.js';

/** A global data section's map (created MMAPABLE): an array named after a data section. */
export function isGlobalDataMap(spec: MapSpec): boolean {
  return spec.type === MapType.ARRAY && /^\.(data|bss|rodata|kconfig)(\.|$)/.test(spec.name);
}

/** The flags a map is created with: a global data map's own plus BPF_F_MMAPABLE. */
export function creationFlags(spec: MapSpec): number {
  return isGlobalDataMap(spec) ? spec.flags | MapFlag.MMAPABLE : spec.flags;
}

/** Bytes between an array's elements (the kernel rounds each value up to 8). */
export function elementStride(spec: MapSpec): number {
  return Math.ceil(spec.valueSize / 8) * 8;
}

/** A shared mapping of an MMAPABLE array's values (the kernel allows no more than its pages). */
export function mapArrayValues(fd: number, spec: MapSpec, writable: boolean): Mapping {
  const page = pageSize();
  const bytes = Math.ceil((elementStride(spec) * spec.maxEntries) / page) * page;
  return mapShared(fd, bytes, 0, writable);
}

/** The element a 4-byte array key names, or undefined when the key is not one in range. */
export function arrayIndex(spec: MapSpec, key: Uint8Array): number | undefined {
  if (key.length !== 4) return undefined;
  const i = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  return i < spec.maxEntries ? i : undefined;
}
