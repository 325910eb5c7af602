import { describe, expect, it } from 'vitest';
import { assemble, disassemble } from '../../src/asm/index.js';
import { decode, encode, type Insn, LDDW } from '../../src/isa/index.js';
import { opcodeCorpus } from './corpus.js';
import {
  compileC,
  instructionsByIndex,
  instructionTexts,
  llvmTools,
  objdump,
  objectOfBytes,
} from './llvm-tools.js';

const tools = llvmTools();

/** Our llvm text deliberately differs from objdump's where objdump's text loses information. */
function printedLikeObjdump(insns: readonly Insn[], i: number, text: string): boolean {
  const x = insns[i]!;
  if (text.startsWith('.insn')) return false; // no canonical form: objdump prints <unknown> or drops fields
  if (x.code === 0x85 && !(x.src === 0 && x.imm >= 0) && !(x.src === 1 && x.imm < 0)) return false;
  if (x.code === LDDW && x.src !== 0 && insns[i + 1]!.imm !== 0) return false; // ld_pseudo drops the high half
  if ((x.code & 0xe7) === 0x40 && x.imm !== 0) return false; // skb[rN] drops the immediate
  return true;
}

describe.skipIf(!tools)('llvm syntax against llvm-objdump-19', () => {
  it('prints every valid opcode as llvm-objdump-19 -d --no-show-raw-insn does', () => {
    const slots: Insn[] = [];
    for (const s of opcodeCorpus().values()) slots.push(...s);
    const ours = disassemble(slots, { syntax: 'llvm' });
    const object = objectOfBytes(encode(slots));
    const theirs = instructionsByIndex(objdump(object));
    const theirsV4 = instructionsByIndex(objdump(object, false, true));
    let compared = 0;
    const mismatches: string[] = [];
    for (let i = 0, line = 0; i < slots.length; line++, i += slots[i]!.code === LDDW ? 2 : 1) {
      if (!printedLikeObjdump(slots, i, ours[line]!)) continue;
      // Default objdump cannot decode (or misprints) 32-bit atomics: those follow --mcpu=v4.
      const expected = slots[i]!.code === 0xc3 ? theirsV4.get(i) : theirs.get(i);
      if (ours[line] !== expected)
        mismatches.push(
          `${slots[i]!.code.toString(16)} ${JSON.stringify(slots[i])}: ours '${ours[line]}', objdump '${expected}'`,
        );
      compared++;
    }
    const byCode = new Map(mismatches.map((m) => [m.slice(0, 12), m]));
    expect([...byCode.values()]).toEqual([]);
    expect(compared).toBeGreaterThan(1000);
  });

  it('reads objdump output of compiled C back to the same bytes, and prints the same text', () => {
    const obj = compileC(`
      struct { int type; int max_entries; int *key; long *value; } m __attribute__((section(".maps")));
      static __attribute__((noinline)) int sub(int a, long b) { return (a * 3 + 1) / (int)(b | 1); }
      __attribute__((section("xdp"))) int prog(unsigned long *ctx) {
        int k = 0;
        long *v = ((void *(*)(void *, void *))1)(&m, &k);
        if (!v) return 1;
        __sync_fetch_and_add(v, 1);
        long old = __sync_val_compare_and_swap(v, 5, 7);
        signed char c = (signed char)ctx[1];
        short s = *(short *)ctx;
        for (int i = 0; i < 8; i++) old ^= (long)ctx[i] >> (i & 3);
        return sub(c + s, old) + __builtin_bswap32((unsigned)old) + (old % 7);
      }`);
    const raw = objdump(obj, true);
    const bytes: number[] = [];
    for (const line of raw.split('\n')) {
      const m = /^\s*\d+:\t((?:[0-9a-f]{2} ){7,15}[0-9a-f]{2})/.exec(line);
      if (m) bytes.push(...m[1]!.split(' ').map((b) => Number.parseInt(b, 16)));
    }
    const expected = decode(Uint8Array.from(bytes));
    expect(expected.length).toBeGreaterThan(30);
    // Assembling the full objdump listing (headers, addresses, bytes, relocations) gives the bytes back.
    expect(assemble(raw)).toEqual(expected);
    expect(assemble(objdump(obj))).toEqual(expected);
    expect(assemble(objdump(obj, false, true))).toEqual(expected); // the wN spelling of --mcpu=v4
    expect(disassemble(expected, { syntax: 'llvm' })).toEqual(instructionTexts(objdump(obj)));
  });
});
