// The Node entry's loaders take the CO-RE target too: loadObject(file, { btf }) and readObjectFile.

import { describe, expect, it } from 'vitest';
import { BtfBuilder } from '../../src/btf/builder.js';
import { parseBtf } from '../../src/btf/parse.js';
import { loadObject, readObjectFile } from '../../src/node/load.js';

const REGS = new URL('../fixtures/core/regs.o', import.meta.url).pathname;

/** Raw BTF bytes of a `struct pt_regs` with si (and di when asked) where x86-64 has them. */
function ptRegs(withDi: boolean): Uint8Array {
  const b = new BtfBuilder();
  const ul = b.int('long unsigned int', 8);
  b.struct('pt_regs', 168, [
    { name: 'si', type: ul, bitOffset: 104 * 8 },
    ...(withDi ? [{ name: 'di', type: ul, bitOffset: 112 * 8 }] : []),
  ]);
  return b.encode();
}

describe('loadObject and readObjectFile with btf', () => {
  it('relocate against the given BTF (bytes or parsed)', () => {
    const withDi = readObjectFile(REGS, { btf: ptRegs(true) });
    expect(withDi.warnings).toBeUndefined();
    const sum = withDi.programs.find((p) => p.name === 'regs_sum')!;
    expect(sum.insns.some((x) => x.code === 0x79 && x.off === 112)).toBe(true);
    const without = readObjectFile(REGS, { btf: parseBtf(ptRegs(false), 'no di') });
    expect(without.warnings).toHaveLength(3);
  });

  it('a user-space load refuses the program that reaches a poisoned relocation, naming it', () => {
    expect(() => loadObject(REGS, { btf: ptRegs(false) })).toThrow(
      /regs_sum.*reads field di of struct pt_regs___l.*poisoned call 0xbad2310 is reached/s,
    );
    const obj = loadObject(REGS, { btf: ptRegs(true) });
    expect([...obj.maps.keys()]).toEqual(['out']);
  });
});
