/* latency: a large live heap with steady churn; measures mutator stalls.
 *
 *   latency [LIVE_MIB [CHURN [THREADS]]]    defaults 1024, 16, 2
 *
 * The live set is LIVE_MIB MiB of 64-byte nodes (a next pointer and 56
 * bytes of payload), organised as chains of 64 nodes hanging off one root
 * array. Each thread owns an equal slice of the root array. After the live
 * set is built, every thread loops: build a fresh 64-node chain, swap it
 * into the next slot of its slice (round robin, so the oldest chain dies),
 * and record a CLOCK_MONOTONIC timestamp. The live size stays constant and
 * garbage is produced at a steady rate. In total CHURN x LIVE_MIB MiB are
 * replaced. The gaps between consecutive iterations of a thread show every
 * stall (collector pauses, assists, page faults); max, p99.9 and p99 over
 * all threads are reported. At the end every chain is verified.
 *
 *   latency LIVE_MIB CHURN THREADS DROP_S
 *
 * With DROP_S > 0, a last phase: 90% of the live set is dropped (the
 * chains unlinked; freed for malloc), then the main thread keeps replacing
 * chains of the remaining 10% at LIVE_MIB MiB/s for DROP_S seconds,
 * sampling RSS every 10 ms. Reported: drop_target_mib (what the heap needs
 * then: 2.2 x the live set left, i.e. live + GOGC=100 slack + 10%, plus
 * 64 MiB for the rest of the process), drop_reach_s (when RSS first fell
 * to that, -1: never) and drop_rss_end_mib (RSS at the end).
 *
 * BENCH_LONG_GAPS=1 (diagnostics): every gap over 2 ms, 256 a thread at
 * most, is printed on stderr with its end time on CLOCK_MONOTONIC, to be
 * matched with a scheduler trace (bench/README.md). */
#include "common.h"

#define CHAIN 64

struct lnode {
  struct lnode *next;
  uint64_t stamp; /* same for every node of a chain */
  uint64_t pos;   /* 0..CHAIN-1 along the chain */
  uint64_t pad[5];
};
_Static_assert(sizeof(struct lnode) == 64, "node must be 64 bytes");

/* The root array: a global, so every collector sees it. */
static struct lnode **roots;
static size_t nchains;
static int nthreads;
static double churn;
static pthread_barrier_t start_barrier;

#if defined(IMPL_GOGC)
static const gogc_type *lnode_type;
static inline struct lnode *new_lnode(void) {
  struct lnode *n = gogc_alloc_typed(lnode_type);
  if (!n) bench_out_of_memory();
  return n;
}
static struct lnode **new_roots(size_t n) {
  return gogc_alloc(n * sizeof(struct lnode *)); /* conservative, zeroed */
}
#elif defined(IMPL_BOEHM)
static inline struct lnode *new_lnode(void) {
  struct lnode *n = GC_MALLOC(sizeof(struct lnode));
  if (!n) bench_out_of_memory();
  return n;
}
static struct lnode **new_roots(size_t n) {
  return GC_MALLOC(n * sizeof(struct lnode *));
}
#else
static inline struct lnode *new_lnode(void) {
  struct lnode *n = malloc(sizeof(struct lnode));
  if (!n) bench_out_of_memory();
  return n;
}
static struct lnode **new_roots(size_t n) {
  return calloc(n, sizeof(struct lnode *));
}
#endif

static struct lnode *make_chain(uint64_t stamp) {
  struct lnode *head = NULL;
  for (int pos = CHAIN - 1; pos >= 0; pos--) {
    struct lnode *n = new_lnode();
    n->stamp = stamp;
    n->pos = (uint64_t)pos;
    STORE(&n->next, head);
    head = n;
  }
  return head;
}

static void drop_chain(struct lnode *n) {
#if defined(IMPL_MALLOC)
  while (n) {
    struct lnode *next = n->next;
    free(n);
    n = next;
  }
#else
  (void)n;
#endif
}

static void barrier_wait(void) {
#if defined(IMPL_GOGC)
  gogc_enter_blocking();
  pthread_barrier_wait(&start_barrier);
  gogc_leave_blocking();
#else
  pthread_barrier_wait(&start_barrier);
#endif
}

struct worker {
  pthread_t thread;
  int id;
  size_t lo, hi;  /* slice of the root array owned by this thread */
  uint64_t *gaps; /* ns between consecutive iterations (malloc'd) */
  size_t ngaps;
  uint64_t steady_ns;
  uint64_t long_end[256], long_gap[256]; /* gaps over 2 ms: end time (CLOCK_MONOTONIC), length */
  size_t nlong;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  uint64_t tag = (uint64_t)w->id << 56;
  uint64_t gen = 0;

