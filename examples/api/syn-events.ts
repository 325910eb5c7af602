// Events from a program to JavaScript: the clang-compiled SYN reporter sends one ring-buffer record per
// TCP SYN, and `events()` delivers them as an async iterator, decoded by a function of ours. (A ring
// buffer's spec has no value type, and clang emits no BTF for a struct only used through a local pointer,
// so the record layout, `struct syn_event` in syn_events.c, is read here by offset.)
import { readFileSync } from 'node:fs';
import { events, loadObject, readObject, XdpHook } from '../../src/index.js';
import { buildFrame, formatIpv4, TcpFlag } from '../../src/net/index.js';

interface SynEvent {
  ts_ns: bigint;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

/** struct syn_event { u64 ts_ns; u32 saddr, daddr (network order); u16 sport, dport; u32 pad; } */
function decode(data: Uint8Array): SynEvent {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    ts_ns: v.getBigUint64(0, true),
    saddr: formatIpv4(data, 8),
    daddr: formatIpv4(data, 12),
    sport: v.getUint16(16, true),
    dport: v.getUint16(18, true),
  };
}

export async function main(print: (line: string) => void = console.log) {
  const spec = readObject(new Uint8Array(readFileSync(new URL('../xdp/syn_events.o', import.meta.url))));
  let now = 1_000_000n; // a fake clock, so the example prints the same times every run
  const obj = loadObject(spec, { runtimeOptions: { clock: () => (now += 1000n) } });
  const stream = events(obj.map('syn_ring'), { decode });

  const hook = new XdpHook(obj.program().runner());
  const ipv4 = { src: '192.0.2.7', dst: '198.51.100.1' };
  for (const [dport, flags] of [
    [22, TcpFlag.SYN],
    [80, TcpFlag.SYN],
    [80, TcpFlag.SYN | TcpFlag.ACK], // not a new connection: no event
    [443, TcpFlag.SYN],
  ] as const) {
    hook.run(buildFrame({ ipv4, tcp: { sport: 40000 + dport, dport, flags } }));
  }
  stream.close(); // the iteration below ends after what is buffered

  const received: SynEvent[] = [];
  for await (const e of stream) {
    received.push(e);
    print(`${e.ts_ns} ns  SYN ${e.saddr}:${e.sport} -> ${e.daddr}:${e.dport}`);
  }
  print(`${stream.received} events, ${stream.lost} lost`);
  return received;
}
