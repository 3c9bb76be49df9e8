/* test_proclife: process life around the collector (black-box).
 *
 *  a. Thread churn: 6000 short joinable threads, 12 at a time (every
 *     other batch with 256 KiB stacks), each building a small checksummed
 *     chain and handing it to the main thread through a global array
 *     (gogc_store), plus 1000 detached threads that publish theirs and
 *     exit on their own; another thread collects in a loop (gogc_collect,
 *     half of the time) and the main thread grows a long-lived checksummed
 *     list held only in a local. Everything is verified at the end.
 *  b. Threads exiting during a cycle (collections back to back, GOGC=10):
 *     an event listener tracks the phases
 *     (CYCLE_START/MARK_START/MARK_END/CYCLE_END); each thread takes an
 *     object out of a global (so that only its stack holds it), makes a
 *     large object only it references, waits until the collector marks,
 *     publishes its objects with gogc_store and exits, by returning or by
 *     pthread_exit three calls deep. The published objects must survive,
 *     the private ones must be alive while their thread runs and
 *     reclaimed after it exits. Then 512 threads race their exits against
 *     automatic cycles at GOGC=5.
 *  c. Signals and blocking calls during back-to-back collections. One
 *     thread per call kind (read on a pipe written after a delay,
 *     nanosleep, poll, select, epoll_wait, pthread_cond_timedwait,
 *     sem_timedwait), once as plain calls and once inside
 *     gogc_enter_blocking/gogc_leave_blocking; the program's own SIGALRM
 *     (setitimer, SA_RESTART) and SIGUSR1 (no SA_RESTART) handlers run
 *     meanwhile on another thread that allocates. What is asserted (the
 *     outcomes measured on Linux; the EINTR counts are printed):
 *       - read() on a pipe is restarted (the suspend handler has
 *         SA_RESTART): it returns the data, never -1/EINTR, although the
 *         thread is signalled while it waits (its stack scans are counted);
 *       - pthread_cond_timedwait never returns EINTR (POSIX);
 *       - nanosleep, poll, select, epoll_wait and sem_timedwait MAY return
 *         -1/EINTR when the suspend signal arrives (Linux never restarts
 *         them after a handler ran, see signal(7)): counted, not required;
 *       - inside a blocking section the collector does not signal the
 *         thread (the program's signals are blocked in those threads):
 *         EINTR is at most rare there. Not never: a suspend signal sent
 *         an instant before gogc_enter_blocking can land in the call that
 *         follows (seen about once in 20000 calls of a tight loop of 20 us
 *         sleeps; not seen with the 4 ms waits here);
 *       - the program's handlers run exactly as often as SIGUSR1 is sent,
 *         SIGALRM keeps firing, and both still interrupt calls inside a
 *         blocking section according to their own SA_RESTART flag (the
 *         collector changes nothing there);
 *       - errno: a call that succeeded still has the errno it left (the
 *         suspend handler restores it), and gogc_leave_blocking keeps the
 *         errno of the call before it (it once leaked EAGAIN from a futex
 *         wait into it).
 *
 * A watchdog thread (in a blocking section, so it never holds up a
 * collection) ends the process with a message if a phase hangs.
 *
 * Under GODEBUG=gcstress=N (N <= 100) or gcstressslow=1 (a cycle at
 * nearly every allocation) parts a and b make a tenth of the threads and
 * of the long-lived chains (an eighth of the b threads; g_heavy). Under
 * any gcstress two checks of part b are skipped (g_stressed): that some
 * thread exited while the cycle it saw marking was still marking (its own
 * allocations there may run whole cycles), and b2's check for an
 * automatic cycle (the forced ones may be all there are).
 */
