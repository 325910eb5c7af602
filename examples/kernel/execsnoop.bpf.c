/* execsnoop: every exec as the new program starts — pid, parent, uid, its command name and the file that
 * was executed — through a ring buffer. The tracepoint sched:sched_process_exec fires once the exec has
 * succeeded; its filename is a __data_loc field (offset and length packed in 32 bits, pointing into the
 * tracepoint's own record). The parent comes from the task struct with CO-RE. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Only children of this process when non-zero (set before load). */
const volatile __u32 target_ppid = 0;

__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int trace_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);

	if (target_ppid && ppid != target_ppid)
		return 0;
	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* Low 16 bits: the offset of the string from the start of the record. */
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + (loc & 0xffff)) < 0)
		e->filename[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
