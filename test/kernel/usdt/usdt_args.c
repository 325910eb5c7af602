// The USDT argument test's BPF program: BPF_USDT from libbpf's <bpf/usdt.bpf.h> reads the three arguments
// of tsbpf_test:args through the __bpf_usdt_specs map and the BPF cookie the loader set; it stores them,
// the argument count and bpf_usdt_cookie in `seen`, for the target process only.
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __s64);
} seen SEC(".maps");

volatile const __u32 target_tgid = 0;

static void put(__u32 k, __s64 v)
{
	bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
}

SEC("usdt")
int BPF_USDT(on_args, int a, long b, short c)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	put(0, a);
	put(1, b);
	put(2, c);
	put(3, bpf_usdt_arg_cnt(ctx));
	put(4, (__s64)bpf_usdt_cookie(ctx));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
