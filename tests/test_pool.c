/* test_pool: pools (Go's sync.Pool).
 *
 *  - basics on one thread: put/get, NULL, the constructor;
 *  - collections: a pooled object survives one cycle (victim cache) and is
 *    reclaimed after two without use; objects in use are never reclaimed;
 *  - many threads with ownership marks: an object is never handed to two
 *    threads at once and every object is either new or one that was put,
 *    with collections running all along;
 *  - threads that exit with objects in their part of the pool: the others
 *    can still take them; nothing stays after two cycles;
 *  - GODEBUG=poolcheck=1 aborts on a write after put (child process).
 *
 * Under GODEBUG=gcstress/gcstressslow every allocation may collect, and a
 * thread's first get or put after a cycle allocates (its slot's page in
 * the pool's new directory): the victim cache is dropped again by the
 * cycle that re-pinning starts, so the checks that objects come back
 * after exactly one cycle are skipped (tu_stressed); what comes back must
 * still be intact, and what stays unused must still be reclaimed. Puts
 * follow the allocations they need, so that no cycle runs between them.
 */
#include <gogc.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define MAGIC 0x9001f00dull

struct item {
  uint64_t magic;
  uint64_t id;
  uint64_t owner; /* 0 in the pool; the thread number + 1 while held */
  uint64_t uses;
  void *buf;      /* a second object, must survive with the item */
};

static uint64_t g_made;


static void *new_item(void *arg) {
  (void)arg;
  struct item *it = gogc_alloc(sizeof *it);
  if (it == NULL) return NULL;
  it->magic = MAGIC;
  it->id = __atomic_add_fetch(&g_made, 1, __ATOMIC_RELAXED);
  uint64_t *b = gogc_alloc_noscan(64);
  b[0] = tu_mix(it->id);
  gogc_store(&it->buf, b);
  return it;
}

static int item_ok(const struct item *it) {
  return it != NULL && it->magic == MAGIC && it->id != 0 &&
         it->id <= __atomic_load_n(&g_made, __ATOMIC_RELAXED) &&
         gogc_base(it->buf) == it->buf && ((uint64_t *)it->buf)[0] == tu_mix(it->id);
}

/* ---------------------------------------------------------------------------
 * Basics
 * ------------------------------------------------------------------------- */
static gogc_pool *g_plain; /* no constructor */

static void test_basics(void) {
  g_plain = gogc_pool_new(NULL, NULL);
  CHECK(g_plain != NULL);
  CHECK(gogc_pool_get(g_plain) == NULL);
  void *a = gogc_alloc(32), *b = gogc_alloc(32);
  gogc_pool_put(g_plain, a);
  gogc_pool_put(g_plain, NULL); /* ignored */
  gogc_pool_put(g_plain, b);
  void *x = gogc_pool_get(g_plain), *y = gogc_pool_get(g_plain);
  CHECK((x == a && y == b) || (x == b && y == a));
  CHECK(gogc_pool_get(g_plain) == NULL);
  gogc_pool_put(NULL, a); /* ignored */
  CHECK(gogc_pool_get(NULL) == NULL);

  /* More than the local ring holds: some may be dropped, none duplicated.
   * Allocated first, then put: no cycle between the puts under gcstress. */
  void *objs[100];
  for (int i = 0; i < 100; i++) objs[i] = gogc_alloc(16);
  for (int i = 0; i < 100; i++) gogc_pool_put(g_plain, objs[i]);
  int got = 0, dup = 0, foreign = 0;
  void *seen[100];
  for (void *o; (o = gogc_pool_get(g_plain)) != NULL;) {
    int known = 0;
    for (int i = 0; i < 100; i++) known |= objs[i] == o;
    for (int i = 0; i < got; i++) dup |= seen[i] == o;
    foreign += !known;
    if (got < 100) seen[got++] = o;
  }
  CHECKF(got >= 30 && dup == 0 && foreign == 0, "got %d back, dup %d, foreign %d", got, dup,
         foreign);

  gogc_pool *p = gogc_pool_new(new_item, NULL);
  struct item *it = gogc_pool_get(p);
  CHECK(item_ok(it) && g_made == 1);
  gogc_pool_put(p, it);
  CHECK(gogc_pool_get(p) == it); /* the private slot */
  CHECK(g_made == 1);
}

