// BPF timers (bpf_timer_init/set_callback/start/cancel, #169-172): a `struct bpf_timer` field of a map value
// (one per value; the verifier finds it from the map's BTF) that runs a callback of the program later.
//
// When callbacks run, in user space: never inside a helper call. A timer started with bpf_timer_start expires
// at the runtime's monotonic clock (HelperEnv.nowNs) plus its delay, or at the absolute time with
// BPF_F_TIMER_ABS; `runTimers(runtime)` fires the timers whose expiry has passed, earliest first, each
// through the engine that ran the program which set its callback, with (map, key, value) as in the kernel.
// Each timer fires at most once per runTimers call (a callback that re-arms its timer for an expiry already
// past fires at the next call), so one call costs at most one callback per armed timer, plus a walk of the
// timer's map to find the value's key (at most max_entries elements).
//
// The timer's state lives here, keyed by the timer's address; the 16 bytes in the value hold its id, so a
// value that is overwritten or deleted and reused (the kernel frees the timer then) no longer finds it.

import type { MapBase } from '../maps/base.js';
import { Errno } from '../spec/errno.js';
import { mapWord, ptrWord, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

/** bpf_timer_start flags. */
export const TimerFlag = { ABS: 1, CPU_PIN: 2 } as const;
/** The clocks bpf_timer_init accepts: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME. */
const CLOCKS = new Set([0, 1, 7]);
const EDEADLK = 35;

type Runner = (target: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

interface Timer {
  readonly id: number;
  readonly map: MapBase;
  /** Address of the map value holding the timer. */
  readonly value: number;
  callback?: { target: number; runner: Runner };
  /** Monotonic ns when it fires; undefined when not armed. */
  expires?: number;
  /** Its callback is running (a cancel from there would wait for itself: -EDEADLK). */
  running: boolean;
}

interface Timers {
  byAddr: Map<number, Timer>;
  nextId: number;
}

const tables = new WeakMap<object, Timers>();

function table(env: HelperEnv): Timers {
  let t = tables.get(env.space);
  if (!t) {
    t = { byAddr: new Map(), nextId: 1 };
    tables.set(env.space, t);
  }
  return t;
}

/** The timer at `addr`, if one was initialised there and its value still holds it. */
function timerAt(env: HelperEnv, addr: number): Timer | undefined {
  const t = table(env).byAddr.get(addr);
  if (!t) return undefined;
  if (env.space.view.getUint32(addr, true) !== t.id) {
    table(env).byAddr.delete(addr); // the value was overwritten: the kernel frees its timer
    return undefined;
  }
  return t;
}

/**
 * Fire the timers of `env`'s runtime whose expiry is at or before `now` (default: the runtime's clock),
 * earliest first, each at most once; returns how many callbacks ran.
 */
export function runTimers(env: HelperEnv, now: number = env.nowNsNumber()): number {
  const due = [...table(env).byAddr.entries()]
    .filter(([, t]) => t.expires !== undefined && t.expires <= now && t.callback)
    .sort((a, b) => a[1].expires! - b[1].expires!);
  let fired = 0;
  for (const [addr, t] of due) {
    if (timerAt(env, addr) !== t || t.expires === undefined || t.expires > now || !t.callback) continue;
    t.expires = undefined;
    const { target, runner } = t.callback;
    // The callback gets the map, the value's key and the value (the kernel's bpf_timer_cb).
    t.map.forEachPtr(env.cpu, (key, value) => {
      if (value !== t.value) return false;
      t.running = true;
      try {
        runner(target, BigInt(t.map.addr), BigInt(key), BigInt(value), 0n, 0n);
      } finally {
        t.running = false;
      }
      fired++;
      return true;
    });
  }
  return fired;
}

/** Timers armed now (for tests and tools): address of each timer and when it fires. */
export function armedTimers(env: HelperEnv): { addr: number; expires: number }[] {
  return [...table(env).byAddr.entries()]
    .filter(([addr, t]) => t.expires !== undefined && timerAt(env, addr) === t)
    .map(([addr, t]) => ({ addr, expires: t.expires! }));
}

export const TIMER_HELPERS: HelperDef[] = [
  {
    id: 169,
    name: 'timer_init',
    proto: { ret: 'integer', args: ['timer', 'const_map_ptr', 'anything'] },
    call: (env, timer, map, flags) => {
      if (flags > 0xffffffffn || !CLOCKS.has(Number(flags))) return BigInt(-Errno.EINVAL);
      const addr = ptrWord(Number(timer));
      if (timerAt(env, addr)) return BigInt(-Errno.EBUSY);
      const m = mapWord(env, Number(map), 'timer_init');
      const tab = table(env);
      const id = tab.nextId++;
      const offset = m.spec.timerOffset ?? 0;
      writable(env, addr, 16, 'timer_init'); // an unverified program's timer must be its own memory
      tab.byAddr.set(addr, { id, map: m, value: addr - offset, running: false });
      env.space.view.setUint32(addr, id, true);
      return 0n;
    },
  },
  {
    id: 170,
    name: 'timer_set_callback',
    proto: { ret: 'integer', args: ['timer', 'func'] },
    call: (env, timer, fn) => {
      const t = timerAt(env, ptrWord(Number(timer)));
      if (!t) return BigInt(-Errno.EINVAL);
      const runner = env.callbackRunner;
      if (!runner) throw new Error('timer_set_callback: no engine is running the program');
      t.callback = { target: Number(fn), runner };
      return 0n;
    },
  },
  {
    id: 171,
    name: 'timer_start',
    proto: { ret: 'integer', args: ['timer', 'anything', 'anything'] },
    call: (env, timer, nsecs, flags) => {
      if (flags & ~BigInt(TimerFlag.ABS | TimerFlag.CPU_PIN)) return BigInt(-Errno.EINVAL);
      const t = timerAt(env, ptrWord(Number(timer)));
      if (!t?.callback) return BigInt(-Errno.EINVAL);
      const delay = Number(nsecs);
      t.expires = flags & BigInt(TimerFlag.ABS) ? delay : env.nowNsNumber() + delay;
      return 0n;
    },
  },
  {
    id: 172,
    name: 'timer_cancel',
    proto: { ret: 'integer', args: ['timer'] },
    // 1 when the timer was armed, 0 when not; -EDEADLK from its own callback.
    call: (env, timer) => {
      const t = timerAt(env, ptrWord(Number(timer)));
      if (!t) return BigInt(-Errno.EINVAL);
      if (t.running) return BigInt(-EDEADLK);
      const was = t.expires !== undefined;
      // As the kernel, cancelling also drops the callback: a start needs set_callback again.
      t.expires = undefined;
      t.callback = undefined;
      return was ? 1n : 0n;
    },
  },
];
