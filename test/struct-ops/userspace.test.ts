// struct_ops on the user-space back end: the map exists (the object's struct as one value, its members'
// slots holding the loaded programs' ids), the programs verify, and running one is refused as the kernel
// refuses it (BPF_PROG_TEST_RUN runs no tcp_congestion_ops program: EOPNOTSUPP), saying why.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../src/node/root.js';
import { MapType } from '../../src/spec/maps.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const spec = () =>
  readObject(new Uint8Array(readFileSync(new URL('../fixtures/corpus/tcp_cc.o', import.meta.url))), {
    file: 'tcp_cc.o',
  });

describe('struct_ops in user space', () => {
  it('the map holds the ids of the programs its members name, and the rest of the struct as written', () => {
    const s = spec();
    const coll = loadCollection(s);
    try {
      const map = coll.map('corpus_reno');
      expect(map.spec.type).toBe(MapType.STRUCT_OPS);
      const value = map.lookup(new Uint8Array(4))!;
      const view = new DataView(value.buffer, value.byteOffset);
      const members = s.maps.find((m) => m.name === 'corpus_reno')!.structOps!.members;
      const slots = Object.fromEntries(
        members.filter((m) => m.program).map((m) => [m.program, Number(view.getBigUint64(m.offset, true))]),
      );
      const ids = Object.fromEntries(
        [...coll.programs.values()].map((p) => [p.name, (p as { id: number }).id]),
      );
      expect(slots).toEqual(ids);
      expect(new Set(Object.values(ids)).size).toBe(4);
      const name = members.find((m) => m.name === 'name')!;
      expect(new TextDecoder().decode(value.subarray(name.offset, name.offset + 12))).toBe('corpus_reno\0');
    } finally {
      coll.close();
    }
  });

  it('a program left out of the selection leaves its slot 0', () => {
    const s = spec();
    const coll = loadCollection(s, { programs: ['reno_ssthresh'] });
    try {
      const value = coll.map('corpus_reno').lookup(new Uint8Array(4))!;
      const view = new DataView(value.buffer, value.byteOffset);
      const members = s.maps.find((m) => m.name === 'corpus_reno')!.structOps!.members;
      const at = (p: string) => Number(view.getBigUint64(members.find((m) => m.program === p)!.offset, true));
      expect(at('reno_ssthresh')).toBeGreaterThan(0);
      expect(at('reno_init')).toBe(0);
    } finally {
      coll.close();
    }
  });

  it('a test run of a struct_ops program is refused, EOPNOTSUPP, saying how it runs instead', () => {
    const coll = loadCollection(spec());
    try {
      expect(() => coll.program('reno_ssthresh').run({ dataIn: new Uint8Array(64) })).toThrow(
        /Operation not supported \(EOPNOTSUPP\): struct_ops programs cannot be test-run .*attachStructOps/,
      );
    } finally {
      coll.close();
    }
  });

  it.skipIf(!oracle)('the kernel refuses the same test run with the same errno', () => {
    const coll = loadCollection(spec(), { backend: 'kernel' });
    try {
      expect(() => coll.program('reno_ssthresh').run({ dataIn: new Uint8Array(64) })).toThrow(/EOPNOTSUPP/);
    } finally {
      coll.close();
    }
  });
});
