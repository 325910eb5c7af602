// The reference demo in kernel mode (issue 7): two namespaces joined by a veth pair, iperf UDP servers on
// 5001 and 5002 in one, clients in the other, udp_drop.o loaded and attached to the receiving veth through
// the tsbpf kernel API. The 5001 server receives nothing, the 5002 server everything, and the per-port
// drop counter read from the map equals the packets the sender transmitted towards 5001.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/kernel/index.js';
import { kernelOracle } from '../support/kernel.js';
import { listening, server } from './iperf.js';
import { createVethPair, type VethPair } from './veth.js';

const oracle = kernelOracle();
const UDP_DROP = new URL('../../examples/xdp/udp_drop.o', import.meta.url).pathname;

describe.skipIf(!oracle)('iperf demo, kernel mode', () => {
  let net: VethPair;
  beforeAll(() => {
    net = createVethPair(`tsbpf${process.pid}i`, 79);
  });
  afterAll(() => net?.remove());

  it('port 5001 goes dark, 5002 gets its traffic, the drop counter matches what was sent', async () => {
    const obj = k.loadKernelObject(UDP_DROP, { countVerdicts: true });
    const servers = [server(net, 5001), server(net, 5002)];
    try {
      await listening(net, [5001, 5002]);
      const link = k.withNetns(net.nsB, () => obj.program().attachXdp('vb'));
      let sent5001: number;
      let sent5002: number;
      let client5002: string;
      let iperfSent = 0;
      try {
        const before = net.txPackets(net.nsA, 'va');
        const client5001 = net.exec(
          net.nsA,
          'iperf',
          '-u',
          '-c',
          net.addrB,
          '-p',
          '5001',
          '-b',
          '2M',
          '-t',
          '1',
        );
        sent5001 = net.txPackets(net.nsA, 'va') - before;
        expect(client5001).toMatch(/Sent \d+ datagrams/);
        iperfSent = Number(/Sent (\d+) datagrams/.exec(client5001)![1]);
        expect(client5001).toMatch(/did not receive ack of last datagram/);
        const before5002 = net.txPackets(net.nsA, 'va');
        client5002 = net.exec(net.nsA, 'iperf', '-u', '-c', net.addrB, '-p', '5002', '-b', '2M', '-t', '1');
        sent5002 = net.txPackets(net.nsA, 'va') - before5002;
      } finally {
        link.close();
      }
      const drops = obj.map('drops').typed<number, Uint8Array>({});
      const dropped = drops.get(5001);
      expect(dropped).toBeDefined();
      const packets = Number(new DataView(dropped!.buffer, dropped!.byteOffset).getBigUint64(0, true));
      console.log(
        `iperf demo: iperf sent ${iperfSent} datagrams to 5001 (${sent5001} packets with its end-of-test retries), ${packets} dropped by XDP; 5002: ${client5002.match(/\d+\/\d+ \(\d+%\)/)?.[0]}`,
      );
      // every packet the sender put on the wire towards 5001 was counted, including iperf's end-of-test
      // retransmissions of its last datagram on top of the data datagrams it reports
      expect(packets).toBe(sent5001);
      expect(packets).toBeGreaterThanOrEqual(iperfSent);
      expect(iperfSent).toBeGreaterThan(100);
      expect(drops.get(5002)).toBeUndefined();
      // the verdict counters agree: every dropped packet was a 5001 one, the 5002 traffic passed
      const verdicts = obj.verdicts();
      expect(verdicts.DROP).toBe(BigInt(packets));
      expect(verdicts.PASS).toBe(BigInt(sent5002));
      expect(sent5002).toBeGreaterThan(100);
      // the 5002 server's report: nothing lost
      expect(client5002).toMatch(/ 0\/\d+ \(0%\)/);
    } finally {
      for (const s of servers) s.proc.kill('SIGTERM');
      obj.close();
    }
    const [out5001, out5002] = await Promise.all(servers.map((s) => s.output));
    expect(out5001.trim()).toBe(''); // no datagram ever reached the 5001 server
    expect(out5002.trim().split(',').length).toBeGreaterThan(10); // one CSV report line from 5002
  });
});
