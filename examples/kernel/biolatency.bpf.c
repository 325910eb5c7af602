/* biolatency: block I/O latency, issue to completion, as a log2 histogram in microseconds. raw tracepoints
 * block_rq_issue(struct request *) and block_rq_complete(struct request *, blk_status_t, unsigned int): the
 * request's address keys the issue time. A device filter (major, and a minor within the disk's range, so a
 * partition selects its disk) is read from rq->q->disk with CO-RE. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 32

/* Only requests of this device's disk when target_major is non-zero (set before load). */
const volatile __u32 target_major = 0;
const volatile __u32 target_minor = 0;

/* Issue time by request; bounded: a full map drops new stamps (counted in `missed`). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

/* Slot i counts latencies of [2^i, 2^(i+1)) microseconds (slot 0 also those under 1 µs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

__u64 missed = 0;

static __always_inline int wanted(struct request *rq)
{
	if (!target_major)
		return 1;
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	int major = BPF_CORE_READ(disk, major);
	int first = BPF_CORE_READ(disk, first_minor);
	int minors = BPF_CORE_READ(disk, minors);
	return major == (int)target_major && (int)target_minor >= first && (int)target_minor < first + minors;
}

SEC("raw_tp/block_rq_issue")
int rq_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	if (!wanted(rq))
		return 0;
	__u64 key = (__u64)rq;
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &key, &now, BPF_ANY))
		__sync_fetch_and_add(&missed, 1);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int rq_complete(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];
	__u64 *ts = bpf_map_lookup_elem(&start, &key);
	if (!ts)
		return 0;
	__u64 delta_us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&start, &key);
	__u32 slot = 0;
	for (int i = 0; i < SLOTS - 1 && delta_us > 1; i++) {
		delta_us >>= 1;
		slot++;
	}
	__u64 *count = bpf_map_lookup_elem(&hist, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
