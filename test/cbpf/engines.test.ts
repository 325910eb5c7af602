// The three filter engines and the socket-filter hook: the __sk_buff context (len, __be16 protocol), the
// kept length (min of the return value and the length), classic semantics the translation must keep
// (out-of-bounds loads and division by a zero X return 0, ancillary loads, scratch memory), and the CLI.

import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  C,
  compileFilter,
  createPacketFilter,
  FILTER_ENGINES,
  jump,
  parseFilterEngine,
  runFilter,
  SKF_AD_OFF,
  type SockFilter,
  stmt,
} from '../../src/cbpf/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { SK_BUFF_OFFSETS, SocketFilterHook } from '../../src/hooks/socket-filter.js';
import { AluOp, Class, insn, JmpOp, Mode, Size, Source } from '../../src/isa/index.js';
import { readCapture } from '../../src/net/pcap.js';
import { Runtime } from '../../src/vm/runtime.js';
import { tsbpf } from '../cli/run-cli.js';

const RET_A = stmt(C.RET | C.A);
const pkt = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);

/** The filter's result on every engine (the eBPF ones must be verified). */
function onEngines(prog: SockFilter[], data: Uint8Array, wireLen?: number, skb?: object): number[] {
  return FILTER_ENGINES.map((engine) => {
    const f = createPacketFilter(prog, { engine });
    try {
      expect(f.verified, `${engine}: ${f.verifierLog}`).toBe(true);
      return f.run(data, wireLen, skb);
    } finally {
      f.close();
    }
  });
}

describe('socket-filter hook', () => {
  it('gives the program an __sk_buff with len and a big-endian protocol, and keeps min(r0, len)', () => {
    const runtime = new Runtime();
    // r0 = ctx->len + 5 when protocol (as loaded, __be16) is htons(0x86dd), else ctx->len - 4
    const prog = runtime.prepare({
      name: 't',
      section: 'socket',
      type: 'socket_filter',
      license: 'GPL',
      insns: [
        insn(Class.LDX | Mode.MEM | Size.W, 0, 1, SK_BUFF_OFFSETS.len!),
        insn(Class.LDX | Mode.MEM | Size.W, 2, 1, SK_BUFF_OFFSETS.protocol!),
        insn(Class.JMP | JmpOp.JNE | Source.K, 2, 0, 2, 0xdd86),
        insn(Class.ALU64 | AluOp.ADD | Source.K, 0, 0, 0, 5),
        insn(Class.JMP | JmpOp.EXIT),
        insn(Class.ALU64 | AluOp.SUB | Source.K, 0, 0, 0, 4),
        insn(Class.JMP | JmpOp.EXIT),
      ],
    });
    for (const engine of ['interp', 'jit'] as const) {
      const hook = new SocketFilterHook(createRunner(runtime, prog, { engine, checked: true }), 16);
      expect(hook.run(pkt(40), { protocol: 0x86dd })).toEqual({ retval: 45, keep: 40 });
      expect(hook.run(pkt(40), { protocol: 0x0800 })).toEqual({ retval: 36, keep: 36 });
      // a packet larger than the region grows it; len may differ from the bytes (wire length)
      expect(hook.run(pkt(3000), { len: 4000 })).toEqual({ retval: 3996, keep: 3996 });
      hook.close();
    }
  });

  it('refuses programs of another type', () => {
    const runtime = new Runtime();
    const prog = runtime.prepare({
      name: 'x',
      section: 'xdp',
      type: 'xdp',
      license: 'GPL',
      insns: [insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, 2), insn(Class.JMP | JmpOp.EXIT)],
    });
    expect(() => new SocketFilterHook(createRunner(runtime, prog, { engine: 'interp' }))).toThrow(
      /xdp program, not socket_filter/,
    );
  });
});

