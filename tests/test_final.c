/* test_final: finalizers, cleanups and weak pointers.
 *
 * Every finalizer and cleanup records its run in a counter kept outside
 * the collected heap (malloc'd), keyed by an id passed as its argument, so
 * "exactly once" and "never for a reachable object" are checked object by
 * object. Objects are made unreachable inside noinline helpers and the
 * stack is wiped before collecting; a conservative scan may still keep an
 * object by accident, so "dies" checks allow several cycles.
 */
#include <gogc.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define MAXID 200000
static uint32_t *g_runs;           /* [id] finalizer or cleanup runs (malloc'd) */
static void *volatile g_bad_obj;   /* a finalizer saw something wrong */
static uint32_t g_bad;
static void *volatile g_sink;

static void count_fin(void *obj, void *arg) {
  uintptr_t id = (uintptr_t)arg;
  uint64_t *o = obj;
  /* The object is intact when its finalizer runs: word 0 holds its id,
   * word 1 a check, word 2 a child that must be intact too. */
  if (o[0] != id || o[1] != tu_mix(id)) {
    __atomic_fetch_add(&g_bad, 1, __ATOMIC_RELAXED);
    g_bad_obj = obj;
  }
  uint64_t *child = (uint64_t *)o[2];
  if (child != NULL && (gogc_base(child) != child || child[0] != tu_mix(id + 1)))
    __atomic_fetch_add(&g_bad, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&g_runs[id], 1, __ATOMIC_RELAXED);
}

static void count_cleanup(void *arg) { __atomic_fetch_add(&g_runs[(uintptr_t)arg], 1, __ATOMIC_RELAXED); }

/* An object tagged with id, with a child, and a finalizer (or not). */
static uint64_t *make_obj(uintptr_t id, int with_fin) {
  uint64_t *o = gogc_alloc(64);
  uint64_t *child = gogc_alloc_noscan(32);
  if (o == NULL || child == NULL) return NULL;
  child[0] = tu_mix(id + 1);
  o[0] = id;
  o[1] = tu_mix(id);
  gogc_store(&o[2], child);
  if (with_fin) CHECK(gogc_set_finalizer(o, count_fin, (void *)id) == 0);
  return o;
}

static void collect_and_run(void) {
  tu_clobber_stack();
  gogc_collect();
  gogc_wait_finalizers();
}

/* Sum of runs over [lo, hi), and how many ran more than once. */
static uint32_t runs_in(uintptr_t lo, uintptr_t hi, uint32_t *twice) {
  uint32_t n = 0;
  *twice = 0;
  for (uintptr_t i = lo; i < hi; i++) {
    uint32_t r = __atomic_load_n(&g_runs[i], __ATOMIC_RELAXED);
    n += r != 0;
    *twice += r > 1;
  }
  return n;
}

/* ---------------------------------------------------------------------------
 * Exactly once; never for reachable objects; then freed.
 * ------------------------------------------------------------------------- */
#define N_ONCE 3000
static void **g_kept; /* a collected array: the reachable ones */
static uintptr_t g_enc[N_ONCE];

TU_NOINLINE void once_setup(void) {
  g_kept = gogc_alloc(sizeof(void *) * 100);
  for (uintptr_t i = 0; i < N_ONCE; i++) {
    uint64_t *o = make_obj(1000 + i, 1);
    g_enc[i] = tu_enc(o);
  }
  for (uintptr_t i = 0; i < 100; i++) gogc_store(&g_kept[i], make_obj(5000 + i, 1));
}

/* Is object id still allocated at the encoded address? A freed slot may
 * hold a newer object by now (often, under gcstress), so the contents
 * must match too; they are read only once the address is known to be
 * allocated (gogc_base sweeps its span first). */
TU_NOINLINE int still_there(uintptr_t enc, uintptr_t id) {
  const uint64_t *o = tu_dec(enc);
  return gogc_base(o) == o && o[0] == id && o[1] == tu_mix(id);
}

