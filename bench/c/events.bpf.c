// BPF side of bench/kernel-events.js: a uprobe and a tracepoint that each count their hits (the per-event
// cost compared between loaders), and a getppid tracepoint that sends this benchmark's records (16 bytes)
// to a ring buffer or a perf buffer (the readers' throughput). config[0] = { tgid, mode }: only that
// process's getppid calls produce, mode 1 to the ring buffer, 2 to the perf buffer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct config {
  __u32 tgid;
  __u32 mode;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct config);
} config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} hits SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 << 20);
} rb SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u32));
} pb SEC(".maps");

struct record {
  __u64 seq;
  __u64 stamp;
};

static __always_inline void bump(__u32 slot) {
  __u64 *v = bpf_map_lookup_elem(&hits, &slot);
  if (v) __sync_fetch_and_add(v, 1);
}

SEC("uprobe//tmp/tsbpf-kernel-events/loop:tsbpf_bench_fn")
int on_fn(void *ctx) {
  bump(0);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(void *ctx) {
  bump(1);
  return 0;
}

__u64 seq = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx) {
  __u32 zero = 0;
  struct config *c = bpf_map_lookup_elem(&config, &zero);
  if (!c || c->tgid != (bpf_get_current_pid_tgid() >> 32)) return 0;
  struct record r = { .seq = seq++, .stamp = bpf_ktime_get_ns() };
  if (c->mode == 1)
    bpf_ringbuf_output(&rb, &r, sizeof(r), 0);
  else if (c->mode == 2)
    bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &r, sizeof(r));
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
