// The one entry to both back ends: `loadCollection(spec, { backend })`. User space is always there; the
// kernel back end registers itself where it can run (Node on Linux: importing `tsbpf` under Node, or
// `tsbpf/kernel`, does it), so the core stays free of Node modules and a browser gets a clear error.

import { TsbpfError } from '../errors.js';
import type { ObjectSpec } from '../spec/object.js';
import type { BackendName, Collection } from './types.js';
import { type LoadedObject, type LoadOptions, loadObject } from './userspace.js';

/** What every back end's load takes: which programs, and the back end. */
export interface CollectionOptions {
  /** 'userspace' (default): a tsbpf runtime; 'kernel': the Linux kernel (Node on Linux, root or CAP_BPF). */
  backend?: BackendName;
  /** Load only these programs (function names, or section names naming one); every map is still created. */
  programs?: readonly string[];
}

/** A back end's loader, for `loadCollection`. */
export type CollectionLoader = (
  spec: ObjectSpec,
  options: CollectionOptions & Record<string, unknown>,
) => Collection;

const loaders = new Map<BackendName, CollectionLoader>();

/** What the host adds to a user-space load's options (under Node: the machine's map memory limit). */
let hostDefaults: ((options: LoadOptions) => LoadOptions) | undefined;

/** Set the host's defaults for user-space loads (src/node/userspace-defaults.ts under Node). */
export function setUserspaceDefaults(f: (options: LoadOptions) => LoadOptions): void {
  hostDefaults = f;
}

/** Make `loadCollection(spec, { backend: name })` use `loader` (the kernel back end registers itself). */
export function registerBackend(name: BackendName, loader: CollectionLoader): void {
  loaders.set(name, loader);
}

/**
 * Load `spec` into a back end: maps with their initial contents, the chosen programs (verified), the
 * `.values` slots of program arrays and maps of maps, `.rodata` frozen; on a failure nothing stays behind.
 */
export function loadCollection(
  spec: ObjectSpec,
  options?: CollectionOptions & LoadOptions & { backend?: 'userspace' },
): LoadedObject;
export function loadCollection(
  spec: ObjectSpec,
  options: CollectionOptions & Record<string, unknown>,
): Collection;
export function loadCollection(spec: ObjectSpec, options: CollectionOptions & object = {}): Collection {
  const backend = options.backend ?? 'userspace';
  if (backend === 'userspace') {
    const { backend: _, ...rest } = options as CollectionOptions & LoadOptions;
    return loadObject(spec, hostDefaults ? hostDefaults(rest) : rest);
  }
  const loader = loaders.get(backend);
  if (!loader) {
    if (backend === 'kernel') {
      throw new TsbpfError(
        "the kernel back end is not available here: it needs Node.js on Linux (import 'tsbpf' or 'tsbpf/kernel' in Node)",
      );
    }
    throw new TsbpfError(`unknown backend '${String(backend)}' (expected userspace or kernel)`);
  }
  return loader(spec, options as CollectionOptions & Record<string, unknown>);
}
