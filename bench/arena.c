/* arena: a request-style workload with an arena, with collected
 * allocation and with malloc/free.
 *
 *   arena [OBJECTS_PER_PART]   (default 4000000)
 *
 * Parts:
 *   alloc     small-object allocation alone: 24-byte objects, one after
 *             another (gogc: from an arena, and gogc_alloc; Boehm GC_MALLOC;
 *             malloc: malloc, all freed at the end), ns per object; all of
 *             it fresh memory, so page faults weigh in;
 *   warm      gogc only: allocation alone in arenas of 10000 objects whose
 *             chunks are recycled (resident, no page faults): the bump;
 *   req_K     for K = 1000, 10000, 100000: requests that each build a
 *             binary tree of K nodes (24 bytes: two children, a value),
 *             walk it for a checksum and drop it; gogc with an arena per
 *             request (freed at the end of the request) and with collected
 *             nodes; Boehm with collected nodes; malloc freeing every node.
 *             ns per node, all-in (allocation, walk, free or collection),
 *             timed after a warm-up of OBJECTS_PER_PART objects' worth of
 *             requests (see REQ_TIMED).
 * Every allocation part handles OBJECTS_PER_PART objects. The checksums
 * are printed and must match across implementations.
 */
#include "common.h"

/* Request parts: OBJECTS_PER_PART objects' worth of requests warm up (the
 * heap, an arena's recycled chunks and the caches reach the state a
 * long-running server keeps), then REQ_TIMED times as many are timed. */
#define REQ_TIMED 2

struct node {
  struct node *left, *right;
  uint64_t value;
};

static size_t g_total = 4000000;

#if defined(IMPL_GOGC)
static gogc_arena *g_a; /* the current request's arena, NULL: collected */
static const gogc_type *node_type;
#endif

static inline struct node *node_new(void) {
#if defined(IMPL_GOGC)
  if (g_a != NULL) return gogc_arena_alloc(g_a, sizeof(struct node));
  return gogc_alloc_typed(node_type);
#elif defined(IMPL_BOEHM)
  return GC_MALLOC(sizeof(struct node));
#else
  return malloc(sizeof(struct node));
#endif
}

/* A tree of exactly n nodes. */
static struct node *build(size_t n, uint64_t v) {
  if (n == 0) return NULL;
  struct node *x = node_new();
  if (x == NULL) bench_out_of_memory();
  x->value = v;
  size_t l = (n - 1) / 2;
  STORE(&x->left, build(l, 2 * v));
  STORE(&x->right, build(n - 1 - l, 2 * v + 1));
  return x;
}

static uint64_t walk(const struct node *x) {
  uint64_t s = 0;
  while (x != NULL) {
    s += x->value + walk(x->left);
    x = x->right;
  }
  return s;
}

#if defined(IMPL_MALLOC)
static void drop(struct node *x) {
  while (x != NULL) {
    struct node *r = x->right;
    drop(x->left);
    free(x);
    x = r;
  }
}
#endif

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ns per node of requests of k nodes, and the collections, in the timed
 * part (after the warm-up); the checksum of all into *sum. */
static double requests(size_t k, int arena, uint64_t *sum, long *gcs) {
  (void)arena;
  size_t warm = g_total / k, n = warm + REQ_TIMED * g_total / k;
  char b0[32], b1[32];
  uint64_t t0 = 0;
  for (size_t r = 0; r < n; r++) {
    if (r == warm) {
      bench_gc_count(b0, sizeof b0);
      t0 = bench_now_ns();
    }
#if defined(IMPL_GOGC)
    if (arena) g_a = gogc_arena_new();
#endif
    struct node *t = build(k, r + 1);
    *sum += walk(t);
#if defined(IMPL_GOGC)
    if (arena) {
      gogc_arena_free(g_a);
      g_a = NULL;
    }
#elif defined(IMPL_MALLOC)
    drop(t);
#endif
    t = NULL;
  }
  double ns = (double)(bench_now_ns() - t0) / (double)((n - warm) * k);
  bench_gc_count(b1, sizeof b1);
  *gcs = strtol(b1, NULL, 10) - strtol(b0, NULL, 10);
  return ns;
}

