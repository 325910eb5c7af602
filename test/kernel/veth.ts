// Two private network namespaces joined by a veth pair, for tests that attach XDP programs and send real
// traffic without touching the machine's interfaces. IPv6 is off so only the test's own packets flow.

import { execFileSync, spawnSync } from 'node:child_process';

export interface VethPair {
  /** Sending side: interface `va` with 10.N.0.1. */
  nsA: string;
  /** Receiving side: interface `vb` with 10.N.0.2. MACs 02:00:00:00:00:0a/0b are static neighbours. */
  nsB: string;
  addrA: string;
  addrB: string;
  /** Run `ip ARGS` and return its output. */
  ip(...args: string[]): string;
  /** Run a command inside a namespace and return its output (stdout, then stderr); throws on failure. */
  exec(ns: string, command: string, ...args: string[]): string;
  /** Packets the interface has transmitted (from `ip -s`). */
  txPackets(ns: string, dev: string): number;
  remove(): void;
}

export function createVethPair(tag: string, subnet: number): VethPair {
  const nsA = `${tag}a`;
  const nsB = `${tag}b`;
  const addrA = `10.${subnet}.0.1`;
  const addrB = `10.${subnet}.0.2`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
  const exec = (ns: string, command: string, ...args: string[]) => {
    const r = spawnSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0)
      throw new Error(`${command} ${args.join(' ')} in ${ns} failed (${r.status}): ${r.stderr}`);
    return r.stdout + r.stderr;
  };
  const remove = () => {
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* not created */
      }
    }
  };
  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    for (const ns of [nsA, nsB]) {
      exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
      exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB);
    ip('-n', nsA, 'link', 'set', 'va', 'address', '02:00:00:00:00:0a');
    ip('-n', nsB, 'link', 'set', 'vb', 'address', '02:00:00:00:00:0b');
    ip('-n', nsA, 'addr', 'add', `${addrA}/24`, 'dev', 'va');
    ip('-n', nsB, 'addr', 'add', `${addrB}/24`, 'dev', 'vb');
    ip('-n', nsA, 'link', 'set', 'va', 'up');
    ip('-n', nsB, 'link', 'set', 'vb', 'up');
    // static neighbours: no ARP traffic mixes with the test's packets
    ip('-n', nsA, 'neigh', 'add', addrB, 'lladdr', '02:00:00:00:00:0b', 'dev', 'va');
    ip('-n', nsB, 'neigh', 'add', addrA, 'lladdr', '02:00:00:00:00:0a', 'dev', 'vb');
  } catch (e) {
    remove();
    throw e;
  }
  const txPackets = (ns: string, dev: string) => {
    const stats = JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', dev)) as {
      stats64: { tx: { packets: number } };
    }[];
    return stats[0]!.stats64.tx.packets;
  };
  return { nsA, nsB, addrA, addrB, ip, exec, txPackets, remove };
}

/**
 * Turn the receiving side into the user-space data path's layout (docs/live-demo.md): the address and
 * the MAC address senders use move from `vb` to a persistent TAP device `tb`; `vb` keeps no address, no
 * ARP and another MAC, so the kernel discards what arrives on it as addressed to another host, and only
 * frames written to the TAP (by `tsbpf xdp attach --userspace --tap tb`) reach the stack. Returns the
 * TAP's name.
 */
export function useTapReceiver(net: VethPair): string {
  const { nsB } = net;
  const tap = 'tb';
  net.ip('-n', nsB, 'addr', 'flush', 'dev', 'vb');
  net.ip('-n', nsB, 'link', 'set', 'vb', 'address', '02:00:00:00:00:0c');
  net.ip('-n', nsB, 'link', 'set', 'vb', 'arp', 'off');
  net.ip('-n', nsB, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
  net.ip('-n', nsB, 'link', 'set', tap, 'address', '02:00:00:00:00:0b');
  net.ip('-n', nsB, 'addr', 'add', `${net.addrB}/24`, 'dev', tap);
  net.ip('-n', nsB, 'link', 'set', tap, 'up');
  net.ip('-n', nsB, 'neigh', 'replace', net.addrA, 'lladdr', '02:00:00:00:00:0a', 'dev', tap);
  return tap;
}
