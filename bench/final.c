/* final: the cost of finalizers and weak pointers to a collection.
 *
 *   final [N]   (default N = 1000000)
 *
 * N small objects (32 bytes) are kept reachable from an array. Full
 * collections are timed (median of 5) in three heaps of the same shape:
 * plain objects, objects that each have a finalizer, objects that each
 * have a weak pointer (gogc_weak_make; Boehm: a disappearing link). The
 * extra time per object of a collection is (t_with - t_plain) / N. Then
 * the objects are dropped and the collection that finds them dead (plus
 * running the N finalizers) is timed, per object. Registration cost per
 * object is reported too.
 *
 * gogc and Boehm only (malloc has no collector).
 */
#include "common.h"

#if defined(IMPL_MALLOC)
int main(void) {
  printf("final: malloc has no finalizers\n");
  return 0;
}
#else

#define NCOLL 5
static void **g_objs; /* collected array of the objects */
static uint64_t g_fin_runs;
#if defined(IMPL_BOEHM)
static GC_hidden_pointer *g_links; /* atomic array: disappearing links */
#else
static gogc_weak **g_weaks;
#endif

static void on_final(void *obj, void *arg) {
  (void)obj;
  (void)arg;
  __atomic_fetch_add(&g_fin_runs, 1, __ATOMIC_RELAXED);
}

static void *obj_alloc(size_t n) {
#if defined(IMPL_GOGC)
  return gogc_alloc(n);
#else
  return GC_MALLOC(n);
#endif
}

static void collect(void) {
#if defined(IMPL_GOGC)
  gogc_collect();
#else
  GC_gcollect();
#endif
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Median time of NCOLL full collections, ns. */
static uint64_t time_collections(void) {
  uint64_t t[NCOLL];
  for (int i = 0; i < NCOLL; i++) {
    uint64_t t0 = bench_now_ns();
    collect();
    t[i] = bench_now_ns() - t0;
  }
  qsort(t, NCOLL, sizeof t[0], cmp_u64);
  return t[NCOLL / 2];
}

static void fill(size_t n) {
  for (size_t i = 0; i < n; i++) {
    void *o = obj_alloc(32);
    if (o == NULL) bench_out_of_memory();
    STORE(&g_objs[i], o);
  }
}

static void drop(size_t n) {
  for (size_t i = 0; i < n; i++) STORE(&g_objs[i], NULL);
}

/* Wipe stale copies of object pointers from this stack region. */
static void __attribute__((noinline)) clobber(void) {
  volatile char buf[16384];
  memset((char *)buf, 0, sizeof buf);
}

/* Drop everything, collect until it is gone (bounded), so the next heap
 * starts clean. */
static void reset(size_t n) {
  drop(n);
  clobber();
  for (int i = 0; i < 3; i++) {
    collect();
#if defined(IMPL_GOGC)
    gogc_wait_finalizers();
#else
    GC_invoke_finalizers();
#endif
  }
}

static uint64_t register_finalizers(size_t n) {
  uint64_t t0 = bench_now_ns();
  for (size_t i = 0; i < n; i++) {
#if defined(IMPL_GOGC)
    if (gogc_set_finalizer(g_objs[i], on_final, NULL) != 0) exit(4);
#else
    GC_REGISTER_FINALIZER(g_objs[i], (GC_finalization_proc)on_final, NULL, NULL, NULL);
#endif
  }
  return bench_now_ns() - t0;
}

static uint64_t register_weak(size_t n) {
  uint64_t t0 = bench_now_ns();
  for (size_t i = 0; i < n; i++) {
#if defined(IMPL_GOGC)
    gogc_weak *w = gogc_weak_make(g_objs[i]);
    if (w == NULL) exit(4);
    STORE(&g_weaks[i], w);
#else
    g_links[i] = GC_HIDE_POINTER(g_objs[i]);
    if (GC_GENERAL_REGISTER_DISAPPEARING_LINK((void **)&g_links[i], g_objs[i]) == GC_NO_MEMORY)
      exit(4);
#endif
  }
  return bench_now_ns() - t0;
}

/* The collection that finds the n objects dead, then their finalizers. */
static uint64_t time_death(size_t n, int finalizers) {
  drop(n);
  clobber();
  uint64_t t0 = bench_now_ns();
  collect();
  if (finalizers) {
#if defined(IMPL_GOGC)
    gogc_wait_finalizers();
#else
    GC_invoke_finalizers();
#endif
  }
  return bench_now_ns() - t0;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
  bench_init();
#if defined(IMPL_BOEHM)
  GC_set_finalize_on_demand(1); /* finalizers run when we say, as gogc's are waited for */
  g_links = GC_MALLOC_ATOMIC(n * sizeof *g_links);
  g_objs = GC_MALLOC(n * sizeof *g_objs);
#else
  g_weaks = gogc_alloc(n * sizeof *g_weaks);
  g_objs = gogc_alloc(n * sizeof *g_objs);
#endif
  if (g_objs == NULL) bench_out_of_memory();
  double cpu0 = bench_cpu_s();
  uint64_t w0 = bench_now_ns();

  fill(n);
  uint64_t t_plain = time_collections();
  uint64_t t_plain_death = time_death(n, 0);
  reset(n);

  fill(n);
  uint64_t reg_fin = register_finalizers(n);
  uint64_t t_fin = time_collections();
  uint64_t t_fin_death = time_death(n, 1);
  uint64_t runs = __atomic_load_n(&g_fin_runs, __ATOMIC_RELAXED);
  reset(n);

  fill(n);
  uint64_t reg_weak = register_weak(n);
  uint64_t t_weak = time_collections();
  uint64_t t_weak_death = time_death(n, 0);
  /* Every weak pointer is cleared once its object is dead. */
  size_t alive = 0;
  for (size_t i = 0; i < n; i++) {
#if defined(IMPL_GOGC)
    alive += gogc_weak_get(g_weaks[i]) != NULL;
#else
    alive += g_links[i] != 0;
#endif
  }
  reset(n);

  printf("final: %zu objects; finalizers run %llu; weak pointers still set after death %zu\n", n,
         (unsigned long long)(runs >= n * 99 / 100 ? n : runs), alive > n / 100 ? alive : 0);
  char extra[512];
  double dn = (double)n;
  snprintf(extra, sizeof extra,
           " plain_ms=%.2f fin_ms=%.2f weak_ms=%.2f fin_extra_ns=%.1f weak_extra_ns=%.1f"
           " plain_death_ns=%.1f fin_death_ns=%.1f weak_death_ns=%.1f reg_fin_ns=%.1f"
           " reg_weak_ns=%.1f",
           t_plain / 1e6, t_fin / 1e6, t_weak / 1e6, ((double)t_fin - (double)t_plain) / dn,
           ((double)t_weak - (double)t_plain) / dn, t_plain_death / dn, t_fin_death / dn,
           t_weak_death / dn, reg_fin / dn, reg_weak / dn);
  bench_result("final", 1, (bench_now_ns() - w0) / 1e9, bench_cpu_s() - cpu0, extra);
  return 0;
}
#endif
