// Shared test support: a small set of helper prototypes as the kernel declares them (so the verifier tests
// do not depend on which helpers the registry has implemented yet), maps, and a verify-from-text shortcut.

import { assemble } from '../../src/asm/index.js';
import { helperById } from '../../src/helpers/registry.js';
import type { ArgType, HelperDef, HelperProto, RetType } from '../../src/helpers/types.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { type VerifyOptions, type VerifyResult, verify } from '../../src/verifier/index.js';

const def = (
  id: number,
  name: string,
  ret: RetType,
  args: ArgType[],
  extra: Partial<HelperProto> = {},
  programTypes?: string[],
): HelperDef => ({
  id,
  name,
  proto: { ret, args, ...extra },
  call: () => 0n,
  ...(programTypes ? { programTypes } : {}),
});

/** Kernel prototypes (include/uapi/linux/bpf.h, kernel/bpf/helpers.c) of the helpers the tests use. */
export const TEST_HELPERS: ReadonlyMap<number, HelperDef> = new Map(
  [
    def(1, 'map_lookup_elem', 'map_value_or_null', ['const_map_ptr', 'map_key']),
    def(2, 'map_update_elem', 'integer', ['const_map_ptr', 'map_key', 'map_value', 'scalar']),
    def(3, 'map_delete_elem', 'integer', ['const_map_ptr', 'map_key']),
    def(5, 'ktime_get_ns', 'integer', []),
    def(6, 'trace_printk', 'integer', ['mem', 'const_size']),
    def(7, 'get_prandom_u32', 'integer', []),
    def(8, 'get_smp_processor_id', 'integer', []),
    def(12, 'tail_call', 'integer', ['ctx', 'const_map_ptr', 'scalar']),
    def(14, 'get_current_pid_tgid', 'integer', [], {}, [
      'kprobe',
      'tracepoint',
      'perf_event',
      'raw_tracepoint',
    ]),
    def(25, 'perf_event_output', 'integer', ['ctx', 'const_map_ptr', 'scalar', 'mem', 'const_size_or_zero']),
    def(44, 'xdp_adjust_head', 'integer', ['ctx', 'scalar'], { changesPacket: true }, ['xdp']),
    def(51, 'redirect_map', 'integer', ['const_map_ptr', 'scalar', 'scalar'], {}, ['xdp']),
    def(113, 'probe_read_kernel', 'integer', ['uninit_mem', 'const_size_or_zero', 'anything'], {}, [
      'kprobe',
      'tracepoint',
      'perf_event',
      'raw_tracepoint',
    ]),
    def(130, 'ringbuf_output', 'integer', ['const_map_ptr', 'mem', 'const_size_or_zero', 'scalar']),
    def(131, 'ringbuf_reserve', 'ringbuf_mem_or_null', ['const_map_ptr', 'scalar', 'scalar']),
    def(132, 'ringbuf_submit', 'void', ['ringbuf_mem', 'scalar']),
    def(133, 'ringbuf_discard', 'void', ['ringbuf_mem', 'scalar']),
  ].map((h) => [h.id, h]),
);

/** The registry when it knows the helper, else the kernel prototype above. */
export const testHelpers = (id: number): HelperDef | undefined => helperById(id) ?? TEST_HELPERS.get(id);

const map = (
  name: string,
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
): MapSpec => ({
  name,
  type,
  keySize,
  valueSize,
  maxEntries,
  flags: 0,
});

/** map 0: hash u32 -> 16 bytes; map 1: array u32 -> u64 (8); map 2: ringbuf 4096; map 3: prog array; map 4: perf array. */
export const TEST_MAPS: MapSpec[] = [
  map('hash16', MapType.HASH, 4, 16, 64),
  map('counts', MapType.ARRAY, 4, 8, 4),
  map('events', MapType.RINGBUF, 0, 0, 4096),
  map('jumps', MapType.PROG_ARRAY, 4, 4, 4),
  map('perf', MapType.PERF_EVENT_ARRAY, 4, 4, 4),
];

export function check(text: string, type = 'xdp', opts: VerifyOptions = {}): VerifyResult {
  return verify({ insns: assemble(text), type }, { maps: TEST_MAPS, helpers: testHelpers, ...opts });
}

/** The reason of a rejection (kind: message), or 'accepted'. */
export function verdict(text: string, type = 'xdp', opts: VerifyOptions = {}): string {
  const r = check(text, type, opts);
  return r.accepted ? 'accepted' : `${r.diagnostics[0]!.kind}: ${r.diagnostics[0]!.message}`;
}
