// bpf_get_local_storage: the cgroup storage (src/maps/cgroup-storage.ts) of the cgroup the program runs
// for, without a lookup: a pointer to the map's value (this CPU's for a per-CPU map), never NULL. The
// cgroup is the task model's own (the last of its cgroup path, the root when none is given).

import { CgroupStorageMap } from '../maps/cgroup-storage.js';
import { mapWord, onNumbers } from './args.js';
import { cgroupPath } from './trace.js';
import type { HelperDef } from './types.js';

/** The cgroup program types, whose programs run for a cgroup they are attached to. */
export const CGROUP_STORAGE_TYPES: readonly string[] = [
  'cgroup_skb',
  'cgroup_sock',
  'sock_ops',
  'cgroup_device',
  'cgroup_sock_addr',
  'cgroup_sysctl',
  'cgroup_sockopt',
];

export const CGROUP_STORAGE_HELPERS: HelperDef[] = [
  {
    id: 81,
    name: 'get_local_storage',
    // flags: reserved; the kernel ignores them.
    proto: { ret: 'map_value', args: ['const_map_ptr', 'anything'] },
    programTypes: CGROUP_STORAGE_TYPES,
    ...onNumbers(['word', 'word'], (env, map) => {
      const m = mapWord(env, map, 'get_local_storage');
      if (!(m instanceof CgroupStorageMap))
        throw new Error(`get_local_storage: map '${m.spec.name}' is not a cgroup storage map`);
      const path = cgroupPath(env.task);
      return m.storage(BigInt(path[path.length - 1]!), env.cpu);
    }),
  },
];