static void test_exactly_once(void) {
  once_setup();
  uint32_t ran = 0, twice = 0;
  int cycles = 0;
  for (; cycles < 10 && ran < N_ONCE; cycles++) {
    collect_and_run();
    ran = runs_in(1000, 1000 + N_ONCE, &twice);
  }
  CHECKF(ran == N_ONCE, "%u of %d finalizers ran after %d cycles", ran, N_ONCE, cycles);
  CHECKF(twice == 0, "%u finalizers ran more than once", twice);
  CHECKF(runs_in(5000, 5100, &twice) == 0, "a finalizer of a reachable object ran");
  CHECKF(__atomic_load_n(&g_bad, __ATOMIC_RELAXED) == 0,
         "%u finalizers saw a damaged object or child (e.g. %p)", g_bad, g_bad_obj);
  /* Finalized objects are freed at a later cycle. */
  for (int i = 0; i < 3; i++) collect_and_run();
  uint32_t live = 0;
  for (int i = 0; i < N_ONCE; i++) live += still_there(g_enc[i], 1000 + (uintptr_t)i);
  CHECKF(live < N_ONCE / 50, "%u of %d finalized objects still allocated 3 cycles later", live,
         N_ONCE);
  collect_and_run();
  CHECKF(runs_in(1000, 1000 + N_ONCE, &twice) == N_ONCE && twice == 0,
         "runs changed after the objects were freed (twice: %u)", twice);
  /* The kept ones run once they are dropped. */
  gogc_store(&g_kept, NULL);
  for (int i = 0; i < 10 && runs_in(5000, 5100, &twice) < 100; i++) collect_and_run();
  CHECKF(runs_in(5000, 5100, &twice) == 100 && twice == 0, "dropped kept objects: %u of 100 ran",
         runs_in(5000, 5100, &twice));
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  CHECKF(ms.finalizers_run >= N_ONCE + 100 && ms.finalizers_queued == ms.finalizers_run &&
             ms.finalizers_pending == 0,
         "stats: queued %llu run %llu pending %llu", (unsigned long long)ms.finalizers_queued,
         (unsigned long long)ms.finalizers_run, (unsigned long long)ms.finalizers_pending);
}

/* ---------------------------------------------------------------------------
 * Resurrection, a finalizer set again from a finalizer, weak pointers
 * cleared before the finalizer runs.
 * ------------------------------------------------------------------------- */
static void *g_resurrected;
static gogc_weak *g_w_res;
static int g_weak_at_fin = -1;
static int g_res_runs;

static void resurrect_fin(void *obj, void *arg) {
  (void)arg;
  g_weak_at_fin = gogc_weak_get(g_w_res) != NULL;
  gogc_store(&g_resurrected, obj);
  if (++g_res_runs == 1) gogc_set_finalizer(obj, resurrect_fin, NULL); /* once more */
}

TU_NOINLINE uintptr_t res_setup(void) {
  uint64_t *o = make_obj(7, 0);
  gogc_store(&g_w_res, gogc_weak_make(o));
  CHECK(gogc_weak_get(g_w_res) == o);
  CHECK(gogc_weak_make(o) == g_w_res);
  CHECK(gogc_weak_make((char *)o + 17) == g_w_res); /* interior: same object, same handle */
  CHECK(gogc_set_finalizer(o, resurrect_fin, NULL) == 0);
  return tu_enc(o);
}

/* Weak pointer set? (the object's address stays in this frame, which the
 * next tu_clobber_stack wipes: not in the caller's). */
TU_NOINLINE int weak_set(const gogc_weak *w) { return gogc_weak_get(w) != NULL; }

/* The resurrected object is allocated, intact, its child too. */
TU_NOINLINE int res_intact(uintptr_t e) {
  uint64_t *o = g_resurrected;
  return o == tu_dec(e) && gogc_base(o) == o && o[0] == 7 && o[1] == tu_mix(7) &&
         ((uint64_t *)o[2])[0] == tu_mix(8);
}

