/* The BPF side of the USDT tests: counts the hits of the probe it is attached to, for one process
 * (target_tgid, set before load), and keeps the last value of register rax (the probe's argument in
 * usdt_target.c, "-4@%eax" with this compiler; the test checks the spec says so before relying on it). */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;

__u64 hits = 0;
__u64 last_rax = 0;

SEC("usdt")
int on_tick(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	last_rax = ctx->rax;
	return 0;
}
