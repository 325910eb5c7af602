// Public face of src/net: captures, addresses, packet builders and summaries.
export * from './addr.js';
export * from './packet.js';
export * from './pcap.js';
export * from './summary.js';