  /* Build this thread's part of the live set. */
  for (size_t c = w->lo; c < w->hi; c++)
    STORE(&roots[c], make_chain(tag | ++gen));
  barrier_wait();

  /* Steady state: replace the oldest chain, one per iteration. */
  size_t cur = w->lo;
  uint64_t start = bench_now_ns(), prev = start;
  for (size_t it = 0; it < w->ngaps; it++) {
    struct lnode *fresh = make_chain(tag | ++gen);
    struct lnode *old = roots[cur];
    STORE(&roots[cur], fresh);
    drop_chain(old);
    if (++cur == w->hi) cur = w->lo;
    uint64_t now = bench_now_ns();
    w->gaps[it] = now - prev;
    if (w->gaps[it] > 2000000 && w->nlong < 256) {
      w->long_end[w->nlong] = now;
      w->long_gap[w->nlong++] = now - prev;
    }
    prev = now;
  }
  w->steady_ns = prev - start;
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, double p) {
  size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

static int verify_range(size_t lo, size_t hi) {
  for (size_t c = lo; c < hi; c++) {
    const struct lnode *n = roots[c];
    if (!n) return 0;
    uint64_t stamp = n->stamp;
    for (uint64_t pos = 0; pos < CHAIN; pos++, n = n->next)
      if (!n || n->pos != pos || n->stamp != stamp) return 0;
    if (n) return 0;
  }
  return 1;
}

static int verify(void) { return verify_range(0, nchains); }

static void sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
#if defined(IMPL_GOGC)
  gogc_enter_blocking();
  nanosleep(&ts, NULL);
  gogc_leave_blocking();
#else
  nanosleep(&ts, NULL);
#endif
}

/* The drop phase (see the top of the file). Returns 0 if the chains left
 * are damaged. */
static int drop_phase(double drop_s, long live_mib, char *extra, size_t len) {
  size_t keep = nchains / 10;
  if (keep < 1) keep = 1;
  for (size_t c = keep; c < nchains; c++) {
    struct lnode *old = roots[c];
    STORE(&roots[c], NULL);
    drop_chain(old);
  }
  double target = 2.2 * (double)live_mib * (double)keep / (double)nchains + 64.0;
  double reach = -1;
  uint64_t t0 = bench_now_ns(), tick = 10000000; /* 10 ms */
  /* live_mib MiB per second: the rate of the steady phase, roughly */
  size_t per_tick = (size_t)((double)live_mib * 1024 * 1024 / 100 / (sizeof(struct lnode) * CHAIN));
  size_t cur = 0;
  uint64_t gen = 0;
  for (uint64_t next = t0 + tick;; next += tick) {
    for (size_t i = 0; i < per_tick; i++) {
      struct lnode *fresh = make_chain(((uint64_t)0x7f << 56) | ++gen);
      struct lnode *old = roots[cur];
      STORE(&roots[cur], fresh);
      drop_chain(old);
      if (++cur == keep) cur = 0;
    }
    uint64_t now = bench_now_ns();
    if (reach < 0 && bench_rss_now_mib() <= target) reach = (double)(now - t0) / 1e9;
    if ((double)(now - t0) / 1e9 >= drop_s) break;
    if (next > now) sleep_ns(next - now);
  }
  snprintf(extra, len, " drop_target_mib=%.1f drop_reach_s=%.3f drop_rss_end_mib=%.1f", target,
           reach, bench_rss_now_mib());
  return verify_range(0, keep);
}

#if defined(IMPL_GOGC)
/* BENCH_MEMSTATS_MS=N: a diagnostic thread prints RSS next to the
 * collector's own accounting every N ms on stderr (each sample stops the
 * world briefly, so leave it off when measuring gaps). */
static void *memstats_main(void *arg) {
  long ms = (long)(intptr_t)arg;
  uint64_t t0 = bench_now_ns();
  static gogc_memstats s;
  fprintf(stderr, "memstats: t_s rss held heap_alloc heap_inuse heap_free released gc_sys "
                  "goal limit_goal num_gc limiter (MiB unless noted)\n");
  for (;;) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    gogc_enter_blocking();
    nanosleep(&ts, NULL);
    gogc_leave_blocking();
    gogc_read_memstats(&s);
    const double M = 1024.0 * 1024.0;
    fprintf(stderr, "memstats: %.2f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %u %u\n",
            (bench_now_ns() - t0) / 1e9, bench_rss_now_mib(), s.memory_held / M,
            s.heap_alloc / M, s.heap_inuse / M, s.heap_free / M, s.heap_released / M, s.gc_sys / M,
            s.heap_goal / M,
            s.heap_live_goal_limit == UINT64_MAX ? -1.0 : s.heap_live_goal_limit / M,
            s.num_gc, s.limiter_enabled);
  }
  return NULL;
}
#endif

