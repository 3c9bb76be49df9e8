/* Shared helpers for the gogc benchmark programs.
 *
 * Each benchmark is one C file compiled three times, with exactly one of
 *   -DIMPL_GOGC    gogc (link libgogc.a -lpthread -ldl)
 *   -DIMPL_BOEHM   Boehm GC (link -lgc -lpthread)
 *   -DIMPL_MALLOC  glibc malloc/free (link -lpthread)
 * This header must be the first include of every benchmark file. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if defined(IMPL_GOGC) + defined(IMPL_BOEHM) + defined(IMPL_MALLOC) != 1
#error "define exactly one of IMPL_GOGC, IMPL_BOEHM, IMPL_MALLOC"
#endif

#if defined(IMPL_GOGC)
#include "gogc.h"
#define IMPL_NAME "gogc"
/* Every pointer store into a collected object or a global goes through the
 * write barrier (project rule). */
#define STORE(slot, val) gogc_store((slot), (val))
#elif defined(IMPL_BOEHM)
#define GC_THREADS /* redirects pthread_create/join to Boehm's wrappers */
#include <gc.h>
#define IMPL_NAME "boehm"
#define STORE(slot, val) (*(slot) = (val))
#else
#define IMPL_NAME "malloc"
#define STORE(slot, val) (*(slot) = (val))
#endif

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* User + system CPU of the whole process, seconds. */
static inline double bench_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Peak resident set size, MiB (ru_maxrss is in KiB on Linux). */
static inline double bench_peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static inline void bench_init(void) {
#if defined(IMPL_GOGC)
  if (gogc_init() != 0) {
    fprintf(stderr, "gogc_init failed\n");
    exit(2);
  }
#elif defined(IMPL_BOEHM)
  GC_INIT();
  /* Boehm starts its parallel markers only when the first thread is
   * created; start them now so single-threaded programs mark in parallel
   * too, as gogc and Go do. */
  GC_start_mark_threads();
#endif
}

/* Number of collections so far, as text ("-" for malloc). */
static inline void bench_gc_count(char *buf, size_t len) {
#if defined(IMPL_GOGC)
  static gogc_memstats ms; /* large: keep it off the stack */
  gogc_read_memstats(&ms);
  snprintf(buf, len, "%u", (unsigned)ms.num_gc);
#elif defined(IMPL_BOEHM)
  snprintf(buf, len, "%lu", (unsigned long)GC_get_gc_no());
#else
  snprintf(buf, len, "-");
#endif
}

/* Join a thread; for gogc the wait is bracketed as a blocking call so a
 * collection never waits for this thread. */
static inline void bench_join(pthread_t t) {
#if defined(IMPL_GOGC)
  gogc_enter_blocking();
  pthread_join(t, NULL);
  gogc_leave_blocking();
#else
  pthread_join(t, NULL);
#endif
}

static inline void bench_out_of_memory(void) {
  fprintf(stderr, "%s: allocation failed\n", IMPL_NAME);
  exit(3);
}

/* Print the one machine-readable result line. `extra` is appended as is
 * (starts with a space, or is ""). */
/* GC's share of the CPU since start, as text ("-" where unknown):
 * gogc's gc_cpu_fraction, Go's GCCPUFraction. */
static inline void bench_gc_cpu(char *buf, size_t len) {
#if defined(IMPL_GOGC)
  static gogc_memstats ms;
  gogc_read_memstats(&ms);
  snprintf(buf, len, "%.4f", ms.gc_cpu_fraction);
#else
  snprintf(buf, len, "-");
#endif
}

/* Resident set size now, MiB. */
static inline double bench_rss_now_mib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (double)res * 4096.0 / (1024.0 * 1024.0);
}

static inline void bench_result(const char *bench, int threads, double wall_s,
                                double cpu_s, const char *extra) {
  char gcs[32], gccpu[32];
  bench_gc_count(gcs, sizeof gcs);
  bench_gc_cpu(gccpu, sizeof gccpu);
  printf("RESULT impl=%s bench=%s threads=%d wall_s=%.3f cpu_s=%.3f "
         "rss_mib=%.1f gcs=%s gc_cpu=%s%s\n",
         IMPL_NAME, bench, threads, wall_s, cpu_s, bench_peak_rss_mib(), gcs, gccpu,
         extra ? extra : "");
  fflush(stdout);
}

#endif /* BENCH_COMMON_H */
