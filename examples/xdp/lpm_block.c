/* Block list by IPv4 prefix: drop packets whose source falls in a prefix of the LPM trie. The value is a
 * hit counter for the matching prefix. Fill it with `--map-set blocklist KEY=VALUE` (prefixlen u32 LE,
 * then the address in network order). */
#include "common.h"

struct ipv4_lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv4_lpm_key);
	__type(value, __u64);
} blocklist SEC(".maps");

SEC("xdp")
int xdp_lpm_block(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = ipv4_header(data, data_end);

	if (!ip)
		return XDP_PASS;

	struct ipv4_lpm_key key = { .prefixlen = 32, .addr = ip->saddr };
	__u64 *hits = bpf_map_lookup_elem(&blocklist, &key);
	if (!hits)
		return XDP_PASS;
	__sync_fetch_and_add(hits, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