/* A new weak pointer to the resurrected object: a new handle. */
static gogc_weak *g_w2;
TU_NOINLINE void res_new_weak(void) {
  void *o = g_resurrected;
  gogc_store(&g_w2, gogc_weak_make(o));
  CHECK(g_w2 != NULL && g_w2 != g_w_res && gogc_weak_get(g_w2) == o);
}

static void test_resurrection(void) {
  uintptr_t e = res_setup();
  for (int i = 0; i < 10 && g_res_runs == 0; i++) collect_and_run();
  CHECKF(g_res_runs == 1, "finalizer runs: %d", g_res_runs);
  CHECKF(g_weak_at_fin == 0, "the weak pointer was not cleared before the finalizer ran");
  CHECK(!weak_set(g_w_res));
  CHECKF(res_intact(e), "resurrected object damaged");
  for (int i = 0; i < 3; i++) collect_and_run();
  CHECKF(res_intact(e), "resurrected object freed or damaged while reachable");
  res_new_weak();
  /* Drop it again: the second finalizer (set from the first) runs. */
  gogc_store(&g_resurrected, NULL);
  for (int i = 0; i < 10 && g_res_runs < 2; i++) collect_and_run();
  CHECKF(g_res_runs == 2, "second finalizer runs: %d", g_res_runs);
  gogc_store(&g_resurrected, NULL);
  for (int i = 0; i < 10 && weak_set(g_w2); i++) collect_and_run();
  CHECK(!weak_set(g_w2));
  CHECKF(g_res_runs == 2, "finalizer ran again without being set: %d", g_res_runs);
}

/* ---------------------------------------------------------------------------
 * Cleanups: several per object, stop, ordering after a finalizer.
 * ------------------------------------------------------------------------- */
static gogc_cleanup g_stop_me, g_c_after;

TU_NOINLINE void cleanup_setup(void) {
  uint64_t *o = make_obj(20, 0);
  for (uintptr_t i = 0; i < 3; i++) CHECK(gogc_add_cleanup(o, count_cleanup, (void *)(30 + i)).id != 0);
  g_stop_me = gogc_add_cleanup((char *)o + 8, count_cleanup, (void *)33);
  CHECK(g_stop_me.id != 0);
  CHECK(gogc_cleanup_stop(g_stop_me) == 1);
  CHECK(gogc_cleanup_stop(g_stop_me) == 0);
  /* An argument pointing into the object is refused. */
  CHECK(gogc_add_cleanup(o, count_cleanup, o + 1).id == 0);
  CHECK(gogc_add_cleanup(NULL, count_cleanup, NULL).id == 0);
  CHECK(gogc_add_cleanup(o, NULL, NULL).id == 0);

  /* An object with a finalizer and a cleanup: the finalizer first; the
   * cleanup once the object is unreachable again. */
  uint64_t *f = make_obj(40, 1);
  g_c_after = gogc_add_cleanup(f, count_cleanup, (void *)41);
  CHECK(g_c_after.id != 0);
}

static void test_cleanups(void) {
  cleanup_setup();
  uint32_t twice;
  for (int i = 0; i < 10 && runs_in(30, 33, &twice) < 3; i++) collect_and_run();
  CHECKF(runs_in(30, 33, &twice) == 3 && twice == 0, "cleanups run: %u (twice %u)",
         runs_in(30, 33, &twice), twice);
  CHECK(g_runs[33] == 0); /* stopped */
  for (int i = 0; i < 10 && g_runs[41] == 0; i++) {
    collect_and_run();
    if (g_runs[41] != 0) break;
  }
  CHECKF(g_runs[40] == 1 && g_runs[41] == 1, "finalizer %u, cleanup %u", g_runs[40], g_runs[41]);
  CHECK(gogc_cleanup_stop(g_c_after) == 0); /* already run */
}

