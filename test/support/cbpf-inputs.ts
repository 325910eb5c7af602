// Random inputs for classic BPF filters: packets with bytes that headers care about, and socket metadata.
// Shared by the translation test (test/cbpf/translate.test.ts) and the fuzz suite (test/fuzz/cbpf.test.ts).

import type { SkbMeta } from '../../src/cbpf/interp.js';
import type { Rng } from './gen.js';

/** Up to 80 bytes, a third of them values headers test (0, 1, 0x20, 0x45, 0xff). */
export function randomPacket(r: Rng): Uint8Array {
  const p = new Uint8Array(r.int(80));
  for (let i = 0; i < p.length; i++) p[i] = r.chance(0.3) ? r.pick([0, 1, 0x20, 0x45, 0xff]) : r.int(256);
  return p;
}

/** Socket metadata a filter can load (ancillary data). */
export function randomSkb(r: Rng): SkbMeta {
  return {
    protocol: r.int(0x10000),
    pkttype: r.int(5),
    ifindex: r.int(100),
    mark: r.u32(),
    queue: r.int(16),
    rxhash: r.u32(),
    vlanTci: r.int(0x10000),
    vlanPresent: r.chance(0.5),
    vlanTpid: r.pick([0x8100, 0x88a8, 0]),
  };
}
