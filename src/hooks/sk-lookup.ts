// The sk_lookup test run, as the kernel's bpf_prog_test_run_sk_lookup does it (net/bpf/test_run.c, Linux
// 6.18, checked with BPF_PROG_TEST_RUN): no data in or out; a `struct bpf_sk_lookup` in is required, with
// `sk`/`cookie` 0 and nothing set after local_port; family and protocol are cut to 16 bits (the kernel's
// context holds u16), the family must then be AF_INET or AF_INET6 (else EAFNOSUPPORT) and local_port fit
// 16 bits (else ERANGE). The program sees the addresses of its family only (the other family's fields read
// 0, as the kernel's converted loads give), remote_port as the 16 bits given, ingress_ifindex 0 and no
// socket selected (ctx->sk NULL). The return value is the program's; ctx out is ctx in with the selected
// socket's cookie, which is 0 here: user space has no socket a program could select (lookups find none).

import type { Runner } from '../engine/runner.js';
import { Errno } from '../spec/errno.js';

/** `struct bpf_sk_lookup`: its size and field offsets. */
export const SK_LOOKUP_CTX = {
  size: 72,
  sk: 0,
  family: 8,
  protocol: 12,
  remoteIp4: 16,
  remoteIp6: 20,
  remotePort: 36,
  localIp4: 40,
  localIp6: 44,
  localPort: 60,
  ingressIfindex: 64,
} as const;

const AF_INET = 2;
const AF_INET6 = 10;
/** ERANGE and EAFNOSUPPORT, the two refusals that are not EINVAL or E2BIG. */
const ERANGE = 34;
const EAFNOSUPPORT = 97;

/** What an sk_lookup test run gives: the shape of a test run's result. */
export interface SkLookupRunResult {
  retval: number;
  dataOut: Uint8Array;
  ctxOut: Uint8Array;
  durationNs: number;
  repeat: number;
}

/**
 * `repeat` runs (0 is one) of an sk_lookup program on the `struct bpf_sk_lookup` in, or the kernel's
 * refusal through `refuse` (the errno the kernel returns).
 */
export function testRunSkLookup(
  runner: Runner,
  options: { dataIn: Uint8Array; ctxIn?: Uint8Array; clock?: () => number },
  repeat: number,
  refuse: (reason: string, errno?: number) => Error,
): SkLookupRunResult {
  const C = SK_LOOKUP_CTX;
  if (options.dataIn.length > 0)
    throw refuse(`sk_lookup test runs take no data_in (${options.dataIn.length} bytes given)`);
  const given = options.ctxIn;
  if (!given || given.length === 0) throw refuse('an sk_lookup test run needs a struct bpf_sk_lookup in');
  if (given.length > C.size && given.subarray(C.size).some((b) => b !== 0)) {
    throw refuse(
      `struct bpf_sk_lookup in has ${given.length} bytes, the struct ${C.size} (the rest must be zero)`,
      Errno.E2BIG,
    );
  }
  const ctxIn = new Uint8Array(C.size);
  ctxIn.set(given.subarray(0, C.size));
  const v = new DataView(ctxIn.buffer);
  if (v.getBigUint64(C.sk, true) !== 0n) throw refuse('struct bpf_sk_lookup in: sk (cookie) must be 0');
  if (ctxIn.subarray(C.localPort + 4).some((b) => b !== 0))
    throw refuse('struct bpf_sk_lookup in: nothing after local_port may be set (ingress_ifindex is 0)');
  const localPort = v.getUint32(C.localPort, true);
  if (localPort > 0xffff)
    throw refuse(`struct bpf_sk_lookup in: local_port ${localPort} does not fit 16 bits`, ERANGE);
  const family = v.getUint32(C.family, true) & 0xffff;
  if (family !== AF_INET && family !== AF_INET6) {
    throw refuse(
      `struct bpf_sk_lookup in: family ${family} is neither AF_INET (2) nor AF_INET6 (10)`,
      EAFNOSUPPORT,
    );
  }

  const space = runner.runtime.space;
  const region = space.allocate(C.size, 'ctx', 'bpf_sk_lookup context', false);
  try {
    const at = region.start;
    const b = space.bytes;
    const m = space.view;
    b.fill(0, at, at + C.size);
    m.setUint32(at + C.family, family, true);
    m.setUint32(at + C.protocol, v.getUint32(C.protocol, true) & 0xffff, true);
    m.setUint16(at + C.remotePort, v.getUint16(C.remotePort, true), true);
    m.setUint32(at + C.localPort, localPort, true);
    if (family === AF_INET) {
      b.set(ctxIn.subarray(C.remoteIp4, C.remoteIp4 + 4), at + C.remoteIp4);
      b.set(ctxIn.subarray(C.localIp4, C.localIp4 + 4), at + C.localIp4);
    } else {
      b.set(ctxIn.subarray(C.remoteIp6, C.remoteIp6 + 16), at + C.remoteIp6);
      b.set(ctxIn.subarray(C.localIp6, C.localIp6 + 16), at + C.localIp6);
    }
    const clock = options.clock ?? (() => performance.now() * 1e6);
    const runs = Math.max(1, repeat);
    runner.runtime.invocationDefaults = { programType: 'sk_lookup' };
    let retval = runner.run32(at);
    // The first run pays for compiling what it reaches: timed are the others, as the skb test runs do.
    const t0 = clock();
    for (let i = 1; i < runs; i++) retval = runner.run32(at);
    const durationNs = runs > 1 ? (clock() - t0) / (runs - 1) : 0;
    // No socket can be selected here: the cookie out is 0, the rest is the context in.
    return { retval: retval >>> 0, dataOut: new Uint8Array(0), ctxOut: ctxIn, durationNs, repeat };
  } finally {
    runner.runtime.invocationDefaults = {};
    space.release(region);
  }
}