/* The cleanup must not run in the cycle that runs the finalizer. */
static uint32_t g_fin_cycle, g_clean_cycle;
static void order_fin(void *obj, void *arg) {
  (void)obj;
  (void)arg;
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  g_fin_cycle = ms.num_gc;
}
static void order_clean(void *arg) {
  (void)arg;
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  g_clean_cycle = ms.num_gc;
}
TU_NOINLINE void order_setup(void) {
  void *o = gogc_alloc(48);
  CHECK(gogc_set_finalizer(o, order_fin, NULL) == 0);
  CHECK(gogc_add_cleanup(o, order_clean, NULL).id != 0);
}
static void test_order(void) {
  order_setup();
  for (int i = 0; i < 12 && g_clean_cycle == 0; i++) collect_and_run();
  CHECKF(g_fin_cycle != 0 && g_clean_cycle > g_fin_cycle,
         "finalizer after cycle %u, cleanup after cycle %u", g_fin_cycle, g_clean_cycle);
}

/* ---------------------------------------------------------------------------
 * A finalizer that allocates and collects.
 * ------------------------------------------------------------------------- */
static uint32_t g_alloc_fin_runs;
static void alloc_fin(void *obj, void *arg) {
  (void)obj;
  (void)arg;
  for (int i = 0; i < 64; i++) {
    char *p = gogc_alloc_noscan(64 << 10);
    if (p) p[0] = 1;
  }
  gogc_collect();
  __atomic_fetch_add(&g_alloc_fin_runs, 1, __ATOMIC_RELAXED);
}
TU_NOINLINE void alloc_fin_setup(void) {
  for (int i = 0; i < 5; i++) CHECK(gogc_set_finalizer(gogc_alloc(32), alloc_fin, NULL) == 0);
}
static void test_alloc_in_finalizer(void) {
  alloc_fin_setup();
  for (int i = 0; i < 10 && __atomic_load_n(&g_alloc_fin_runs, __ATOMIC_RELAXED) < 5; i++)
    collect_and_run();
  CHECKF(g_alloc_fin_runs == 5, "allocating finalizers run: %u of 5", g_alloc_fin_runs);
}

/* ---------------------------------------------------------------------------
 * Bad input and gogc_free.
 * ------------------------------------------------------------------------- */
static int g_static_obj;
TU_NOINLINE void free_setup(void) {
  uint64_t *f = make_obj(62, 1);
  gogc_free(f);
  CHECK(gogc_base(f) == f && f[0] == 62);
}

static void test_bad_input(void) {
  void *m = malloc(64);
  int local = 0;
  void *o = gogc_alloc(64);
  fprintf(stderr, "(expected messages follow)\n");
  CHECK(gogc_set_finalizer(NULL, count_fin, NULL) == -1);
  CHECK(gogc_set_finalizer(m, count_fin, NULL) == -1);
  CHECK(gogc_set_finalizer(&local, count_fin, NULL) == -1);
  CHECK(gogc_set_finalizer(&g_static_obj, count_fin, NULL) == -1);
  CHECK(gogc_set_finalizer((char *)o + 8, count_fin, NULL) == -1);
  CHECK(gogc_set_finalizer(o, count_fin, (char *)o + 8) == -1); /* arg into obj */
  CHECK(gogc_set_finalizer(o, count_fin, (void *)60) == 0);
  CHECK(gogc_set_finalizer(o, count_fin, (void *)61) == -1); /* already set */
  CHECK(gogc_set_finalizer(o, NULL, NULL) == 0);              /* removed */
  CHECK(gogc_set_finalizer(o, NULL, NULL) == 0);              /* removing none is fine */
  CHECK(gogc_weak_make(m) == NULL);
  CHECK(gogc_weak_make(&local) == NULL);
  CHECK(gogc_weak_make(NULL) == NULL);
  CHECK(gogc_weak_get(NULL) == NULL);
  CHECK(gogc_add_cleanup(m, count_cleanup, NULL).id == 0);
  gogc_cleanup none = {0, 0};
  CHECK(gogc_cleanup_stop(none) == 0);
  fprintf(stderr, "(end of expected messages)\n");
  free(m);
  /* The removed finalizer never runs. */
  ((uint64_t *)o)[0] = 60;
  ((uint64_t *)o)[1] = tu_mix(60);
  o = NULL;
  for (int i = 0; i < 4; i++) collect_and_run();
  CHECK(g_runs[60] == 0 && g_runs[61] == 0);

  /* gogc_free of an object with a finalizer leaves it to the collector. */
  free_setup();
  for (int i = 0; i < 10 && g_runs[62] == 0; i++) collect_and_run();
  CHECK(g_runs[62] == 1);
}

