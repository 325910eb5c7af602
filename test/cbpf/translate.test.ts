// The classic → eBPF translation over random programs: every classic opcode, with random k, jt and jf
// (including on instructions that do not use them). For every program the classic checker accepts, each
// translated slot must pass checkInsn and the verifier's reserved-field rules, the verifier must accept
// the translation, and the eBPF interpreter and JIT must return what the classic interpreter returns on
// random packets, wire lengths and socket-buffer metadata.

import { describe, expect, it } from 'vitest';
import {
  ALLOWED_CODES,
  Ancillary,
  C,
  cbpfToEbpf,
  checkFilter,
  cls,
  createPacketFilter,
  isCondJump,
  mode,
  op,
  runFilter,
  SKF_AD_OFF,
  type SockFilter,
  stmt,
} from '../../src/cbpf/index.js';
import { InvalidBytecodeError } from '../../src/errors.js';
import { checkInsn, type Insn } from '../../src/isa/index.js';
import { reservedFields } from '../../src/verifier/cfg.js';
import { Runtime } from '../../src/vm/runtime.js';
import { randomPacket, randomSkb } from '../support/cbpf-inputs.js';
import { Rng } from '../support/gen.js';

const CODES = [...ALLOWED_CODES].sort((a, b) => a - b);
const EDGE_K = [0, 1, 2, 4, 14, 31, 32, 33, 63, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
/** Ancillary loads the eBPF translation has no field for (the kernel calls helpers for them). */
const UNTRANSLATED = new Set<number>([
  Ancillary.HATYPE,
  Ancillary.CPU,
  Ancillary.PAY_OFFSET,
  Ancillary.RANDOM,
]);

function randomK(r: Rng, code: number, pc: number, n: number): number {
  if (code === (C.JMP | C.JA)) return r.int(n - pc - 1);
  if (code === (C.LD | C.MEM) || code === (C.LDX | C.MEM) || code === C.ST || code === C.STX)
    return r.chance(0.9) ? r.int(4) : r.int(18);
  if (cls(code) === C.LD && (mode(code) === C.ABS || mode(code) === C.IND)) {
    if (mode(code) === C.ABS && r.chance(0.15))
      return SKF_AD_OFF + r.pick(Object.values(Ancillary) as number[]);
    return r.chance(0.8) ? r.int(70) : r.chance(0.5) ? r.pick(EDGE_K) : r.u32();
  }
  if (cls(code) === C.LDX && mode(code) === C.MSH) return r.chance(0.9) ? r.int(70) : r.u32();
  if (cls(code) === C.ALU && (op(code) === C.LSH || op(code) === C.RSH)) return r.int(40);
  return r.chance(0.5) ? r.pick(EDGE_K) : r.chance(0.5) ? r.int(300) : r.u32();
}

/** A random program: stores first (so scratch reads often pass the checker), then any opcode, then ret. */
function randomProgram(r: Rng): SockFilter[] {
  const n = 2 + r.int(22);
  const prog: SockFilter[] = [];
  for (let pc = 0; pc < n - 1; pc++) {
    const code = pc < 2 && r.chance(0.5) ? r.pick([C.ST, C.STX]) : r.pick(CODES);
    const room = n - pc - 2; // a jump may land anywhere up to the final return
    const jt = isCondJump(code) ? r.int(room + 1) : r.int(256);
    const jf = isCondJump(code) ? r.int(room + 1) : r.int(256);
    prog.push({ code, jt, jf, k: randomK(r, code, pc, n) >>> 0 });
  }
  prog.push(r.chance(0.7) ? stmt(C.RET | C.A, r.u32()) : stmt(C.RET | C.K, r.u32()));
  return prog;
}

const usesUntranslated = (p: SockFilter[]) =>
  p.some(
    (f) =>
      cls(f.code) === C.LD &&
      mode(f.code) === C.ABS &&
      f.k >= SKF_AD_OFF &&
      UNTRANSLATED.has(f.k - SKF_AD_OFF),
  );

describe('classic → eBPF translation over random programs', () => {
  it('yields well-formed, verified eBPF that returns what the classic interpreter returns', () => {
    const r = new Rng(0x5eed_cbbf);
    const runtime = new Runtime();
    const problems: string[] = [];
    let accepted = 0;
    let refused = 0;
    let runs = 0;
    const seen = new Set<number>();
    for (let attempt = 0; attempt < 20_000 && accepted < 1_500; attempt++) {
      const prog = randomProgram(r);
      try {
        checkFilter(prog);
      } catch (e) {
        if (!(e instanceof InvalidBytecodeError)) throw e;
        continue;
      }
      const show = () => JSON.stringify(prog.map((f) => [f.code, f.jt, f.jf, f.k]));
      let ebpf: Insn[];
      try {
        ebpf = cbpfToEbpf(prog);
      } catch (e) {
        // Refused with a clear error (a reachable load of such a field), never translated wrongly.
        expect(usesUntranslated(prog), show()).toBe(true);
        expect((e as Error).message, show()).toMatch(/ancillary load \d+ has no eBPF translation/);
        refused++;
        continue;
      }
      accepted++;
      for (const f of prog) seen.add(f.code);
      for (let i = 0; i < ebpf.length; i++) {
        try {
          checkInsn(ebpf, i);
        } catch (e) {
          problems.push(`${show()}: slot ${i}: ${(e as Error).message}`);
        }
        const why = reservedFields(ebpf[i]!);
        if (why) problems.push(`${show()}: slot ${i}: ${why}`);
      }
      const engines = accepted % 10 === 0 ? (['interp', 'jit'] as const) : (['interp'] as const);
      for (const engine of engines) {
        const f = createPacketFilter(prog, { engine, runtime });
        try {
          if (!f.verified) problems.push(`${show()}: verifier rejected the translation: ${f.verifierLog}`);
          for (let i = 0; i < 6; i++) {
            const packet = randomPacket(r);
            const wireLen = packet.length + (r.chance(0.3) ? r.int(100) : 0);
            const skb = randomSkb(r);
            const want = runFilter(prog, packet, { wireLen, skb });
            const got = f.run(packet, wireLen, skb);
            runs++;
            if (got !== want)
              problems.push(
                `${show()} [${engine}] on ${Buffer.from(packet).toString('hex')}: ${got}, classic ${want}`,
              );
          }
        } finally {
          f.close();
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(accepted).toBe(1_500);
    expect(refused).toBeGreaterThan(0);
    expect(runs).toBeGreaterThan(9_000);
    // every opcode the checker allows was translated in some accepted program
    expect(CODES.filter((c) => !seen.has(c)).map((c) => `0x${c.toString(16)}`)).toEqual([]);
  }, 120_000);

  it('translates neg without an immediate (the eBPF encoding requires imm = 0)', () => {
    const [, , , negSlot] = cbpfToEbpf([stmt(C.ALU | C.NEG, 12), stmt(C.RET | C.A)]);
    expect(negSlot).toMatchObject({ code: 0x84, dst: 0, src: 0, off: 0, imm: 0 });
  });
});
