// Per-event output: BPF ring buffers and perf event arrays. Never blocking: a full buffer makes the helper
// fail (NULL / -EAGAIN / -ENOSPC) and the loss is counted for the consumer.

import { PerfEventArrayMap } from '../maps/perf.js';
import { RingBufMap } from '../maps/ringbuf.js';
import { Errno } from '../spec/errno.js';
import { flagsWord, mapWord, onNumbers, ptrWord } from './args.js';
import { PERF_OUTPUT_TYPES } from './groups.js';
import { skbHead } from './skb.js';
import type { HelperDef, HelperEnv } from './types.js';

function ring(env: HelperEnv, map: number, helper: string): RingBufMap {
  const m = mapWord(env, map, helper);
  if (!(m instanceof RingBufMap)) throw new Error(`${helper}: map '${m.spec.name}' is not a ring buffer`);
  return m;
}

function sampleRing(env: HelperEnv, sample: number, helper: string): RingBufMap {
  const rb = RingBufMap.ofSample(env.space, ptrWord(sample));
  if (!rb) throw new Error(`${helper}: 0x${sample.toString(16)} is not a ring buffer sample`);
  return rb;
}

export const RINGBUF_HELPERS: HelperDef[] = [
  {
    id: 130,
    name: 'ringbuf_output',
    proto: { ret: 'integer', args: ['const_map_ptr', 'mem', 'const_size_or_zero', 'anything'] },
    ...onNumbers(['word', 'word', 'u32', 'word'], (env, map, data, size, flags) =>
      ring(env, map, 'ringbuf_output').output(ptrWord(data), size, flagsWord(flags)),
    ),
  },
  {
    id: 131,
    name: 'ringbuf_reserve',
    proto: { ret: 'ringbuf_mem_or_null', args: ['const_map_ptr', 'const_alloc_size_or_zero', 'anything'] },
    ...onNumbers(['word', 'word', 'word'], (env, map, size, flags) => {
      const rb = ring(env, map, 'ringbuf_reserve');
      if (flags !== 0 || size < 0 || size > 0xffffffff) return 0;
      // The run holds the sample: the runtime discards it for the run if the run ends still holding it.
      const inv = env.invocation;
      if (inv.rings === undefined) inv.rings = [rb];
      else if (!inv.rings.includes(rb)) inv.rings.push(rb);
      return rb.reserve(size, inv);
    }),
  },
  {
    id: 132,
    name: 'ringbuf_submit',
    proto: { ret: 'void', args: ['ringbuf_mem', 'anything'] },
    ...onNumbers(['word', 'word'], (env, sample, flags) => {
      sampleRing(env, sample, 'ringbuf_submit').commit(ptrWord(sample), false, flagsWord(flags));
      return 0;
    }),
  },
  {
    id: 133,
    name: 'ringbuf_discard',
    proto: { ret: 'void', args: ['ringbuf_mem', 'anything'] },
    ...onNumbers(['word', 'word'], (env, sample, flags) => {
      sampleRing(env, sample, 'ringbuf_discard').commit(ptrWord(sample), true, flagsWord(flags));
      return 0;
    }),
  },
  {
    id: 134,
    name: 'ringbuf_query',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything'] },
    // Sizes and positions (byte counts), safe integers; any flags but 0..3 ask for nothing (0).
    ...onNumbers(['word', 'word'], (env, map, flags) => Number(ring(env, map, 'ringbuf_query').query(flags))),
  },
  {
    id: 25,
    name: 'perf_event_output',
    programTypes: PERF_OUTPUT_TYPES,
    proto: { ret: 'integer', args: ['ctx', 'const_map_ptr', 'anything', 'mem', 'const_size_or_zero'] },
    // flags: an index and a context length in bits 0-51, exact in a word; anything above is invalid either
    // way (a word that large stays at or above 2^52, or negative), as the map's check finds.
    ...onNumbers(['word', 'word', 'word', 'word', 'u32'], (env, ctx, map, flags, data, size) => {
      const m = mapWord(env, map, 'perf_event_output');
      if (!(m instanceof PerfEventArrayMap)) return -Errno.EINVAL;
      // An skb program's sample carries the first ctx_len (bits 32-51) bytes of its packet (skb.ts).
      const ctxLen = flags >= 0 && flags < 2 ** 52 ? Math.floor(flags / 2 ** 32) : 0;
      const head = ctxLen > 0 ? skbHead(env, ptrWord(ctx), ctxLen) : undefined;
      if (typeof head === 'number') return head;
      return m.output(env.cpu, BigInt(flags), ptrWord(data), size, head);
    }),
  },
];
