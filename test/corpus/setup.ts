// Map entries the corpus runs start from, the same on the kernel and in user space, so the test runs reach
// the programs' real paths (NAT rewrites, a backend chosen and redirected to, a deny rule, tail calls
// through the policy stage, VLAN, classes, tunnels) and not only their "nothing configured" exits. Keys
// and values are the bytes the programs' structs hold: addresses and ports in network order where the
// program compares them with packet fields, host order (little-endian) where it stores host values.
// Frames are crafted.pcap's: 10.0.0.1 -> 10.0.0.2 UDP 40000 -> 5001 and TCP 33000 -> 80, 192.168.1.7 ->
// 10.1.2.3, IPv6 with extension headers, ARP, and a few cut short.

/** One entry to set in map `map` of the object before its runs. */
export interface MapEntry {
  map: string;
  key: Uint8Array;
  value: Uint8Array;
}

const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const be16 = (n: number) => Uint8Array.from([n >> 8, n & 0xff]);
const le16 = (n: number) => Uint8Array.from([n & 0xff, n >> 8]);
const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);
const bytes = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const entry = (map: string, key: Uint8Array, value: Uint8Array): MapEntry => ({ map, key, value });

/** struct nat_key / svc_key: address, port (both network order), protocol, padding. */
const l4Key = (addr: string, port: number, proto: number) => bytes(ip4(addr), be16(port), [proto, 0]);
/** struct nat_value: address, port (network order), padding. */
const natValue = (addr: string, port: number) => bytes(ip4(addr), be16(port), [0, 0]);

export const SETUP: Record<string, MapEntry[]> = {
  'tc_nat.o': [
    entry('dnat', l4Key('10.0.0.2', 5001, 17), natValue('10.9.9.9', 8080)),
    entry('dnat', l4Key('10.0.0.2', 80, 6), natValue('10.9.9.9', 8080)),
    entry('snat', l4Key('10.0.0.1', 40000, 17), natValue('192.0.2.1', 1000)),
    entry('snat', l4Key('10.0.0.1', 33000, 6), natValue('192.0.2.1', 1001)),
  ],
  // One backend, so the flow hash (seeded at random by the kernel) cannot choose: slot 1 * 64 + 0.
  'tc_lb.o': [
    entry('services', l4Key('10.0.0.2', 80, 6), bytes(le32(1), le32(1))),
    entry('backends', le32(64), bytes(ip4('10.1.1.1'), le32(1), [2, 0, 0, 0, 1, 1, 0, 0])),
  ],
  'xdp_fw.o': [
    entry('deny', bytes(le32(24), ip4('192.168.1.0')), le32(7)),
    entry('deny', bytes(le32(32), ip4('10.0.0.9')), le32(8)),
  ],
  // Identities: 10.0.0.1 is 1234 (UDP to 5001 allowed, TCP to 80 denied); the world (2) may send UDP anywhere.
  'tc_policy.o': [
    entry('ipcache', bytes(le32(32), ip4('10.0.0.1')), le32(1234)),
    entry('policy', bytes(le32(1234), le16(5001), [17, 0]), bytes([0, 0, 0, 0], le32(0))),
    entry('policy', bytes(le32(1234), le16(80), [6, 0]), bytes([1, 0, 0, 0], le32(0))),
    entry('policy', bytes(le32(2), le16(0), [17, 0]), bytes([0, 0, 0, 0], le32(0))),
  ],
  // Test runs put the skb on the loopback device (ifindex 1).
  'tc_vlan.o': [
    entry('vlan_of_ifindex', le32(1), le16(100)),
    entry('allowed_vlans', le16(100), Uint8Array.of(1)),
  ],
  'tc_classify.o': [entry('class_of_port', le16(80), le32(0x10001))],
  'socket_filter.o': [
    entry('ports', le16(80), Uint8Array.of(1)),
    entry('ports', le16(5001), Uint8Array.of(1)),
  ],
  'cgroup_skb.o': [entry('denied_daddr', ip4('10.0.0.2'), Uint8Array.of(1))],
  'tc_encap.o': [entry('tunnel', le32(0), bytes(ip4('10.255.0.1'), ip4('10.255.0.2')))],
  'xdp_meta.o': [entry('mark_of_port', le16(5001), le32(7))],
  'tc_nat46.o': [entry('nat46_net', le32(0), ip4('10.0.0.0'))],
  'lwt.o': [entry('blocked', ip4('10.1.2.3'), Uint8Array.of(1))],
  'tc_l3dev.o': [entry('l2', le32(0), bytes([2, 0, 0, 0, 0, 0xd], [2, 0, 0, 0, 0, 0xe]))],
  // tenant0 is the inner map the object's .values put in slot 0 of tenants.
  'tenant_acl.o': [entry('tenant0', le16(5001), Uint8Array.of(1))],
};

/** Map types whose contents are compared after the runs: one value per key (not per CPU), no kernel objects. */
export const COMPARED_MAP_TYPES = new Set([1 /* hash */, 2 /* array */, 9 /* lru_hash */, 11 /* lpm_trie */]);

/**
 * Maps whose entries user space cannot reproduce, with why: after the runs only their number of entries is
 * compared.
 */
export const UNREPRODUCIBLE_MAPS: Record<string, string> = {
  'tc_edt.o:flows': 'keyed by skb hash (the kernel seeds its flow hash at random at boot), valued by ktime',
  'tc_flows_uninit.o:flows':
    "keyed by a struct whose ports are never written: the kernel's are what its stack held",
};

/** An empty `struct __sk_buff` (192 bytes): the context skb programs are run with, so ctx_out comes back. */
export const SKB_CTX = new Uint8Array(192);

/**
 * Argument buffers syscall programs are test-run with (BPF_PROG_TEST_RUN takes only a ctx for them), per
 * object: syscall_prog.c's struct args { count, first, written }.
 */
export const SYSCALL_ARGS: Record<string, Uint8Array[]> = {
  'syscall_prog.o': [
    bytes(le32(5), le32(100), le32(0)),
    bytes(le32(40), le32(7), le32(0)),
    bytes(le32(0), le32(1), le32(0)),
  ],
};
