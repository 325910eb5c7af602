/* tcpconnect: every active TCP connection attempt — process, addresses and ports — when the socket moves
 * from CLOSE to SYN_SENT (tracepoint sock:inet_sock_set_state, which carries both addresses and ports
 * already in the record, so no socket walking is needed). The tracepoint fires in the connecting task. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define TCP_CLOSE_STATE 7
#define TCP_SYN_SENT_STATE 2
#define IPPROTO_TCP_NUM 6
#define AF_INET_NUM 2

/* Only this process when non-zero (set before load). */
const volatile __u32 target_tgid = 0;

__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int trace_connect(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP_NUM || BPF_CORE_READ(ctx, oldstate) != TCP_CLOSE_STATE ||
	    BPF_CORE_READ(ctx, newstate) != TCP_SYN_SENT_STATE)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (target_tgid && tgid != target_tgid)
		return 0;
	struct connect_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = tgid;
	e->family = BPF_CORE_READ(ctx, family);
	e->sport = BPF_CORE_READ(ctx, sport);
	e->dport = BPF_CORE_READ(ctx, dport);
	e->uid = (__u32)bpf_get_current_uid_gid();
	if (e->family == AF_INET_NUM) {
		bpf_core_read(e->saddr, 4, &ctx->saddr);
		bpf_core_read(e->daddr, 4, &ctx->daddr);
	} else {
		bpf_core_read(e->saddr, 16, &ctx->saddr_v6);
		bpf_core_read(e->daddr, 16, &ctx->daddr_v6);
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
