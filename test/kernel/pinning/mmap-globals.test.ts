// Global data through the maps' shared mapping, against the kernel: `.bss`/`.data`/`.rodata` are created
// BPF_F_MMAPABLE and mapped into the process; a program's stores to `.bss` are in the mapping with no bpf()
// call, user space's stores to `.data` change what the program returns, `.rodata` is mapped read-only after
// its freeze, and closing the object removes the mappings.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setGlobal } from '../../../src/collection/globals.js';
import { readObject } from '../../../src/elf/index.js';
import { MapError } from '../../../src/errors.js';
import * as k from '../../../src/kernel/index.js';
import { MapFlag } from '../../../src/spec/maps.js';
import { kernelOracle } from '../../support/kernel.js';

const oracle = kernelOracle();
const GLOBALS = new URL('../../fixtures/kernel-tools/globals.o', import.meta.url).pathname;
const XDP_DROP = 1;
const XDP_PASS = 2;
const frame = new Uint8Array(64);
/** Mappings of bpf maps in this process (/proc/self/maps). */
const mapMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('bpf-map')).length;

describe.skipIf(!oracle)('global data memory-mapped', () => {
  it('creates the data maps MMAPABLE and maps each (.rodata read-only)', () => {
    const before = mapMappings();
    const obj = k.loadKernelObject(GLOBALS);
    try {
      for (const name of ['.bss', '.data', '.rodata']) {
        expect(k.mapInfo(obj.map(name).fd).flags & MapFlag.MMAPABLE, name).toBe(MapFlag.MMAPABLE);
        expect(obj.map(name).data, name).toBeInstanceOf(Uint8Array);
      }
      expect(k.mapInfo(obj.map('.rodata').fd).flags & MapFlag.RDONLY_PROG).toBe(MapFlag.RDONLY_PROG);
      expect(mapMappings() - before).toBe(3);
      const ro = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.includes('bpf-map'))
        .map((l) => l.split(/\s+/)[1]);
      expect(ro.filter((perms) => perms === 'r--s').length).toBe(1);
    } finally {
      obj.close();
    }
    expect(mapMappings()).toBe(before);
    expect(obj.map('.bss').data).toBeUndefined();
  });

  it('the program counts in .bss: the mapping sees it without a lookup; globals() reads the same', () => {
    const obj = k.loadKernelObject(GLOBALS);
    try {
      const bss = obj.map('.bss').data!;
      const view = new DataView(bss.buffer, bss.byteOffset, bss.byteLength);
      expect(view.getBigUint64(0, true)).toBe(0n);
      for (let i = 1; i <= 5; i++) {
        obj.program().run({ dataIn: frame });
        expect(view.getBigUint64(0, true)).toBe(BigInt(i)); // the same memory the program stored to
      }
      expect(obj.getGlobal('hits')).toBe(5n);
      expect(obj.globals()).toEqual({ hits: 5n, seen_magic: 7, verdict: XDP_PASS, magic: 7 });
      // what the mapping says is what the kernel's lookup says
      const viaSyscall = k.mapLookup(obj.map('.bss').fd, new Uint8Array(4), obj.map('.bss').spec.valueSize);
      expect(viaSyscall).toEqual(obj.map('.bss').lookup(new Uint8Array(4)));
    } finally {
      obj.close();
    }
  });

  it('user space writes .data through the mapping and the program uses it', () => {
    const obj = k.loadKernelObject(GLOBALS);
    try {
      expect(obj.program().run({ dataIn: frame }).retval).toBe(XDP_PASS);
      obj.setGlobal('verdict', XDP_DROP);
      expect(obj.program().run({ dataIn: frame }).retval).toBe(XDP_DROP);
      const data = obj.map('.data');
      expect(k.mapLookup(data.fd, new Uint8Array(4), data.spec.valueSize)).toEqual(
        new Uint8Array([1, 0, 0, 0]),
      );
      // a store straight into the mapping, as a skeleton's `skel->data->verdict = …`
      new DataView(data.data!.buffer, data.data!.byteOffset).setUint32(0, XDP_PASS, true);
      expect(obj.program().run({ dataIn: frame }).retval).toBe(XDP_PASS);
    } finally {
      obj.close();
    }
  });

  it('.rodata: set before load, read-only after (the kernel refuses the update; the mapping is not writable)', () => {
    const spec = readObject(readFileSync(GLOBALS), { file: GLOBALS });
    setGlobal(spec, 'magic', 9);
    const obj = k.loadKernelObject(spec, { objectName: 'globals' });
    try {
      obj.program().run({ dataIn: frame });
      expect(obj.getGlobal('seen_magic')).toBe(9);
      expect(obj.getGlobal('magic')).toBe(9);
      expect(() => obj.setGlobal('magic', 3)).toThrow(
        "global 'magic' is in .rodata, which is read-only after load",
      );
      const ro = obj.map('.rodata');
      expect(() => ro.update(new Uint8Array(4), new Uint8Array([3, 0, 0, 0]))).toThrow(MapError);
      expect(ro.lookup(new Uint8Array(4))).toEqual(new Uint8Array([9, 0, 0, 0]));
    } finally {
      obj.close();
    }
  });
});
