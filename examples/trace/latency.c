/* funclatency in C: a log2 histogram of call durations per traced function, keyed by probe id, written
 * with libbpf's BPF_KRETPROBE macro. Read it with log2HistogramsByGroup(obj.map('hist')). */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tsbpf_probe.h"

struct hist_key {
	__u32 probe;
	__u32 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65 * 64);
	__type(key, struct hist_key);
	__type(value, __u64);
} hist SEC(".maps");

SEC("uretprobe")
int BPF_KRETPROBE(on_return, long ret)
{
	struct hist_key key = {
		.probe = TSBPF_PROBE_ID(ctx),
		.slot = tsbpf_log2_slot(TSBPF_DURATION_NS(ctx)),
	};
	__u64 one = 1, *count = bpf_map_lookup_elem(&hist, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&hist, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
