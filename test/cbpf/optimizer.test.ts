// The optimiser against the unoptimised program, over random expressions: the same verdict on every packet
// of a varied set (IPv4 and IPv6, TCP, UDP, SCTP, ICMP, ARP, VLAN tags, fragments, IPv4 options, the ports
// and addresses the expressions name), never more instructions, and a program the kernel's checker accepts.
// The packets are long enough for every load the expressions make: the or/and pull-up changes which of two
// loads runs first, which only matters when one of them is out of the packet (the oracle tests cover that
// against tcpdump).

import { describe, expect, it } from 'vitest';
import { checkFilter, compileFilter, FilterSyntaxError, runFilter } from '../../src/cbpf/index.js';
import { buildFrame, type FrameSpec } from '../../src/net/packet.js';
import { Rng } from '../support/gen.js';

const PORTS = [9, 53, 80, 443, 5001, 5002];
const HOSTS4 = ['10.0.0.1', '10.0.0.2', '192.168.1.7'];
const HOSTS6 = ['fd00::1', 'fd00::2'];

function primitive(r: Rng): string {
  const p = () => r.pick(PORTS);
  const h = () => r.pick(HOSTS4);
  const dir = () => r.pick(['', 'src ', 'dst ', 'src or dst ', 'src and dst ']);
  return r.pick<() => string>([
    () => r.pick(['tcp', 'udp', 'icmp', 'ip', 'ip6', 'arp', 'sctp', 'icmp6', 'vlan']),
    () => `${dir()}port ${p()}`,
    () => `${r.pick(['tcp', 'udp', 'sctp'])} ${dir()}port ${p()}`,
    () => `${dir()}host ${h()}`,
    () => `host ${r.pick(HOSTS6)}`,
    () => `${dir()}net 10.0.0.0/${r.pick([8, 24, 30])}`,
    () => `portrange ${p()}-${p()}`,
    () => `ip[${r.int(20)}] ${r.pick(['=', '!=', '>', '<', '>=', '<='])} ${r.int(256)}`,
    // the TTL against values around the few the packets carry: comparisons that imply each other
    () => `ip[8] ${r.pick(['=', '!=', '>', '<', '>=', '<='])} ${61 + r.int(7)}`,
    () => `ip[8] & ${r.pick([1, 2, 3, 4, 64, 65])} ${r.pick(['=', '!='])} ${r.pick([0, 1, 64])}`,
    () => `ip[${r.int(10) * 2}:2] & 0x${r.int(0x10000).toString(16)} != 0`,
    () => `tcp[tcpflags] & ${r.pick(['tcp-syn', 'tcp-ack', 'tcp-fin', 'tcp-rst'])} != 0`,
    () => `udp[${r.int(8)}] = ${r.int(256)}`,
    () => `len ${r.pick(['>', '<', '='])} ${r.int(300)}`,
    () => `${r.pick(['less', 'greater'])} ${r.int(300)}`,
    () => `ether proto ${r.pick(['0x800', '0x86dd', '0x806', '0x8100'])}`,
    () => `ip proto ${r.pick([1, 6, 17, 132])}`,
    () => `icmp[icmptype] = ${r.pick(['icmp-echo', 'icmp-echoreply', 'icmp-unreach'])}`,
    () => `ip[0] & 0xf > 5`,
    () => `ip[2:2] - ip[0] > ${r.int(200)}`,
  ])();
}

function expression(r: Rng, depth: number): string {
  if (depth === 0 || r.chance(0.3)) return r.chance(0.2) ? `not ${primitive(r)}` : primitive(r);
  const parts = Array.from({ length: 2 + r.int(4) }, () => expression(r, depth - 1));
  let e = parts[0] as string;
  for (const p of parts.slice(1)) e = `${e} ${r.pick(['and', 'or', '&&', '||'])} ${p}`;
  return r.chance(0.2) ? `not (${e})` : `(${e})`;
}

