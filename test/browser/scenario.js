// What a web page would do with tsbpf, run by ./run-in-context.mjs in a realm without Node: assemble,
// verify and run a program on both engines, load the clang-compiled reference object with a constant set
// and run it over a capture, compile a pcap filter, write and re-read an ELF object. Prints one JSON line.
import { assemble } from '../../dist/asm/index.js';
import { compileFilter, createPacketFilter } from '../../dist/cbpf/index.js';
import { writeObject } from '../../dist/elf/index.js';
import { loadObject, MapType, readObject, setGlobal, testRun, XdpHook } from '../../dist/index.js';
import { buildFrame, readCapture } from '../../dist/net/index.js';
import { verify } from '../../dist/verifier/index.js';

const env = {
  require: typeof require,
  process: typeof process,
  Buffer: typeof Buffer,
  window: typeof window,
  WebAssembly: typeof WebAssembly,
};

// Mnemonic syntax (the conformance suites' style): count packets per length class, drop short ones.
const source = `
  ldxw %r2, [%r1+0]
  ldxw %r3, [%r1+4]
  sub64 %r3, %r2
  mov64 %r6, %r3
  mov64 %r4, 0
  jlt %r3, 128, small
  mov64 %r4, 1
small:
  stxw [%r10-4], %r4
  lddw %r1, map_fd(0)
  mov64 %r2, %r10
  add64 %r2, -4
  call 1
  jeq %r0, 0, verdict
  mov64 %r1, 1
  lock add64 [%r0+0], %r1
verdict:
  mov64 %r0, 1
  jlt %r6, 64, out
  mov64 %r0, 2
out:
  exit
`;
const spec = {
  license: 'GPL',
  maps: [{ name: 'counts', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 }],
  programs: [{ name: 'classes', section: 'xdp', type: 'xdp', insns: assemble(source), license: 'GPL' }],
};
const verdict = verify(spec.programs[0], { maps: spec.maps });

const lengths = [60, 100, 1400];
const engines = {};
for (const engine of ['interp', 'jit']) {
  const obj = loadObject(spec, { engine });
  const runner = obj.program().runner();
  const retvals = lengths.map(
    (n) =>
      testRun(runner, {
        dataIn: buildFrame({
          ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
          udp: { sport: 1, dport: 2 },
          payload: n - 42,
        }),
      }).retval,
  );
  const counts = [...obj.typedMap('counts')].map(([k, v]) => [k, String(v)]);
  engines[engine] = { retvals, counts, jit: Boolean(runner.jit) };
}

// The reference object, with its .rodata constant set before load, over the capture on both engines.
const capture = readCapture(globalThis.fixtures.capture);
const udpDrop = {};
for (const engine of ['interp', 'jit']) {
  const objSpec = readObject(globalThis.fixtures.udpDrop, { file: 'udp_drop.o' });
  setGlobal(objSpec, 'blocked_port', 5002);
  const obj = loadObject(objSpec, { engine });
  const hook = new XdpHook(obj.program().runner());
  let dropped = 0;
  for (const p of capture.packets) if (hook.run(p.data).verdict === 1) dropped++;
  const stats = obj.typedMap('drops').get(5002);
  udpDrop[engine] = { dropped, packets: String(stats?.packets), bytes: String(stats?.bytes) };
}

const filter = createPacketFilter(compileFilter('udp dst port 5001'), { engine: 'jit' });
const filtered = capture.packets.filter((p) => filter.run(p.data, p.origLen) > 0).length;

// An ELF object written here loads back with the same instructions and map.
const again = readObject(writeObject(spec));
const roundTrip =
  again.programs[0].insns.length === spec.programs[0].insns.length && again.maps[0].name === 'counts';

console.log(
  JSON.stringify({
    env,
    accepted: verdict.accepted,
    engines,
    udpDrop,
    filtered,
    packets: capture.packets.length,
    roundTrip,
  }),
);