#define _GNU_SOURCE
#include <gogc.h>

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static int g_heavy;    /* tu_stress_heavy(): smaller parts a and b */
static int g_stressed; /* tu_stressed(): checks that need few cycles skipped */

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void add(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static int ldi(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void sti(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static long my_tid(void) { return (long)syscall(SYS_gettid); }

/* Sleep about us microseconds (EINTR: just return, callers poll). */
static void short_sleep_us(long us) {
  struct timespec ts = {0, us * 1000L};
  nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------
 * Checksummed chains
 * ------------------------------------------------------------------------- */
struct item {
  uint64_t id;
  uint64_t check;
  struct item *next;
  unsigned char *payload; /* noscan, payload_len(id) bytes derived from id */
};

static uint64_t item_check(uint64_t id) { return tu_mix(id ^ 0x70726f636c696665ULL); }
static size_t payload_len(uint64_t id) { return 8 + (size_t)(id % 57); }

static struct item *mk_item(uint64_t id, struct item *next) {
  struct item *x = gogc_alloc(sizeof *x);
  if (x == NULL)
    return NULL;
  unsigned char *p = gogc_alloc_noscan(payload_len(id));
  if (p == NULL)
    return NULL;
  tu_fill(p, payload_len(id), id);
  x->id = id;
  x->check = item_check(id);
  gogc_store(&x->payload, p);
  gogc_store(&x->next, next);
  return x;
}

/* n items with ids base .. base+n-1, the highest at the head. */
static struct item *mk_chain(uint64_t base, int n) {
  struct item *head = NULL;
  for (int i = 0; i < n; i++) {
    struct item *x = mk_item(base + (uint64_t)i, head);
    if (x == NULL)
      return NULL;
    head = x;
  }
  return head;
}

/* Problems found in a chain made by mk_chain(base, n) (0: intact). */
static uint64_t chain_bad(const struct item *x, uint64_t base, uint64_t n) {
  uint64_t k = 0, bad = 0;
  for (; x != NULL && k <= n; x = x->next, k++) {
    uint64_t want = base + (n - 1 - k);
    if (gogc_base(x) != x || x->id != want || x->check != item_check(x->id) ||
        x->payload == NULL || gogc_size(x->payload) < payload_len(want) ||
        tu_verify(x->payload, payload_len(want), want) != 0)
      bad++;
  }
  if (k != n)
    bad++;
  return bad;
}

/* ---------------------------------------------------------------------------
 * Events: the phase flags the exiting threads of part b wait on, cycle
 * counts for the watchdog, and stack scans of the threads of part c.
 * ------------------------------------------------------------------------- */
static uint32_t g_marking, g_in_cycle, g_mark_cycle;
static int g_concurrent; /* marking runs beside the program (not gcstoptheworld) */
static uint64_t g_ev_cycles_started, g_ev_cycles_ended, g_ev_mark_starts;
#define NWATCH 16
static long g_watch_tid[NWATCH];
static uint64_t g_watch_scans[NWATCH];

static void listener(const gogc_event *e, void *data) {
  (void)data;
  switch (e->kind) {
  case GOGC_EVENT_CYCLE_START:
    __atomic_store_n(&g_in_cycle, 1, __ATOMIC_SEQ_CST);
    add(&g_ev_cycles_started, 1);
    break;
  case GOGC_EVENT_MARK_START:
    __atomic_store_n(&g_mark_cycle, e->cycle, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_marking, 1, __ATOMIC_SEQ_CST);
    add(&g_ev_mark_starts, 1);
    break;
  case GOGC_EVENT_MARK_END:
    __atomic_store_n(&g_marking, 0, __ATOMIC_SEQ_CST);
    break;
  case GOGC_EVENT_CYCLE_END:
    __atomic_store_n(&g_marking, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_in_cycle, 0, __ATOMIC_SEQ_CST);
    add(&g_ev_cycles_ended, 1);
    break;
  case GOGC_EVENT_STACK_SCAN:
    for (int i = 0; i < NWATCH; i++)
      if (__atomic_load_n(&g_watch_tid[i], __ATOMIC_RELAXED) == (long)e->thread)
        add(&g_watch_scans[i], 1);
    break;
  default:
    break;
  }
}

/* ---------------------------------------------------------------------------
 * Watchdog: a thread that stays in a blocking section for its whole life
 * (it never touches collected memory) and ends the process with a message
 * if the current phase runs past its deadline.
 * ------------------------------------------------------------------------- */
static const char *g_phase = "start";
static uint64_t g_phase_deadline_ms; /* CLOCK_MONOTONIC ms */
static int g_wd_stop;
static uint64_t g_coll_count; /* collections by the collector thread */

static uint64_t now_ms(void) { return (uint64_t)(tu_now() * 1000.0); }

static void set_phase(const char *name, double seconds) {
  if (tu_slow()) seconds *= 10; /* valgrind (beside other load), sanitizers, stress modes */
  __atomic_store_n(&g_phase, name, __ATOMIC_RELAXED);
  __atomic_store_n(&g_phase_deadline_ms, now_ms() + (uint64_t)(seconds * 1000.0),
                   __ATOMIC_RELEASE);
  printf("phase %s\n", name);
  fflush(stdout);
}

static void block_program_signals(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGALRM);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void unblock_program_signals(int alrm, int usr1) {
  sigset_t s;
  sigemptyset(&s);
  if (alrm)
    sigaddset(&s, SIGALRM);
  if (usr1)
    sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  block_program_signals();
  gogc_enter_blocking();
  while (!ldi(&g_wd_stop)) {
    tu_sleep_ms(100);
    uint64_t deadline = __atomic_load_n(&g_phase_deadline_ms, __ATOMIC_ACQUIRE);
    if (deadline != 0 && now_ms() > deadline) {
      fprintf(stderr,
              "test_proclife: watchdog: phase \"%s\" still running past its deadline (a hang?); "
              "cycles started %llu, ended %llu, mark starts %llu, forced collections %llu, "
              "marking %u\n",
              __atomic_load_n(&g_phase, __ATOMIC_RELAXED),
              (unsigned long long)ld(&g_ev_cycles_started),
              (unsigned long long)ld(&g_ev_cycles_ended),
              (unsigned long long)ld(&g_ev_mark_starts), (unsigned long long)ld(&g_coll_count),
              __atomic_load_n(&g_marking, __ATOMIC_RELAXED));
      fflush(stderr);
      _exit(70);
    }
  }
  gogc_leave_blocking();
  return NULL;
}

/* ---------------------------------------------------------------------------
 * The collector thread: gogc_collect back to back, or (half duty) resting
 * after each collection as long as it took, so that thread creation, which
 * waits while the world is stopped, is not starved in slow builds
 * (sanitizers, assertions).
 * ------------------------------------------------------------------------- */
static int g_coll_stop, g_coll_half;
static pthread_t g_coll_tid;

static void *collector_main(void *arg) {
  (void)arg;
  while (!ldi(&g_coll_stop)) {
    double t0 = tu_now();
    gogc_collect();
    add(&g_coll_count, 1);
    if (ldi(&g_coll_half)) {
      long us = (long)((tu_now() - t0) * 1e6);
      gogc_enter_blocking();
      short_sleep_us(us < 20000 ? us : 20000);
      gogc_leave_blocking();
    }
  }
  return NULL;
}

static void start_collector(int half) {
  sti(&g_coll_half, half);
  sti(&g_coll_stop, 0);
  CHECK(pthread_create(&g_coll_tid, NULL, collector_main, NULL) == 0);
}

static void stop_collector(void) {
  sti(&g_coll_stop, 1);
  pthread_join(g_coll_tid, NULL);
}

/* ===========================================================================
 * a. Thread churn
 * ========================================================================= */
#define A_JOINABLE_MAX 6000
#define A_JOINABLE (g_heavy ? 600 : A_JOINABLE_MAX)
#define A_BATCH 12
#define A_DETACHED_MAX 1000
#define A_DETACHED (g_heavy ? 100 : A_DETACHED_MAX)
#define A_DET_LIVE 16
#define A_LIST0 (g_heavy ? 2000 : 20000)
#define A_CHAIN 3
#define A_BASE_J ((uint64_t)1 << 40)
#define A_BASE_D ((uint64_t)2 << 40)
#define A_BASE_L ((uint64_t)3 << 40)

static void *g_a_items[A_JOINABLE_MAX];
static void *g_a_det[A_DETACHED_MAX];
static uint64_t g_a_bad, g_a_det_done;
static int g_a_det_live;

static void *a_worker(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  uint64_t base = A_BASE_J + (uint64_t)i * 8;
  struct item *c = mk_chain(base, A_CHAIN);
  tu_garbage(2048 + (i % 7) * 512, 16, 256, 2, i + 1);
  add(&g_a_bad, chain_bad(c, base, A_CHAIN));
  gogc_store(&g_a_items[i], c);
  return (void *)(uintptr_t)(i + 1);
}

static void *a_detached(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  uint64_t base = A_BASE_D + (uint64_t)i * 8;
  struct item *c = mk_chain(base, A_CHAIN);
  tu_garbage(1024 + (i % 5) * 512, 16, 256, 2, i + 7);
  add(&g_a_bad, chain_bad(c, base, A_CHAIN));
  gogc_store(&g_a_det[i], c);
  add(&g_a_det_done, 1);
  __atomic_fetch_sub(&g_a_det_live, 1, __ATOMIC_RELEASE);
  return NULL; /* and the thread exits on its own */
}

static int a_start_detached(size_t i) {
  pthread_attr_t attr;
  pthread_t tid;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  __atomic_fetch_add(&g_a_det_live, 1, __ATOMIC_ACQ_REL);
  int rc = pthread_create(&tid, &attr, a_detached, (void *)(uintptr_t)i);
  if (rc != 0)
    __atomic_fetch_sub(&g_a_det_live, 1, __ATOMIC_RELEASE);
  pthread_attr_destroy(&attr);
  return rc;
}

static void part_a(void) {
  set_phase("a: thread churn", 90);
  double t0 = tu_now();
  gogc_memstats ms0, ms1;
  gogc_read_memstats(&ms0);

  struct item *list = mk_chain(A_BASE_L, A_LIST0); /* only in this local */
  uint64_t list_n = A_LIST0, list_bad = 0;
  CHECK(list != NULL);
  start_collector(1);

  int create_fail = 0, join_fail = 0, bad_ret = 0;
  size_t det_started = 0;
  /* Every other batch with small stacks (an attribute gogc must read the
   * stack bounds through; cheaper under ASan, which clears the shadow of
   * a whole stack at each exit). */
  pthread_attr_t small;
  pthread_attr_init(&small);
  pthread_attr_setstacksize(&small, 256 * 1024);
  for (size_t b = 0; b < A_JOINABLE / A_BATCH; b++) {
    pthread_t tids[A_BATCH];
    int ok[A_BATCH];
    for (size_t k = 0; k < A_BATCH; k++) {
      size_t i = b * A_BATCH + k;
      ok[k] = pthread_create(&tids[k], b % 2 ? &small : NULL, a_worker, (void *)(uintptr_t)i) == 0;
      if (!ok[k])
        create_fail++;
    }
    for (int d = 0; d < 2 && det_started < A_DETACHED; d++) {
      if (__atomic_load_n(&g_a_det_live, __ATOMIC_ACQUIRE) >= A_DET_LIVE)
        break;
      if (a_start_detached(det_started) == 0)
        det_started++;
      else
        create_fail++;
    }
    for (int j = 0; j < 4; j++) { /* the long-lived list grows meanwhile */
      struct item *x = mk_item(A_BASE_L + list_n, list);
      if (x != NULL) {
        list = x;
        list_n++;
      }
    }
    for (size_t k = 0; k < A_BATCH; k++) {
      if (!ok[k])
        continue;
      void *ret = NULL;
      if (pthread_join(tids[k], &ret) != 0)
        join_fail++;
      else if (ret != (void *)(uintptr_t)(b * A_BATCH + k + 1))
        bad_ret++;
    }
    if (b % 100 == 0)
      list_bad += chain_bad(list, A_BASE_L, list_n);
  }
  /* The rest of the detached threads, at most A_DET_LIVE alive at once. */
  while (det_started < A_DETACHED) {
    if (__atomic_load_n(&g_a_det_live, __ATOMIC_ACQUIRE) >= A_DET_LIVE) {
      short_sleep_us(200);
      continue;
    }
    if (a_start_detached(det_started) == 0)
      det_started++;
    else
      create_fail++;
  }
  while (ld(&g_a_det_done) < det_started)
    short_sleep_us(500);
  stop_collector();
  pthread_attr_destroy(&small);

  /* Final check, after the freed memory was reused. */
  gogc_collect();
  tu_garbage(8u << 20, 16, 512, 2, 4242);
  gogc_collect();
  uint64_t bad = 0, missing = 0;
  for (size_t i = 0; i < A_JOINABLE; i++) {
    if (g_a_items[i] == NULL)
      missing++;
    else
      bad += chain_bad(g_a_items[i], A_BASE_J + (uint64_t)i * 8, A_CHAIN);
  }
  for (size_t i = 0; i < A_DETACHED; i++) {
    if (g_a_det[i] == NULL)
      missing++;
    else
      bad += chain_bad(g_a_det[i], A_BASE_D + (uint64_t)i * 8, A_CHAIN);
  }
  list_bad += chain_bad(list, A_BASE_L, list_n);
  gogc_read_memstats(&ms1);

  CHECKF(create_fail == 0, "%d pthread_create failures", create_fail);
  CHECKF(join_fail == 0 && bad_ret == 0, "%d joins failed, %d wrong return values", join_fail,
         bad_ret);
  CHECKF(det_started == A_DETACHED, "only %zu detached threads started", det_started);
  CHECKF(ld(&g_a_bad) == 0, "%llu bad objects seen by the churn threads",
         (unsigned long long)ld(&g_a_bad));
  CHECKF(missing == 0, "%llu handed-over chains missing", (unsigned long long)missing);
  CHECKF(bad == 0, "%llu lost or corrupted objects in the handed-over chains",
         (unsigned long long)bad);
  CHECKF(list_bad == 0, "%llu lost or corrupted objects in the main thread's list",
         (unsigned long long)list_bad);
  CHECKF(ms1.num_gc - ms0.num_gc >= 10, "only %u collections during the churn",
         ms1.num_gc - ms0.num_gc);
  printf("a: %d joinable + %zu detached threads in %.2f s, %u collections, main list %llu "
         "nodes\n",
         A_JOINABLE, det_started, tu_now() - t0, ms1.num_gc - ms0.num_gc,
         (unsigned long long)list_n);
  fflush(stdout);
  gogc_keep_alive(list);
}

/* ===========================================================================
 * b. Threads exiting during a cycle
 * ========================================================================= */
#define B_THREADS_MAX 384
#define B_THREADS (g_heavy ? 48 : B_THREADS_MAX)
#define B_BATCH 8
#define B_CHAIN 4
#define B_BASE_P ((uint64_t)4 << 40)
#define B_BASE_H ((uint64_t)5 << 40)
#define B_EXIT_MAGIC ((void *)(uintptr_t)0xb0b)

static void *g_b_pub[B_THREADS_MAX];     /* published by thread i (made by it) */
static void *g_b_handoff[B_THREADS_MAX]; /* made by main, taken by thread i */
static void *g_b_moved[B_THREADS_MAX];   /* where thread i puts it back */
static uintptr_t g_b_priv[B_THREADS_MAX]; /* thread i's private large object, encoded */
static uint64_t g_b_bad, g_b_priv_dead_early, g_b_exit_in_mark, g_b_exit_in_cycle,
    g_b_exit_idle;

/* pthread_exit from depth+1 calls down, each frame holding keep. Called
 * through a pointer: it never returns, which the compiler would call
 * infinite recursion. */
static void b_exit_nested_impl(int depth, void *keep);
static void (*volatile b_exit_nested)(int, void *) = b_exit_nested_impl;
static __attribute__((noinline)) void b_exit_nested_impl(int depth, void *keep) {
  volatile uintptr_t frame[8];
  frame[0] = (uintptr_t)keep;
  frame[7] = (uintptr_t)depth;
  if (depth > 0)
    b_exit_nested(depth - 1, (void *)frame[0]);
  pthread_exit(B_EXIT_MAGIC);
}

static void *b_worker(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  uint64_t pbase = B_BASE_P + (uint64_t)i * 16, hbase = B_BASE_H + (uint64_t)i * 16;
  struct item *pub = mk_chain(pbase, B_CHAIN);
  /* From here the handed-off chain is only on this thread's stack. */
  struct item *moved = gogc_atomic_swap(&g_b_handoff[i], NULL);
  uintptr_t enc = tu_make_large(pbase);
  __atomic_store_n(&g_b_priv[i], enc, __ATOMIC_RELEASE);
  void *volatile priv = tu_dec(enc); /* the only reference to it */

  /* Wait for concurrent marking (or at least a cycle), bounded. */
  double until = tu_now() + 0.5;
  while (g_concurrent && !__atomic_load_n(&g_marking, __ATOMIC_SEQ_CST) && tu_now() < until)
    short_sleep_us(50);
  while (!__atomic_load_n(&g_in_cycle, __ATOMIC_SEQ_CST) && tu_now() < until + 0.5)
    short_sleep_us(50);
  uint32_t marking = __atomic_load_n(&g_marking, __ATOMIC_SEQ_CST);
  uint32_t cycle = __atomic_load_n(&g_mark_cycle, __ATOMIC_SEQ_CST);

  /* During the mark: allocate, publish, and check what only we held. */
  tu_garbage(4096, 16, 128, 2, pbase);
  gogc_store(&g_b_pub[i], pub);
  gogc_store(&g_b_moved[i], moved);
  uint64_t bad = chain_bad(pub, pbase, B_CHAIN) + chain_bad(moved, hbase, 2);
  if (!tu_large_intact(enc, pbase))
    add(&g_b_priv_dead_early, 1);
  add(&g_b_bad, bad);
  if (marking && __atomic_load_n(&g_marking, __ATOMIC_SEQ_CST) &&
      __atomic_load_n(&g_mark_cycle, __ATOMIC_SEQ_CST) == cycle)
    add(&g_b_exit_in_mark, 1);
  else if (__atomic_load_n(&g_in_cycle, __ATOMIC_SEQ_CST))
    add(&g_b_exit_in_cycle, 1);
  else
    add(&g_b_exit_idle, 1);
  pub = moved = NULL;
  if (i & 1)
    b_exit_nested(3, priv); /* pthread_exit from three calls down */
  gogc_keep_alive(priv);
  return B_EXIT_MAGIC;
}

/* b2: exits raced against automatic cycles (GOGC=5), no coordination. */
#define B2_THREADS_MAX 512
#define B2_THREADS (g_heavy ? 64 : B2_THREADS_MAX)
#define B2_BATCH 16
#define B_BASE_R ((uint64_t)6 << 40)
static void *g_b2_pub[B2_THREADS_MAX];

static void *b2_worker(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  uint64_t base = B_BASE_R + (uint64_t)i * 8;
  struct item *c = mk_chain(base, 3);
  tu_garbage(48 * 1024, 16, 1024, 2, base);
  add(&g_b_bad, chain_bad(c, base, 3));
  gogc_store(&g_b2_pub[i], c);
  c = NULL;
  if (i % 3 == 0)
    b_exit_nested(3, NULL);
  return B_EXIT_MAGIC;
}

static void part_b(void) {
  set_phase("b: threads exiting during a cycle", 90);
  double t0 = tu_now();
  gogc_memstats ms0, ms1, ms2;
  gogc_read_memstats(&ms0);
  /* Some live heap, so that marking takes a while. */
  const int live_n = g_heavy ? 3000 : 30000;
  struct item *live = mk_chain((uint64_t)7 << 40, live_n);
  int old_percent = gogc_set_percent(10);
  uint64_t marks0 = ld(&g_ev_mark_starts);
  start_collector(0);

  int create_fail = 0, bad_ret = 0;
  for (size_t b = 0; b < B_THREADS / B_BATCH; b++) {
    pthread_t tids[B_BATCH];
    int ok[B_BATCH];
    for (size_t k = 0; k < B_BATCH; k++) {
      size_t i = b * B_BATCH + k;
      gogc_store(&g_b_handoff[i], mk_chain(B_BASE_H + (uint64_t)i * 16, 2));
      ok[k] = pthread_create(&tids[k], NULL, b_worker, (void *)(uintptr_t)i) == 0;
      if (!ok[k])
        create_fail++;
    }
    for (size_t k = 0; k < B_BATCH; k++) {
      void *ret = NULL;
      if (ok[k] && (pthread_join(tids[k], &ret) != 0 || ret != B_EXIT_MAGIC))
        bad_ret++;
    }
  }
  stop_collector();
  uint64_t marks = ld(&g_ev_mark_starts) - marks0;
  gogc_read_memstats(&ms1);

  /* b2: no forced collections; the threads' own allocations trigger them. */
  gogc_set_percent(5);
  for (size_t b = 0; b < B2_THREADS / B2_BATCH; b++) {
    pthread_t tids[B2_BATCH];
    int ok[B2_BATCH];
    for (size_t k = 0; k < B2_BATCH; k++) {
      ok[k] = pthread_create(&tids[k], NULL, b2_worker, (void *)(uintptr_t)(b * B2_BATCH + k)) == 0;
      if (!ok[k])
        create_fail++;
    }
    for (size_t k = 0; k < B2_BATCH; k++) {
      void *ret = NULL;
      if (ok[k] && (pthread_join(tids[k], &ret) != 0 || ret != B_EXIT_MAGIC))
        bad_ret++;
    }
  }
  gogc_set_percent(old_percent);
  gogc_read_memstats(&ms2);

  /* Published objects survive; private ones are reclaimed. */
  gogc_collect();
  tu_garbage(4u << 20, 16, 512, 2, 99);
  gogc_collect();
  uint64_t bad = 0, missing = 0;
  for (size_t i = 0; i < B_THREADS; i++) {
    if (g_b_pub[i] == NULL || g_b_moved[i] == NULL)
      missing++;
    bad += chain_bad(g_b_pub[i], B_BASE_P + (uint64_t)i * 16, B_CHAIN);
    bad += chain_bad(g_b_moved[i], B_BASE_H + (uint64_t)i * 16, 2);
    if (g_b_handoff[i] != NULL)
      bad++;
  }
  for (size_t i = 0; i < B2_THREADS; i++) {
    if (g_b2_pub[i] == NULL)
      missing++;
    else
      bad += chain_bad(g_b2_pub[i], B_BASE_R + (uint64_t)i * 8, 3);
  }
  bad += chain_bad(live, (uint64_t)7 << 40, (uint64_t)live_n);
  size_t retained = 0, noprobe = 0;
  for (size_t i = 0; i < B_THREADS; i++) {
    uintptr_t e = __atomic_load_n(&g_b_priv[i], __ATOMIC_ACQUIRE);
    if (e == 0)
      noprobe++;
    else if (tu_is_live(e) && !tu_dies(e, 3))
      retained++;
  }

  CHECKF(create_fail == 0 && bad_ret == 0, "%d thread creations failed, %d bad exits",
         create_fail, bad_ret);
  CHECKF(ld(&g_b_bad) == 0, "%llu lost or corrupted objects seen by the exiting threads",
         (unsigned long long)ld(&g_b_bad));
  CHECKF(ld(&g_b_priv_dead_early) == 0,
         "%llu objects held only on a live thread's stack were freed",
         (unsigned long long)ld(&g_b_priv_dead_early));
  CHECKF(missing == 0 && bad == 0, "%llu published objects missing, %llu lost or corrupted",
         (unsigned long long)missing, (unsigned long long)bad);
  CHECKF(noprobe == 0, "%zu private objects not made", noprobe);
  CHECKF(retained == 0, "%zu of %d objects held only by exited threads were never reclaimed",
         retained, B_THREADS);
  CHECKF(ms1.num_gc - ms0.num_gc >= 5,
         "only %u collections while %d threads exited", ms1.num_gc - ms0.num_gc, B_THREADS);
  CHECKF(g_stressed || ms2.num_gc - ms1.num_gc > ms2.num_forced_gc - ms1.num_forced_gc,
         "no automatic cycle while the b2 threads ran (num_gc %u -> %u)", ms1.num_gc,
         ms2.num_gc);
  if (ms1.concurrent) {
    CHECKF(marks > 0, "no MARK_START event in %u cycles", ms1.num_gc - ms0.num_gc);
    CHECKF(g_stressed || ld(&g_b_exit_in_mark) > 0,
           "no thread exited while the collector marked");
  }
  printf("b: %d threads exited in %u cycles (%llu mark phases): %llu with marking on, %llu "
         "in a cycle, %llu between cycles; then %d threads in %u cycles (%u automatic); "
         "%.2f s\n",
         B_THREADS, ms1.num_gc - ms0.num_gc, (unsigned long long)marks,
         (unsigned long long)ld(&g_b_exit_in_mark), (unsigned long long)ld(&g_b_exit_in_cycle),
         (unsigned long long)ld(&g_b_exit_idle), B2_THREADS, ms2.num_gc - ms1.num_gc,
         (ms2.num_gc - ms1.num_gc) - (ms2.num_forced_gc - ms1.num_forced_gc), tu_now() - t0);
  fflush(stdout);
  gogc_keep_alive(live);
}

/* ===========================================================================
 * c. Signals and blocking calls during collections
 * ========================================================================= */
enum { K_READ, K_NANOSLEEP, K_POLL, K_SELECT, K_EPOLL, K_COND, K_SEM, NK };
static const char *const kname[NK] = {"read(pipe)", "nanosleep", "poll", "select",
                                      "epoll_wait", "pthread_cond_timedwait",
                                      "sem_timedwait"};
#define WAIT_MS 4

struct kstat {
  uint64_t calls;      /* completed calls */
  uint64_t eintr;      /* -1/EINTR (or EINTR returned) */
  uint64_t unexpected; /* any other outcome (bad data, spurious return, ...) */
  uint64_t spurious;   /* pthread_cond_timedwait returned 0 before its time */
  uint64_t errno_lost; /* plain: errno changed by a successful call (the
                          suspend handler must restore it); blocking: errno
                          changed by gogc_leave_blocking */
};
static struct kstat g_k[2][NK]; /* [0 plain, 1 inside a blocking section] */
static int g_c_stop;
static int g_c_ready; /* waiters that made their objects and are about to wait */
static long g_recv_tid;
static uint64_t g_alarms, g_alarms_recv, g_usr1;

static void on_alarm(int sig) {
  (void)sig;
  int e = errno;
  add(&g_alarms, 1);
  if (my_tid() == __atomic_load_n(&g_recv_tid, __ATOMIC_RELAXED))
    add(&g_alarms_recv, 1);
  errno = e;
}

static void on_usr1(int sig) {
  (void)sig;
  add(&g_usr1, 1);
}

struct waiter {
  int kind, mode, slot;
  int rd, wr; /* read: the pipe the writer fills; else an idle pipe */
  pthread_t tid, writer;
  uint64_t msgs; /* read: messages received */
};

/* read: the writer sends numbered 8-byte messages a few ms apart, then 0. */
static void *c_writer(void *arg) {
  struct waiter *w = arg;
  uint64_t seq = 1, rng = 0x5eed ^ (uint64_t)w->mode;
  while (!ldi(&g_c_stop)) {
    tu_sleep_ms(1 + (long)(tu_rand(&rng) % 6));
    if (write(w->wr, &seq, sizeof seq) != (ssize_t)sizeof seq)
      break;
    seq++;
  }
  uint64_t end = 0;
  if (write(w->wr, &end, sizeof end) != (ssize_t)sizeof end)
    fprintf(stderr, "c_writer: write failed\n");
  return NULL;
}

static void abs_after_ms(struct timespec *ts, long ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_nsec += ms * 1000000L;
  while (ts->tv_nsec >= 1000000000L) {
    ts->tv_nsec -= 1000000000L;
    ts->tv_sec++;
  }
}

static void *c_waiter(void *arg) {
  struct waiter *w = arg;
  struct kstat *st = &g_k[w->mode][w->kind];
  __atomic_store_n(&g_watch_tid[w->slot], my_tid(), __ATOMIC_RELAXED);
  int ep = -1;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  sem_t sem;
  sem_init(&sem, 0, 0);
  if (w->kind == K_EPOLL) {
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, w->rd, &ev) != 0)
      add(&st->unexpected, 1);
  }
  /* This thread's own objects, in locals only, across all the calls. */
  uint64_t base = ((uint64_t)8 << 40) + ((uint64_t)w->slot << 20);
  struct item *mine = mk_chain(base, 50);
  __atomic_fetch_add(&g_c_ready, 1, __ATOMIC_RELEASE);
  uint64_t expect_seq = 1;
  int done = 0;
  while (!done) {
    if (w->kind != K_READ && ldi(&g_c_stop))
      break;
    int r = 0, e = 0;
    uint64_t msg = 0;
    struct timespec ts = {0, WAIT_MS * 1000000L};
    struct timeval tv = {0, WAIT_MS * 1000};
    struct pollfd pfd = {.fd = w->rd, .events = POLLIN};
    struct epoll_event evs[1];
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(w->rd, &fds);
    if (w->kind == K_COND || w->kind == K_SEM)
      abs_after_ms(&ts, WAIT_MS);
    double t0 = tu_now();
    if (w->mode)
      gogc_enter_blocking();
    errno = 0;
    switch (w->kind) {
    case K_READ:
      r = (int)read(w->rd, &msg, sizeof msg);
      break;
    case K_NANOSLEEP:
      r = nanosleep(&ts, NULL);
      break;
    case K_POLL:
      r = poll(&pfd, 1, WAIT_MS);
      break;
    case K_SELECT:
      r = select(w->rd + 1, &fds, NULL, NULL, &tv);
      break;
    case K_EPOLL:
      r = epoll_wait(ep, evs, 1, WAIT_MS);
      break;
    case K_COND:
      pthread_mutex_lock(&mu);
      r = pthread_cond_timedwait(&cv, &mu, &ts);
      pthread_mutex_unlock(&mu);
      break;
    case K_SEM:
      r = sem_timedwait(&sem, &ts);
      break;
    }
    e = errno;
    if (w->mode) {
      gogc_leave_blocking();
      if (errno != e)
        add(&st->errno_lost, 1); /* gogc_leave_blocking changed errno */
    }
    double dt = tu_now() - t0;
    add(&st->calls, 1);
    if (w->kind == K_COND) {
      if (r == EINTR)
        add(&st->eintr, 1);
      else if (r == 0)
        add(&st->spurious, 1); /* allowed by POSIX; counted */
      else if (r != ETIMEDOUT)
        add(&st->unexpected, 1);
      continue;
    }
    if (r < 0 && e == EINTR) {
      add(&st->eintr, 1);
      continue;
    }
    if (r >= 0 && e != 0 && w->kind != K_SEM)
      add(&st->errno_lost, 1); /* a successful call must leave errno alone */
    switch (w->kind) {
    case K_READ:
      if (r != (int)sizeof msg || (msg != 0 && msg != expect_seq)) {
        add(&st->unexpected, 1);
        done = r <= 0;
      } else if (msg == 0) {
        done = 1;
      } else {
        expect_seq++;
        w->msgs++;
      }
      break;
    case K_SEM:
      if (!(r < 0 && e == ETIMEDOUT))
        add(&st->unexpected, 1);
      break;
    case K_NANOSLEEP:
      if (r != 0 || dt < WAIT_MS * 1e-3 * 0.9)
        add(&st->unexpected, 1);
      break;
    default: /* poll, select, epoll_wait: a timeout, nothing ready */
      if (r != 0)
        add(&st->unexpected, 1);
      break;
    }
  }
  add(&st->unexpected, chain_bad(mine, base, 50));
  if (ep >= 0)
    close(ep);
  sem_destroy(&sem);
  __atomic_store_n(&g_watch_tid[w->slot], 0, __ATOMIC_RELAXED);
  return NULL;
}

/* Allocates all the time with the program's signals unblocked. */
static void *c_receiver(void *arg) {
  (void)arg;
  __atomic_store_n(&g_recv_tid, my_tid(), __ATOMIC_RELAXED);
  unblock_program_signals(1, 1);
  uint64_t base = (uint64_t)9 << 40, n = 0, bad = 0;
  struct item *list = NULL;
  while (!ldi(&g_c_stop)) {
    struct item *x = mk_item(base + n, list);
    if (x != NULL) {
      list = x;
      n++;
    }
    tu_garbage(2048, 16, 256, 2, n);
    if (n % 512 == 0)
      bad += chain_bad(list, base, n);
  }
  block_program_signals();
  bad += chain_bad(list, base, n);
  __atomic_store_n(&g_recv_tid, 0, __ATOMIC_RELAXED);
  return (void *)(uintptr_t)(bad == 0 ? 1 : 2);
}

/* Send SIGUSR1 to t and wait until the handler ran; 0 on timeout. */
static int send_usr1_acked(pthread_t t) {
  uint64_t before = ld(&g_usr1);
  if (pthread_kill(t, SIGUSR1) != 0)
    return 0;
  double until = tu_now() + 10;
  while (ld(&g_usr1) == before) {
    if (tu_now() > until)
      return 0;
    short_sleep_us(100);
  }
  return 1;
}

/* c3: the program's own signals still interrupt calls inside a blocking
 * section, by their own SA_RESTART flag. */
enum { P_NANOSLEEP, P_POLL, P_READ_NORESTART, P_READ_RESTART, NP };
static const char *const pname[NP] = {"nanosleep (SIGUSR1)", "poll (SIGUSR1)",
                                      "read (SIGUSR1, no SA_RESTART)",
                                      "read (SIGALRM, SA_RESTART)"};
struct prog_case {
  int kind;
  int fds[2];
  int ready;     /* the thread is about to make the call */
  int returned;  /* the call returned */
  int r, e;      /* its result */
  uint64_t msg;
};

static void *c3_thread(void *arg) {
  struct prog_case *p = arg;
  block_program_signals();
  unblock_program_signals(p->kind == P_READ_RESTART, p->kind != P_READ_RESTART);
  struct item *mine = mk_chain((uint64_t)10 << 40, 20);
  struct timespec ts = {20, 0};
  struct pollfd pfd = {.fd = p->fds[0], .events = POLLIN};
  gogc_enter_blocking();
  sti(&p->ready, 1);
  errno = 0;
  switch (p->kind) {
  case P_NANOSLEEP:
    p->r = nanosleep(&ts, NULL);
    break;
  case P_POLL:
    p->r = poll(&pfd, 1, 20000);
    break;
  default:
    p->r = (int)read(p->fds[0], &p->msg, sizeof p->msg);
    break;
  }
  p->e = errno;
  sti(&p->returned, 1);
  gogc_leave_blocking();
  block_program_signals();
  return (void *)(uintptr_t)(chain_bad(mine, (uint64_t)10 << 40, 20) == 0 ? 1 : 2);
}

static void part_c3(void) {
  for (int k = 0; k < NP; k++) {
    struct prog_case p;
    memset(&p, 0, sizeof p);
    p.kind = k;
    CHECK(pipe(p.fds) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, c3_thread, &p) == 0);
    while (!ldi(&p.ready))
      short_sleep_us(200);
    int sig = k == P_READ_RESTART ? SIGALRM : SIGUSR1;
    uint64_t *count = k == P_READ_RESTART ? &g_alarms : &g_usr1;
    uint64_t before = ld(count), sent = 0;
    double t0 = tu_now();
    /* Signal until the call returns (a signal that came before the call
     * started was handled without interrupting anything); the read with
     * SA_RESTART gets its data after 10 signals. */
    while (!ldi(&p.returned)) {
      tu_sleep_ms(5);
      if (ldi(&p.returned))
        break;
      if (k == P_READ_RESTART && sent >= 10 && ld(count) - before >= 10) {
        uint64_t msg = 0x1234;
        CHECK(write(p.fds[1], &msg, sizeof msg) == (ssize_t)sizeof msg);
        while (!ldi(&p.returned))
          short_sleep_us(200);
        break;
      }
      if (pthread_kill(t, sig) == 0)
        sent++;
    }
    void *ret = NULL;
    pthread_join(t, &ret);
    double dt = tu_now() - t0;
    if (k == P_READ_RESTART)
      CHECKF(p.r == (int)sizeof p.msg && p.msg == 0x1234,
             "%s: returned %d errno %d, expected the data", pname[k], p.r, p.e);
    else
      CHECKF(p.r == -1 && p.e == EINTR, "%s: returned %d errno %d, expected -1/EINTR",
             pname[k], p.r, p.e);
    CHECKF(ld(count) - before >= 1, "%s: handler never ran", pname[k]);
    CHECKF(dt < 15, "%s: took %.1f s", pname[k], dt);
    CHECKF(ret == (void *)1, "%s: the thread's objects were lost", pname[k]);
    printf("c3: %-30s -> %s after %llu signal(s), %.3f s\n", pname[k],
           p.r < 0 ? (p.e == EINTR ? "-1/EINTR" : "-1/other") : "data", (unsigned long long)sent,
           dt);
    close(p.fds[0]);
    close(p.fds[1]);
  }
}

static void part_c(void) {
  set_phase("c: signals and blocking calls", 60);
  double t0 = tu_now();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
  sa.sa_handler = on_usr1;
  sa.sa_flags = 0; /* no SA_RESTART */
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  /* Only the receiver (and threads made earlier, such as gogc's own)
   * takes the program's signals; the waiters' EINTRs are the collector's. */
  block_program_signals();

  gogc_memstats ms0, ms1;
  gogc_read_memstats(&ms0);
  static struct waiter ws[2][NK];
  int slot = 0;
  for (int m = 0; m < 2; m++)
    for (int k = 0; k < NK; k++) {
      struct waiter *w = &ws[m][k];
      int fds[2];
      CHECK(pipe(fds) == 0);
      w->kind = k;
      w->mode = m;
      w->slot = slot++;
      w->rd = fds[0];
      w->wr = fds[1];
      CHECK(pthread_create(&w->tid, NULL, c_waiter, w) == 0);
      if (k == K_READ)
        CHECK(pthread_create(&w->writer, NULL, c_writer, w) == 0);
    }
  pthread_t recv;
  CHECK(pthread_create(&recv, NULL, c_receiver, NULL) == 0);
  while (__atomic_load_n(&g_recv_tid, __ATOMIC_RELAXED) == 0)
    short_sleep_us(200);
  /* Every waiter past its allocations before the timed part (under
   * gcstress they take a cycle each, and could still be at them when it
   * ends). */
  while (ldi(&g_c_ready) < 2 * NK)
    short_sleep_us(200);
  start_collector(0);
  struct itimerval it = {{0, 2000}, {0, 2000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);

  /* At least 1.5 s and 40 forced collections. */
  uint64_t c0 = ld(&g_coll_count), usr1_sent = 0, usr1_lost = 0, usr1_0 = ld(&g_usr1);
  double start = tu_now();
  while (tu_now() - start < 1.5 || ld(&g_coll_count) - c0 < 40) {
    if (send_usr1_acked(recv))
      usr1_sent++;
    else
      usr1_lost++;
    tu_sleep_ms(2);
  }
  uint64_t ncoll = ld(&g_coll_count) - c0;
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  sti(&g_c_stop, 1);
  uint64_t scans[2][NK];
  for (int m = 0; m < 2; m++)
    for (int k = 0; k < NK; k++) {
      scans[m][k] = ld(&g_watch_scans[ws[m][k].slot]);
      pthread_join(ws[m][k].tid, NULL);
      if (k == K_READ)
        pthread_join(ws[m][k].writer, NULL);
      close(ws[m][k].rd);
      close(ws[m][k].wr);
    }
  void *rret = NULL;
  pthread_join(recv, &rret);
  gogc_read_memstats(&ms1);
  uint64_t alarms = ld(&g_alarms), alarms_recv = ld(&g_alarms_recv);

  printf("c: %llu forced collections (%u cycles) in %.2f s; per call: calls / EINTR "
         "(plain | inside gogc_enter_blocking), stack scans of the waiting thread\n",
         (unsigned long long)ncoll, ms1.num_gc - ms0.num_gc, tu_now() - start);
  for (int k = 0; k < NK; k++) {
    printf("c:   %-24s %6llu / %-5llu | %6llu / %-5llu  scans %llu | %llu", kname[k],
           (unsigned long long)g_k[0][k].calls, (unsigned long long)g_k[0][k].eintr,
           (unsigned long long)g_k[1][k].calls, (unsigned long long)g_k[1][k].eintr,
           (unsigned long long)scans[0][k], (unsigned long long)scans[1][k]);
    if (k == K_COND)
      printf("  (spurious wake-ups %llu | %llu)", (unsigned long long)g_k[0][k].spurious,
             (unsigned long long)g_k[1][k].spurious);
    if (k == K_READ)
      printf("  (messages %llu | %llu)", (unsigned long long)ws[0][k].msgs,
             (unsigned long long)ws[1][k].msgs);
    printf("\n");
  }
  printf("c: errno changed by gogc_leave_blocking:");
  uint64_t lost = 0;
  for (int k = 0; k < NK; k++) {
    printf(" %llu", (unsigned long long)g_k[1][k].errno_lost);
    lost += g_k[1][k].errno_lost;
  }
  printf("\n");
  CHECKF(lost == 0, "gogc_leave_blocking changed errno %llu times", (unsigned long long)lost);
  printf("c: SIGUSR1 sent %llu, handled %llu; SIGALRM handled %llu (%llu on the receiver, the "
         "rest on other program threads)\n",
         (unsigned long long)usr1_sent, (unsigned long long)(ld(&g_usr1) - usr1_0),
         (unsigned long long)alarms, (unsigned long long)alarms_recv);
  fflush(stdout);

  for (int k = 0; k < NK; k++) {
    for (int m = 0; m < 2; m++) {
      const struct kstat *st = &g_k[m][k];
      const char *mn = m ? "inside a blocking section" : "plain";
      CHECKF(st->calls >= 10, "%s, %s: only %llu calls", kname[k], mn,
             (unsigned long long)st->calls);
      CHECKF(st->unexpected == 0, "%s, %s: %llu unexpected results", kname[k], mn,
             (unsigned long long)st->unexpected);
      /* A restarted read and a condition wait never report EINTR. */
      if (k == K_READ || k == K_COND)
        CHECKF(st->eintr == 0, "%s, %s: %llu EINTR", kname[k], mn,
               (unsigned long long)st->eintr);
      if (m == 0) {
        CHECKF(st->errno_lost == 0, "%s, plain: errno changed by a successful call %llu times",
               kname[k], (unsigned long long)st->errno_lost);
      } else {
        /* Inside a blocking section the collector does not signal the
         * thread. Measured: a suspend signal sent an instant before
         * gogc_enter_blocking (the collector saw the thread running) can
         * still land in the call that follows it, so a rare EINTR is
         * possible (about 1 in 20000 calls in a tight enter/20 us
         * nanosleep/leave loop with back-to-back collections; none seen
         * with this test's 4 ms waits). Rare, not never. */
        CHECKF(st->eintr <= 3 + st->calls / 50, "%s, %s: %llu EINTR in %llu calls", kname[k],
               mn, (unsigned long long)st->eintr, (unsigned long long)st->calls);
      }
    }
    /* The plain waiters were signalled (stopped for their stack scans)
     * while they waited: the zero EINTRs above are not for lack of it. */
    if (ms1.concurrent)
      CHECKF(scans[0][k] >= 1, "%s: the plain waiter was never stopped for a scan", kname[k]);
  }
  CHECKF(ws[0][K_READ].msgs >= 10 && ws[1][K_READ].msgs >= 10, "reads got %llu and %llu messages",
         (unsigned long long)ws[0][K_READ].msgs, (unsigned long long)ws[1][K_READ].msgs);
  CHECKF(usr1_lost == 0, "%llu SIGUSR1 not handled within 10 s", (unsigned long long)usr1_lost);
  CHECKF(ld(&g_usr1) - usr1_0 == usr1_sent, "SIGUSR1: sent %llu, handler ran %llu times",
         (unsigned long long)usr1_sent, (unsigned long long)(ld(&g_usr1) - usr1_0));
  CHECKF(usr1_sent >= 20, "only %llu SIGUSR1 sent", (unsigned long long)usr1_sent);
  CHECKF(alarms >= 5, "the SIGALRM handler ran only %llu times", (unsigned long long)alarms);
  CHECKF(rret == (void *)1, "the signal receiver's list was lost or corrupted");
  CHECKF(ms1.num_gc - ms0.num_gc >= 40, "only %u cycles", ms1.num_gc - ms0.num_gc);

  /* c3, with the collector still running. */
  part_c3();
  stop_collector();
  printf("c: %.2f s\n", tu_now() - t0);
  fflush(stdout);
}

int main(void) {
  g_heavy = tu_stress_heavy();
  g_stressed = tu_stressed();
  setvbuf(stdout, NULL, _IOLBF, 0);
  double t0 = tu_now();
  gogc_set_event_listener(listener, NULL);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  g_concurrent = ms.concurrent;
  pthread_t wd;
  CHECK(pthread_create(&wd, NULL, watchdog_main, NULL) == 0);

  part_a();
  part_b();
  part_c();

  sti(&g_wd_stop, 1);
  pthread_join(wd, NULL);
  gogc_set_event_listener(NULL, NULL);
  printf("total %.2f s\n", tu_now() - t0);
  return check_done();
}
