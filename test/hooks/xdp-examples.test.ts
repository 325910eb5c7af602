import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { XdpAction, XdpHook } from '../../src/hooks/xdp.js';
import { readCapture } from '../../src/net/pcap.js';

const capture = readCapture(readFileSync('examples/xdp/iperf.pcap'));

function udpDstPort(p: Uint8Array): number | undefined {
  if (p.length < 14 + 20 + 8 || p[12] !== 0x08 || p[13] !== 0x00 || p[23] !== 17) return undefined;
  const ihl = (p[14]! & 0x0f) * 4;
  return (p[14 + ihl + 2]! << 8) | p[14 + ihl + 3]!;
}

describe('udp_drop example over the bundled iperf capture', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`drops exactly the UDP datagrams to port 5001 (${engine})`, () => {
      const obj = loadObject(readObject(readFileSync('examples/xdp/udp_drop.o')), { verify: false });
      const hook = new XdpHook(obj.program().runner(engine));
      let dropped = 0;
      let droppedBytes = 0;
      for (const pkt of capture.packets) {
        const r = hook.run(pkt.data);
        const to5001 = udpDstPort(pkt.data) === 5001;
        expect(r.verdict).toBe(to5001 ? XdpAction.DROP : XdpAction.PASS);
        expect(r.changed).toBe(false);
        if (to5001) {
          dropped++;
          droppedBytes += pkt.data.length;
        }
      }
      expect(dropped).toBeGreaterThan(50);
      const key = new Uint8Array([0x89, 0x13, 0, 0]); // 5001 as a little-endian u32
      const value = obj.map('drops').lookup(key)!;
      const v = new DataView(value.buffer, value.byteOffset);
      expect(v.getBigUint64(0, true)).toBe(BigInt(dropped));
      expect(v.getBigUint64(8, true)).toBe(BigInt(droppedBytes));
    });
  }
});
