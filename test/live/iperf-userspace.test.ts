// The reference demo in user-space mode (issue 7): the same two namespaces and iperf servers as the
// kernel-mode test, but no eBPF in the kernel. udp_drop.o runs on the JIT over the frames a packet socket
// reads from the receiving veth end; what passes is written to a TAP device that carries the server's
// address (test/kernel/veth.ts useTapReceiver; docs/live-demo.md). The 5001 server receives nothing, the
// 5002 server everything, and the drop counter read from the map equals the packets sent towards 5001.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadObject, UserspaceXdp } from '../../src/node/index.js';
import { client, listening, server } from '../kernel/iperf.js';
import { createVethPair, useTapReceiver, type VethPair } from '../kernel/veth.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const UDP_DROP = new URL('../../examples/xdp/udp_drop.o', import.meta.url).pathname;

describe.skipIf(!oracle)('iperf demo, user-space mode', () => {
  let net: VethPair;
  let tap: string;
  beforeAll(() => {
    net = createVethPair(`tsbpf${process.pid}u`, 87);
    tap = useTapReceiver(net);
  });
  afterAll(() => net?.remove());

  it('port 5001 goes dark, 5002 gets its traffic, the drop counter matches what was sent', async () => {
    const obj = loadObject(UDP_DROP);
    const servers = [server(net, 5001), server(net, 5002)];
    let path: UserspaceXdp | undefined;
    try {
      await listening(net, [5001, 5002]);
      path = UserspaceXdp.start(obj, { dev: 'vb', netns: net.nsB, tap });
      const before = net.txPackets(net.nsA, 'va');
      const out5001 = await client(net, 5001);
      const sent5001 = net.txPackets(net.nsA, 'va') - before;
      const iperfSent = Number(/Sent (\d+) datagrams/.exec(out5001)?.[1]);
      // no server report comes back: iperf 2 retries its final datagram, then gives up
      expect(out5001).toMatch(/did not receive ack of last datagram/);
      const before5002 = net.txPackets(net.nsA, 'va');
      const out5002 = await client(net, 5002);
      const sent5002 = net.txPackets(net.nsA, 'va') - before5002;
      await new Promise((r) => setTimeout(r, 100)); // let the last frames through
      const verdicts = path.verdicts();
      const stats = path.stats();
      await path.close();

      const dropped = obj.typedMap<number, { packets: bigint; bytes: bigint }>('drops').get(5001);
      console.log(
        `iperf demo (user space): iperf sent ${iperfSent} datagrams to 5001 (${sent5001} packets with its end-of-test retries), ${dropped?.packets} dropped; 5002: ${out5002.match(/\d+\/\d+ \(\d+%\)/)?.[0]}; ${JSON.stringify(stats)}`,
      );
      expect(stats.socketDrops).toBe(0);
      expect(iperfSent).toBeGreaterThan(100);
      expect(dropped?.packets).toBe(BigInt(sent5001));
      expect(Number(dropped?.packets)).toBeGreaterThanOrEqual(iperfSent);
      expect(obj.typedMap('drops').get(5002)).toBeUndefined();
      expect(verdicts.DROP).toBe(BigInt(sent5001));
      expect(verdicts.PASS).toBe(BigInt(sent5002));
      expect(stats.forwarded).toBe(sent5002);
      // the 5002 server's report came back through the reverse path: nothing lost
      expect(out5002).toMatch(/ 0\/\d+ \(0%\)/);
      expect(stats.returned).toBeGreaterThan(0);
    } finally {
      await path?.close();
      for (const s of servers) s.proc.kill('SIGTERM');
    }
    const [csv5001, csv5002] = await Promise.all(servers.map((s) => s.output));
    expect(csv5001.trim()).toBe(''); // no datagram reached the 5001 server: the kernel delivered no originals
    expect(csv5002.trim().split(',').length).toBeGreaterThan(10);
  });

  it('refuses an unknown interface or TAP with a typed error, and a non-XDP program', () => {
    const obj = loadObject(UDP_DROP);
    expect(() => UserspaceXdp.start(obj, { dev: 'nope0', netns: net.nsB })).toThrow(/no interface nope0/);
    expect(() => UserspaceXdp.start(obj, { dev: 'vb', netns: net.nsB, tap: 'nope1' })).toThrow(
      /no interface nope1/,
    );
    // `vb` is a veth, not a TAP: TUNSETIFF refuses it
    expect(() => UserspaceXdp.start(obj, { dev: 'vb', netns: net.nsB, tap: 'vb' })).toThrow(/TUNSETIFF/);
    const probe = loadObject(new URL('../../examples/trace/args.o', import.meta.url).pathname);
    expect(() => UserspaceXdp.start(probe, { dev: 'vb', netns: net.nsB })).toThrow(/not xdp/);
  });
});
