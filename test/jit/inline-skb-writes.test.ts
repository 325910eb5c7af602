// bpf_skb_store_bytes, bpf_l3_csum_replace, bpf_l4_csum_replace and bpf_csum_diff inline on the JIT
// (src/jit/inline-skb.ts, inline-csum.ts): the module imports none of them in verified code, and every
// path gives what the helper gives on the interpreter and what BPF_PROG_TEST_RUN gives — offsets at the
// edges (0, the last whole write, one byte past, odd, 0xffff/0x10000, INT_MAX and past), every flag bit,
// 64-bit flags, the three sizes, mangled-0 with and without enforce, from/to with high bits, unaligned and
// partial csum_diff words. The arguments come from the context (cb[], mark, priority), so one program
// covers every case; r0 goes to cb[4], the packet to data_out.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { generate } from '../../src/jit/compile.js';
import type { ProgramSpec } from '../../src/spec/object.js';
import { Runtime } from '../../src/vm/runtime.js';
import { PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

// r2 = cb[0]; r3 = mark:cb[1]; r4 = ingress_ifindex:cb[2]; r5 = priority:cb[3] (high:low words).
const ARGS = `
  r6 = r1
  r7 = *(u32 *)(r6 + 8)
  r7 <<= 32
  r2 = *(u32 *)(r6 + 48)
  r3 = *(u32 *)(r6 + 52)
  r3 |= r7
  r7 = *(u32 *)(r6 + 36)
  r7 <<= 32
  r4 = *(u32 *)(r6 + 56)
  r4 |= r7
  r5 = *(u32 *)(r6 + 60)
  r7 = *(u32 *)(r6 + 32)
  r7 <<= 32
  r5 |= r7
  r1 = r6`;

/** l3 (10) or l4 (11) csum_replace(skb, cb[0], mark:cb[1], mark:cb[2], priority:cb[3]). */
const csumReplace = (id: number) => `${ARGS}
  call ${id}
  *(u32 *)(r6 + 64) = r0
  r0 = 0
  exit`;

// store_bytes(skb, cb[0], stack, (cb[2] & 15) + 1, priority:cb[3]) after set_hash(0x1234); then cb[1] =
// skb->hash and cb[2] = whether get_hash_recalc still gives 0x1234 (the hash's kind not cleared).
const STORE_TEXT = `
  r6 = r1
  r1 = 0x0807060504030201 ll
  *(u64 *)(r10 - 16) = r1
  r1 = 0x100f0e0d0c0b0a09 ll
  *(u64 *)(r10 - 8) = r1
  r1 = r6
  r2 = 0x1234
  call 48
  r7 = *(u32 *)(r6 + 32)
  r7 <<= 32
  r5 = *(u32 *)(r6 + 60)
  r5 |= r7
  r2 = *(u32 *)(r6 + 48)
  r4 = *(u32 *)(r6 + 56)
  r4 &= 15
  r4 += 1
  r3 = r10
  r3 += -16
  r1 = r6
  call 9
  *(u32 *)(r6 + 64) = r0
  r1 = *(u32 *)(r6 + 68)
  *(u32 *)(r6 + 52) = r1
  r1 = r6
  call 34
  r1 = 0
  if r0 != 0x1234 goto +1
  r1 = 1
  *(u32 *)(r6 + 56) = r1
  r0 = 0
  exit`;

// csum_diff(stack - 64 + (cb[0] & 3), cb[1] & 31, stack - 32 + (cb[0] >> 2 & 1), cb[2] & 31, cb[3]): the
// buffers start unaligned as cb[0] says; their words from mark and constants.
const DIFF_TEXT = `
  r6 = r1
  r1 = 0x8899aabbccddeeff ll
  *(u64 *)(r10 - 64) = r1
  *(u64 *)(r10 - 48) = r1
  *(u64 *)(r10 - 24) = r1
  r1 = 0x0123456789abcdef ll
  *(u64 *)(r10 - 56) = r1
  *(u64 *)(r10 - 32) = r1
  *(u64 *)(r10 - 16) = r1
  *(u64 *)(r10 - 8) = r1
  r1 = *(u32 *)(r6 + 8)
  *(u32 *)(r10 - 40) = r1
  *(u32 *)(r10 - 28) = r1
  *(u32 *)(r10 - 36) = r1
  r8 = *(u32 *)(r6 + 48)
  r1 = r8
  r1 &= 3
  r1 += r10
  r1 += -64
  r2 = *(u32 *)(r6 + 52)
  r2 &= 31
  r3 = r8
  r3 >>= 2
  r3 &= 1
  r3 += r10
  r3 += -32
  r4 = *(u32 *)(r6 + 56)
  r4 &= 31
  r5 = *(u32 *)(r6 + 60)
  call 28
  *(u32 *)(r6 + 64) = r0
  r0 = 0
  exit`;

const PROGRAMS = {
  store_bytes: STORE_TEXT,
  l3_csum_replace: csumReplace(10),
  l4_csum_replace: csumReplace(11),
  csum_diff: DIFF_TEXT,
} as const;
type Name = keyof typeof PROGRAMS;
const IDS: Record<Name, number> = { store_bytes: 9, l3_csum_replace: 10, l4_csum_replace: 11, csum_diff: 28 };

const spec = (name: Name): ProgramSpec => ({
  name,
  section: 'tc',
  type: 'sched_cls',
  insns: assemble(PROGRAMS[name]),
  license: 'GPL',
});

/** One case: cb[0..3], mark, ingress_ifindex and priority (the high words). */
interface Case {
  cb: [number, number, number, number];
  mark: number;
  priority: number;
  toHigh?: number;
}

function ctxOf(c: Case): Uint8Array {
  const ctx = new Uint8Array(192);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, c.mark >>> 0, true);
  v.setUint32(32, c.priority >>> 0, true);
  v.setUint32(36, (c.toHigh ?? 0) >>> 0, true);
  v.setUint32(40, 1, true);
  for (const [i, x] of c.cb.entries()) v.setUint32(48 + 4 * i, x >>> 0, true);
  return ctx;
}

