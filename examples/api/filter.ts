// A pcap-filter expression compiled to classic BPF (as `tcpdump -d` would), then run over a capture on
// the classic interpreter and, translated to eBPF, on the JIT: the same packets match either way.
import { readFileSync } from 'node:fs';
import { compileFilter, createPacketFilter, formatAsm } from '../../src/cbpf/index.js';
import { readCapture, summarize } from '../../src/net/index.js';

export function main(expression = 'udp dst port 5001', print: (line: string) => void = console.log) {
  const program = compileFilter(expression); // throws FilterSyntaxError naming the position
  print(formatAsm(program));

  const capture = readCapture(new Uint8Array(readFileSync(new URL('../xdp/iperf.pcap', import.meta.url))));
  const matched: Record<string, number[]> = {};
  for (const engine of ['cbpf', 'jit'] as const) {
    const filter = createPacketFilter(program, { engine });
    matched[engine] = capture.packets.flatMap((p, i) => (filter.run(p.data, p.origLen) > 0 ? [i] : []));
    filter.close();
    print(`${engine}: ${matched[engine]!.length} of ${capture.packets.length} packets match`);
  }
  const first = matched.jit![0];
  if (first !== undefined) {
    print(`first match: ${summarize(capture.packets[first]!.data, capture.linkType)}`);
  }
  return { program, matched, total: capture.packets.length };
}
