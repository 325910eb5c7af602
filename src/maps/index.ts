// Maps, the public face (the package's `tsbpf/maps` entry): one registry of map types (createMap makes a map
// in an address space from its spec), the map classes behind it, the readers of ring and perf buffers, and
// typed views. The vocabulary maps are made of (src/spec: map types and flags, errno) comes along, so
// `tsbpf/maps` users need one import.

export { MapError } from '../errors.js';
export * from '../spec/errno.js';
export * from '../spec/maps.js';
export { ArrayMap } from './array.js';
export { MapBase, type MapOptions } from './base.js';
export { RedirectArrayMap } from './devmap.js';
export { FdArrayMap } from './fdarray.js';
export { HashMap } from './hash.js';
export { LpmTrieMap } from './lpm.js';
export { BPF_F_CURRENT_CPU, PerfEventArrayMap, PerfReader, type PerfRecord } from './perf.js';
export { QueueStackMap } from './queue.js';
export {
  checkMapSpec,
  createMap,
  MAP_TYPES,
  type MapTypeInfo,
  mapTypeByName,
  mapTypeInfo,
} from './registry.js';
export { RingBufFlag, RingBufMap, RingBufQuery, RingBufReader } from './ringbuf.js';
export {
  bytesCodec,
  type Codec,
  defaultCodec,
  perCpuCodec,
  rawKeys,
  TypedMap,
  typedMap,
  u64Codec,
  uintCodec,
} from './typed.js';
export type { BpfMap, RuntimeMap } from './types.js';
export { MAX_USER_RINGBUF_SAMPLES, UserRingBufMap } from './user-ringbuf.js';
