/* Walk IPv6 extension headers with a bounded loop to find the upper-layer protocol, count what it is, and
 * drop IPv6 fragments of UDP (a toy policy that needs the walk to find the fragment header). */
#include "common.h"

#define MAX_EXT_HEADERS 6

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} l4_seen SEC(".maps");

static __always_inline int is_ext_header(__u8 h)
{
	return h == IPPROTO_HOPOPTS || h == IPPROTO_ROUTING || h == IPPROTO_FRAGMENT || h == IPPROTO_DSTOPTS;
}

SEC("xdp")
int xdp_ipv6_exthdr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > data_end)
		return XDP_PASS;

	__u8 next = ip6->nexthdr;
	void *cursor = ip6 + 1;
	int fragmented = 0;

	for (int i = 0; i < MAX_EXT_HEADERS; i++) {
		if (!is_ext_header(next))
			break;
		__u8 *hdr = cursor;
		if ((void *)(hdr + 8) > data_end)
			return XDP_PASS;
		if (next == IPPROTO_FRAGMENT) {
			fragmented = 1;
			cursor += 8;
		} else {
			cursor += (hdr[1] + 1) * 8;
		}
		next = hdr[0];
	}

	__u32 key = next;
	__u64 *count = bpf_map_lookup_elem(&l4_seen, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	if (fragmented && next == IPPROTO_UDP)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