/** A deterministic pseudo-random source (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const pickFrom = <T>(r: () => number, xs: readonly T[]): T => xs[r() % xs.length]!;

// High words of `from` (mark): below 2^53 in magnitude, where the helper's number form is exact (the
// kernel and the JIT's inline are exact for any). Of `to` (ingress_ifindex): any, cut off as the kernel does.
const HIGH = [0, 1, 0xffff_ffff, 0x1f_ffff] as const;
const TO_HIGH = [0, 1, 0x8000_0000, 0x1234_5678, 0xffff_ffff] as const;
// High words of the flags: 0 is the only valid one; the others must give -EINVAL.
const FLAG_HIGH = [0, 0, 0, 0, 1, 0x8000_0000, 0xffff_ffff] as const;

/** Cases for helper `name` on a packet of `len` bytes: the edges, then random ones. */
function cases(name: Name, len: number, count: number, seed: number): Case[] {
  const r = rng(seed);
  const out: Case[] = [];
  const csumOffsets = [0, 1, 2, 12, 24, 26, 40, len - 2, len - 1, len, 0xfffe, 0xffff, 0x10000, 0x8000_0000];
  const storeOffsets = [0, 1, 3, len - 16, len - 15, len - 1, len, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0];
  const value = () => pickFrom(r, [0, 1, 0xffff, 0xfffe, 0x1_0000, 0xffff_ffff, 0xffff_0000, r(), r()]);
  for (let i = 0; i < count; i++) {
    const flagHigh = pickFrom(r, FLAG_HIGH);
    if (name === 'store_bytes') {
      const flags = pickFrom(r, [0, 1, 2, 3, 4, 8, 0x10]);
      out.push({ cb: [pickFrom(r, storeOffsets), 0, r(), flags], mark: 0, priority: flagHigh });
    } else if (name === 'csum_diff') {
      out.push({ cb: [r(), r(), r(), value()], mark: r(), priority: 0 });
    } else {
      const size = pickFrom(r, [0, 0, 2, 2, 4, 4, 1, 3, 8, 0xf]);
      const bits =
        name === 'l3_csum_replace'
          ? pickFrom(r, [0, 0, 0, 0x10, 0x100])
          : pickFrom(r, [0, 0x10, 0x20, 0x20, 0x60, 0x40, 0x80, 0xb0, 0x100]);
      // Size 0 takes a difference: `from` 0 mostly (else -EINVAL).
      const from = size === 0 && r() % 4 ? 0 : value();
      const high = from === 0 && size === 0 ? 0 : pickFrom(r, HIGH);
      out.push({
        cb: [pickFrom(r, csumOffsets), from, value(), size | bits],
        mark: high,
        priority: flagHigh,
        toHigh: pickFrom(r, TO_HIGH),
      });
    }
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Packets of several lengths, one with a zero UDP checksum (mangled-0's case). */
const packets = (() => {
  // IPv4 frames (the test run refuses an IP frame shorter than its header) of at least 60 bytes.
  const ipv4 = PACKETS.filter((p) => p.length >= 60 && p[12] === 8 && p[13] === 0);
  const sizes = [...new Set(ipv4.map((p) => p.length))].sort((a, b) => a - b);
  const pick = [sizes[0]!, sizes[Math.floor(sizes.length / 2)]!, sizes[sizes.length - 1]!];
  const out = pick.map((n) => ipv4.find((p) => p.length === n)!);
  const zero = out[0]!.slice();
  zero.fill(0, 24, 32); // zero checksums where l3/l4 offsets land
  return [...out, zero];
})();

describe('skb store and checksum helpers inline on the JIT', () => {
  it('imports none of them in verified code; checked code calls the helpers', () => {
    for (const name of Object.keys(PROGRAMS) as Name[]) {
      const rt = new Runtime();
      const prog = rt.prepare(spec(name));
      expect(generate(prog, rt, 4096).helperIds, name).not.toContain(IDS[name]);
      expect(generate(prog, rt, 4096, { checked: true }).helperIds, name).toContain(IDS[name]);
    }
  });

  for (const name of Object.keys(PROGRAMS) as Name[]) {
    it(`${name}: the interpreter's helper and the JIT's inline agree on every case`, () => {
      const runners = (['interp', 'jit'] as const).map((engine) => {
        const rt = new Runtime();
        return createRunner(rt, rt.prepare(spec(name)), { engine, checked: false });
      });
      let n = 0;
      const codes = new Set<number>();
      for (const [p, data] of packets.entries()) {
        for (const c of cases(name, data.length, 400, 7 + p)) {
          const ctxIn = ctxOf(c);
          const [a, b] = runners.map((runner) => testRun(runner, { dataIn: data, ctxIn }));
          const what = `${name} ${JSON.stringify(c)} on ${data.length} bytes`;
          expect(hex(b!.dataOut), what).toBe(hex(a!.dataOut));
          expect(hex(b!.ctxOut), what).toBe(hex(a!.ctxOut));
          codes.add(new DataView(a!.ctxOut.buffer).getInt32(64, true));
          n++;
        }
      }
      expect(n).toBe(packets.length * 400);
      // The cases reach success and each failure the helper has.
      if (name !== 'csum_diff')
        expect([...codes].filter((x) => x <= 0).sort((x, y) => x - y)).toEqual([-22, -14, 0]);
      else expect(codes.size).toBeGreaterThan(100);
    });
  }

  it.skipIf(!oracle)('every case gives the kernel’s data_out and ctx_out (BPF_PROG_TEST_RUN)', async () => {
    const { progLoad, progTestRun, close } = await import('../../src/kernel/index.js');
    for (const name of Object.keys(PROGRAMS) as Name[]) {
      const { fd } = progLoad({ type: 3, insns: assemble(PROGRAMS[name]), license: 'GPL' });
      try {
        const rt = new Runtime();
        const runner = createRunner(rt, rt.prepare(spec(name)), { engine: 'jit', checked: false });
        for (const [p, data] of packets.entries()) {
          for (const c of cases(name, data.length, 150, 7 + p)) {
            const ctx = ctxOf(c);
            const kernel = progTestRun(fd, { data, ctx });
            const ours = testRun(runner, { dataIn: data, ctxIn: ctx });
            const what = `${name} ${JSON.stringify(c)} on ${data.length} bytes`;
            expect(hex(ours.dataOut), what).toBe(hex(kernel.data));
            expect(hex(ours.ctxOut), what).toBe(hex(kernel.ctx!));
          }
        }
      } finally {
        close(fd);
      }
    }
  });
});
