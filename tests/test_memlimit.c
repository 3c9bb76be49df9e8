/* The memory limit and the scavenger, end to end, measured with the
 * process's real resident set size.
 *
 * 1. GOGC=off, limit 256 MiB: the live heap is stepped from 10% to 80% of
 *    the limit while garbage churns; RSS sampled all along stays within
 *    the limit + 16 MiB (over the process's RSS before the first
 *    allocation), and collections happen (GOGC is off: the limit drives
 *    them).
 * 2. GOGC=100, no limit: the live heap drops to 10%; within 5 s of
 *    allocating at a modest rate, the scavenger brings RSS back near what
 *    the heap needs (live + GOGC slack + 10%), instead of keeping the peak.
 * 3. gogc_free_os_memory returns every free page; gogc_set_memory_limit
 *    reads and sets; objects survive all of it intact.
 * 4. Those calls and gogc_read_memstats, in a loop, while two threads
 *    allocate and collect: no deadlock, nothing lost.
 * 5. Span metadata comes back: after half a million 16-byte objects die,
 *    gogc_free_os_memory brings gc_sys back to within 40% of what they
 *    added.
 *
 * Under GODEBUG=gcstress=N (N <= 100) or gcstressslow=1 (a cycle at
 * nearly every allocation: tu_stress_heavy) the limit is 64 MiB (a quarter of the live objects at each step) and the
 * garbage a sixteenth; the steps and the checks are the same.
 */
#include <gogc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "testutil.h"

#define MiB (1024 * 1024)
#define OBJ 4096 /* bytes per live object */

/* Under AddressSanitizer, gogc marks free heap memory inaccessible, so
 * the sanitizer's shadow (1 byte per 8) of every page the heap ever
 * mapped is resident too, and stays so; with the sanitizer's other
 * overheads, measured at 1/6 of the heap's size: allow 1/4. */
#if defined(__SANITIZE_ADDRESS__)
#define SHADOW(bytes) ((long)(bytes) / 4)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHADOW(bytes) ((long)(bytes) / 4)
#endif
#endif
#ifndef SHADOW
#define SHADOW(bytes) 0L
#endif

static void **g_live;      /* the live set: a conservative array of objects */
static size_t g_nlive, g_cap;
static long g_base_rss, g_peak_over;

static void sample(void) {
  long over = tu_rss_bytes() - g_base_rss;
  if (over > g_peak_over) g_peak_over = over;
}

static void fill(unsigned char *p, size_t i) {
  memset(p, (int)(i * 7 + 1) & 0xff, 64);
}
static int intact(const unsigned char *p, size_t i) {
  for (int k = 0; k < 64; k++)
    if (p[k] != ((i * 7 + 1) & 0xff)) return 0;
  return 1;
}

static void set_live(size_t n) {
  while (g_nlive < n) {
    unsigned char *p = gogc_alloc_noscan(OBJ);
    if (!p) return;
    fill(p, g_nlive);
    gogc_store(&g_live[g_nlive], p);
    g_nlive++;
    if (g_nlive % 256 == 0) sample();
  }
  while (g_nlive > n) gogc_store(&g_live[--g_nlive], NULL);
}

static void churn(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 1024) {
    unsigned char *p = gogc_alloc_noscan(1024);
    if (p) p[0] = 1;
    if (done % MiB == 0) sample();
  }
}

static size_t bad_objects(void) {
  size_t bad = 0;
  for (size_t i = 0; i < g_nlive; i++) bad += !intact(g_live[i], i);
  return bad;
}

/* 4. The calls that take the scavenger's and the heap's locks, from one
 * thread, while others allocate and collections stop the world: nothing
 * deadlocks and nothing is lost. */
static int g_stop;
static void *churner(void *arg) {
  (void)arg;
  void *keep[64] = {0};
  unsigned n = 0;
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    unsigned char *p = gogc_alloc(64 + n % 3000);
    if (p) p[0] = (unsigned char)n;
    gogc_store(&keep[n % 64], p);
    if (n % 20000 == 0) gogc_collect();
    n++;
  }
  return NULL;
}

static void concurrent_calls(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, churner, NULL) == 0);
  gogc_memstats *ms = malloc(sizeof *ms);
  double t0 = tu_now();
  int rounds = 0;
  while (tu_now() - t0 < 1.5 && ms) {
    gogc_set_memory_limit(rounds % 2 ? 32 * MiB : INT64_MAX);
    gogc_free_os_memory();
    gogc_read_memstats(ms);
    rounds++;
  }
  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  gogc_set_memory_limit(INT64_MAX);
  CHECKF(rounds >= 5, "only %d rounds of limit/free/memstats calls", rounds);
  free(ms);
}

/* 5. Span metadata (span structs, bitmaps) comes back too: a list of
 * small nodes needs thousands of spans; once it is dead, collected and
 * gogc_free_os_memory has run, gc_sys is back near where it started. */
struct snode {
  struct snode *next;
  uint64_t v;
};

TU_NOINLINE struct snode *build_snodes(size_t n) {
  struct snode *head = NULL;
  for (size_t i = 0; i < n; i++) {
    struct snode *s = gogc_alloc(sizeof *s);
    if (s == NULL) break;
    s->v = i;
    gogc_store(&s->next, head);
    head = s;
  }
  return head;
}

TU_NOINLINE size_t count_snodes(const struct snode *s) {
  size_t n = 0;
  for (; s; s = s->next) n++;
  return n;
}

