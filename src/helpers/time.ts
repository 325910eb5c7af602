// Clock, randomness and CPU helpers.

import { onNumbers } from './args.js';
import type { HelperDef } from './types.js';

/** Kernel tick rate assumed for jiffies (Debian's CONFIG_HZ). */
export const HZ = 250n;
const NS_PER_JIFFY = 1_000_000_000n / HZ;
/** jiffies start 5 minutes before wrapping 32 bits, so wrap bugs show early (INITIAL_JIFFIES). */
const INITIAL_JIFFIES = (1n << 32n) - 300n * HZ;

export const TIME_HELPERS: HelperDef[] = [
  { id: 5, name: 'ktime_get_ns', proto: { ret: 'integer', args: [] }, call: (env) => env.nowNs() },
  { id: 125, name: 'ktime_get_boot_ns', proto: { ret: 'integer', args: [] }, call: (env) => env.nowNs() },
  {
    id: 160,
    name: 'ktime_get_coarse_ns',
    proto: { ret: 'integer', args: [] },
    // The coarse clock advances once per tick.
    call: (env) => {
      const t = env.nowNs();
      return t - (t % NS_PER_JIFFY);
    },
  },
  {
    id: 118,
    name: 'jiffies64',
    proto: { ret: 'integer', args: [] },
    call: (env) => INITIAL_JIFFIES + env.nowNs() / NS_PER_JIFFY,
  },
  {
    id: 7,
    name: 'get_prandom_u32',
    proto: { ret: 'integer', args: [] },
    call: (env) => BigInt(env.random32() >>> 0),
  },
  {
    id: 8,
    name: 'get_smp_processor_id',
    proto: { ret: 'integer', args: [] },
    ...onNumbers([], (env) => env.cpu),
  },
];
