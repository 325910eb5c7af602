// Compiler primitives beyond the tcpdump corpus: libpcap's protochain loop and its forward-only form,
// `ip broadcast` under a netmask, 802.3 lengths in `ether proto`, and the qualifiers tcpdump refuses.

import { describe, expect, it } from 'vitest';
import {
  C,
  checkFilter,
  compileFilter,
  createPacketFilter,
  FilterSyntaxError,
  runFilter,
  type SockFilter,
} from '../../src/cbpf/index.js';
import { InvalidBytecodeError } from '../../src/errors.js';
import { buildFrame } from '../../src/net/packet.js';
import { extraFrames } from './extra-frames.js';

const backward = (p: SockFilter[]) => p.some((f) => f.code === (C.JMP | C.JA) && f.k >= 0x80000000);
const matches = (expr: string, frames: Uint8Array[], opts = {}) => {
  const p = compileFilter(expr, opts);
  return frames.flatMap((f, i) => (runFilter(p, f) ? [i] : []));
};

describe('protochain', () => {
  it('is a loop as in libpcap (same size), accepted only when backward jumps are allowed', () => {
    const loop = compileFilter('ip6 protochain 17');
    expect(loop).toHaveLength(36); // tcpdump -d 'ip6 protochain 17' prints 36 instructions
    expect(compileFilter('ip protochain 17')).toHaveLength(24);
    expect(backward(loop)).toBe(true);
    expect(() => checkFilter(loop)).toThrow(InvalidBytecodeError);
    expect(() => checkFilter(loop, { backwardJumps: true })).not.toThrow();
  });

  it('has a forward-only form the kernel rules and the verifier accept, matching the loop', () => {
    const fwd = compileFilter('protochain 17', { forwardOnly: true });
    expect(backward(fwd)).toBe(false);
    checkFilter(fwd);
    const f = createPacketFilter(fwd, { engine: 'jit' });
    expect(f.verified).toBe(true);
    const loopF = createPacketFilter(compileFilter('protochain 17'), { engine: 'interp' });
    expect(loopF.verified).toBe(false);
    expect(loopF.checked).toBe(true);
    const frames = [
      ...extraFrames(),
      buildFrame({
        ipv6: { src: 'fd00::1', dst: 'fd00::2', ext: [{ type: 0 }, { type: 60 }, { type: 43 }] },
        udp: { sport: 1, dport: 2 },
      }),
    ];
    const viaLoop = frames.map((d) => runFilter(compileFilter('protochain 17'), d) !== 0);
    expect(viaLoop.filter(Boolean).length).toBeGreaterThanOrEqual(4); // UDP behind AH (v4, v6) and ext headers
    expect(frames.map((d) => f.run(d) !== 0)).toEqual(viaLoop);
    expect(frames.map((d) => loopF.run(d) !== 0)).toEqual(viaLoop);
    f.close();
    loopF.close();
  });
});

describe('ip broadcast and ether proto', () => {
  const udp4 = (dst: string) => buildFrame({ ipv4: { src: '10.0.0.1', dst }, udp: { sport: 9, dport: 9 } });
  const frames = ['255.255.255.255', '0.0.0.0', '10.0.0.255', '10.0.0.0', '10.0.0.2'].map(udp4);

  it('ip broadcast tests the host part under the netmask (0 by default, as tcpdump -r)', () => {
    expect(matches('ip broadcast', frames)).toEqual([0, 1]);
    expect(matches('ip broadcast', frames, { netmask: 0xffffff00 })).toEqual([0, 1, 2, 3]);
    expect(matches('ip broadcast', frames, { netmask: 0xffff0000 })).toEqual([0, 1, 3]); // 10.0.0.0: host part 0
    expect(() => compileFilter('ip6 broadcast')).toThrow(/only link-layer and IP broadcast/);
  });

  it('reads small ether proto values as 802.2 SAPs', () => {
    const x = extraFrames();
    // indices into extraFrames(): 0 IP SAP, 3 IPX SAP, 4 Novell raw, 5 IPX SNAP, 6 AppleTalk SNAP,
    // 7 AARP SNAP, 9 DSAP 100, 10 DSAP 6 alone, 11 IPX DIX, 12 AppleTalk DIX, 13 AARP DIX
    expect(matches('ether proto 6', x)).toEqual([0]);
    expect(matches('ether proto 100', x)).toEqual([9]);
    expect(matches('ether proto 0xe0', x)).toEqual([3, 4, 5, 11]);
    expect(matches('ether proto 0x809b', x)).toEqual([6, 12]);
    expect(matches('ether proto 0x80f3', x)).toEqual([7, 13]);
    expect(matches('ether proto 0x8137', x)).toEqual([11]);
  });
});

describe('refused as tcpdump refuses', () => {
  it.each([
    ['ip port 80', /'ip port' is not valid/],
    ['ip6 portrange 1-2', /'ip6 portrange' is not valid/],
    ['gateway router', /'gateway' needs host name resolution/],
    ['udp port http', /port 'http' is tcp/],
    ['tcp port ntp', /port 'ntp' is udp/],
    // names are looked up among the entries only, not the properties every object has
    ['ip proto constructor', /unknown protocol 'constructor'/],
    ['port toString', /bad port 'toString'/],
    ['ip[0] = constructor', /expected an address, found 'constructor'/],
  ])('%s', (expr, why) => {
    expect(() => compileFilter(expr)).toThrow(FilterSyntaxError);
    expect(() => compileFilter(expr)).toThrow(why);
  });
});

describe('service names', () => {
  it('bring the protocol they are registered for, as libpcap reads /etc/services', () => {
    const to = (proto: 'tcp' | 'udp', port: number) =>
      buildFrame({ ipv4: { src: '10.0.0.1', dst: '10.0.0.2' }, [proto]: { sport: 40000, dport: port } });
    const frames = [
      to('tcp', 80),
      to('udp', 80),
      to('tcp', 123),
      to('udp', 123),
      to('tcp', 53),
      to('udp', 53),
    ];
    expect(matches('port http', frames)).toEqual([0]); // http is 80/tcp only
    expect(matches('port ntp', frames)).toEqual([3]); // ntp is 123/udp only
    expect(matches('port domain', frames)).toEqual([4, 5]); // both
    expect(matches('portrange ftp-http', frames)).toEqual([0, 4]); // both ends tcp: tcp only
    expect(matches('portrange http-https', frames)).toEqual([0, 1, 2, 3]); // https is both: any protocol
  });
});
