// The kernel as the oracle for the eBPF translation of classic filters: each compiled filter's translation
// is loaded with bpf(BPF_PROG_LOAD, socket_filter) (so the kernel's verifier must accept it too) and run
// with BPF_PROG_TEST_RUN on every packet of a capture; its return value must equal ours on the eBPF
// interpreter, the JIT and the classic interpreter.
//
// The kernel's test run for socket filters treats data_in as an Ethernet frame, takes the EtherType for
// skb->protocol and pulls the 14-byte header: the program sees skb->data at the network header and
// skb->len = data_in length - 14. So each captured frame is sent behind a dummy 14-byte Ethernet header,
// and the filter sees exactly the captured bytes, as ours does when `len` is the captured length (the
// kernel has no notion of the wire length of a truncated capture). Filters are compiled forward-only
// (protochain unrolled): the kernel refuses libpcap's protochain loop, classic or eBPF. The dummy header carries a local
// experimental EtherType (0x88b5): with 0x0800 the kernel refuses (EINVAL) frames shorter than an IPv4
// header, and the filters never read skb->protocol.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFilter, createPacketFilter, type FilterEngineName } from '../../src/cbpf/index.js';
import * as k from '../../src/kernel/index.js';
import { LinkType, readCapture } from '../../src/net/pcap.js';
import { Runtime } from '../../src/vm/runtime.js';
import { kernelOracle } from '../support/kernel.js';
import { ETHER_CORPUS, RAW_CORPUS } from './corpus.js';

const oracle = kernelOracle();
const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;

/** A dummy Ethernet header (to the broadcast address) carrying `etherType`, then the frame. */
function behindEthernet(frame: Uint8Array, etherType: number): Uint8Array {
  const out = new Uint8Array(14 + frame.length);
  out.fill(0xff, 0, 6);
  out.set([0x02, 0, 0, 0, 0, 1], 6);
  out[12] = etherType >> 8;
  out[13] = etherType & 0xff;
  out.set(frame, 14);
  return out;
}

const SUITES = [
  { file: 'crafted.pcap', linkType: LinkType.ETHERNET, corpus: ETHER_CORPUS },
  { file: 'crafted-raw.pcap', linkType: LinkType.RAW, corpus: RAW_CORPUS },
];

describe.skipIf(!oracle)('classic filters translated to eBPF, against the kernel', () => {
  for (const s of SUITES) {
    it(`kernel verdicts equal ours for ${s.corpus.length} expressions over ${s.file}`, () => {
      const packets = readCapture(new Uint8Array(readFileSync(DIR + s.file))).packets;
      const inputs = packets.map((p) => behindEthernet(p.data, 0x88b5));
      const runtime = new Runtime();
      const mismatches: string[] = [];
      let runs = 0;
      for (const expr of s.corpus) {
        const prog = compileFilter(expr, { linkType: s.linkType, forwardOnly: true });
        const filters = (['cbpf', 'interp', 'jit'] as FilterEngineName[]).map((engine) =>
          createPacketFilter(prog, { engine, runtime }),
        );
        const loaded = k.progLoad({
          type: k.ProgType.SOCKET_FILTER,
          insns: filters[1]!.ebpf!,
          license: 'GPL',
          name: 'filter',
        });
        try {
          for (const [i, p] of packets.entries()) {
            let kernel: number;
            try {
              kernel = k.progTestRun(loaded.fd, { data: inputs[i]!, dataOutSize: inputs[i]!.length }).retval;
            } catch (e) {
              throw new Error(`packet ${i} (${inputs[i]!.length} bytes): ${e}`);
            }
            runs++;
            for (const f of filters) {
              const ours = f.run(p.data, p.data.length);
              if (ours !== kernel)
                mismatches.push(`${expr} packet ${i} [${f.engine}]: kernel ${kernel}, ours ${ours}`);
            }
          }
        } finally {
          k.close(loaded.fd);
          for (const f of filters) f.close();
        }
      }
      console.log(
        `[filter kernel] ${s.file}: ${s.corpus.length} expressions loaded by the kernel, ${runs} test runs, ` +
          `${mismatches.length} mismatches`,
      );
      expect(mismatches.slice(0, 20)).toEqual([]);
    }, 120_000);
  }
});