/* ---------------------------------------------------------------------------
 * Collections: victim cache, then reclaimed
 * ------------------------------------------------------------------------- */
static gogc_pool *g_cpool;
static uintptr_t g_probe[8];

/* All made, then all put (held by tmp meanwhile): under gcstress the
 * allocation of each would otherwise collect the ones already put. */
TU_NOINLINE void fill_probes(void) {
  void *volatile tmp[8];
  for (int i = 0; i < 8; i++) {
    g_probe[i] = tu_make_large(100 + (uint64_t)i);
    tmp[i] = tu_dec(g_probe[i]);
  }
  for (int i = 0; i < 8; i++) gogc_pool_put(g_cpool, tmp[i]);
  for (int i = 0; i < 8; i++) tmp[i] = NULL;
}

TU_NOINLINE int count_live_probes(void) {
  int n = 0;
  for (int i = 0; i < 8; i++) n += tu_large_intact(g_probe[i], 100 + (uint64_t)i);
  return n;
}

/* Take everything out and put it back; returns how many there were. */
TU_NOINLINE int cycle_through(void) {
  void *tmp[16];
  int n = 0;
  for (void *o; n < 16 && (o = gogc_pool_get(g_cpool)) != NULL;) tmp[n++] = o;
  for (int i = 0; i < n; i++) gogc_pool_put(g_cpool, tmp[i]);
  memset(tmp, 0, sizeof tmp);
  return n;
}

static void test_collections(void) {
  g_cpool = gogc_pool_new(NULL, NULL);
  fill_probes();
  tu_clobber_stack();
  gogc_collect(); /* local -> victim */
  CHECKF(count_live_probes() == 8, "after one cycle: %d of 8 pooled objects intact",
         count_live_probes());
  /* From the victim, back into a local array (under gcstress the get
   * re-pins, which allocates, which collects: the victim is gone). */
  int n = cycle_through();
  CHECKF(n == 8 || (tu_stressed() && n <= 8), "after one cycle the pool gave back %d of 8", n);
  tu_clobber_stack();
  gogc_collect(); /* local -> victim */
  /* (Under gcstress: at least the n that came back and were put again.) */
  CHECKF(tu_stressed() ? count_live_probes() >= n : count_live_probes() == 8,
         "%d of %d pooled objects intact", count_live_probes(), tu_stressed() ? n : 8);
  tu_clobber_stack();
  gogc_collect(); /* unused for a cycle: victim dropped, objects freed */
  int live = count_live_probes();
  CHECKF(live <= 1, "after two cycles without use %d of 8 pooled objects remain", live);
  CHECK(gogc_pool_get(g_cpool) == NULL);

  /* Objects taken out are never reclaimed. */
  gogc_pool *p = gogc_pool_new(new_item, NULL);
  struct item *held[20];
  for (int i = 0; i < 20; i++) held[i] = gogc_pool_get(p);
  for (int i = 0; i < 10; i++) gogc_pool_put(p, held[i]);
  for (int c = 0; c < 4; c++) {
    tu_garbage(8u << 20, 16, 512, 0, 1);
    gogc_collect();
  }
  int ok = 1;
  for (int i = 10; i < 20; i++) ok &= item_ok(held[i]) && gogc_base(held[i]) == held[i];
  CHECK(ok);
}

/* ---------------------------------------------------------------------------
 * Many threads, ownership marks, collections all along
 * ------------------------------------------------------------------------- */
#define NT 4
#define ITERS_PLAIN 40000
/* A tenth under gcstress=N (N <= 100) or gcstressslow=1 (tu_stress_heavy). */
#define ITERS (tu_stress_heavy() ? ITERS_PLAIN / 10 : ITERS_PLAIN)
static gogc_pool *g_spool;
static uint32_t g_bad_owner, g_bad_item;
static int g_stop_gc, g_enough_gc;
static void *volatile g_sink;

