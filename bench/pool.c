/* pool: object pools against fresh allocation (and malloc/free).
 *
 *   pool [SECONDS_PER_PART]   (default 0.5)
 *
 * Parts, each timed for about SECONDS_PER_PART:
 *   pair1   one thread: get a 1 KiB buffer from a pool and put it back
 *           (gogc_pool_get/put; malloc: malloc+free; Boehm has no pool);
 *   pair2   the same on two threads at once: wall time per pair, all
 *           pairs of both threads counted (Go's RunParallel ns/op);
 *   fresh   one thread: a fresh 1 KiB allocation (gogc_alloc, GC_MALLOC,
 *           malloc+free), left to the collector;
 *   request a request-style loop on one thread: each request takes a 4 KiB
 *           scratch buffer, fills 1 KiB of it, checksums it and lets it
 *           go; with a pool (req_pool) and with a fresh buffer per request
 *           (req_fresh); collections counted for each.
 * Times are ns per operation; the RESULT line carries them all.
 */
#include "common.h"

#define BUF 1024
#define SCRATCH 4096

static double g_part_s = 0.5;
static volatile uint64_t g_sink;
/* Keep the compiler from removing an allocation and its free. */
#define USE(b) __asm__ volatile("" : : "r"(b) : "memory")

#if defined(IMPL_GOGC)
static gogc_pool *g_pool, *g_scratch;
static void *new_buf(void *arg) { return gogc_alloc_noscan((size_t)(uintptr_t)arg); }
#define HAVE_POOL 1
#elif defined(IMPL_MALLOC)
#define HAVE_POOL 1
#else
#define HAVE_POOL 0
#endif

static inline void *pool_get(void *pool, size_t n) {
#if defined(IMPL_GOGC)
  (void)n;
  return gogc_pool_get(pool);
#else
  (void)pool;
  return malloc(n);
#endif
}

static inline void pool_put(void *pool, void *b) {
#if defined(IMPL_GOGC)
  gogc_pool_put(pool, b);
#else
  (void)pool;
  free(b);
#endif
}

static inline void *fresh(size_t n) {
#if defined(IMPL_GOGC)
  return gogc_alloc_noscan(n);
#elif defined(IMPL_BOEHM)
  return GC_MALLOC_ATOMIC(n);
#else
  return malloc(n);
#endif
}

static inline void fresh_done(void *b) {
#if defined(IMPL_MALLOC)
  free(b);
#else
  (void)b; /* garbage */
#endif
}

static void *pool_of(int which) {
#if defined(IMPL_GOGC)
  return which ? g_scratch : g_pool;
#else
  (void)which;
  return NULL;
#endif
}

/* Run body in batches of 1024 until g_part_s has passed; ns per op. */
#define TIMED(ops_out, body)                                                   \
  do {                                                                         \
    uint64_t t0_ = bench_now_ns(), n_ = 0, dl_ = t0_ + (uint64_t)(g_part_s * 1e9); \
    do {                                                                       \
      for (int i_ = 0; i_ < 1024; i_++) { body; }                              \
      n_ += 1024;                                                              \
    } while (bench_now_ns() < dl_);                                            \
    *(ops_out) = n_;                                                           \
    t_ns = bench_now_ns() - t0_;                                               \
  } while (0)

static double part_pair1(void) {
  void *p = pool_of(0);
  uint64_t ops, t_ns;
  TIMED(&ops, {
    unsigned char *b = pool_get(p, BUF);
    b[0]++;
    USE(b);
    pool_put(p, b);
  });
  return (double)t_ns / (double)ops;
}

static uint64_t g_ops2[2];
static uint64_t g_deadline;
static volatile int g_go;

static void *pair2_main(void *arg) {
  int k = (int)(intptr_t)arg;
  void *p = pool_of(0);
  while (!g_go) {
  }
  uint64_t n = 0;
  do {
    for (int i = 0; i < 1024; i++) {
      unsigned char *b = pool_get(p, BUF);
      b[0]++;
      USE(b);
      pool_put(p, b);
    }
    n += 1024;
  } while (bench_now_ns() < g_deadline);
  g_ops2[k] = n;
  return NULL;
}

