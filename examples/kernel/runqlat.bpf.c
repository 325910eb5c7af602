/* runqlat: how long tasks wait on a run queue between being woken and running, as a log2 histogram in
 * microseconds. raw tracepoints (no BPF trampolines needed): sched_wakeup/sched_wakeup_new stamp the woken
 * task; sched_switch stamps the task it switches away from if it is still runnable (preempted), and for
 * the task it switches to, adds now - stamp to the histogram. Task fields are read with CO-RE. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 32

/* Only this process's threads when non-zero (set before load). */
const volatile __u32 target_tgid = 0;

/* Wake-up time by thread id; bounded: a full map drops new stamps (counted in `missed`). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* Slot i counts waits of [2^i, 2^(i+1)) microseconds (slot 0 also those under 1 µs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

__u64 missed = 0;

static __always_inline void stamp(struct task_struct *p)
{
	if (target_tgid && BPF_CORE_READ(p, tgid) != target_tgid)
		return;
	__u32 pid = BPF_CORE_READ(p, pid);
	if (!pid)
		return; /* the idle task */
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &pid, &now, BPF_ANY))
		__sync_fetch_and_add(&missed, 1);
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;
	/* Bounded loop: at most SLOTS - 1 halvings. */
	for (int i = 0; i < SLOTS - 1 && v > 1; i++) {
		v >>= 1;
		slot++;
	}
	return slot;
}

SEC("raw_tp/sched_wakeup")
int wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	stamp((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int wakeup_new(struct bpf_raw_tracepoint_args *ctx)
{
	stamp((struct task_struct *)ctx->args[0]);
	return 0;
}

/* sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state) */
SEC("raw_tp/sched_switch")
int switch_in(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];

	/* Still runnable (__state 0, TASK_RUNNING): back on the run queue from now. */
	if (BPF_CORE_READ(prev, __state) == 0)
		stamp(prev);
	__u32 pid = BPF_CORE_READ(next, pid);
	__u64 *ts = bpf_map_lookup_elem(&start, &pid);
	if (!ts)
		return 0;
	__u64 delta_us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&start, &pid);
	__u32 slot = log2_slot(delta_us);
	__u64 *count = bpf_map_lookup_elem(&hist, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
