// Clock, randomness and CPU helpers. The clock is read as a number (env.nowNsNumber): time since boot in
// ns stays far below 2^53, so every result here is a safe integer.

import { onNumbers } from './args.js';
import { COARSE_CLOCK_TYPES } from './groups.js';
import type { HelperDef } from './types.js';

/** Kernel tick rate assumed for jiffies (Debian's CONFIG_HZ). */
export const HZ = 250;
const NS_PER_JIFFY = 1_000_000_000 / HZ;
/** jiffies start 5 minutes before wrapping 32 bits, so wrap bugs show early (INITIAL_JIFFIES). */
const INITIAL_JIFFIES = 2 ** 32 - 300 * HZ;

/** `t` rounded toward zero to a whole tick (exact: `%` of integers is, and so is the difference). */
const tickFloor = (t: number): number => t - (t % NS_PER_JIFFY);

export const TIME_HELPERS: HelperDef[] = [
  {
    id: 5,
    name: 'ktime_get_ns',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => env.nowNsNumber()),
  },
  {
    id: 125,
    name: 'ktime_get_boot_ns',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => env.nowNsNumber()),
  },
  {
    id: 160,
    name: 'ktime_get_coarse_ns',
    proto: { ret: 'integer', args: [] },
    // The kernel offers it to networking programs only (a probe may fire inside the clock's update).
    programTypes: COARSE_CLOCK_TYPES,
    // The coarse clock advances once per tick.
    ...onNumbers([], (env) => tickFloor(env.nowNsNumber())),
  },
  {
    id: 118,
    name: 'jiffies64',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => INITIAL_JIFFIES + tickFloor(env.nowNsNumber()) / NS_PER_JIFFY),
  },
  {
    id: 7,
    name: 'get_prandom_u32',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => env.random32() >>> 0),
  },
  {
    id: 8,
    name: 'get_smp_processor_id',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => env.cpu),
  },
];
