/* A return probe that sends one event per call to a ring buffer: call id, duration, first argument and
 * return value.   tsbpf trace events examples/trace/calls.o --fn lib.mjs#add -- node main.mjs */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tsbpf_probe.h"

struct event {
	__u64 call_id;
	__u64 duration_ns;
	__u64 arg1;
	__u64 ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
	struct event e = {
		.call_id = TSBPF_CALL_ID(ctx),
		.duration_ns = TSBPF_DURATION_NS(ctx),
		.arg1 = PT_REGS_PARM1(ctx),
		.ret = PT_REGS_RC(ctx),
	};
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
