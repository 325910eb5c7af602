// Named constants and protocol names of the pcap-filter language.

/** `table[key]` for the table's own keys only (a name such as `constructor` is not an entry). */
export function lookup<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export const CONSTANTS: Record<string, number> = {
  tcpflags: 13,
  icmptype: 0,
  icmpcode: 1,
  icmp6type: 0,
  icmp6code: 1,
  'tcp-fin': 0x01,
  'tcp-syn': 0x02,
  'tcp-rst': 0x04,
  'tcp-push': 0x08,
  'tcp-ack': 0x10,
  'tcp-urg': 0x20,
  'tcp-ece': 0x40,
  'tcp-cwr': 0x80,
  'icmp-echoreply': 0,
  'icmp-unreach': 3,
  'icmp-sourcequench': 4,
  'icmp-redirect': 5,
  'icmp-echo': 8,
  'icmp-routeradvert': 9,
  'icmp-routersolicit': 10,
  'icmp-timxceed': 11,
  'icmp-paramprob': 12,
  'icmp-tstamp': 13,
  'icmp-tstampreply': 14,
  'icmp-ireq': 15,
  'icmp-ireqreply': 16,
  'icmp-maskreq': 17,
  'icmp-maskreply': 18,
  'icmp6-destinationunreach': 1,
  'icmp6-packettoobig': 2,
  'icmp6-timeexceeded': 3,
  'icmp6-parameterproblem': 4,
  'icmp6-echo': 128,
  'icmp6-echoreply': 129,
  'icmp6-routersolicit': 133,
  'icmp6-routeradvert': 134,
  'icmp6-neighborsolicit': 135,
  'icmp6-neighboradvert': 136,
  'icmp6-redirect': 137,
};

/** IP protocol numbers by name (for `ip proto \tcp`, `proto udp`, `protochain`). */
export const IP_PROTOS: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  icmp6: 58,
  sctp: 132,
  ah: 51,
  esp: 50,
  pim: 103,
  vrrp: 112,
};

/** Ethertypes by name (for `ether proto \ip`). */
export const ETHER_PROTOS: Record<string, number> = { ip: 0x800, ip6: 0x86dd, arp: 0x806, rarp: 0x8035 };

/**
 * A few well-known service names for `port`, with the protocol they are registered for when only one
 * (as in /etc/services, which libpcap reads): `port http` is TCP port 80 only, `port domain` any
 * protocol's 53.
 */
export const SERVICES: Record<string, { port: number; proto?: 'tcp' | 'udp' }> = {
  ftp: { port: 21, proto: 'tcp' },
  ssh: { port: 22, proto: 'tcp' },
  telnet: { port: 23, proto: 'tcp' },
  smtp: { port: 25, proto: 'tcp' },
  domain: { port: 53 },
  http: { port: 80, proto: 'tcp' },
  pop3: { port: 110, proto: 'tcp' },
  ntp: { port: 123, proto: 'udp' },
  imap: { port: 143, proto: 'tcp' },
  snmp: { port: 161 },
  bgp: { port: 179, proto: 'tcp' },
  https: { port: 443 },
};
