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

/* execsnoop: one successful execve(2), after the new program replaced the old. */
struct exec_event {
	__u32 pid;
	__u32 ppid;     /* the parent's thread group id */
	__u32 uid;
	__u32 pad;
	char comm[COMM_LEN];    /* the new program's */
	char filename[PATH_LEN];
};

/* tcpconnect: one active TCP open (SYN sent), IPv4 or IPv6. */
struct connect_event {
	__u32 pid;
	__u16 family;   /* AF_INET 2, AF_INET6 10 */
	__u16 sport;    /* host order; 0 when the kernel picks the port (it does so after SYN_SENT) */
	__u16 dport;    /* host order */
	__u16 pad;
	__u32 uid;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char comm[COMM_LEN];
};

#endif
