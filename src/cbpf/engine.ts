// A classic filter ready to run on one of three engines: the classic BPF interpreter ('cbpf'), or its eBPF
// translation run as a socket_filter program by the eBPF interpreter ('interp') or the JIT ('jit'). The
// translation goes through the verifier first; it runs unchecked when accepted, checked otherwise (a
// rejection of a translated classic filter is a verifier false alarm, reported in `verifierLog`).

import { createRunner } from '../engine/runner.js';
import { type SkBuffFields, SocketFilterHook } from '../hooks/socket-filter.js';
import type { Insn } from '../isa/index.js';
import { verify } from '../verifier/index.js';
import type { RunLimits } from '../vm/limits.js';
import { Runtime } from '../vm/runtime.js';
import { C, type SockFilter } from './insn.js';
import { runFilter, type SkbMeta } from './interp.js';
import { cbpfToEbpf } from './translate.js';

/**
 * Where a packet filter runs: the classic interpreter (`cbpf`), or translated to eBPF on the interpreter or
 * the JIT.
 */
export type FilterEngineName = 'cbpf' | 'interp' | 'jit';
/** Every FilterEngineName. */
export const FILTER_ENGINES: readonly FilterEngineName[] = ['cbpf', 'interp', 'jit'];

/** Options of createPacketFilter. */
export interface PacketFilterOptions {
  engine?: FilterEngineName;
  /** Run the eBPF translation checked even when the verifier accepts it. */
  checked?: boolean;
  /** Runtime to run the eBPF translation in (default: a new one). */
  runtime?: Runtime;
  /** Budget and deadline of each run of the eBPF translation (src/vm/limits.ts). */
  limits?: RunLimits;
}

/** A classic program ready to run on packets on its engine (createPacketFilter makes one). */
export interface PacketFilter {
  readonly engine: FilterEngineName;
  /** The eBPF translation (undefined for the cbpf engine). */
  readonly ebpf: Insn[] | undefined;
  /** Whether the verifier accepted the translation (true for the cbpf engine, which needs no verifier). */
  readonly verified: boolean;
  /** The verifier's log for the translation ('' for the cbpf engine). */
  readonly verifierLog: string;
  /** Whether the eBPF engine validates every access (unverified or forced). */
  readonly checked: boolean;
  /** The filter's return value for one packet: 0 = drop, else the number of bytes to keep. */
  run(packet: Uint8Array, wireLen?: number, skb?: SkbMeta): number;
  /** Release the runtime memory the eBPF engines hold. */
  close(): void;
}

/** The FilterEngineName `name` is; a RangeError naming the choices when it is none. */
export function parseFilterEngine(name: string): FilterEngineName {
  if ((FILTER_ENGINES as readonly string[]).includes(name)) return name as FilterEngineName;
  throw new RangeError(`unknown engine '${name}' (expected ${FILTER_ENGINES.join(', ')})`);
}

/** Prepares a checked classic program (see checkFilter) for the chosen engine (default 'jit'). */
export function createPacketFilter(
  prog: readonly SockFilter[],
  opts: PacketFilterOptions = {},
): PacketFilter {
  const engine = opts.engine ?? 'jit';
  if (engine === 'cbpf') {
    const runOpts: { wireLen?: number; skb?: SkbMeta } = {};
    return {
      engine,
      ebpf: undefined,
      verified: true,
      verifierLog: '',
      checked: false,
      run(packet, wireLen, skb) {
        runOpts.wireLen = wireLen;
        runOpts.skb = skb;
        return runFilter(prog, packet, runOpts);
      },
      close() {},
    };
  }
  const ebpf = cbpfToEbpf(prog);
  // A backward jump (libpcap's protochain loop) can run forever on a crafted packet (AH whose length
  // leads back to itself): the kernel refuses such filters, so the verifier is not asked (it would
  // spend its whole complexity budget first); the program runs checked, with an instruction budget.
  const loops = prog.some((f, i) => f.code === (C.JMP | C.JA) && i + 1 + f.k > 0xffffffff);
  const verdict = loops
    ? { accepted: false, log: 'not verified: the classic program jumps backward (protochain loop)' }
    : verify({ insns: ebpf, type: 'socket_filter', name: 'filter' });
  const checked = opts.checked === true || !verdict.accepted;
  const runtime = opts.runtime ?? new Runtime();
  const prepared = runtime.prepare({
    name: 'filter',
    section: 'socket',
    type: 'socket_filter',
    insns: ebpf,
    license: 'GPL',
  });
  const hook = new SocketFilterHook(createRunner(runtime, prepared, { engine, checked, ...opts.limits }));
  const fields: SkBuffFields = {};
  return {
    engine,
    ebpf,
    verified: verdict.accepted,
    verifierLog: verdict.log,
    checked,
    run(packet, wireLen, skb) {
      fields.len = wireLen;
      if (skb) Object.assign(fields, skbFields(skb));
      return hook.run(packet, fields).retval;
    },
    close: () => hook.close(),
  };
}

/** The classic interpreter's metadata as `__sk_buff` fields. */
function skbFields(s: SkbMeta): SkBuffFields {
  return {
    protocol: s.protocol ?? 0,
    pktType: s.pkttype ?? 0,
    ifindex: s.ifindex ?? 0,
    mark: s.mark ?? 0,
    queueMapping: s.queue ?? 0,
    hash: s.rxhash ?? 0,
    vlanTci: s.vlanTci ?? 0,
    vlanPresent: s.vlanPresent ?? false,
    vlanProto: s.vlanTpid ?? 0,
  };
}