static double part_pair2(void) {
  pthread_t t[2];
  g_go = 0;
  g_deadline = bench_now_ns() + (uint64_t)(g_part_s * 1e9) + 10000000;
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, pair2_main, (void *)(intptr_t)i);
  uint64_t t0 = bench_now_ns();
  g_go = 1;
  for (int i = 0; i < 2; i++) bench_join(t[i]);
  uint64_t t_ns = bench_now_ns() - t0;
  return (double)t_ns / (double)(g_ops2[0] + g_ops2[1]);
}

static double part_fresh(void) {
  uint64_t ops, t_ns;
  TIMED(&ops, {
    unsigned char *b = fresh(BUF);
    if (b == NULL) bench_out_of_memory();
    b[0] = 1;
    USE(b);
    fresh_done(b);
  });
  return (double)t_ns / (double)ops;
}

/* One request: fill 1 KiB of a 4 KiB scratch buffer and checksum it. */
static inline uint64_t request(unsigned char *b, uint64_t r) {
  for (int i = 0; i < BUF; i += 8) memcpy(b + i, &r, 8), r = r * 6364136223846793005ull + 1;
  uint64_t sum = 0;
  for (int i = 0; i < BUF; i += 8) {
    uint64_t v;
    memcpy(&v, b + i, 8);
    sum += v;
  }
  return sum;
}

static long gc_count(void) {
  char buf[32];
  bench_gc_count(buf, sizeof buf);
  return strtol(buf, NULL, 10);
}

static double part_request(int use_pool, long *gcs) {
  void *p = pool_of(1);
  uint64_t ops, t_ns, r = 1, sum = 0;
  long g0 = gc_count();
  if (use_pool) {
    TIMED(&ops, {
      unsigned char *b = pool_get(p, SCRATCH);
      sum += request(b, r++);
      pool_put(p, b);
    });
  } else {
    TIMED(&ops, {
      unsigned char *b = fresh(SCRATCH);
      if (b == NULL) bench_out_of_memory();
      sum += request(b, r++);
      fresh_done(b);
    });
  }
  g_sink = sum;
  *gcs = gc_count() - g0;
  return (double)t_ns / (double)ops;
}

static void fmt_ns(char *buf, size_t n, const char *key, double v, int have) {
  if (have) snprintf(buf, n, " %s=%.1f", key, v);
  else snprintf(buf, n, " %s=-", key);
}

int main(int argc, char **argv) {
  if (argc > 1) g_part_s = atof(argv[1]);
  bench_init();
#if defined(IMPL_GOGC)
  g_pool = gogc_pool_new(new_buf, (void *)(uintptr_t)BUF);
  g_scratch = gogc_pool_new(new_buf, (void *)(uintptr_t)SCRATCH);
#endif
  double cpu0 = bench_cpu_s();
  uint64_t w0 = bench_now_ns();
  double pair1 = HAVE_POOL ? part_pair1() : 0;
  double pair2 = HAVE_POOL ? part_pair2() : 0;
  double fr = part_fresh();
  long gp = 0, gf = 0;
  double rp = HAVE_POOL ? part_request(1, &gp) : 0;
  double rf = part_request(0, &gf);
  printf("pool: done\n");
  char extra[512], a[64], b[64], c[64], d[64], e[64], g[32] = "-";
  fmt_ns(a, sizeof a, "pair1_ns", pair1, HAVE_POOL);
  fmt_ns(b, sizeof b, "pair2_ns", pair2, HAVE_POOL);
  fmt_ns(c, sizeof c, "fresh_ns", fr, 1);
  fmt_ns(d, sizeof d, "req_pool_ns", rp, HAVE_POOL);
  fmt_ns(e, sizeof e, "req_fresh_ns", rf, 1);
  if (HAVE_POOL) snprintf(g, sizeof g, "%ld", gp);
  snprintf(extra, sizeof extra, "%s%s%s%s%s req_pool_gcs=%s req_fresh_gcs=%ld", a, b, c, d, e, g,
           gf);
  bench_result("pool", 2, (bench_now_ns() - w0) / 1e9, bench_cpu_s() - cpu0, extra);
  return 0;
}
