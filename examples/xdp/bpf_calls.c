/* Bpf-to-bpf calls: parsing split into real (non-inlined) functions that take and return values, as larger
 * programs are written. Passes everything; counts TCP and UDP packets per destination port class. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} port_class SEC(".maps");

/* A real function (not inlined): returns the IPv4 header or NULL. */
static __noinline struct iphdr *parse_ipv4(void *data, void *data_end)
{
	return ipv4_header(data, data_end);
}

/* 0: well-known (< 1024), 1: registered (< 49152), 2: dynamic, 3: not TCP/UDP. */
static __noinline __u32 classify_port(__u16 port)
{
	if (port < 1024)
		return 0;
	if (port < 49152)
		return 1;
	return 2;
}

static __noinline int count(__u32 cls)
{
	__u64 *n = bpf_map_lookup_elem(&port_class, &cls);
	if (!n)
		return -1;
	__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("xdp")
int xdp_bpf_calls(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = parse_ipv4(data, data_end);
	if (!ip)
		return XDP_PASS;
	__u32 cls = 3;
	if (ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_TCP) {
		/* Ports sit at the same offset in both headers; assume no IP options here. */
		__u16 *ports = (void *)(ip + 1);
		if ((void *)(ports + 2) > data_end)
			return XDP_PASS;
		cls = classify_port(bpf_ntohs(ports[1]));
	}
	count(cls);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
