// Loading an object file with a back end: `loadObject('prog.o', { backend: 'kernel' })` loads it into the
// Linux kernel (tsbpf/kernel), `{ backend: 'userspace' }` (the default) into a tsbpf runtime. Either way
// the result has the same map API: `map(name)` (a BpfMap: lookup/update/delete/nextKey),
// `typedMap(name)` (get/set/entries typed by the object's BTF) and `ringBuffer(obj, name).drain(fn)`.
// In user space the maps may take a quarter of the machine's memory (within the address space) unless
// `runtimeOptions.mapMemoryLimit` says otherwise.

import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { CoreTargetInput } from '../btf/core/target.js';
import type { BtfValue } from '../btf/index.js';
import { type LoadedObject, type LoadOptions, loadObject as loadSpec } from '../collection/userspace.js';
import { readObject } from '../elf/index.js';
import { TsbpfError } from '../errors.js';
import { type KernelLoadOptions, type KernelObject, loadKernelObject } from '../kernel/object.js';
import { RingBufMap } from '../maps/ringbuf.js';
import type { TypedMap } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import { MapType } from '../spec/maps.js';
import type { ObjectSpec } from '../spec/object.js';
import './core-target.js';

/** Where loadObject loads an object: into the kernel, or into a user-space runtime. */
export type Backend = 'kernel' | 'userspace';

/** What objects of both back ends offer. */
export interface ObjectMaps {
  readonly spec: ObjectSpec;
  readonly maps: ReadonlyMap<string, BpfMap>;
  map(name: string): BpfMap;
  typedMap<K = BtfValue, V = BtfValue>(name: string): TypedMap<K, V>;
}

/** Options of loadObject in user space. */
export interface UserspaceLoad extends LoadOptions {
  backend?: 'userspace';
  /** The BTF CO-RE relocations are resolved against (default: the running kernel's). */
  btf?: CoreTargetInput;
}

/** Options of loadObject into the kernel. */
export interface KernelLoad extends KernelLoadOptions {
  backend: 'kernel';
  /** The BTF CO-RE relocations are resolved against (default: the running kernel's). */
  btf?: CoreTargetInput;
}

/** Read an ELF object file and load it into the kernel. */
export function loadObject(file: string, options: KernelLoad): KernelObject;
/** Read an ELF object file and load it into a user-space runtime (verified, runnable on either engine). */
export function loadObject(file: string, options?: UserspaceLoad): LoadedObject;
export function loadObject(
  file: string,
  options: UserspaceLoad | KernelLoad = {},
): LoadedObject | KernelObject {
  const spec = readObjectFile(file, { btf: options.btf });
  if (options.backend === 'kernel') {
    const { backend: _, btf: __, ...rest } = options;
    return loadKernelObject(spec, { objectName: baseName(file), ...rest });
  }
  const { backend: _, btf: __, ...rest } = options;
  if (options.backend !== undefined && options.backend !== 'userspace')
    throw new TsbpfError(`unknown backend '${String(options.backend)}' (expected kernel or userspace)`);
  if (!rest.runtime && rest.runtimeOptions?.mapMemoryLimit === undefined) {
    rest.runtimeOptions = { ...rest.runtimeOptions, mapMemoryLimit: machineMapMemoryLimit() };
  }
  return loadSpec(spec, rest);
}

/**
 * The default map memory limit on this machine: a quarter of its memory (a runtime caps it at its
 * address space, 1 GiB unless given a larger one). For `RuntimeOptions.mapMemoryLimit`.
 */
export function machineMapMemoryLimit(): number {
  return Math.floor(totalmem() / 4);
}

/**
 * Parse an object file; a missing or unreadable file is a typed error naming it. CO-RE relocations are
 * resolved against `options.btf`, by default the running kernel's BTF.
 */
export function readObjectFile(file: string, options: { btf?: CoreTargetInput } = {}): ObjectSpec {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TsbpfError(`cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, file);
  }
  return readObject(bytes, options.btf === undefined ? { file } : { file, btf: options.btf });
}

/** A reader of a RINGBUF map of either back end: `drain(fn)` hands over the records in order. */
export interface RingReader {
  drain(fn: (record: Uint8Array) => void, limit?: number): number;
  close(): void;
}

/** A reader of the ring buffer map `name` of an object, on either back end. */
export function ringBuffer(obj: ObjectMaps, name: string): RingReader {
  const map = obj.map(name);
  if (map.spec.type !== MapType.RINGBUF) throw new TsbpfError(`map '${name}' is not a ring buffer`);
  if (map instanceof RingBufMap) return { drain: (fn, limit) => map.drain(fn, limit), close: () => {} };
  return (map as unknown as { ringBuffer(): RingReader }).ringBuffer();
}

function baseName(file: string): string {
  return (file.split('/').pop() ?? '').replace(/\.o$/, '');
}
