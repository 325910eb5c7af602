// The flow dissector's test run, as the kernel's bpf_prog_test_run_flow_dissector (net/bpf/test_run.c)
// gives it on Linux 6.18: data_in is an Ethernet frame of 14 to 4096 bytes (a page; EINVAL otherwise). Before
// every run the `struct bpf_flow_keys` is zeroed, then nhoff = thoff = 14 (ETH_HLEN), n_proto = the frame's
// EtherType as it stands (an 802.1Q tag is the program's to parse) and flags = the flags of ctx_in. The
// program's `__sk_buff` has data/data_end around the whole frame (from the Ethernet header) and
// `flow_keys`; it has no skb behind it, so bpf_skb_load_bytes fails with EFAULT and clears its buffer. After
// each run the kernel clamps nhoff into [14, len] and thoff into [nhoff, len]. The result is the program's
// return value and, as data_out, the 56 bytes of the flow keys.
//
// ctx_in, when given, is a `struct bpf_flow_keys` in which only `flags` may be set (EINVAL otherwise; longer
// than 56 bytes with non-zero bytes after them: E2BIG); ctx_out is that context back, unchanged.
//
// Timing: each run begins with the keys reset, as the kernel's loop does, so the repeats are single runs in
// a JS loop (the reset is one 56-byte copy) rather than the engine's batch entry.

