// The one helper registry, read by the verifier (prototypes), the interpreter and the JIT (implementations).
// Helper groups live in their own files and are listed here.

import { kernelHelperId } from '../spec/helper-names.js';
import { CGROUP_STORAGE_HELPERS } from './cgroup-storage.js';
import { CONTROL_HELPERS } from './control.js';
import { DYNPTR_HELPERS } from './dynptr.js';
import { KPTR_HELPERS } from './kptr.js';
import { LIRC_HELPERS } from './lirc.js';
import { MAP_HELPERS } from './maps.js';
import { NETINFO_HELPERS } from './netinfo.js';
import { PERF_HELPERS } from './perf.js';
import { RINGBUF_HELPERS } from './ringbuf.js';
import { ROUTE_HELPERS } from './route.js';
import { SECURITY_HELPERS } from './security.js';
import { SKB_HELPERS } from './skb.js';
import { SOCK_HELPERS } from './sock.js';
import { SOCK_CALL_HELPERS } from './sock-calls.js';
import { SOCK_CAST_HELPERS } from './sock-casts.js';
import { SOCKOPS_HELPERS } from './sockops.js';
import { STACK_HELPERS } from './stack.js';
import { STORAGE_HELPERS } from './storage.js';
import { STRING_HELPERS } from './strings.js';
import { SYNCOOKIE_HELPERS } from './syncookie.js';
import { SYSCALL_HELPERS } from './syscall.js';
import { TASK_HELPERS } from './task.js';
import { TIME_HELPERS } from './time.js';
import { TIMER_HELPERS } from './timer.js';
import { TRACE_HELPERS } from './trace.js';
import { TRACE_OUTPUT_HELPERS } from './trace-output.js';
import { TUNNEL_HELPERS } from './tunnel.js';
import type { HelperDef } from './types.js';
import { XDP_HELPERS } from './xdp.js';

const ALL: HelperDef[] = [
  ...MAP_HELPERS,
  ...KPTR_HELPERS,
  ...TIME_HELPERS,
  ...TASK_HELPERS,
  ...STRING_HELPERS,
  ...CONTROL_HELPERS,
  ...XDP_HELPERS,
  ...RINGBUF_HELPERS,
  ...SKB_HELPERS,
  ...TRACE_HELPERS,
  ...STACK_HELPERS,
  ...SOCK_HELPERS,
  ...ROUTE_HELPERS,
  ...SOCKOPS_HELPERS,
  ...STORAGE_HELPERS,
  ...NETINFO_HELPERS,
  ...PERF_HELPERS,
  ...TUNNEL_HELPERS,
  ...SOCK_CAST_HELPERS,
  ...SYNCOOKIE_HELPERS,
  ...CGROUP_STORAGE_HELPERS,
  ...SOCK_CALL_HELPERS,
  ...SYSCALL_HELPERS,
  ...SECURITY_HELPERS,
  ...TRACE_OUTPUT_HELPERS,
  ...LIRC_HELPERS,
  ...TIMER_HELPERS,
  ...DYNPTR_HELPERS,
];

/** Helpers by id. */
export const HELPERS: ReadonlyMap<number, HelperDef> = new Map(ALL.map((h) => [h.id, h]));

/** The implemented helper with kernel id `id`. */
export function helperById(id: number): HelperDef | undefined {
  return HELPERS.get(id);
}

/** The implemented helper called `name` (with or without `bpf_`): names are the kernel's (names.ts). */
export function helperByName(name: string): HelperDef | undefined {
  const id = kernelHelperId(name);
  return id === undefined ? undefined : HELPERS.get(id);
}
