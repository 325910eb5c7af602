/* An entry probe with BPF_KPROBE: sums the first two arguments of every call into a global. */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 calls;
__u64 sum;

SEC("uprobe")
int BPF_KPROBE(on_entry, long a, long b)
{
	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&sum, a + b);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
