// Local storage helpers: a value per task, cgroup, socket or inode, in the matching storage map
// (src/maps/local-storage.ts). The owner is the object's address as the program has it: the current task
// from bpf_get_current_task_btf, a tracing program's arguments. The flags and results are the kernel's:
// NULL for no owner or unknown flags, created with BPF_LOCAL_STORAGE_GET_F_CREATE (from the value given, or
// zeros), delete -EINVAL without an owner and -ENOENT without a value.

import { LocalStorageMap } from '../maps/local-storage.js';
import { mapWord, onNumbers, ptrWord } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

function storage(env: HelperEnv, map: number, helper: string): LocalStorageMap {
  const m = mapWord(env, map, helper);
  if (!(m instanceof LocalStorageMap))
    throw new Error(`${helper}: map '${m.spec.name}' is not a local storage`);
  return m;
}

const SK_TYPES = [
  'sched_cls',
  'sched_act',
  'cgroup_skb',
  'cgroup_sock',
  'sock_ops',
  'sk_msg',
  'cgroup_sock_addr',
  'cgroup_sockopt',
  'syscall',
  'tracing',
  'lsm',
];

function pair(
  owner: 'task' | 'cgrp' | 'sk' | 'inode',
  ids: [get: number, del: number],
  arg: 'btf_id_or_null' | 'sock_common',
  btfStruct: string | undefined,
  programTypes: { get?: readonly string[]; del?: readonly string[] },
): HelperDef[] {
  const get = `${owner}_storage_get`;
  const del = `${owner}_storage_delete`;
  return [
    {
      id: ids[0],
      name: get,
      proto: {
        ret: 'map_value_or_null',
        args: ['const_map_ptr', arg, 'map_value_or_null', 'anything'],
        btfStruct,
      },
      ...(programTypes.get ? { programTypes: programTypes.get } : {}),
      ...onNumbers(['word', 'word', 'word', 'word'], (env, map, who, init, flags) =>
        storage(env, map, get).get(
          ptrWord(who),
          ptrWord(init),
          flags < 0 || flags > 0xffff ? 0x10000 : flags,
        ),
      ),
    },
    {
      id: ids[1],
      name: del,
      proto: {
        ret: 'integer',
        // The BTF owners may be NULL here too (the helper answers -EINVAL).
        args: ['const_map_ptr', arg],
        btfStruct,
      },
      ...(programTypes.del ? { programTypes: programTypes.del } : {}),
      ...onNumbers(['word', 'word'], (env, map, who) => storage(env, map, del).remove(ptrWord(who))),
    },
  ];
}

export const STORAGE_HELPERS: HelperDef[] = [
  ...pair('task', [156, 157], 'btf_id_or_null', 'task_struct', {}),
  ...pair('cgrp', [210, 211], 'btf_id_or_null', 'cgroup', {}),
  ...pair('sk', [107, 108], 'sock_common', undefined, {
    get: SK_TYPES,
    del: SK_TYPES.filter((t) => t !== 'cgroup_sock'),
  }),
  ...pair('inode', [145, 146], 'btf_id_or_null', 'inode', { get: ['lsm'], del: ['lsm'] }),
];
