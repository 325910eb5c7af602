// The typed views agree with the Linux kernel: the same spec (a .rodata constant set with setGlobal) is
// loaded into tsbpf and into the kernel, every packet of the capture runs through both, and the BTF-typed
// views of the maps give equal entries — `obj.typedMap(name)` on both objects, and `btfTypedMap` over a
// bare kernel map; the constant reads back from the kernel's frozen .rodata.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findGlobal, readGlobal } from '../../src/collection/globals.js';
import { btfTypedMap, loadObject, type ObjectSpec, readObject, setGlobal, XdpHook } from '../../src/index.js';
import * as k from '../../src/kernel/index.js';
import { readCapture } from '../../src/net/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const bytes = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const packets = readCapture(bytes('examples/xdp/iperf.pcap')).packets;

function compare(spec: ObjectSpec, maps: string[]) {
  const ours = loadObject(spec);
  const hook = new XdpHook(ours.program().runner());
  const kernel = k.loadKernelObject(spec);
  try {
    const prog = kernel.program();
    const verdicts = packets.map((p) => [hook.run(p.data).verdict, prog.run({ dataIn: p.data }).retval]);
    expect(verdicts.filter(([a, b]) => a !== b)).toEqual([]);
    for (const name of maps) {
      const fromKernel = [...kernel.typedMap(name)];
      expect(fromKernel.length).toBeGreaterThan(0);
      expect([...btfTypedMap(kernel.map(name), spec.btf)]).toEqual(fromKernel);
      expect([...ours.typedMap(name)]).toEqual(fromKernel);
    }
    return { ours, kernel, verdicts };
  } catch (e) {
    kernel.close();
    throw e;
  }
}

describe.skipIf(!oracle)('typed maps against the kernel', () => {
  it('udp_drop.o with blocked_port = 5002: same verdicts, same typed drop map, constant in .rodata', () => {
    const spec = readObject(bytes('examples/xdp/udp_drop.o'));
    setGlobal(spec, 'blocked_port', 5002);
    const { kernel, verdicts } = compare(spec, ['drops']);
    try {
      expect(verdicts.filter(([v]) => v === 1).length).toBeGreaterThan(0);
      const rodata = kernel.map('.rodata').lookup(new Uint8Array(4))!;
      expect(readGlobal(spec.btf!, findGlobal(spec, 'blocked_port'), rodata)).toBe(5002);
    } finally {
      kernel.close();
    }
  });

  it('proto_count.o: the array of { packets, bytes } structs reads the same', () => {
    const spec = readObject(bytes('examples/xdp/proto_count.o'));
    compare(spec, ['proto_stats']).kernel.close();
  });
});
