// Target of bench/kernel-events.js's per-event figures: `loop N` calls tsbpf_bench_fn (a uprobe's target)
// N times, then getpgid(2) (a tracepoint's) N times, and prints the mean ns of one call of each.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

__attribute__((noinline)) int tsbpf_bench_fn(int x) {
  __asm__ volatile("" ::: "memory");
  return x + 1;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  volatile int acc = 0;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) acc += tsbpf_bench_fn((int)i);
  double t1 = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getpgid, 0);
  double t2 = now_ns();
  printf("uprobe_ns %.1f\ngetpgid_ns %.1f\n", (t1 - t0) / n, (t2 - t1) / n);
  return 0;
}