int main(int argc, char **argv) {
  uint64_t t0 = bench_now_ns();
  long live_mib = argc > 1 ? atol(argv[1]) : 1024;
  churn = argc > 2 ? atof(argv[2]) : 16.0;
  nthreads = argc > 3 ? atoi(argv[3]) : 2;
  double drop_s = argc > 4 ? atof(argv[4]) : 0;
  if (live_mib < 1 || churn <= 0 || nthreads < 1 || nthreads > 64 || drop_s < 0) {
    fprintf(stderr, "usage: latency [LIVE_MIB [CHURN [THREADS [DROP_S]]]]\n");
    return 2;
  }
  bench_init();
#if defined(IMPL_GOGC)
  lnode_type = GOGC_TYPE(struct lnode, offsetof(struct lnode, next));
  if (!lnode_type) return 2;
#endif
  nchains = (size_t)live_mib * 1024 * 1024 / (sizeof(struct lnode) * CHAIN);
  if (nchains < (size_t)nthreads) nchains = (size_t)nthreads;
  struct lnode **r = new_roots(nchains);
  if (!r) bench_out_of_memory();
  STORE(&roots, r);
  size_t total_iters = (size_t)(churn * (double)nchains);

  pthread_barrier_init(&start_barrier, NULL, (unsigned)nthreads);
  static struct worker workers[64];
  for (int t = 0; t < nthreads; t++) {
    struct worker *w = &workers[t];
    w->id = t;
    w->lo = nchains * (size_t)t / (size_t)nthreads;
    w->hi = nchains * (size_t)(t + 1) / (size_t)nthreads;
    w->ngaps = total_iters * (w->hi - w->lo) / nchains;
    if (w->ngaps < 1) w->ngaps = 1;
    w->gaps = malloc(w->ngaps * sizeof(uint64_t));
    if (!w->gaps) bench_out_of_memory();
    /* Touch the buffer now, so its page faults are not in the gaps. */
    memset(w->gaps, 0, w->ngaps * sizeof(uint64_t));
  }
#if defined(IMPL_GOGC)
  const char *ms_env = getenv("BENCH_MEMSTATS_MS");
  if (ms_env && atol(ms_env) > 0) {
    pthread_t mt;
    if (pthread_create(&mt, NULL, memstats_main, (void *)(intptr_t)atol(ms_env)) == 0)
      pthread_detach(mt);
  }
#endif
  for (int t = 0; t < nthreads; t++)
    if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t])) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  for (int t = 0; t < nthreads; t++) bench_join(workers[t].thread);

  double wall = (bench_now_ns() - t0) / 1e9;
  double cpu = bench_cpu_s();

  size_t n = 0;
  uint64_t steady_ns = 0;
  for (int t = 0; t < nthreads; t++) {
    n += workers[t].ngaps;
    if (workers[t].steady_ns > steady_ns) steady_ns = workers[t].steady_ns;
  }
  uint64_t *all = malloc(n * sizeof(uint64_t));
  if (!all) bench_out_of_memory();
  size_t k = 0;
  for (int t = 0; t < nthreads; t++) {
    memcpy(all + k, workers[t].gaps, workers[t].ngaps * sizeof(uint64_t));
    k += workers[t].ngaps;
  }
  qsort(all, n, sizeof(uint64_t), cmp_u64);
  if (getenv("BENCH_LONG_GAPS")) /* diagnostics: every gap over 2 ms (256 a thread at most) */
    for (int t = 0; t < nthreads; t++)
      for (size_t i = 0; i < workers[t].nlong; i++)
        fprintf(stderr, "long gap: thread %d ends %.6f s (CLOCK_MONOTONIC) lasts %.3f ms\n", t,
                workers[t].long_end[i] / 1e9, workers[t].long_gap[i] / 1e6);

  if (!verify()) {
    fprintf(stderr, "latency: FAILED: live set damaged\n");
    return 1;
  }
  printf("live set: %zu chains of %d nodes (%ld MiB), %zu replacements\n",
         nchains, CHAIN, live_mib, n);

  char extra[512], drop[160] = "";
  if (drop_s > 0 && !drop_phase(drop_s, live_mib, drop, sizeof drop)) {
    fprintf(stderr, "latency: FAILED: live set damaged after the drop\n");
    return 1;
  }
  snprintf(extra, sizeof extra,
           " live_mib=%ld iters=%zu steady_s=%.3f gap_max_ms=%.3f "
           "gap_p999_us=%.1f gap_p99_us=%.1f%s",
           live_mib, n, steady_ns / 1e9, all[n - 1] / 1e6,
           percentile(all, n, 99.9) / 1e3, percentile(all, n, 99.0) / 1e3, drop);
  bench_result("latency", nthreads, wall, cpu, extra);
  return 0;
}