/* ---------------------------------------------------------------------------
 * Many threads: weak pointers under concurrent marking, finalizers and
 * cleanups on objects of threads that exit.
 * ------------------------------------------------------------------------- */
#define NTHREADS 4
#define RING 64
#define ID_BASE 10000
/* Objects per thread; a tenth under GODEBUG=gcstress=N (N <= 100) or
 * gcstressslow=1 (a cycle at nearly every allocation). */
#define PER_THREAD (tu_stress_heavy() ? 600 : 6000)
static void *g_ring[NTHREADS][RING]; /* strong references, via the barrier */
static uint32_t g_weak_bad, g_weak_null_live, g_weak_checked;

static void *stress_thread(void *arg) {
  int ti = (int)(intptr_t)arg;
  gogc_weak *weaks[RING] = {0};
  uintptr_t ids[RING] = {0};
  for (int n = 0; n < PER_THREAD; n++) {
    int slot = n % RING;
    uintptr_t id = ID_BASE + (uintptr_t)ti * PER_THREAD + (uintptr_t)n;
    uint64_t *o = make_obj(id, n % 3 == 0);
    if (n % 3 == 1) gogc_add_cleanup(o, count_cleanup, (void *)id);
    gogc_weak *w = gogc_weak_make(o);
    /* A reachable object's weak pointer is never NULL. */
    if (gogc_weak_get(w) != o) __atomic_fetch_add(&g_weak_null_live, 1, __ATOMIC_RELAXED);
    gogc_store(&g_ring[ti][slot], o); /* drops the one RING allocations ago */
    /* The dropped one's weak pointer: NULL, or the very object, intact. */
    if (weaks[slot] != NULL) {
      uint64_t *p = gogc_weak_get(weaks[slot]);
      __atomic_fetch_add(&g_weak_checked, 1, __ATOMIC_RELAXED);
      if (p != NULL && (p[0] != ids[slot] || p[1] != tu_mix(ids[slot]) ||
                        ((uint64_t *)p[2])[0] != tu_mix(ids[slot] + 1)))
        __atomic_fetch_add(&g_weak_bad, 1, __ATOMIC_RELAXED);
    }
    weaks[slot] = w;
    ids[slot] = id;
    o = NULL;
    for (int k = 0; k < 8; k++) gogc_store((void *)&g_sink, gogc_alloc_noscan(1024)); /* cycles go by */
  }
  for (int i = 0; i < RING; i++) gogc_store(&g_ring[ti][i], NULL);
  return NULL;
}

