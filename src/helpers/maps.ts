// Map helpers: lookup/update/delete, queue/stack push/pop/peek, for_each_map_elem.

import { BloomFilterMap } from '../maps/bloom.js';
import { QueueStackMap } from '../maps/queue.js';
import { Errno } from '../spec/errno.js';
import { err, flagsWord, mapArg, mapWord, onNumbers, ptrWord, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

export const MAP_HELPERS: HelperDef[] = [
  {
    id: 1,
    name: 'map_lookup_elem',
    proto: { ret: 'map_value_or_null', args: ['const_map_ptr', 'map_key'] },
    ...onNumbers(['word', 'word'], (env, map, key) =>
      mapWord(env, map, 'map_lookup_elem').lookupPtr(ptrWord(key), env.cpu),
    ),
  },
  {
    id: 2,
    name: 'map_update_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'map_key', 'map_value', 'anything'] },
    ...onNumbers(['word', 'word', 'word', 'word'], (env, map, key, value, flags) =>
      mapWord(env, map, 'map_update_elem').updatePtr(ptrWord(key), ptrWord(value), flagsWord(flags), env.cpu),
    ),
  },
  {
    id: 3,
    name: 'map_delete_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'map_key'] },
    ...onNumbers(['word', 'word'], (env, map, key) =>
      mapWord(env, map, 'map_delete_elem').deletePtr(ptrWord(key)),
    ),
  },
  {
    id: 87,
    name: 'map_push_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'map_value', 'anything'] },
    ...onNumbers(['word', 'word', 'word'], (env, map, value, flags) => {
      const m = mapWord(env, map, 'map_push_elem');
      if (m instanceof BloomFilterMap) return m.push(ptrWord(value), flagsWord(flags));
      if (!(m instanceof QueueStackMap)) return -Errno.EINVAL;
      return m.push(ptrWord(value), flagsWord(flags));
    }),
  },
  {
    id: 88,
    name: 'map_pop_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'uninit_map_value'] },
    ...onNumbers(['word', 'word'], (env, map, out) => take(env, map, out, true)),
  },
  {
    id: 89,
    name: 'map_peek_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'uninit_map_value'] },
    ...onNumbers(['word', 'word'], (env, map, out) => take(env, map, out, false)),
  },
  {
    id: 164,
    name: 'for_each_map_elem',
    proto: { ret: 'integer', args: ['const_map_ptr', 'func', 'ptr_to_stack_or_null', 'anything'] },
    // No number form: it calls back into the program, which the engines' number path does not prepare.
    call: (env, map, fn, ctx, flags) => {
      if (flags !== 0n) return err(-Errno.EINVAL);
      const m = mapArg(env, map, 'for_each_map_elem');
      const target = Number(fn);
      // The callback gets (map, key, value, ctx); a non-zero return stops the walk.
      return BigInt(
        m.forEachPtr(env.cpu, (k, v) => env.callback(target, map, BigInt(k), BigInt(v), ctx, 0n) !== 0n),
      );
    },
  },
];

function take(env: HelperEnv, map: number, out: number, remove: boolean): number {
  const name = remove ? 'map_pop_elem' : 'map_peek_elem';
  const m = mapWord(env, map, name);
  // A bloom filter's peek reads the value asked about (a pop is not allowed by the verifier).
  if (m instanceof BloomFilterMap && !remove) return m.peek(ptrWord(out));
  if (!(m instanceof QueueStackMap)) return -Errno.EINVAL;
  writable(env, ptrWord(out), m.spec.valueSize, name);
  return m.take(ptrWord(out), remove);
}
