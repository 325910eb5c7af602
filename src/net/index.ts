// Packets and captures, the public face (the package's `tsbpf/pcap` entry): pcap and pcapng read (whole or
// streamed) and write, frame builders, MAC/IPv4/IPv6 addresses, tcpdump-style one-line summaries.
export * from './addr.js';
export * from './packet.js';
export * from './pcap.js';
export * from './summary.js';
