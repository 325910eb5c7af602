// attachXdp + serveAttached: the library behind `tsbpf xdp attach --kernel`: attach in a private
// namespace, report verdict totals while traffic flows, stop on request with nothing left attached.

import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/kernel/index.js';
import { kernelOracle } from '../support/kernel.js';
import { createVethPair, type VethPair } from './veth.js';

const oracle = kernelOracle();
const UDP_DROP = new URL('../../examples/xdp/udp_drop.o', import.meta.url).pathname;

describe.skipIf(!oracle)('live XDP attachment', () => {
  let net: VethPair;
  beforeAll(() => {
    net = createVethPair(`tsbpf${process.pid}l`, 83);
  });
  afterAll(() => net?.remove());

  it('serves until aborted, reports verdicts on each tick, then detaches and releases', async () => {
    const fdsBefore = (await import('node:fs')).readdirSync('/proc/self/fd').length;
    const att = k.attachXdp(UDP_DROP, { dev: 'vb', netns: net.nsB, mode: 'skb' });
    expect(net.ip('-n', net.nsB, 'link', 'show', 'vb')).toMatch(
      /xdpgeneric.*\n?.*prog\/xdp id \d+|prog\/xdp id \d+/,
    );
    const ticks: Record<k.VerdictName, bigint>[] = [];
    const stop = new AbortController();
    const served = k.serveAttached(att, {
      intervalMs: 50,
      onTick: (v) => ticks.push(v),
      signal: stop.signal,
      signals: false,
    });
    const send = (port: number, n: number) =>
      net.exec(
        net.nsA,
        'bash',
        '-c',
        `for i in $(seq ${n}); do echo x > /dev/udp/${net.addrB}/${port}; done`,
      );
    send(5001, 5);
    send(5002, 4);
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    const totals = await served;
    expect(totals.DROP).toBe(5n);
    expect(totals.PASS).toBe(4n);
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks[ticks.length - 1]!.DROP).toBe(5n);
    expect(net.ip('-n', net.nsB, 'link', 'show', 'vb')).not.toMatch(/xdp/);
    expect((await import('node:fs')).readdirSync('/proc/self/fd').length).toBe(fdsBefore);
  });

  it('withNetns switches the calling thread and always switches back', () => {
    const here = () => readlinkSync('/proc/thread-self/ns/net');
    const home = here();
    const inside = k.withNetns(net.nsB, here);
    expect(inside).not.toBe(home);
    expect(() =>
      k.withNetns(net.nsB, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(here()).toBe(home);
    expect(() => k.withNetns('tsbpf-no-such-ns', here)).toThrow(
      /setns: .*no network namespace tsbpf-no-such-ns/,
    );
    expect(here()).toBe(home);
  });

  it('names the programs when the requested one is missing, and leaves nothing open', () => {
    expect(() => k.attachXdp(UDP_DROP, { dev: 'vb', netns: net.nsB, program: 'nope' })).toThrow(
      /no program nope in the object \(programs: xdp_udp_drop \(xdp\)\)/,
    );
    expect(net.ip('-n', net.nsB, 'link', 'show', 'vb')).not.toMatch(/xdp/);
  });
});
