// The example XDP programs (every examples/xdp/*.o) and the map setup each needs before a run, shared by the
// tests that run all of them (against the kernel, across engines and entry points).
import { readdirSync } from 'node:fs';

export const XDP_EXAMPLES: readonly string[] = readdirSync('examples/xdp')
  .filter((f) => f.endsWith('.o'))
  .map((f) => f.slice(0, -2))
  .sort();

/** Entries to store before running (key/value hex, or a program name for program arrays). */
export const XDP_EXAMPLE_SETUP: Readonly<
  Record<string, readonly { map: string; key: string; value: string }[]>
> = {
  lpm_block: [
    // 10.77.0.1/32 and 192.168.0.0/16 (prefixlen u32 LE, address in network order).
    { map: 'blocklist', key: '200000000a4d0001', value: '0000000000000000' },
    { map: 'blocklist', key: '10000000c0a80000', value: '0000000000000000' },
  ],
  tail_call: [
    { map: 'jt', key: '11000000', value: 'xdp_on_udp' },
    { map: 'jt', key: '06000000', value: 'xdp_on_tcp' },
  ],
};
