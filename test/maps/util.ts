// Shared test helpers for map tests.
import { createMap, type MapBase, type MapSpec, MapType } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';

export function spec(
  type: keyof typeof MapType,
  keySize: number,
  valueSize: number,
  maxEntries: number,
  flags = 0,
): MapSpec {
  return { name: `t_${type.toLowerCase()}`, type: MapType[type], keySize, valueSize, maxEntries, flags };
}

export function make(s: MapSpec, cpus = 1, space = new AddressSpace(1 << 20)): MapBase {
  return createMap(space, s, { cpus });
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

export function u64(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

export function hex(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : Buffer.from(b).toString('hex');
}

/** The errno a thunk's MapError carries, or 0 when it succeeds. */
export function errnoOf(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === undefined) throw e;
    return errno;
  }
}

/** IPv4 LPM key: prefixlen (host order) then address bytes. */
export function lpmKey(prefixlen: number, ...addr: number[]): Uint8Array {
  return new Uint8Array([...u32(prefixlen), ...addr]);
}

export function allKeys(m: MapBase): string[] {
  const out: string[] = [];
  for (let k = m.nextKey(undefined); k; k = m.nextKey(k)) out.push(hex(k)!);
  return out;
}