function frames(r: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 160; i++) {
    const v6 = r.chance(0.3);
    const spec: FrameSpec = {
      payload: 120 + r.int(200),
      ...(r.chance(0.15) ? { vlans: [{ id: r.int(4) }] } : {}),
    };
    if (r.chance(0.06)) {
      spec.arp = { op: 1, spa: r.pick(HOSTS4), tpa: r.pick(HOSTS4) };
      spec.payload = 120;
    } else if (v6) spec.ipv6 = { src: r.pick(HOSTS6), dst: r.pick(HOSTS6) };
    else
      spec.ipv4 = {
        src: r.pick(HOSTS4),
        dst: r.pick(HOSTS4),
        ttl: 62 + r.int(5),
        ...(r.chance(0.1) ? { fragOffset: 1 + r.int(5) } : {}),
        ...(r.chance(0.1) ? { options: new Uint8Array([1, 1, 1, 1]) } : {}),
      };
    if (!spec.arp) {
      const ports = { sport: r.pick(PORTS), dport: r.pick(PORTS) };
      const l4 = r.int(4);
      if (l4 === 0) spec.tcp = { ...ports, flags: r.int(64) };
      else if (l4 === 1) spec.udp = ports;
      else if (l4 === 2) spec.sctp = ports;
      else if (v6) spec.icmp6 = { type: r.pick([128, 129, 1]) };
      else spec.icmp = { type: r.pick([0, 3, 8]) };
    }
    out.push(buildFrame(spec));
  }
  return out;
}

describe('the optimiser over random expressions', () => {
  it('gives every packet the verdict of the unoptimised program, in no more instructions', () => {
    const r = new Rng(0x0f11_7e25);
    const packets = frames(r);
    const problems: string[] = [];
    let compiled = 0;
    let shorter = 0;
    let before = 0;
    let after = 0;
    for (let n = 0; n < 400; n++) {
      const expr = expression(r, 1 + r.int(3));
      let plain: ReturnType<typeof compileFilter>;
      let opt: ReturnType<typeof compileFilter>;
      try {
        plain = compileFilter(expr, { optimize: false });
        opt = compileFilter(expr);
      } catch (e) {
        // refused (no packet can match, or over a limit): then the unoptimised program matches nothing
        if (!(e instanceof FilterSyntaxError)) throw e;
        if (e.reason === 'expression rejects all packets') {
          const some = packets.findIndex((p) => runFilter(compileFilter(expr, { optimize: false }), p) !== 0);
          if (some >= 0) problems.push(`${expr}: refused as matching nothing, but packet ${some} matches`);
        }
        continue;
      }
      compiled++;
      checkFilter(opt);
      before += plain.length;
      after += opt.length;
      if (opt.length < plain.length) shorter++;
      if (opt.length > plain.length)
        problems.push(`${expr}: ${opt.length} instructions, ${plain.length} unoptimised`);
      packets.forEach((p, i) => {
        const [a, b] = [runFilter(plain, p), runFilter(opt, p)];
        if (a !== b) problems.push(`${expr}: packet ${i}: unoptimised ${a}, optimised ${b}`);
      });
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(compiled).toBeGreaterThan(300);
    expect(shorter).toBeGreaterThan(compiled * 0.7); // single primitives are often as short as they get
    console.log(
      `[optimiser] ${compiled} random expressions: ${before} instructions unoptimised, ${after} optimised`,
    );
  }, 120_000);

  it('decides a test from an earlier one on the same value as running both would', () => {
    // Every pair of comparisons of one byte (the TTL) against constants around it, and `&` masks: the
    // facts an earlier test leaves decide later ones (v > 63 decides v > 62 and v = 60, not v > 64).
    const tests = [
      ...['=', '!=', '>', '<', '>=', '<='].flatMap((op) => [62, 63, 64, 65].map((k) => `ip[8] ${op} ${k}`)),
      ...[1, 2, 3, 64].map((m) => `ip[8] & ${m} != 0`),
    ];
    const packets = [60, 61, 62, 63, 64, 65, 66, 67].map((ttl) =>
      buildFrame({
        ipv4: { src: '10.0.0.1', dst: '10.0.0.2', ttl },
        udp: { sport: 1, dport: 2 },
        payload: 20,
      }),
    );
    const wrong: string[] = [];
    for (const a of tests)
      for (const b of tests)
        for (const expr of [`${a} and ${b}`, `${a} or ${b}`, `not (${a}) and ${b}`]) {
          let opt: ReturnType<typeof compileFilter>;
          try {
            opt = compileFilter(expr);
          } catch (e) {
            if ((e as FilterSyntaxError).reason !== 'expression rejects all packets') throw e;
            opt = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];
          }
          const plain = compileFilter(expr, { optimize: false });
          for (const p of packets)
            if (runFilter(opt, p) !== runFilter(plain, p)) wrong.push(`${expr} with TTL ${p[22]}`);
        }
    expect(wrong.slice(0, 10)).toEqual([]);
  });
});
