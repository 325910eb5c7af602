// Kernel pointers: bpf_kptr_xchg (#194) swaps a pointer into a map value's `__kptr` field and returns the one
// it held (the verifier, src/verifier/kfuncs.ts, checks the field and moves the reference; here an 8-byte
// exchange in the address space); bpf_per_cpu_ptr (#153) and bpf_this_cpu_ptr (#154) give a per-CPU kernel
// variable's copy for a CPU. User space has no kernel variables (a typed ksym has no value there), so these
// two only pass the address on, NULL for a CPU past the runtime's.

import { writable } from './args.js';
import type { HelperDef } from './types.js';

export const KPTR_HELPERS: HelperDef[] = [
  {
    id: 153,
    name: 'per_cpu_ptr',
    proto: { ret: 'integer', args: ['anything', 'scalar'] },
    call: (env, ptr, cpu) => (BigInt.asUintN(32, cpu) < BigInt(env.cpus ?? 1) ? ptr : 0n),
  },
  {
    id: 154,
    name: 'this_cpu_ptr',
    proto: { ret: 'integer', args: ['anything'] },
    call: (_env, ptr) => ptr,
  },
  {
    id: 194,
    name: 'kptr_xchg',
    // The verifier checks calls itself (kptrXchg); these kinds are what the sandbox holds the arguments to:
    // the field is 8 writable bytes the run was given (an unverified program may aim it anywhere).
    proto: { ret: 'integer', args: ['long_ptr', 'anything'] },
    call: (env, field, ptr) => {
      const at = Number(BigInt.asUintN(32, field));
      writable(env, at, 8, 'bpf_kptr_xchg');
      const old = env.space.view.getBigUint64(at, true);
      env.space.view.setBigUint64(at, BigInt.asUintN(64, ptr), true);
      return old;
    },
  },
];
