/* Pop one 802.1Q VLAN tag with bpf_xdp_adjust_head: move the MAC addresses 4 bytes forward, then shrink
 * the head by 4. Untagged frames pass unchanged. */
#include "common.h"

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

SEC("xdp")
int xdp_vlan_pop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q) && eth->h_proto != bpf_htons(ETH_P_8021AD))
		return XDP_PASS;
	struct vlan_hdr *vlan = (void *)(eth + 1);
	if ((void *)(vlan + 1) > data_end)
		return XDP_PASS;

	struct ethhdr copy;
	__builtin_memcpy(copy.h_dest, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(copy.h_source, eth->h_source, ETH_ALEN);
	copy.h_proto = vlan->encapsulated_proto;

	if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct vlan_hdr)))
		return XDP_ABORTED;

	/* Packet pointers are invalid after adjust_head: reload and re-check. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth, &copy, sizeof(copy));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
