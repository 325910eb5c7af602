/* The records the example tools send to user space, shared by the BPF programs. The TypeScript drivers read
 * them by offset (a ring buffer's records carry no BTF type): keep the layouts in step with the decoders. */
#ifndef EXAMPLES_KERNEL_EVENTS_H
#define EXAMPLES_KERNEL_EVENTS_H

#define COMM_LEN 16
#define PATH_LEN 256

/* opensnoop: one openat(2) call. */
struct open_event {
	__u32 pid;      /* thread group id (the process) */
	__u32 tid;
	__s32 flags;    /* openat's flags argument */
	__u32 uid;
	char comm[COMM_LEN];
	char path[PATH_LEN];
};

#endif
