/* The reference example: drop IPv4 UDP datagrams to one port (5001 unless set before load), pass the rest,
 * and count what was dropped per destination port. */
#include "common.h"

/* Read-only after load; tools may set it first (tsbpf xdp --map-set .rodata ...). */
const volatile __u16 blocked_port = 5001;

struct drop_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct drop_stats);
} drops SEC(".maps");

SEC("xdp")
int xdp_udp_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return XDP_PASS;

	struct udphdr *udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	if (udp->dest != bpf_htons(blocked_port))
		return XDP_PASS;

	__u32 port = bpf_ntohs(udp->dest);
	struct drop_stats *stats = bpf_map_lookup_elem(&drops, &port);
	if (stats) {
		__sync_fetch_and_add(&stats->packets, 1);
		__sync_fetch_and_add(&stats->bytes, data_end - data);
	} else {
		struct drop_stats first = { .packets = 1, .bytes = data_end - data };
		bpf_map_update_elem(&drops, &port, &first, BPF_NOEXIST);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