static void test_threads(void) {
  int old = gogc_set_percent(10);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  uint32_t gc0 = ms.num_gc;
  pthread_t tid[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    CHECK(pthread_create(&tid[i], NULL, stress_thread, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < NTHREADS; i++) pthread_join(tid[i], NULL);
  gogc_read_memstats(&ms);
  printf("threads: %u collections during the run, %u weak pointers of dropped objects read\n",
         ms.num_gc - gc0, g_weak_checked);
  /* Usually 20-36. The first cycle can run long, all four threads
   * allocating black meanwhile (2 cores), and leave a goal so high that
   * few cycles follow: 2-4 in about 1 run of 100 under load. What this
   * test needs is cycles while the threads run. */
  CHECKF(tu_slow() || ms.num_gc - gc0 >= 2, "only %u collections while the threads ran", ms.num_gc - gc0);
  CHECKF(g_weak_null_live == 0, "%u weak pointers of reachable objects read NULL", g_weak_null_live);
  CHECKF(g_weak_bad == 0, "%u weak pointers returned a damaged object (of %u checked)", g_weak_bad,
         g_weak_checked);
  /* Every finalizer and cleanup of the threads' objects runs exactly once. */
  uintptr_t lo = ID_BASE, hi = ID_BASE + NTHREADS * PER_THREAD;
  uint32_t expect = 0;
  for (uintptr_t id = lo; id < hi; id++) expect += ((id - ID_BASE) % PER_THREAD) % 3 != 2;
  uint32_t twice = 0, ran = 0;
  for (int i = 0; i < 10; i++) {
    collect_and_run();
    ran = runs_in(lo, hi, &twice);
    if (ran >= expect) break;
  }
  CHECKF(ran == expect && twice == 0, "threads: %u of %u finalizers/cleanups ran, %u twice", ran,
         expect, twice);
  CHECKF(__atomic_load_n(&g_bad, __ATOMIC_RELAXED) == 0, "a finalizer saw a damaged object");
  gogc_set_percent(old);
}

/* ---------------------------------------------------------------------------
 * A cache of weak pointers stays bounded under churn.
 * ------------------------------------------------------------------------- */
#define CACHE_SLOTS 4096
static gogc_weak **g_cache; /* a collected table of weak pointers */

TU_NOINLINE void cache_round(uint64_t seed) {
  void *keep[32] = {0};
  uint64_t n = tu_stress_heavy() ? 5000 : 50000; /* a tenth under heavy gcstress */
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = tu_mix(seed + i);
    void *o = gogc_alloc(48 + (k & 63));
    uint32_t slot = (uint32_t)(k % CACHE_SLOTS);
    gogc_store(&g_cache[slot], gogc_weak_make(o));
    keep[i % 32] = o;
  }
  gogc_keep_alive(keep);
}

static void test_weak_cache(void) {
  g_cache = gogc_alloc(sizeof(gogc_weak *) * CACHE_SLOTS);
  gogc_memstats ms;
  uint64_t sys1 = 0, alloc1 = 0;
  for (int r = 0; r < 6; r++) {
    cache_round((uint64_t)r << 32);
    collect_and_run();
    collect_and_run();
    gogc_read_memstats(&ms);
    if (r == 1) {
      sys1 = ms.gc_sys;
      alloc1 = ms.heap_alloc;
    }
  }
  /* Objects found dead take their weak records with them. */
  CHECKF(ms.weak_live < 1000, "weak handles of live objects after churn: %llu",
         (unsigned long long)ms.weak_live);
  CHECKF(ms.gc_sys <= sys1 + (1u << 20), "collector metadata grew from %llu to %llu bytes",
         (unsigned long long)sys1, (unsigned long long)ms.gc_sys);
  CHECKF(ms.heap_alloc <= alloc1 + (2u << 20), "heap grew from %llu to %llu bytes",
         (unsigned long long)alloc1, (unsigned long long)ms.heap_alloc);
  uint32_t nonnull = 0;
  for (int i = 0; i < CACHE_SLOTS; i++) nonnull += gogc_weak_get(g_cache[i]) != NULL;
  CHECKF(nonnull < 200, "%u cache entries still resolve after the objects were dropped", nonnull);
}

int main(void) {
  g_runs = calloc(MAXID, sizeof *g_runs);
  CHECK(g_runs != NULL);
  if (g_runs == NULL) return check_done();
  alarm(120); /* a deadlock fails instead of hanging */
  test_exactly_once();
  test_resurrection();
  test_cleanups();
  test_order();
  test_alloc_in_finalizer();
  test_bad_input();
  test_threads();
  test_weak_cache();
  return check_done();
}
