// The reference capture (examples/xdp/iperf.pcap) parsed here without the library, so tests can check the
// library's answers against facts computed independently: classic little-endian pcap, Ethernet frames.
import { readFileSync } from 'node:fs';

const file = readFileSync(new URL('../../../examples/xdp/iperf.pcap', import.meta.url));

export function capturePackets(): Uint8Array[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (dv.getUint32(0, true) !== 0xa1b2c3d4) throw new Error('iperf.pcap: expected a little-endian pcap');
  const out: Uint8Array[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const len = dv.getUint32(at + 8, true);
    out.push(new Uint8Array(file.buffer, file.byteOffset + at + 16, len));
    at += 16 + len;
  }
  return out;
}

/** Indices of the IPv4 UDP packets to `port`, their count and total bytes. */
export function udpTo(port: number): { indices: number[]; packets: bigint; bytes: bigint } {
  const indices: number[] = [];
  let bytes = 0n;
  capturePackets().forEach((d, i) => {
    if (d.length < 34 || d[12] !== 0x08 || d[13] !== 0 || d[23] !== 17) return;
    const l4 = 14 + (d[14]! & 0x0f) * 4;
    if (d.length < l4 + 8 || ((d[l4 + 2]! << 8) | d[l4 + 3]!) !== port) return;
    indices.push(i);
    bytes += BigInt(d.length);
  });
  return { indices, packets: BigInt(indices.length), bytes };
}
