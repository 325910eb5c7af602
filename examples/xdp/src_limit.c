/* Per-source rate cap: count IPv4 packets per source address in a hash map and drop a source's packets
 * once it has sent more than `max_packets` (a .rodata constant the loader may change before load). */
#include "common.h"

const volatile __u64 max_packets = 8;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* IPv4 source, network order */
	__type(value, __u64); /* packets seen */
} per_source SEC(".maps");

/* Packets dropped because their source was over the limit. */
__u64 over_limit = 0;

SEC("xdp")
int xdp_src_limit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = ipv4_header(data, data_end);

	if (!ip)
		return XDP_PASS;

	__u32 src = ip->saddr;
	__u64 *seen = bpf_map_lookup_elem(&per_source, &src);
	if (!seen) {
		__u64 one = 1;
		bpf_map_update_elem(&per_source, &src, &one, BPF_ANY);
		return XDP_PASS;
	}
	__u64 n = __sync_add_and_fetch(seen, 1);
	if (n > max_packets) {
		__sync_fetch_and_add(&over_limit, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
