// Control flow helpers: tail calls, bounded loops through a callback, find_vma's callback, and spin locks.

import { FdArrayMap } from '../maps/fdarray.js';
import { Errno } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { err, mapArg, onNumbers, ptrWord, u32 } from './args.js';
import type { HelperDef } from './types.js';

/** The kernel's bound on bpf_loop iterations (BPF_MAX_LOOPS). */
export const BPF_MAX_LOOPS = 1 << 23;
/**
 * What bpf_loop returns for more than BPF_MAX_LOOPS iterations. The kernel's verifier inlines bpf_loop
 * whenever the flags are a known zero and the callback a known function (what compilers emit), and the
 * inlined code compares all 64 bits of nr_loops and sets `w0 = -E2BIG`: -7 zero-extended, not sign-extended.
 */
export const LOOP_E2BIG = -Errno.E2BIG >>> 0;

export const CONTROL_HELPERS: HelperDef[] = [
  {
    id: 12,
    name: 'tail_call',
    proto: { ret: 'void', args: ['ctx', 'const_map_ptr', 'anything'] },
    // Sets the target; the engine jumps after the helper returns (and counts the tail calls, limit 33).
    // No number form: engine control (the JIT takes the jump only after this helper's BigInt import).
    call: (env, _ctx, map, index) => {
      const m = mapArg(env, map, 'tail_call');
      if (!(m instanceof FdArrayMap) || m.spec.type !== MapType.PROG_ARRAY) {
        throw new Error(`tail_call: map '${m.spec.name}' is not a program array`);
      }
      if (index >= BigInt(m.spec.maxEntries)) return err(-Errno.EINVAL);
      const id = m.refAt(u32(index));
      if (id === 0) return err(-Errno.ENOENT);
      env.invocation.tailCall = id;
      return 0n;
    },
  },
  {
    id: 181,
    name: 'loop',
    proto: { ret: 'integer', args: ['scalar', 'func', 'ptr_to_stack_or_null', 'anything'] },
    // No number form: it calls back into the program, which the engines' number path does not prepare.
    call: (env, nr, fn, ctx, flags) => {
      if (flags !== 0n) return err(-Errno.EINVAL);
      if (nr > BigInt(BPF_MAX_LOOPS)) return BigInt(LOOP_E2BIG);
      const n = Number(nr);
      const target = Number(fn);
      // The callback returns 0 to continue, 1 to stop; the result counts the iterations run.
      for (let i = 0; i < n; i++)
        if (env.callback(target, BigInt(i), ctx, 0n, 0n, 0n) !== 0n) return BigInt(i + 1);
      return nr;
    },
  },
  {
    id: 180,
    name: 'find_vma',
    proto: {
      ret: 'integer',
      args: ['btf_id', 'anything', 'func', 'ptr_to_stack_or_null', 'anything'],
      btfStruct: 'task_struct',
    },
    // The modelled task has no memory map: no address is in a VMA, so the callback never runs (-ENOENT).
    call: (_env, _task, _addr, _fn, _ctx, flags) => err(flags !== 0n ? -Errno.EINVAL : -Errno.ENOENT),
  },
  {
    id: 93,
    name: 'spin_lock',
    proto: { ret: 'void', args: ['spin_lock'] },
    ...onNumbers(['word'], (env, lock) => {
      const at = ptrWord(lock);
      // One CPU runs at a time here: a held lock means the program locks twice (a deadlock in the kernel).
      if (env.space.view.getUint32(at, true) !== 0)
        throw new Error('spin_lock: lock already held (deadlock)');
      env.space.view.setUint32(at, 1, true);
      return 0;
    }),
  },
  {
    id: 94,
    name: 'spin_unlock',
    proto: { ret: 'void', args: ['spin_lock'] },
    ...onNumbers(['word'], (env, lock) => {
      env.space.view.setUint32(ptrWord(lock), 0, true);
      return 0;
    }),
  },
];
