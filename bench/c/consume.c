// libbpf's readers for bench/kernel-events.js: loads events.bpf.o (only the getppid producer), makes this
// process the producer, and for the ring buffer and then the perf buffer: opens the reader, produces N
// records with getppid(2), and times ring_buffer__consume / perf_buffer__consume draining them all.
// Prints "ringbuf N NS" and "perf N NS LOST" (ns for the whole drain).
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

static long seen;
static long lost;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int on_rb(void *ctx, void *data, size_t size) {
  seen++;
  return 0;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size) { seen++; }
static void on_lost(void *ctx, int cpu, __u64 n) { lost += n; }

static int set_mode(struct bpf_object *obj, unsigned mode) {
  unsigned key = 0, val[2] = { (unsigned)getpid(), mode };
  return bpf_map__update_elem(bpf_object__find_map_by_name(obj, "config"), &key, 4, val, 8, 0);
}

static void produce(long n) {
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: consume OBJ N [PAGES]\n");
    return 2;
  }
  long n = atol(argv[2]);
  size_t pages = argc > 3 ? (size_t)atol(argv[3]) : 8192;
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) {
    fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct bpf_program *p;
  bpf_object__for_each_program(p, obj)
    bpf_program__set_autoload(p, strcmp(bpf_program__name(p), "on_getppid") == 0);
  if (bpf_object__load(obj)) {
    fprintf(stderr, "load: %s\n", strerror(errno));
    return 1;
  }
  struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "on_getppid"));
  if (!link) {
    fprintf(stderr, "attach: %s\n", strerror(errno));
    return 1;
  }

  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), on_rb, NULL, NULL);
  if (!rb || set_mode(obj, 1)) return 1;
  produce(n);
  set_mode(obj, 0);
  seen = 0;
  double t0 = now_ns();
  ring_buffer__consume(rb);
  printf("ringbuf %ld %.0f\n", seen, now_ns() - t0);
  ring_buffer__free(rb);

  struct perf_buffer *pb = perf_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "pb")), pages, on_sample, on_lost, NULL, NULL);
  if (!pb || set_mode(obj, 2)) return 1;
  produce(n);
  set_mode(obj, 0);
  seen = 0;
  t0 = now_ns();
  perf_buffer__consume(pb);
  printf("perf %ld %.0f %ld\n", seen, now_ns() - t0, lost);
  perf_buffer__free(pb);
  bpf_link__destroy(link);
  bpf_object__close(obj);
  return 0;
}
