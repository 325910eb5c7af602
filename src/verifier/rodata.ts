// Loads from frozen read-only maps are constants, as the kernel reads them (bpf_map_direct_read): a load of
// 1, 2, 4 or 8 bytes at a constant offset into a single-entry array that programs may only read and that is
// frozen before the program runs yields the bytes stored there, so the branches they decide are never
// walked (`if (LINUX_KERNEL_VERSION < KERNEL_VERSION(5, 11, 0))`, a `const volatile bool` option).
//
// Which maps qualify: those whose MapSpec is `readonly` (`.rodata*` and `.kconfig`, created read-only for
// programs) — every tsbpf loader fills them from `contents` and freezes them before a program can run, as
// libbpf does, so their contents at verification time are final. A map user space may still change
// (`.data`, `.bss`, any map not marked readonly, the inner maps of map-in-map types, whose template says
// nothing of the maps put in them) stays unknown: folding it would be unsound.

import { MapFlag, type MapSpec, MapType } from '../spec/maps.js';
import type { VerifierEnv } from './env.js';
import { constant, isConstScalar } from './ranges.js';
import { type Reg, scalarReg } from './state.js';

/** Whether the value of map `index` is fixed for as long as a program can read it. */
export function frozenReadonly(v: VerifierEnv, index: number): MapSpec | undefined {
  const m = v.maps[index];
  if (m?.readonly !== true || (m.flags & MapFlag.RDONLY_PROG) === 0) return undefined;
  if (m.type !== MapType.ARRAY || m.maxEntries !== 1) return undefined;
  for (const inner of v.innerOf.values()) if (inner === index) return undefined;
  return m;
}

/**
 * The constant a load of `size` bytes at `r + off` reads from a frozen read-only map, or undefined when the
 * load is not one (another region, a variable offset, another size). The bounds are checked before.
 */
export function frozenLoad(v: VerifierEnv, r: Reg, off: number, size: number): Reg | undefined {
  if (r.kind !== 'map_value' || !isConstScalar(r.s)) return undefined;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  const m = frozenReadonly(v, r.map);
  if (!m) return undefined;
  const at = r.off + off + Number(BigInt.asIntN(64, r.s.var.value));
  if (at < 0 || at + size > m.valueSize) return undefined;
  // The single entry's value (key 0); an array's entry that was never set holds zeros.
  const entry = m.contents?.find((c) => c.key.every((b) => b === 0));
  let x = 0n;
  for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(entry?.value[at + i] ?? 0);
  return scalarReg(constant(x));
}

/** A live map as far as folding needs it: its spec, its value, whether user space can still write it. */
export interface LiveMapView {
  readonly spec: MapSpec;
  lookup(key: Uint8Array): Uint8Array | undefined;
  /** Set by freeze() on user-space maps (src/maps/base.ts). */
  readonly frozen?: boolean;
}

/**
 * The spec to verify a program against a live map by: a frozen read-only map with the value it holds now
 * (what every run will read), any other map without `readonly`, so that its loads stay unknown (user space
 * may still write it; programs are still refused writes by its RDONLY_PROG flag).
 */
export function liveMapSpec(m: LiveMapView): MapSpec {
  if (!m.spec.readonly) return m.spec;
  if (m.frozen !== true) return { ...m.spec, readonly: false };
  const key = new Uint8Array(m.spec.keySize);
  const value = m.spec.type === MapType.ARRAY && m.spec.maxEntries === 1 ? m.lookup(key) : undefined;
  return value ? { ...m.spec, contents: [{ key, value: value.slice() }] } : { ...m.spec, readonly: false };
}
