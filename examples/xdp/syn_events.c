/* Report every TCP SYN (without ACK) as an event through a ring buffer: addresses, ports and the time. */
#include "common.h"

struct syn_event {
	__u64 ts_ns;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} syn_ring SEC(".maps");

SEC("xdp")
int xdp_syn_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = ipv4_header(data, data_end);

	if (!ip || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
		return XDP_PASS;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;
	if (!tcp->syn || tcp->ack)
		return XDP_PASS;

	struct syn_event *e = bpf_ringbuf_reserve(&syn_ring, sizeof(*e), 0);
	if (!e)
		return XDP_PASS;
	e->ts_ns = bpf_ktime_get_ns();
	e->saddr = ip->saddr;
	e->daddr = ip->daddr;
	e->sport = bpf_ntohs(tcp->source);
	e->dport = bpf_ntohs(tcp->dest);
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
