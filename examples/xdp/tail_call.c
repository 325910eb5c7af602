/* Tail-call dispatch: the entry program looks at the IPv4 protocol and jumps through a program array to a
 * per-protocol program. Fill the array with `--map-set jt 11000000=xdp_on_udp` (key 17 = UDP) and
 * `--map-set jt 06000000=xdp_on_tcp`; unknown protocols fall through to XDP_PASS. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} jt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} handled SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&handled, &idx);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = ipv4_header(data, data_end);

	if (!ip)
		return XDP_PASS;
	bpf_tail_call(ctx, &jt, ip->protocol);
	return XDP_PASS;
}

SEC("xdp")
int xdp_on_udp(struct xdp_md *ctx)
{
	bump(0);
	return XDP_DROP;
}

SEC("xdp")
int xdp_on_tcp(struct xdp_md *ctx)
{
	bump(1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
