// Map views typed by the object's BTF: the codecs `typedMap` (src/maps/typed.ts) needs, built from the key
// and value type ids the ELF reader put in each MapSpec. With them `drops.get(5001)` gives
// `{ packets: 12n, bytes: 3400n }` and `drops.set(5001, { packets: 1n, bytes: 60n })` writes the struct.
// Where BTF says nothing (hand-built specs, legacy `maps` sections, global data keys) the default codecs
// apply: numbers for 1/2/4-byte integers, bigint for 8 bytes, raw bytes otherwise.

import type { Btf, BtfValue } from '../btf/index.js';
import { formatValue, parseValue } from '../btf/index.js';
import { type Codec, defaultCodec, perCpuCodec, type TypedMap, typedMap } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import type { MapSpec } from '../spec/maps.js';

/** A codec for the BTF type `typeId`, whose size must be `size` (a map's key or value size). */
export function btfCodec(btf: Btf, typeId: number, size: number): Codec<BtfValue> {
  return {
    encode: (value) => {
      const bytes = parseValue(btf, typeId, value);
      if (bytes.length === size) return bytes;
      // Padding BTF does not describe (a value type smaller than value_size) stays zero.
      const out = new Uint8Array(size);
      out.set(bytes.subarray(0, size));
      return out;
    },
    decode: (bytes) => formatValue(btf, typeId, bytes),
  };
}

/** Key and value codecs for a map spec: from BTF when it describes the type, the defaults otherwise. */
export function btfCodecs(
  btf: Btf | undefined,
  spec: MapSpec,
): { key: Codec<BtfValue>; value: Codec<BtfValue> } {
  const pick = (id: number | undefined, size: number): Codec<BtfValue> => {
    if (btf && id && btf.sizeof(id) <= size) return btfCodec(btf, id, size);
    return defaultCodec(size) as Codec<BtfValue>;
  };
  return { key: pick(spec.btfKeyTypeId, spec.keySize), value: pick(spec.btfValueTypeId, spec.valueSize) };
}

/**
 * The Map-like view of `map` typed by `btf`. Per-CPU maps give one value per CPU (an array). The type
 * parameters only describe what the caller expects; the values are what `formatValue` produces.
 */
export function btfTypedMap<K = BtfValue, V = BtfValue>(map: BpfMap, btf: Btf | undefined): TypedMap<K, V> {
  const { key, value } = btfCodecs(btf, map.spec);
  // Duck-typed so kernel maps (tsbpf/kernel's KernelMap, not a MapBase) get per-CPU values too.
  const { perCpu, nCpus } = map as Partial<{ perCpu: boolean; nCpus: number }>;
  const v = perCpu && nCpus ? perCpuCodec(value, map.spec.valueSize, nCpus) : value;
  return typedMap(map, { key: key as Codec<K>, value: v as Codec<V> });
}