static double alloc_only(int arena) {
  (void)arena;
  size_t n = g_total;
#if defined(IMPL_GOGC)
  if (arena) g_a = gogc_arena_new();
#endif
#if defined(IMPL_MALLOC)
  void **keep = malloc(n * sizeof *keep);
#endif
  uint64_t t0 = bench_now_ns();
  for (size_t i = 0; i < n; i++) {
    struct node *x = node_new();
    x->value = i;
#if defined(IMPL_MALLOC)
    keep[i] = x;
#endif
    __asm__ volatile("" : : "r"(x) : "memory");
  }
  double ns = (double)(bench_now_ns() - t0) / (double)n;
#if defined(IMPL_GOGC)
  if (arena) {
    gogc_arena_free(g_a);
    g_a = NULL;
  }
#elif defined(IMPL_MALLOC)
  for (size_t i = 0; i < n; i++) free(keep[i]);
  free(keep);
#endif
  return ns;
}

#if defined(IMPL_GOGC)
/* Allocation alone in arenas whose chunks were used before (recycled and
 * resident: no page faults): 2000 arenas of 10000 objects, only the
 * allocation loops timed. */
static double alloc_warm(void) {
  uint64_t ns = 0, n = 0;
  for (int r = 0; r < 2000; r++) {
    gogc_arena *a = gogc_arena_new();
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 10000; i++) {
      struct node *x = gogc_arena_alloc(a, sizeof *x);
      __asm__ volatile("" : : "r"(x) : "memory");
    }
    if (r >= 1000) { /* the first half warms the recycled chunks up */
      ns += bench_now_ns() - t0;
      n += 10000;
    }
    gogc_arena_free(a);
  }
  return (double)ns / (double)n;
}
#endif

int main(int argc, char **argv) {
  if (argc > 1) g_total = (size_t)strtoull(argv[1], NULL, 10);
  bench_init();
#if defined(IMPL_GOGC)
  node_type = GOGC_TYPE(struct node, offsetof(struct node, left), offsetof(struct node, right));
  const int have_arena = 1;
#else
  const int have_arena = 0;
#endif
  double cpu0 = bench_cpu_s();
  uint64_t w0 = bench_now_ns();
  /* alloc: median of 3 */
  double a[3], h[3];
  for (int i = 0; i < 3; i++) {
    a[i] = have_arena ? alloc_only(1) : 0;
    h[i] = alloc_only(0);
  }
  qsort(a, 3, sizeof a[0], cmp_d);
  qsort(h, 3, sizeof h[0], cmp_d);
  char extra[768];
  size_t off = 0;
#if defined(IMPL_GOGC)
  off += (size_t)snprintf(extra + off, sizeof extra - off, " alloc_arena_ns=%.2f alloc_warm_ns=%.2f",
                          a[1], alloc_warm());
#else
  off += (size_t)snprintf(extra + off, sizeof extra - off, " alloc_arena_ns=- alloc_warm_ns=-");
#endif
  off += (size_t)snprintf(extra + off, sizeof extra - off, " alloc_ns=%.2f", h[1]);
  static const size_t ks[3] = {1000, 10000, 100000};
  for (int i = 0; i < 3; i++) {
    uint64_t s1 = 0, s2 = 0;
    long g1 = 0, g2 = 0;
    double ra = have_arena ? requests(ks[i], 1, &s1, &g1) : 0;
    double rh = requests(ks[i], 0, &s2, &g2);
    if (have_arena && s1 != s2) {
      fprintf(stderr, "checksums differ: %llu %llu\n", (unsigned long long)s1, (unsigned long long)s2);
      return 1;
    }
    printf("requests of %zu nodes: checksum %llu\n", ks[i], (unsigned long long)s2);
    if (have_arena)
      off += (size_t)snprintf(extra + off, sizeof extra - off, " req%zu_arena_ns=%.2f req%zu_arena_gcs=%ld",
                              ks[i], ra, ks[i], g1);
    else
      off += (size_t)snprintf(extra + off, sizeof extra - off, " req%zu_arena_ns=- req%zu_arena_gcs=-", ks[i], ks[i]);
    off += (size_t)snprintf(extra + off, sizeof extra - off, " req%zu_ns=%.2f req%zu_gcs=%ld", ks[i], rh,
                            ks[i], g2);
  }
  bench_result("arena", 1, (bench_now_ns() - w0) / 1e9, bench_cpu_s() - cpu0, extra);
  return 0;
}
