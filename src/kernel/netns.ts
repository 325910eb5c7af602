// Running code inside a named network namespace (`ip netns add NAME`): the calling thread switches with
// setns(2), runs the function, and switches back. bpf() calls that take an interface index (XDP links)
// and if_nametoindex resolve names in the calling thread's namespace, so tests and demos attach to their
// own veth pairs and never to the machine's interfaces.

import { closeSync, openSync } from 'node:fs';
import { KernelError } from './errors.js';
import { setNamespace } from './ffi.js';

const CLONE_NEWNET = 0x40000000;

/** Run `fn` with the calling thread in network namespace `name` (from /run/netns) or at `path`. */
export function withNetns<T>(name: string, fn: () => T): T {
  const path = name.includes('/') ? name : `/run/netns/${name}`;
  const home = openSync('/proc/thread-self/ns/net', 'r');
  let target: number;
  try {
    target = openSync(path, 'r');
  } catch (e) {
    closeSync(home);
    throw new KernelError('setns', 2, `no network namespace ${name} (${(e as Error).message})`);
  }
  try {
    const r = setNamespace(target, CLONE_NEWNET);
    if (r < 0) throw new KernelError('setns', -r, `network namespace ${name}`);
    let result: T | undefined;
    let error: unknown;
    let failed = false;
    try {
      result = fn();
    } catch (e) {
      failed = true;
      error = e;
    }
    // Not being able to return outranks fn's own error: the thread would stay in the wrong namespace.
    const back = setNamespace(home, CLONE_NEWNET);
    if (back < 0) throw new KernelError('setns', -back, 'returning to the original network namespace');
    if (failed) throw error;
    return result as T;
  } finally {
    closeSync(target);
    closeSync(home);
  }
}