static void *stress_main(void *arg) {
  uint64_t me = (uint64_t)(intptr_t)arg + 1;
  struct item *mine[4] = {0};
  uint64_t s = me;
  /* At least ITERS, and on until the collector thread has run enough
   * cycles beside us. */
  for (int i = 0; i < ITERS || !__atomic_load_n(&g_enough_gc, __ATOMIC_RELAXED); i++) {
    int k = (int)(tu_rand(&s) % 4);
    if (mine[k] == NULL) {
      struct item *it = gogc_pool_get(g_spool);
      if (!item_ok(it)) {
        __atomic_fetch_add(&g_bad_item, 1, __ATOMIC_RELAXED);
        continue;
      }
      uint64_t zero = 0;
      if (!__atomic_compare_exchange_n(&it->owner, &zero, me, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED))
        __atomic_fetch_add(&g_bad_owner, 1, __ATOMIC_RELAXED);
      it->uses++;
      mine[k] = it;
    } else {
      struct item *it = mine[k];
      if (__atomic_load_n(&it->owner, __ATOMIC_RELAXED) != me) __atomic_fetch_add(&g_bad_owner, 1, __ATOMIC_RELAXED);
      __atomic_store_n(&it->owner, 0, __ATOMIC_RELEASE);
      gogc_pool_put(g_spool, it);
      mine[k] = NULL;
    }
    if ((i & 7) == 0) gogc_store((void *)&g_sink, gogc_alloc_noscan(4096)); /* cycles go by */
  }
  for (int k = 0; k < 4; k++) {
    if (mine[k] != NULL) {
      __atomic_store_n(&mine[k]->owner, 0, __ATOMIC_RELEASE);
      gogc_pool_put(g_spool, mine[k]);
    }
  }
  return NULL;
}

static void *collector_main(void *arg) {
  (void)arg;
  for (int n = 1; !__atomic_load_n(&g_stop_gc, __ATOMIC_RELAXED); n++) {
    gogc_collect();
    if (n == 10) __atomic_store_n(&g_enough_gc, 1, __ATOMIC_RELAXED);
    usleep(500);
  }
  return NULL;
}

