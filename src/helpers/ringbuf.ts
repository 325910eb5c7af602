// Per-event output: BPF ring buffers and perf event arrays. Never blocking: a full buffer makes the helper
// fail (NULL / -EAGAIN / -ENOSPC) and the loss is counted for the consumer.

import { PerfEventArrayMap } from '../maps/perf.js';
import { RingBufMap } from '../maps/ringbuf.js';
import { Errno } from '../maps/types.js';
import { err, flagsArg, mapArg, ptr, u32 } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

function ring(env: HelperEnv, map: bigint, helper: string): RingBufMap {
  const m = mapArg(env, map, helper);
  if (!(m instanceof RingBufMap)) throw new Error(`${helper}: map '${m.spec.name}' is not a ring buffer`);
  return m;
}

function sampleRing(env: HelperEnv, sample: bigint, helper: string): RingBufMap {
  const rb = RingBufMap.ofSample(env.space, ptr(sample));
  if (!rb) throw new Error(`${helper}: 0x${sample.toString(16)} is not a ring buffer sample`);
  return rb;
}

export const RINGBUF_HELPERS: HelperDef[] = [
  {
    id: 130,
    name: 'ringbuf_output',
    proto: { ret: 'integer', args: ['const_map_ptr', 'mem', 'const_size_or_zero', 'anything'] },
    call: (env, map, data, size, flags) =>
      BigInt(ring(env, map, 'ringbuf_output').output(ptr(data), u32(size), flagsArg(flags))),
  },
  {
    id: 131,
    name: 'ringbuf_reserve',
    proto: { ret: 'ringbuf_mem_or_null', args: ['const_map_ptr', 'const_alloc_size_or_zero', 'anything'] },
    call: (env, map, size, flags) => {
      const rb = ring(env, map, 'ringbuf_reserve');
      if (flags !== 0n || size > 0xffffffffn) return 0n;
      return BigInt(rb.reserve(Number(size)));
    },
  },
  {
    id: 132,
    name: 'ringbuf_submit',
    proto: { ret: 'void', args: ['ringbuf_mem', 'anything'] },
    call: (env, sample, flags) => {
      sampleRing(env, sample, 'ringbuf_submit').commit(ptr(sample), false, flagsArg(flags));
      return 0n;
    },
  },
  {
    id: 133,
    name: 'ringbuf_discard',
    proto: { ret: 'void', args: ['ringbuf_mem', 'anything'] },
    call: (env, sample, flags) => {
      sampleRing(env, sample, 'ringbuf_discard').commit(ptr(sample), true, flagsArg(flags));
      return 0n;
    },
  },
  {
    id: 134,
    name: 'ringbuf_query',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything'] },
    call: (env, map, flags) => ring(env, map, 'ringbuf_query').query(Number(flags > 0xffn ? 0xffn : flags)),
  },
  {
    id: 25,
    name: 'perf_event_output',
    proto: { ret: 'integer', args: ['ctx', 'const_map_ptr', 'anything', 'mem', 'const_size_or_zero'] },
    call: (env, _ctx, map, flags, data, size) => {
      const m = mapArg(env, map, 'perf_event_output');
      if (!(m instanceof PerfEventArrayMap)) return err(-Errno.EINVAL);
      return BigInt(m.output(env.cpu, flags, ptr(data), u32(size)));
    },
  },
];
