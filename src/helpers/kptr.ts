// bpf_kptr_xchg (#194): swap a pointer into a map value's `__kptr` field and return the one it held. The
// verifier (src/verifier/kfuncs.ts) checks that the field is a kptr and moves the reference; here it is
// an 8-byte exchange in the address space.

import { writable } from './args.js';
import type { HelperDef } from './types.js';

export const KPTR_HELPERS: HelperDef[] = [
  {
    id: 194,
    name: 'kptr_xchg',
    // The verifier checks calls itself (kptrXchg); these kinds are what the sandbox holds the arguments to.
    proto: { ret: 'integer', args: ['anything', 'anything'] },
    call: (env, field, ptr) => {
      const at = Number(BigInt.asUintN(32, field));
      writable(env, at, 8, 'bpf_kptr_xchg');
      const old = env.space.view.getBigUint64(at, true);
      env.space.view.setBigUint64(at, BigInt.asUintN(64, ptr), true);
      return old;
    },
  },
];
