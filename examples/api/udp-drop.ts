// The reference example from JavaScript: read the clang-compiled object, set its `blocked_port` constant
// before loading (like a libbpf skeleton), run it over a capture of iperf traffic with the XDP hook, and
// read the drop counters as objects, typed by the object's BTF.
import { readFileSync } from 'node:fs';
import { getGlobal, loadObject, readObject, setGlobal, XdpHook, xdpActionName } from '../../src/index.js';
import { readCapture } from '../../src/net/index.js';

const file = (name: string) => new Uint8Array(readFileSync(new URL(`../xdp/${name}`, import.meta.url)));

export function main(port = 5002, print: (line: string) => void = console.log) {
  const spec = readObject(file('udp_drop.o'), { file: 'udp_drop.o' });
  print(`blocked_port was ${getGlobal(spec, 'blocked_port')}, now ${port}`);
  setGlobal(spec, 'blocked_port', port); // .rodata: set on the spec, frozen once loaded

  const obj = loadObject(spec); // verifies, creates the maps, prepares for the JIT
  const hook = new XdpHook(obj.program('xdp_udp_drop').runner());
  const verdicts: Record<string, number> = {};
  for (const packet of readCapture(file('iperf.pcap')).packets) {
    const name = xdpActionName(hook.run(packet.data).verdict);
    verdicts[name] = (verdicts[name] ?? 0) + 1;
  }
  print(`verdicts: ${JSON.stringify(verdicts)}`);

  const drops = obj.typedMap<number, { packets: bigint; bytes: bigint }>('drops');
  for (const [dport, { packets, bytes }] of drops) {
    print(`port ${dport}: ${packets} packets, ${bytes} bytes dropped`);
  }
  return { verdicts, drops: new Map(drops) };
}