static void test_threads(void) {
  g_spool = gogc_pool_new(new_item, NULL);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  uint32_t gc0 = ms.num_gc;
  pthread_t tid[NT], ct;
  CHECK(pthread_create(&ct, NULL, collector_main, NULL) == 0);
  for (int i = 0; i < NT; i++) CHECK(pthread_create(&tid[i], NULL, stress_main, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < NT; i++) pthread_join(tid[i], NULL);
  __atomic_store_n(&g_stop_gc, 1, __ATOMIC_RELAXED);
  pthread_join(ct, NULL);
  gogc_read_memstats(&ms);
  printf("threads: %u collections, %llu objects made for at least %d gets\n", ms.num_gc - gc0,
         (unsigned long long)g_made, NT * ITERS / 2);
  CHECKF(g_bad_owner == 0, "%u objects were held by two threads at once", g_bad_owner);
  CHECKF(g_bad_item == 0, "%u gets returned something not made by the constructor or damaged",
         g_bad_item);
  CHECKF(ms.num_gc - gc0 >= 10, "only %u collections during the run", ms.num_gc - gc0);
  /* The pool did its job: far fewer objects made than gets (not under
   * gcstress: every cycle empties it, and there is one per allocation). */
  CHECKF(tu_stressed() || g_made < (uint64_t)NT * ITERS / 8, "%llu objects made",
         (unsigned long long)g_made);
}

/* ---------------------------------------------------------------------------
 * Threads exiting with objects in their slots
 * ------------------------------------------------------------------------- */
static gogc_pool *g_xpool;
static uintptr_t g_xprobe[NT][8];

static pthread_barrier_t g_xmade, g_xpinned;
static int g_xfound; /* gets that found something in the empty pool */

/* Each thread makes its objects and takes its slot in the pool (the get
 * finds nothing: nobody has put yet), then, once every thread and the
 * main thread have their slots, puts them. Under gcstress, making an
 * object or a slot collects, and a collection empties the pool: none
 * runs once the first put is made. */
static void *exit_main(void *arg) {
  int ti = (int)(intptr_t)arg;
  void *volatile tmp[8];
  for (int i = 0; i < 8; i++) {
    g_xprobe[ti][i] = tu_make_large(1000 + (uint64_t)ti * 8 + (uint64_t)i);
    tmp[i] = tu_dec(g_xprobe[ti][i]);
  }
  if (gogc_pool_get(g_xpool) != NULL) __atomic_fetch_add(&g_xfound, 1, __ATOMIC_RELAXED);
  pthread_barrier_wait(&g_xmade);
  pthread_barrier_wait(&g_xpinned);
  for (int i = 0; i < 8; i++) gogc_pool_put(g_xpool, tmp[i]);
  for (int i = 0; i < 8; i++) tmp[i] = NULL;
  return NULL;
}

TU_NOINLINE int xprobes_live(void) {
  int n = 0;
  for (int t = 0; t < NT; t++)
    for (int i = 0; i < 8; i++) n += tu_large_intact(g_xprobe[t][i], 1000 + (uint64_t)t * 8 + (uint64_t)i);
  return n;
}

TU_NOINLINE int take_all_put_back(void) {
  void *tmp[NT * 8];
  int n = 0;
  for (void *o; n < NT * 8 && (o = gogc_pool_get(g_xpool)) != NULL;) tmp[n++] = o;
  for (int i = 0; i < n; i++) gogc_pool_put(g_xpool, tmp[i]);
  memset(tmp, 0, sizeof tmp);
  return n;
}

static void test_thread_exit(void) {
  g_xpool = gogc_pool_new(NULL, NULL);
  /* No collection in between (it would move the slots to the victim
   * directory, whose private objects only their own slot's thread takes). */
  int old = gogc_set_percent(-1);
  pthread_t tid[NT];
  CHECK(pthread_barrier_init(&g_xmade, NULL, NT + 1) == 0);
  CHECK(pthread_barrier_init(&g_xpinned, NULL, NT + 1) == 0);
  for (int i = 0; i < NT; i++) CHECK(pthread_create(&tid[i], NULL, exit_main, (void *)(intptr_t)i) == 0);
  pthread_barrier_wait(&g_xmade);
  CHECK(gogc_pool_get(g_xpool) == NULL); /* this thread's slot, taken before any put */
  pthread_barrier_wait(&g_xpinned);
  for (int i = 0; i < NT; i++) pthread_join(tid[i], NULL);
  pthread_barrier_destroy(&g_xmade);
  pthread_barrier_destroy(&g_xpinned);
  CHECKF(g_xfound == 0, "%d gets found an object in an empty pool", g_xfound);
  /* Each exited thread left 1 private + 7 in its ring; the rings can be
   * stolen from. */
  int n = take_all_put_back();
  CHECKF(n >= NT * 7, "took %d of the %d objects exited threads left", n, NT * 8);
  CHECK(xprobes_live() == NT * 8);
  gogc_set_percent(old);
  for (int i = 0; i < 3; i++) {
    tu_clobber_stack();
    gogc_collect();
  }
  int live = xprobes_live();
  CHECKF(live <= 2, "%d of %d objects left by exited threads remain after 3 cycles", live, NT * 8);
}

/* ---------------------------------------------------------------------------
 * poolcheck
 * ------------------------------------------------------------------------- */
static int child_write_after_put(void) {
  gogc_pool *p = gogc_pool_new(NULL, NULL);
  for (int round = 0; round < 16; round++) { /* one put in four may be dropped */
    char *o = gogc_alloc(64);
    gogc_pool_put(p, o);
    o[10] = 1; /* the bug */
    char *back = gogc_pool_get(p);
    (void)back;
  }
  printf("not caught\n");
  return 0;
}

static void test_poolcheck(void) {
  const char *env[] = {"GODEBUG=poolcheck=1", NULL};
  char *out = NULL, *err = NULL;
  int st = tu_run_child("write_after_put", env, &out, &err);
  CHECKF(st != -1 && WIFSIGNALED(st) && strstr(err, "was written after gogc_pool_put") != NULL,
         "child status %d, stderr: %s", st, err ? err : "");
  free(out);
  free(err);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "write_after_put") == 0) return child_write_after_put();
  alarm(120);
  test_basics();
  test_collections();
  test_threads();
  test_thread_exit();
  test_poolcheck();
  return check_done();
}
