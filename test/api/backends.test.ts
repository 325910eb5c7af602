// One user script, both back ends: examples/api/collection.ts loads udp_drop.o with
// loadCollection(spec, { backend }), where only `backend` changes. Over the capture, every packet gets the
// same verdict from the user-space runtime and the kernel; on a veth in private network namespaces, the
// user-space packet-socket data path and the kernel's XDP link count the same drops for the same datagrams,
// and after close nothing is left: no XDP program on the interface, no file descriptor, no namespace.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Drops, udpDrop, udpDropCapture, type Veth } from '../../examples/api/collection.js';
import type { BackendName } from '../../src/collection/index.js';
import { createVethPair } from '../kernel/veth.js';
import { kernelOracle } from '../support/kernel.js';
import { capturePackets, udpTo } from './support/capture.js';

const oracle = kernelOracle();
const XDP_DROP = 1;
const XDP_PASS = 2;
const BACKENDS: BackendName[] = ['userspace', 'kernel'];
const openFds = () => readdirSync('/proc/self/fd').length;
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
/** What the example sends (5 datagrams to 5001, 4 to 5002): Ethernet 14 + IPv4 20 + UDP 8 + 'tsbpf' 5. */
const LIVE_DROPS: Drops = new Map([[5001, { packets: 5n, bytes: 5n * 47n }]]);

describe('one script, both back ends (examples/api/collection.ts)', () => {
  it.skipIf(!oracle)(
    'over the capture: every packet gets the same verdict, and the same drops, on both',
    () => {
      const ours = udpDropCapture('userspace');
      const kernel = udpDropCapture('kernel');
      expect(kernel.verdicts).toEqual(ours.verdicts);
      expect(kernel.drops).toEqual(ours.drops);
      // Both are right, too: exactly the IPv4 UDP datagrams to 5001 are dropped, and counted per port.
      const want = udpTo(5001);
      expect(want.indices.length).toBeGreaterThan(0);
      expect(kernel.verdicts.length).toBe(capturePackets().length);
      expect(kernel.verdicts.flatMap((v, i) => (v === XDP_DROP ? [i] : []))).toEqual(want.indices);
      expect(kernel.verdicts.every((v) => v === XDP_DROP || v === XDP_PASS)).toBe(true);
      expect(kernel.drops).toEqual(new Map([[5001, { packets: want.packets, bytes: want.bytes }]]));
    },
  );

  it.skipIf(!oracle)(
    'on a veth: the same drops from both back ends; after close no XDP program and no open fd',
    async () => {
      const net = createVethPair(`tsbpf${process.pid}c`, 86);
      try {
        const veth: Veth = { netns: net.nsB, dev: 'vb', peerNetns: net.nsA, address: net.addrB };
        const results = new Map<BackendName, Drops>();
        for (const backend of BACKENDS) {
          const fds = openFds();
          results.set(backend, await udpDrop(backend, veth));
          expect(net.ip('-n', net.nsB, 'link', 'show', 'vb'), backend).not.toMatch(/xdp/);
          expect(openFds(), backend).toBe(fds);
        }
        expect(results.get('kernel')).toEqual(LIVE_DROPS);
        expect(results.get('userspace')).toEqual(LIVE_DROPS);
      } finally {
        net.remove();
      }
      expect(namespaces()).not.toContain(net.nsA);
    },
  );

  it.skipIf(!oracle)(
    'with a veth of its own: the same drops, and its namespaces are gone afterwards',
    async () => {
      const tag = `tsbpf-ex${process.pid}`;
      for (const backend of BACKENDS) {
        expect(await udpDrop(backend), backend).toEqual(LIVE_DROPS);
        expect(namespaces(), backend).not.toContain(tag);
      }
    },
  );
});
