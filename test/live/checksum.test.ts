// Offloaded checksums: frames read from a veth carry only the pseudo-header sum in the UDP/TCP checksum
// field; completeChecksum finishes it as the kernel's software fallback does.

import { describe, expect, it } from 'vitest';
import { buildFrame, inetChecksum } from '../../src/net/packet.js';
import { completeChecksum } from '../../src/node/index.js';

describe('completeChecksum', () => {
  it('turns a pseudo-header partial sum into the full checksum buildFrame computes', () => {
    const full = buildFrame({
      ipv4: { src: '10.1.2.3', dst: '10.4.5.6' },
      udp: { sport: 1234, dport: 5001 },
      payload: 33,
    });
    const l4 = 14 + 20;
    const partial = full.slice();
    // what the sender leaves: the folded (not complemented) pseudo-header sum
    const udpLen = full.length - l4;
    const pseudo = new Uint8Array([...full.subarray(26, 34), 0, 17, udpLen >> 8, udpLen & 0xff]);
    const sum = ~inetChecksum(pseudo) & 0xffff;
    partial[l4 + 6] = sum >> 8;
    partial[l4 + 7] = sum & 0xff;
    expect(partial).not.toEqual(full);
    completeChecksum(partial, l4, 6);
    expect(partial).toEqual(full);
  });

  it('ignores a field outside the frame', () => {
    const f = new Uint8Array(20);
    completeChecksum(f, 18, 6);
    expect(f).toEqual(new Uint8Array(20));
  });
});
