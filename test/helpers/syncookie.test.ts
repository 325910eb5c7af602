// SYN cookies (src/helpers/syncookie.ts). Against the kernel: the clang-built tc program `cookies`
// (test/fixtures/helpers2/syncookie.c) over the bundled captures — the MSS every generated cookie encodes,
// the errors for a header whose length is not its doff's, and the check of each packet's own ACK number
// (-EACCES) — on both engines. In user space: a cookie made for a SYN is accepted in the ACK that echoes
// it, for IPv4 and IPv6, and refused for another tuple, another sequence number, or after two minutes
// (a cookie a few units off may still decode to another of the four MSS values, as in the kernel's scheme).
import { describe, expect, it } from 'vitest';
import { helperByName } from '../../src/helpers/registry.js';
import { compareWithKernel, PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';
import { FakeEnv } from './env.js';

const oracle = kernelOracle();

describe.runIf(oracle)('tcp_raw_gen/check_syncookie: tsbpf vs the kernel', () => {
  it('the MSS, errors and checks over the captures', async () => {
    const packets = PACKETS.filter((_, i) => i % 4 === 0);
    expect(await compareWithKernel('test/fixtures/helpers2/syncookie.o', 'cookies', packets, [false])).toBe(
      packets.length * 2,
    );
  });
});

/** An IPv4 (or IPv6) header and a 24-byte TCP header with an MSS option, as the helpers read them. */
function headers(env: FakeEnv, v6: boolean, opts: { seq: number; ack?: number; mss?: number; src?: number }) {
  const ip = new Uint8Array(v6 ? 40 : 20);
  ip[0] = v6 ? 0x60 : 0x45;
  const at = v6 ? 8 : 12;
  ip.set([10, 0, 0, opts.src ?? 1], at);
  ip.set([10, 0, 0, 2], at + (v6 ? 16 : 4));
  const th = new Uint8Array(24);
  const v = new DataView(th.buffer);
  v.setUint16(0, 40000);
  v.setUint16(2, 80);
  v.setUint32(4, opts.seq);
  v.setUint32(8, opts.ack ?? 0);
  th[12] = 6 << 4; // doff 6: one option word
  th[13] = opts.ack === undefined ? 0x02 : 0x10;
  th.set([2, 4, (opts.mss ?? 1460) >> 8, (opts.mss ?? 1460) & 0xff], 20);
  return { ip: env.buf(ip), th: env.buf(th) };
}

describe('SYN cookies in user space', () => {
  for (const v6 of [false, true]) {
    const gen = helperByName(`tcp_raw_gen_syncookie_ipv${v6 ? 6 : 4}`)!;
    const check = helperByName(`tcp_raw_check_syncookie_ipv${v6 ? 6 : 4}`)!;
    const ask = (env: FakeEnv, ack: number, o: { seq: number; src?: number }) => {
      const h = headers(env, v6, { ...o, ack });
      return check.call(env, BigInt(h.ip), BigInt(h.th), 0n, 0n, 0n);
    };
    it(`IPv${v6 ? 6 : 4}: the echo of a cookie is accepted, anything else refused`, () => {
      const env = new FakeEnv();
      const syn = headers(env, v6, { seq: 0x12345678, mss: 1400 });
      const r = gen.call(env, BigInt(syn.ip), BigInt(syn.th), 24n, 0n, 0n);
      // The MSS: the table's largest entry not above the SYN's 1400.
      expect(Number(r >> 32n)).toBe(v6 ? 1220 : 1300);
      const cookie = Number(r & 0xffffffffn);
      expect(ask(env, (cookie + 1) >>> 0, { seq: 0x12345679 })).toBe(0n);
      expect(ask(env, (cookie + 0x1001) >>> 0, { seq: 0x12345679 })).toBe(-13n);
      expect(ask(env, (cookie + 1) >>> 0, { seq: 0x12355679 })).toBe(-13n);
      expect(ask(env, (cookie + 1) >>> 0, { seq: 0x12345679, src: 9 })).toBe(-13n);
      // Still good a minute later; not two minutes later.
      env.now += 60e9;
      expect(ask(env, (cookie + 1) >>> 0, { seq: 0x12345679 })).toBe(0n);
      env.now += 60e9;
      expect(ask(env, (cookie + 1) >>> 0, { seq: 0x12345679 })).toBe(-13n);
    });
  }

  it('a TCP header shorter than 20 bytes or not as long as its doff: -EINVAL', () => {
    const env = new FakeEnv();
    const gen = helperByName('tcp_raw_gen_syncookie_ipv4')!;
    const syn = headers(env, false, { seq: 1 });
    expect(gen.call(env, BigInt(syn.ip), BigInt(syn.th), 20n, 0n, 0n)).toBe(-22n);
    expect(gen.call(env, BigInt(syn.ip), BigInt(syn.th), 16n, 0n, 0n)).toBe(-22n);
    // No MSS option (a 20-byte header): the default 536.
    env.space.bytes[syn.th + 12] = 5 << 4;
    expect(gen.call(env, BigInt(syn.ip), BigInt(syn.th), 20n, 0n, 0n) >> 32n).toBe(536n);
  });
});
