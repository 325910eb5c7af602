// Assemble a program from text, verify it, load it with a map, and run it on both engines.
//
// The program is an XDP counter: it adds each packet's length to a per-length-class total
// (0: under 128 bytes, 1: 128 bytes and more) in an array map, drops packets shorter than 64 bytes and
// passes the rest. Everything here is the public API: `tsbpf`, `tsbpf/asm`, `tsbpf/pcap` and
// `tsbpf/verifier` once built (in this repo, the source entries they are built from).
import { assemble } from '../../src/asm/index.js';
import { loadObject, MapType, type ObjectSpec, testRun } from '../../src/index.js';
import { buildFrame } from '../../src/net/index.js';
import { verify } from '../../src/verifier/index.js';

const source = `
    r2 = *(u32 *)(r1 + 0)        # ctx->data
    r3 = *(u32 *)(r1 + 4)        # ctx->data_end
    r4 = r3
    r4 -= r2                     # packet length
    r5 = 0
    if r4 < 128 goto small
    r5 = 1
small:
    *(u32 *)(r10 - 4) = r5       # key: the length class
    r6 = r4
    r1 = map_fd(0) ll
    r2 = r10
    r2 += -4
    call 1                       # bpf_map_lookup_elem(&totals, &key)
    if r0 == 0 goto verdict
    lock *(u64 *)(r0 + 0) += r6
verdict:
    r0 = 1                       # XDP_DROP
    if r6 < 64 goto out
    r0 = 2                       # XDP_PASS
out:
    exit
`;

export function main(print: (line: string) => void = console.log) {
  // Spec before object: a plain description of the program and its map, editable until loaded.
  const spec: ObjectSpec = {
    license: 'GPL',
    maps: [{ name: 'totals', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 }],
    programs: [{ name: 'count', section: 'xdp', type: 'xdp', insns: assemble(source), license: 'GPL' }],
  };

  const verdict = verify(spec.programs[0]!, { maps: spec.maps });
  print(`verifier: ${verdict.log}`);

  const results: Record<string, { verdicts: number[]; totals: [number, bigint][] }> = {};
  for (const engine of ['interp', 'jit'] as const) {
    const obj = loadObject(spec, { engine });
    const runner = obj.program('count').runner();
    const verdicts = [60, 100, 1400].map((length) => {
      // Ethernet + IPv4 + UDP headers are 42 bytes; the payload makes up the rest.
      const frame = buildFrame({
        ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
        udp: { sport: 1, dport: 2 },
        payload: length - 42,
      });
      return testRun(runner, { dataIn: frame }).retval;
    });
    const totals = [...obj.typedMap<number, bigint>('totals')];
    const shown = totals.map(([k, v]) => `${k}=${v}`).join(' ');
    print(`${engine}: verdicts ${verdicts.join(' ')}, totals ${shown}`);
    results[engine] = { verdicts, totals };
  }
  return { accepted: verdict.accepted, results };
}