describe('filter engines agree on classic semantics', () => {
  it('loads bytes, halves and words big-endian, and returns 0 past the captured bytes', () => {
    const data = pkt(20);
    const word = new DataView(data.buffer).getUint32(14, false);
    expect(onEngines([stmt(C.LD | C.W | C.ABS, 14), RET_A], data)).toEqual([word, word, word]);
    expect(onEngines([stmt(C.LD | C.W | C.ABS, 17), RET_A], data)).toEqual([0, 0, 0]);
    const ind = [stmt(C.LDX | C.IMM, 10), stmt(C.LD | C.H | C.IND, 8), RET_A];
    const half = (data[18]! << 8) | data[19]!;
    expect(onEngines(ind, data)).toEqual([half, half, half]);
    expect(onEngines([stmt(C.LDX | C.B | C.MSH, 3), stmt(C.MISC | C.TXA), RET_A], data)).toEqual(
      Array(3).fill((data[3]! & 0xf) << 2),
    );
  });

  it('reads len as the wire length, divides by X only when non-zero, keeps scratch words', () => {
    expect(onEngines([stmt(C.LD | C.W | C.LEN), RET_A], pkt(10), 1500)).toEqual([1500, 1500, 1500]);
    const div = (x: number) => [
      stmt(C.LD | C.IMM, 100),
      stmt(C.LDX | C.IMM, x),
      stmt(C.ALU | C.DIV | C.X),
      stmt(C.ST, 3),
      stmt(C.LD | C.IMM, 1),
      stmt(C.LD | C.MEM, 3),
      RET_A,
    ];
    expect(onEngines(div(7), pkt(1))).toEqual([14, 14, 14]);
    expect(onEngines(div(0), pkt(1))).toEqual([0, 0, 0]);
    // jumps with a constant >= 2^31 (sign-extended in eBPF) and both branches non-trivial
    const big = [
      stmt(C.LD | C.IMM, 0xfffffff0),
      jump(C.JMP | C.JGT | C.K, 0x80000000, 1, 0),
      stmt(C.RET | C.K, 1),
      stmt(C.RET | C.K, 2),
    ];
    expect(onEngines(big, pkt(1))).toEqual([2, 2, 2]);
  });

  it('maps ancillary loads to __sk_buff fields', () => {
    const skb = { protocol: 0x86dd, mark: 77, vlanTci: 0x123, vlanPresent: true, ifindex: 9 };
    const anc = (off: number) => [stmt(C.LD | C.W | C.ABS, SKF_AD_OFF + off), RET_A];
    expect(onEngines(anc(0), pkt(20), undefined, skb)).toEqual([0x86dd, 0x86dd, 0x86dd]);
    expect(onEngines(anc(20), pkt(20), undefined, skb)).toEqual([77, 77, 77]);
    expect(onEngines(anc(44), pkt(20), undefined, skb)).toEqual([0x123, 0x123, 0x123]);
    expect(onEngines(anc(48), pkt(20), undefined, skb)).toEqual([1, 1, 1]);
    expect(onEngines(anc(8), pkt(20), undefined, skb)).toEqual([9, 9, 9]);
  });

  it('runs a backward ja in the classic interpreter (libpcap protochain) and bounds a runaway loop', () => {
    // A = 0; loop: A += 1; if A >= 5 goto out; ja loop (k = -3 mod 2^32); out: ret A
    const loop = [
      stmt(C.LD | C.IMM, 0),
      stmt(C.ALU | C.ADD | C.K, 1),
      jump(C.JMP | C.JGE | C.K, 5, 1, 0),
      stmt(C.JMP | C.JA, 0xfffffffd),
      RET_A,
    ];
    expect(runFilter(loop, pkt(1))).toBe(5);
    expect(() => runFilter([stmt(C.JMP | C.JA, 0xffffffff), RET_A], pkt(1), { budget: 1000 })).toThrow(
      /budget/,
    );
  });

  it('names the engines', () => {
    expect(parseFilterEngine('jit')).toBe('jit');
    expect(() => parseFilterEngine('ebpf')).toThrow(/unknown engine 'ebpf' \(expected cbpf, interp, jit\)/);
  });
});

describe('tsbpf filter --engine', () => {
  const file = 'test/fixtures/pcap/crafted.pcap';
  it('prints the same packets on every engine', () => {
    const cap = readCapture(new Uint8Array(readFileSync(file)));
    const prog = compileFilter('tcp or udp port 53');
    const want = cap.packets.filter((p) => runFilter(prog, p.data, { wireLen: p.origLen })).length;
    const outs = FILTER_ENGINES.map((e) =>
      tsbpf(['filter', '-r', file, '--engine', e, 'tcp or udp port 53']),
    );
    for (const o of outs) {
      expect(o.code).toBe(0);
      expect(o.stderr).toBe(`${want} packets matched of ${cap.packets.length} read\n`);
      expect(o.stdout).toBe(outs[0]!.stdout);
    }
    expect(outs[0]!.stdout.trim().split('\n')).toHaveLength(want);
  }, 60_000);
  it('writes the matching packets with -w (timestamps and lengths kept), -c stops early, -w may not be the input', () => {
    const cap = readCapture(new Uint8Array(readFileSync(file)));
    const prog = compileFilter('tcp or udp port 53');
    const want = cap.packets.filter((p) => runFilter(prog, p.data, { wireLen: p.origLen }));
    expect(want.length).toBeGreaterThan(3);
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-filter-'));
    try {
      const out = join(dir, 'out.pcap');
      const o = tsbpf(['filter', '-r', file, '-w', out, 'tcp or udp port 53']);
      expect(o.code).toBe(0);
      expect(o.stdout).toBe('');
      const got = readCapture(new Uint8Array(readFileSync(out)));
      expect(got.linkType).toBe(cap.linkType);
      expect(got.packets.map((p) => Buffer.from(p.data).toString('hex'))).toEqual(
        want.map((p) => Buffer.from(p.data).toString('hex')),
      );
      expect(got.packets.map((p) => p.origLen)).toEqual(want.map((p) => p.origLen));
      // pcap keeps microseconds.
      expect(got.packets.map((p) => p.tsNs)).toEqual(want.map((p) => (p.tsNs / 1000n) * 1000n));

      expect(tsbpf(['filter', '-r', file, '-w', out, '-c', '3', 'tcp or udp port 53']).code).toBe(0);
      expect(readCapture(new Uint8Array(readFileSync(out))).packets).toHaveLength(3);

      // Writing the capture being read would destroy it: a usage error, the file untouched.
      const same = join(dir, 'same.pcap');
      copyFileSync(file, same);
      expect(tsbpf(['filter', '-r', same, '-w', same, 'tcp or udp port 53']).code).toBe(2);
      expect(readFileSync(same)).toEqual(readFileSync(file));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  it('rejects an unknown engine', () => {
    const o = tsbpf(['filter', '-r', file, '--engine', 'wasm', 'ip']);
    expect(o.code).not.toBe(0);
    expect(o.stderr).toMatch(/unknown engine 'wasm'/);
  }, 30_000);
});
