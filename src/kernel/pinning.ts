// Maps pinned by name, as libbpf pins them: a map whose BTF definition says `__uint(pinning,
// LIBBPF_PIN_BY_NAME)` lives at `<pin root>/<map name>` (root `/sys/fs/bpf` unless the load names another).
// A load finding a pin there reuses that map when it is compatible — same type, key and value sizes,
// max_entries and flags, libbpf's check — and fails naming the first difference otherwise; finding none, it
// creates the map, fills it and pins it. A reused map keeps its contents (nothing is written to it).

import { existsSync, mkdirSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MapError } from '../errors.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import * as sys from './syscall.js';

/** The `pinning` attribute's value that asks for a pin by name (LIBBPF_PIN_BY_NAME). */
export const PIN_BY_NAME = 1;

/** Where pinned-by-name maps live unless a load gives another root. */
export const DEFAULT_PIN_ROOT = '/sys/fs/bpf';

/** What a map is created with, and what a pinned map must match to be reused. */
export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/** The first way `have` (a pinned map) differs from `want`, in words; undefined when compatible. */
export function shapeDifference(have: MapShape, want: MapShape): string | undefined {
  const fields: [keyof MapShape, string][] = [
    ['type', 'type'],
    ['keySize', 'key size'],
    ['valueSize', 'value size'],
    ['maxEntries', 'max_entries'],
    ['flags', 'flags'],
  ];
  for (const [f, words] of fields) {
    if (have[f] === want[f]) continue;
    const hex = f === 'flags';
    const show = (v: number) => (hex ? `0x${v.toString(16)}` : String(v));
    return `${words} ${show(have[f])} where the object's map has ${show(want[f])}`;
  }
  return undefined;
}

/** Where a map is pinned by name under `root`; a name that is not one path component is refused. */
export function pinPath(root: string | undefined, name: string): string {
  if (!name || name.includes('/') || name === '.' || name === '..') {
    throw new MapError(Errno.EINVAL, `map '${name}': cannot pin by name (not a file name)`);
  }
  return join(root ?? DEFAULT_PIN_ROOT, name);
}

/** Create the directories above a pin path (inside bpffs), as libbpf does before pinning. */
export function makePinParent(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

/**
 * The pinned map at `path` opened for reuse: its fd when it is a map compatible with `want`; undefined when
 * nothing is pinned there. A pin that is not a map, or a map of another shape, is an error naming the path.
 */
export function openPinnedForReuse(path: string, spec: MapSpec, want: MapShape): number | undefined {
  if (!existsSync(path)) return undefined;
  const fd = sys.objGet(path);
  try {
    // The info call answers for programs and links too: the fd's inode says what the pin holds.
    const kind = readlinkSync(`/proc/self/fd/${fd}`);
    if (kind !== 'anon_inode:bpf-map') {
      throw new MapError(Errno.EINVAL, `map ${spec.name}: ${path} is pinned but is not a map (${kind})`);
    }
    const info = sys.mapInfo(fd);
    const diff = shapeDifference(info, want);
    if (diff) {
      throw new MapError(
        Errno.EINVAL,
        `map ${spec.name}: the map pinned at ${path} cannot be reused: ${diff} (unpin it or change the map)`,
      );
    }
    return fd;
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** The shape a spec's map is created with (a perf event array of 0 entries gets one per possible CPU). */
export function specShape(spec: MapSpec, flags: number, cpus: number): MapShape {
  return {
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries: spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0 ? cpus : spec.maxEntries,
    flags,
  };
}
