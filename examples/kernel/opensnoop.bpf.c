/* opensnoop: every openat(2) as it enters the kernel — process, thread, flags, command name and the path
 * asked for — sent to user space through a ring buffer. The tracepoint's context is the kernel's
 * struct trace_event_raw_sys_enter (read with CO-RE: the field offsets come from the running kernel). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Only this process when non-zero (set before load). */
const volatile __u32 target_tgid = 0;

/* Records that found the ring buffer full: with those delivered, every call counted. */
__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	struct open_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = tgid;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->flags = (__s32)BPF_CORE_READ(ctx, args[2]);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* args[1] is the user's pointer to the path. */
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)BPF_CORE_READ(ctx, args[1])) < 0)
		e->path[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
