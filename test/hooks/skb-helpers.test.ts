// The skb helpers against the kernel: clang-built tc fixtures (test/fixtures/tc) over the bundled
// captures, with and without a __sk_buff in (which sets gso_size: the GSO paths), on both engines —
// return value, data_out, ctx_out and the array of each helper call's result after every packet.
import { describe, expect, it } from 'vitest';
import { kernelOracle } from '../support/kernel.js';
import { compareWithKernel } from './tc-kernel.js';

const oracle = kernelOracle();
const FIXTURES = 'test/fixtures/tc';

describe.skipIf(!oracle)('skb helpers: tsbpf vs the kernel', () => {
  for (const [file, program, what] of [
    [
      'nat',
      'nat',
      'NAT: skb_store_bytes, l3/l4_csum_replace (sizes 4, 2, 0; pseudo-header, mangled 0), csum_diff',
    ],
    ['helper_codes', 'store_codes', 'store_bytes, l3/l4_csum_replace, load_bytes_relative edge cases'],
    [
      'helper_codes',
      'misc_codes',
      'hash, csum_level/update, classid, realm, change_type, pull_data, tunnel key, redirects',
    ],
    ['helper_codes', 'resize_codes', 'change_tail, change_head'],
    ['helper_codes', 'room_codes', 'adjust_room (net, mac, encap, decap), change_proto'],
    ['helper_codes', 'vlan_codes', 'vlan_push, vlan_pop'],
    ['helper_codes', 'tstamp_codes', 'skb_set_tstamp: clocks, the time read back, ctx_out'],
    ['helper_codes', 'cgroup_codes', 'skb_under_cgroup: an empty slot, an index past the end'],
    ['tunnel', 'tunnel', 'set_tunnel_key, get_tunnel_key: sizes, flags, IPv4 and IPv6'],
    ['redirect_ecn', 'redirect_ecn', 'skb_ecn_set_ce (IPv4 checksum, IPv6), redirect_neigh, redirect_peer'],
    ['perf_out', 'perf_out', 'perf_event_output with a packet length: EFAULT past the packet, EINVAL flags'],
  ] as const) {
    it(`${program}: ${what}`, async () => {
      expect(await compareWithKernel(`${FIXTURES}/${file}.o`, program)).toBeGreaterThan(100);
    });
  }
});