static void test_metadata_returned(gogc_memstats *ms) {
  /* 16-byte nodes, about 1000 spans (8 MiB); under any stress mode a
   * cycle every N allocations would make a larger list slow. */
  const size_t n = tu_stressed() ? 100000 : 500000;
  gogc_free_os_memory();
  gogc_read_memstats(ms);
  uint64_t g0 = ms->gc_sys;
  struct snode *list = build_snodes(n);
  CHECK(count_snodes(list) == n);
  gogc_read_memstats(ms);
  uint64_t g1 = ms->gc_sys;
  list = NULL;
  tu_clobber_stack();
  gogc_free_os_memory();
  gogc_free_os_memory(); /* the first may have kept spans a stale stack word held */
  gogc_read_memstats(ms);
  uint64_t g2 = ms->gc_sys;
  printf("span metadata: gc_sys %.2f MiB, %.2f with %zu small objects live, %.2f after they "
         "died and gogc_free_os_memory\n",
         (double)g0 / MiB, (double)g1 / MiB, n, (double)g2 / MiB);
  CHECKF(g1 > g0, "gc_sys did not grow with %zu live objects", n);
  CHECKF(g2 <= g0 + (g1 - g0) * 2 / 5,
         "span metadata not returned: gc_sys %.2f MiB at the start, %.2f at the peak, %.2f after",
         (double)g0 / MiB, (double)g1 / MiB, (double)g2 / MiB);
}

int main(void) {
  g_base_rss = tu_rss_bytes();
  CHECK(gogc_init() == 0);
  const int64_t limit = tu_stress_heavy() ? 64 * MiB : 256 * MiB;
  const size_t garbage = tu_stress_heavy() ? 6 * MiB : 96 * MiB; /* per step of part 1 */
  CHECK(gogc_set_memory_limit(-1) == INT64_MAX); /* no limit by default */
  CHECK(gogc_set_memory_limit(limit) == INT64_MAX);
  CHECK(gogc_set_memory_limit(-1) == limit);
  int old_pct = gogc_set_percent(-1);
  CHECK(old_pct == 100);
  g_cap = (size_t)(limit / OBJ);
  g_live = gogc_alloc(g_cap * sizeof(void *));
  CHECK(g_live != NULL);
  if (!g_live) return check_done();

  gogc_memstats *ms = malloc(sizeof *ms);
  gogc_read_memstats(ms);
  uint32_t gc0 = ms->num_gc;

  /* 1. Live heap 10% .. 80% of the limit, with garbage between steps. */
  for (int pct = 10; pct <= 80; pct += 10) {
    set_live((size_t)(limit / 100 * pct / OBJ));
    churn(garbage);
  }
  gogc_read_memstats(ms);
  printf("RSS now %.1f MiB over the start; ", (double)(tu_rss_bytes() - g_base_rss) / MiB);
  printf("limit %lld MiB, GOGC=off: %u collections, peak RSS over the start %.1f MiB, "
         "held %.1f MiB, released %.1f MiB, heap goal %.1f MiB\n",
         (long long)(limit / MiB), ms->num_gc - gc0, (double)g_peak_over / MiB,
         (double)ms->memory_held / MiB, (double)ms->heap_released / MiB,
         (double)ms->heap_goal / MiB);
  CHECKF(ms->num_gc - gc0 >= 3, "only %u collections under the limit", ms->num_gc - gc0);
  CHECKF(g_peak_over <= limit + 16 * MiB + SHADOW(limit),
         "RSS reached %.1f MiB over the start (limit %lld)", (double)g_peak_over / MiB,
         (long long)(limit / MiB));
  CHECK(ms->memory_limit == limit);
  CHECK(ms->heap_goal <= (uint64_t)limit);
  CHECKF(bad_objects() == 0, "live objects corrupted under the limit");

  /* 2. No limit, GOGC=100; drop to 10% live: memory comes back. */
  CHECK(gogc_set_memory_limit(INT64_MAX) == limit);
  CHECK(gogc_set_percent(100) == -1);
  set_live((size_t)(limit / 10 / OBJ));
  size_t live = g_nlive * OBJ;
  /* live + goal slack + 10%, and 32 MiB for what is not heap (span
   * metadata kept as a reserve, thread stacks, page tables) */
  gogc_read_memstats(ms);
  long want = (long)(live * 2 + live / 5) + 32 * MiB + SHADOW(ms->heap_sys);
  double t0 = tu_now(), t_ok = -1;
  long rss = 0;
  while (tu_now() - t0 < 5.0) {
    churn(garbage / 24); /* 4 MiB (256 KiB under gcstress) */
    tu_sleep_ms(20);
    rss = tu_rss_bytes() - g_base_rss;
    if (rss <= want) {
      t_ok = tu_now() - t0;
      break;
    }
  }
  gogc_read_memstats(ms);
  printf("live dropped to %.1f MiB: RSS %.1f MiB over the start after %.2f s (want <= %.1f), "
         "released %.1f MiB\n",
         (double)live / MiB, (double)rss / MiB, t_ok < 0 ? 5.0 : t_ok, (double)want / MiB,
         (double)ms->heap_released / MiB);
  CHECKF(t_ok >= 0, "RSS still %.1f MiB over the start after 5 s (want <= %.1f)",
         (double)rss / MiB, (double)want / MiB);
  CHECK(bad_objects() == 0);

  /* 3. gogc_free_os_memory: nothing free is left holding memory. */
  gogc_free_os_memory();
  gogc_read_memstats(ms);
  CHECKF(ms->heap_free == 0, "%.1f MiB free but not released after gogc_free_os_memory",
         (double)ms->heap_free / MiB);
  CHECK(ms->heap_released > 0 && ms->scavenged_total >= ms->heap_released / 2);
  CHECK(bad_objects() == 0);
  concurrent_calls();
  CHECK(bad_objects() == 0);
  test_metadata_returned(ms);
  CHECK(bad_objects() == 0);
  set_live(0);
  free(ms);
  return check_done();
}
