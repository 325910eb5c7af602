// In a browser's main thread, WebAssembly modules over 4 KB may not be compiled synchronously. Load the
// object as usual, then `await obj.compileAll()`: every program (tail-call targets included) is compiled
// without blocking, and running never compiles again. Here the object is read from disk; in a page it
// would come from `fetch(url).then((r) => r.arrayBuffer())`.
import { readFileSync } from 'node:fs';
import { loadObject, readObject, setTailCallTarget, XdpHook, xdpActionName } from '../../src/index.js';
import { readCapture } from '../../src/net/index.js';

const file = (name: string) => new Uint8Array(readFileSync(new URL(`../xdp/${name}`, import.meta.url)));

export async function main(print: (line: string) => void = console.log) {
  const obj = loadObject(readObject(file('tail_call.o'), { file: 'tail_call.o' }));
  setTailCallTarget(obj, 'jt', 17, 'xdp_on_udp'); // IPPROTO_UDP -> xdp_on_udp
  setTailCallTarget(obj, 'jt', 6, 'xdp_on_tcp'); // IPPROTO_TCP -> xdp_on_tcp
  await obj.compileAll();

  const hook = new XdpHook(obj.program('xdp_dispatch').runner());
  const verdicts: Record<string, number> = {};
  for (const packet of readCapture(file('iperf.pcap')).packets) {
    const name = xdpActionName(hook.run(packet.data).verdict);
    verdicts[name] = (verdicts[name] ?? 0) + 1;
  }
  print(`verdicts: ${JSON.stringify(verdicts)}`);
  return verdicts;
}