import type { Runner } from '../engine/runner.js';
import { attachSkbState, CsumState, detachSkbState } from '../helpers/skb.js';
import type { Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { FLOW_KEYS_SIZE } from '../spec/program-types.js';
import { checkDeadline } from '../vm/limits.js';

/** ETH_HLEN: where the network header starts (the keys' nhoff before a run, and its lower clamp). */
const ETH_HLEN = 14;
/** Largest data_in: the kernel's bpf_test_init takes up to a page (no head- or tailroom here). */
export const FLOW_DISSECTOR_MAX_DATA = 4096;
/** Offsets in `struct bpf_flow_keys`. */
const KEY_NHOFF = 0;
const KEY_THOFF = 2;
const KEY_N_PROTO = 10;
const KEY_FLAGS = 48;
/** Offsets in the program's `__sk_buff`: data, data_end and the flow_keys pointer. */
const CTX_DATA = 76;
const CTX_DATA_END = 80;
const CTX_FLOW_KEYS = 144;
const CTX_SIZE = 192;
/** Runs between deadline checks. */
const DEADLINE_EVERY = 1024;

/** What a flow dissector test run gives (the shape of test-run.ts's TestRunResult). */
export interface FlowDissectorRun {
  retval: number;
  /** The flow keys after the last run (56 bytes). */
  dataOut: Uint8Array;
  /** The `struct bpf_flow_keys` in (zeros without one), unchanged, as the kernel copies it back. */
  ctxOut: Uint8Array;
  durationNs: number;
}

/**
 * Run a flow dissector `repeat` (≥ 1) times on `dataIn`, as the kernel's test run. `refuse(why, errno)`
 * makes the error the caller throws for arguments the kernel refuses.
 */
export function testRunFlowDissector(
  runner: Runner,
  dataIn: Uint8Array,
  ctxIn: Uint8Array | undefined,
  repeat: number,
  clock: () => number,
  deadline: number | undefined,
  refuse: (why: string, errno?: number) => Error,
): FlowDissectorRun {
  if (dataIn.length < ETH_HLEN || dataIn.length > FLOW_DISSECTOR_MAX_DATA) {
    throw refuse(
      `data_in has ${dataIn.length} bytes; a flow dissector test run takes ${ETH_HLEN} to ${FLOW_DISSECTOR_MAX_DATA}`,
    );
  }
  const keysIn = flowKeysIn(ctxIn, refuse);
  const flags = new DataView(keysIn.buffer).getUint32(KEY_FLAGS, true);
  const rt = runner.runtime;
  const space = rt.space;
  const packet = space.allocate(dataIn.length, 'packet', 'flow dissector packet', false);
  const keys = space.allocate(FLOW_KEYS_SIZE, 'scratch', 'bpf_flow_keys', true);
  const ctx = space.allocate(CTX_SIZE, 'ctx', 'flow dissector __sk_buff', false);
  // No skb behind the context (the kernel's ctx->skb is NULL): the skb helpers see one of length 0, so
  // bpf_skb_load_bytes fails with EFAULT and clears its buffer, as the kernel's does.
  const noSkb: Region = { ...packet, start: packet.start, end: packet.start };
  attachSkbState(space, ctx.start, {
    packet: noSkb,
    mac: packet.start,
    net: packet.start + ETH_HLEN,
    ipSummed: CsumState.NONE,
    csumLevel: 0,
    csum: 0,
    maxLen: 0,
    encapsulated: false,
  });
  try {
    space.bytes.set(dataIn, packet.start);
    const v = space.view;
    space.bytes.fill(0, ctx.start, ctx.start + CTX_SIZE);
    v.setUint32(ctx.start + CTX_DATA, packet.start, true);
    v.setUint32(ctx.start + CTX_DATA_END, packet.start + dataIn.length, true);
    v.setBigUint64(ctx.start + CTX_FLOW_KEYS, BigInt(keys.start), true);
    // The keys every run starts from: zeros, nhoff = thoff = ETH_HLEN, n_proto (a __be16: the frame's two
    // bytes as they are), flags. Copied in before each run, as the kernel resets them.
    const fresh = new Uint8Array(FLOW_KEYS_SIZE);
    const f = new DataView(fresh.buffer);
    f.setUint16(KEY_NHOFF, ETH_HLEN, true);
    f.setUint16(KEY_THOFF, ETH_HLEN, true);
    fresh[KEY_N_PROTO] = dataIn[12]!;
    fresh[KEY_N_PROTO + 1] = dataIn[13]!;
    f.setUint32(KEY_FLAGS, flags, true);
    const at = keys.start;
    rt.invocationDefaults = { packet, programType: runner.program.type || 'flow_dissector' };
    rt.invocation.redirect = undefined;
    runner.warmUp();
    // As in test-run.ts: with several runs the first (which compiles what only running reaches) is untimed.
    let retval = 0;
    if (repeat > 1) {
      space.bytes.set(fresh, at);
      retval = runner.run32(ctx.start);
    }
    const timed = repeat > 1 ? repeat - 1 : 1;
    const t0 = clock();
    for (let i = 0; i < timed; i++) {
      if (deadline !== undefined && i % DEADLINE_EVERY === 0) checkDeadline(deadline, -1);
      space.bytes.set(fresh, at);
      retval = runner.run32(ctx.start);
    }
    const durationNs = (clock() - t0) / timed;
    // The kernel clamps after every run, but the next run starts from fresh keys: only the last one's show.
    clampOffsets(space.view, keys, dataIn.length);
    return { retval, dataOut: space.bytes.slice(keys.start, keys.end), ctxOut: keysIn, durationNs };
  } finally {
    rt.invocationDefaults = {};
    detachSkbState(space, ctx.start);
    space.release(ctx);
    space.release(keys);
    space.release(packet);
  }
}

/** The kernel's clamps after a run: nhoff into [ETH_HLEN, len], thoff into [nhoff, len] (u16 values). */
function clampOffsets(v: DataView, keys: Region, len: number): void {
  const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
  const nhoff = clamp(v.getUint16(keys.start + KEY_NHOFF, true), ETH_HLEN, len);
  v.setUint16(keys.start + KEY_NHOFF, nhoff, true);
  v.setUint16(keys.start + KEY_THOFF, clamp(v.getUint16(keys.start + KEY_THOFF, true), nhoff, len), true);
}

/** ctx_in as the kernel checks it: a `struct bpf_flow_keys` with only `flags` set, padded to 56 bytes. */
function flowKeysIn(
  ctxIn: Uint8Array | undefined,
  refuse: (why: string, errno?: number) => Error,
): Uint8Array {
  const keys = new Uint8Array(FLOW_KEYS_SIZE);
  if (!ctxIn) return keys;
  if (ctxIn.length > FLOW_KEYS_SIZE && ctxIn.subarray(FLOW_KEYS_SIZE).some((b) => b !== 0)) {
    throw refuse(
      `bpf_flow_keys context in has ${ctxIn.length} bytes, struct bpf_flow_keys has ${FLOW_KEYS_SIZE} (the rest must be zero)`,
      Errno.E2BIG,
    );
  }
  keys.set(ctxIn.subarray(0, FLOW_KEYS_SIZE));
  for (let i = 0; i < FLOW_KEYS_SIZE; i++) {
    if (keys[i] !== 0 && (i < KEY_FLAGS || i >= KEY_FLAGS + 4)) {
      throw refuse(`invalid bpf_flow_keys context in: byte ${i} is set (only flags, bytes 48-51, may be)`);
    }
  }
  return keys;
}
