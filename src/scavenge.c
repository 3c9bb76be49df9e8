/* gogc: the scavenger, which gives free heap pages back to the OS (Go's
 * mgcscavenge.go).
 *
 * Free pages stay committed after a sweep frees their span: the next span
 * reuses them without a system call or a page fault. The scavenger trims
 * that reserve to two goals, recomputed at each pacer commit
 * (gogc_scavenger_pace):
 *
 *   retained goal (GOGC): heap pages in use at the last cycle, scaled by
 *       how the heap goal moved since, plus 10% (Go's); once the sweep is
 *       done, at most the goal times the heap's fragmentation then, plus
 *       10%. Heap memory held (in use plus free, not returned) above it
 *       is released.
 *   limit goal: 95% of the memory limit. All memory the library holds
 *       (heap, metadata) above it is released.
 *
 * Three callers release pages, highest addresses first (first fit reuses
 * low ones), with MADV_DONTNEED (RSS drops at once; the pages read as zero
 * when reused):
 *
 *   the background scavenger thread, about 1% of the CPU: 1 ms of work
 *       (its own CPU time), then a sleep 100/GOMAXPROCS times as long (5%
 *       or 10% while far above the goal, half a core when that core is
 *       free and no mark runs); woken at each commit and parked while both
 *       goals are met. Chunks that are nearly full
 *       are left alone (their free pages will be reused, and releasing
 *       8 KiB inside a 2 MiB huge page splits it). Below the limit's
 *       goal, and less than a quarter over the retained one, it releases
 *       from a chunk only the pages that stayed free at the chunk's
 *       fullest in this cycle and the last (SCAV_SPARSE, pagealloc.c):
 *       a heap whose goal moves by a few percent from cycle to cycle
 *       otherwise gave back pages each cycle that the next one faulted in
 *       again. binary-trees (depth 21) released 190 MiB a run, 110 after
 *       (page faults 148,000 -> 111,000); 3-4 alternating runs, medians:
 *       1 thread 12.08 -> 11.75 s, 2 threads 10.35 -> 9.44 s.
 *   allocation, synchronously, when pages faulted back in take the
 *       library over the memory limit (gogc_scavenge_for_limit): the
 *       excess is released before the allocation returns, unless the GC
 *       CPU limiter is on (the limit is soft; thrashing is worse).
 *   gogc_free_os_memory: a full cycle, then every free page.
 *
 * The background scavenger and gogc_free_os_memory also give back the
 * pages of span metadata (span structs, bitmaps) left empty as spans were
 * freed (fixalloc.c), keeping a small reserve; the background scavenger
 * only while memory is over one of the goals, after the heap pages, and
 * SCAV_META_BYTES a slice.
 *
 * A run being released is marked in use under the heap lock, the lock is
 * dropped for the system call, then the run is freed again as scavenged:
 * allocation never waits on madvise. scav_lock keeps scavengers one at a
 * time (and fork out of the middle of one); an allocation only tries it.
 * A registered thread holds the heap lock only inside a critical section
 * (the collector reads the heap's memory with the world stopped).
 */
#include "internal.h"

#include <limits.h>
#include <stdio.h>

#define SCAV_QUANTUM_PAGES 64 /* 512 KiB per system call at most */
#define SCAV_SLICE_NS 1000000 /* the background scavenger's work between sleeps */
#define SCAV_META_BYTES ((uint64_t)4 << 20) /* span metadata released per slice, at most */

/* Release up to `bytes` (rounded up to pages) of free pages, from the
 * chunks `which` allows (SCAV_*, pagealloc.c). Returns the bytes released.
 * scav_lock held. */
uint64_t gogc_scavenge_locked(uint64_t bytes, int which) {
  gogc_runtime *rt = gogc_rt;
  uint64_t done = 0;
  while (done < bytes) {
    uintptr_t want = (uintptr_t)((bytes - done + PAGE_SIZE - 1) / PAGE_SIZE);
    if (want > SCAV_QUANTUM_PAGES) want = SCAV_QUANTUM_PAGES;
    gogc_heap_lock();
    uintptr_t n = 0;
    uintptr_t page = gogc_pages_find_scavengable(rt->scav_cursor, want, which, &n);
    if (page == UINTPTR_MAX && rt->scav_cursor < rt->pages_mapped) {
      rt->scav_cursor = rt->pages_mapped; /* wrap: search from the top again */
      page = gogc_pages_find_scavengable(rt->scav_cursor, want, which, &n);
    }
    if (page == UINTPTR_MAX) {
      gogc_heap_unlock();
      break;
    }
    gogc_pages_scavenge_begin(page, n);
    rt->scav_cursor = page;
    gogc_heap_unlock();
    bool ok = gogc_os_purge((void *)(rt->heap_base + page * PAGE_SIZE), n * PAGE_SIZE) == 0;
    gogc_heap_lock();
    gogc_pages_scavenge_end(page, n, ok);
    gogc_heap_unlock();
    if (!ok) break;
    done += (uint64_t)n * PAGE_SIZE;
  }
  atomic_add_relaxed(&rt->scav_released_total, done);
  return done;
}

uint64_t gogc_scavenge(uint64_t bytes, int which) {
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->scav_lock);
  uint64_t done = gogc_scavenge_locked(bytes, which);
  pthread_mutex_unlock(&rt->scav_lock);
  return done;
}

/* All memory the library holds, as counted against the memory limit. */
uint64_t gogc_memory_held(void) {
  gogc_heap_memory m;
  gogc_heap_read_memory(&m);
  return m.ready + gogc_meta_bytes();
}

/* Bytes over the scavenger's goals now (0: both met), at most the free
 * heap pages. *which (may be NULL): the chunks to release from:
 * SCAV_SPARSE (the pages no recent cycle needed), or SCAV_NOT_FULL over
 * the memory limit's goal or far over the retained goal (a quarter of it
 * and 64 MiB: the live heap shrank, as in latency-drop, and waiting two
 * cycles would keep the memory longer). *over (may be NULL): memory is
 * over a goal, even with no free heap page left to release. */
static uint64_t scavenge_needed_for(int *which, bool *over) {
  gogc_runtime *rt = gogc_rt;
  gogc_heap_memory m;
  gogc_heap_read_memory(&m);
  uint64_t need = 0;
  uint64_t retained = m.inuse + m.free;
  uint64_t rgoal = atomic_load_relaxed(&rt->scav_retained_goal);
  if (retained > rgoal) need = retained - rgoal;
  uint64_t lgoal = atomic_load_relaxed(&rt->scav_limit_goal);
  uint64_t held = m.ready + gogc_meta_bytes();
  bool far = need >= (64u << 20) && need >= rgoal / 4;
  if (which) *which = held > lgoal || far ? SCAV_NOT_FULL : SCAV_SPARSE;
  if (held > lgoal && held - lgoal > need) need = held - lgoal;
  if (over) *over = need > 0;
  if (need > m.free) need = m.free;
  return need;
}

static uint64_t scavenge_needed(void) { return scavenge_needed_for(NULL, NULL); }

void gogc_scavenge_for_limit(void) {
  gogc_runtime *rt = gogc_rt;
  int64_t limit = atomic_load_relaxed(&rt->mem_limit);
  if (limit == INT64_MAX || gogc_limiter_on()) return;
  uint64_t held = gogc_memory_held();
  if (held <= (uint64_t)limit) return;
  /* At most 1 MiB per allocation (a fraction of a millisecond): the
   * excess is normally what this allocation faulted in; a larger one (the
   * heap itself past the limit) is the background scavenger's, woken here,
   * not a long stall of this thread. */
  uint64_t excess = held - (uint64_t)limit;
  if (excess > (1u << 20)) {
    excess = 1u << 20;
    atomic_add_relaxed(&rt->scav_seq, 1);
    gogc_os_futex_wake(&rt->scav_seq, 1);
  }
  /* Another thread scavenging (this one may be inside an allocation's
   * critical section: never wait for it) does the work. */
  if (pthread_mutex_trylock(&rt->scav_lock) != 0) return;
  uint64_t t0 = gogc_os_nanotime();
  uint64_t got = gogc_scavenge_locked(excess, SCAV_ANY);
  pthread_mutex_unlock(&rt->scav_lock);
  atomic_add_relaxed(&rt->scav_assist_ns, gogc_os_nanotime() - t0);
  atomic_add_relaxed(&rt->scav_released_sync, got);
}

/* Recompute the goals (gc_lock held, from the pacer) and wake the
 * background scavenger. */
void gogc_scavenger_pace(int when) {
  gogc_runtime *rt = gogc_rt;
  const gogc_pacer *p = &rt->pacer;
  uint64_t rgoal = UINT64_MAX, lgoal = UINT64_MAX;
  if (when == PACE_CYCLE_END) { /* Go's lastHeapInUse and lastHeapGoal: the heap at its peak */
    atomic_store_relaxed(&rt->scav_gen, rt->scav_gen + 1); /* chunk_use's cycle (pagealloc.c) */
    if (rt->scav_base_goal != 0 && rt->scav_base_goal != UINT64_MAX) {
      rt->scav_prev_inuse = atomic_load_relaxed(&rt->pages_inuse) * PAGE_SIZE; /* a heuristic */
      rt->scav_prev_goal = rt->scav_base_goal;
    }
    rt->scav_base_goal = p->goal;
    rt->scav_sweep_goal = UINT64_MAX;
  } else if (when == PACE_SWEEP_END && p->goal != UINT64_MAX) {
    /* The sweep is done: pages in use over bytes live is the heap's
     * fragmentation now, and the goal times that is what the heap will
     * hold at the goal. After the live heap shrinks this is right one
     * cycle after the drop; Go's formula, scaled from the peak of the
     * cycle before, takes several cycles to come down. */
    uint64_t live = atomic_load_relaxed(&rt->heap_live);
    uint64_t inuse = atomic_load_relaxed(&rt->pages_inuse) * PAGE_SIZE;
    double frag = live > 0 && inuse > live ? (double)inuse / (double)live : 1.0;
    rt->scav_sweep_goal = (uint64_t)((double)p->goal * frag * 1.10) + PAGE_SIZE;
  }
  if (p->goal != UINT64_MAX && rt->scav_prev_goal != 0) {
    double g = (double)rt->scav_prev_inuse * ((double)p->goal / (double)rt->scav_prev_goal) * 1.10;
    rgoal = (uint64_t)g + PAGE_SIZE;
  }
  if (p->goal != UINT64_MAX && rt->scav_sweep_goal < rgoal) rgoal = rt->scav_sweep_goal;
  if (p->mem_limit != INT64_MAX && p->mem_limit >= 0) lgoal = (uint64_t)p->mem_limit / 100 * 95;
  atomic_store_relaxed(&rt->scav_retained_goal, rgoal);
  atomic_store_relaxed(&rt->scav_limit_goal, lgoal);
  if (when != PACE_CYCLE_END) gogc_scavenger_kick();
}

/* Tell the background scavenger that its goals changed. Mark termination
 * calls this once the world runs again (mgc.c), not from
 * gogc_scavenger_pace: a wake-up is a system call and an interrupt to
 * another CPU, 13 us of the pause on a virtual machine (arena churn, one
 * cycle per 16 freed 2 MiB chunks: a third of mark termination). */
void gogc_scavenger_kick(void) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->scav_retained_goal) == UINT64_MAX &&
      atomic_load_relaxed(&rt->scav_limit_goal) == UINT64_MAX)
    return;
  atomic_add_relaxed(&rt->scav_seq, 1);
  gogc_os_futex_wake(&rt->scav_seq, 1);
}

/* The background scavenger: not a registered thread (it never touches an
 * object, only free pages under the heap lock), so stopping the world
 * never waits for it. */
static void *scavenger_main(void *arg) {
  (void)arg;
  gogc_runtime *rt = gogc_rt;
  uint32_t seen = 0;
  for (;;) {
    uint32_t seq;
    while (scavenge_needed() == 0 && (seq = atomic_load_acquire(&rt->scav_seq)) == seen)
      gogc_os_futex_wait(&rt->scav_seq, seen);
    seen = atomic_load_acquire(&rt->scav_seq);
    /* Work is counted in this thread's CPU time, for the slice and for the
     * duty cycle. On the wall clock, time spent runnable behind the
     * program's threads and the mark workers (2 cores, all busy) counted
     * as work: after latency-drop's live heap fell tenfold, slices of 1 ms
     * of work took 3-40 ms of wall time, and each was followed by a sleep
     * four times as long, so the first 250 ms after the sweep gave back
     * 50 MiB of 2.7 GiB. */
    uint64_t t0 = gogc_os_nanotime(), c0 = gogc_os_thread_cputime(), worked = 0;
    gogc_lock(&rt->scav_lock);
    uint64_t released = 0;
    while (worked < SCAV_SLICE_NS) {
      int which = SCAV_SPARSE;
      uint64_t need = scavenge_needed_for(&which, NULL);
      if (need == 0) break;
      uint64_t r = gogc_scavenge_locked(need < (1u << 20) ? need : (1u << 20), which);
      if (r == 0) break;
      released += r;
      atomic_add_relaxed(&rt->scav_released_bg, r);
      worked = gogc_os_thread_cputime() - c0;
    }
    /* Then span metadata pages left empty by spans freed since
     * (fixalloc.c), only while memory is over a goal: in a heap that holds
     * its size the spans a sweep frees are made again before the next
     * cycle, and their metadata pages, released, fault straight back in
     * (binary-trees: 50 MiB a run). After the heap pages, and a few MiB at
     * a time: they were first and unbounded, and after latency-drop's live
     * heap fell tenfold, one pass over 40 MiB of them took 80 ms, the
     * duty cycle then slept 100 ms, and four cycles passed before the
     * first heap page went back. */
    bool over = false;
    (void)scavenge_needed_for(NULL, &over);
    if (over) {
      uint64_t m = gogc_fix_release(&rt->fix_spans, false, SCAV_META_BYTES);
      if (m < SCAV_META_BYTES) m += gogc_fix_release(&rt->fix_bits, false, SCAV_META_BYTES - m);
      if (m) atomic_add_relaxed(&rt->scav_released_bg, m);
      released += m;
    }
    pthread_mutex_unlock(&rt->scav_lock);
    if (released == 0) { /* only dense chunks left: wait for the next commit */
      while (atomic_load_acquire(&rt->scav_seq) == seen) gogc_os_futex_wait(&rt->scav_seq, seen);
      continue;
    }
    worked = gogc_os_thread_cputime() - c0;
    atomic_add_relaxed(&rt->scav_bg_ns, worked);
    if (gogc_events_on()) {
      gogc_event e = {.kind = GOGC_EVENT_SCAVENGE, .duration_ns = gogc_os_nanotime() - t0,
                      .bytes = released};
      gogc_event_emit(&e);
    }
    if (worked == 0) worked = 1;
    /* 1% of GOMAXPROCS CPUs (Go's rate): sleep worked * (100 / procs - 1).
     * Far above the goal (a quarter of it, at least 64 MiB, still to give
     * back, e.g. after the live heap shrank), 5%; more than the goal itself
     * and 256 MiB, 10%. Go's 1% returns about 100 MiB/s here: after a
     * 1 GiB live heap drops to 100 MiB, Go still held 2.3 GiB 5 s later,
     * and memory held that long is what users of other collectors
     * complain about. */
    uint64_t pct = 1;
    uint64_t need = scavenge_needed();
    uint64_t rgoal = atomic_load_relaxed(&rt->scav_retained_goal);
    if (need >= (64u << 20) && (rgoal == UINT64_MAX || need >= rgoal / 4)) pct = 5;
    bool spare = false;
    if (need >= (256u << 20) && (rgoal == UINT64_MAX || need >= rgoal)) {
      pct = 10;
      /* A core no registered thread is using, and no mark to use it: half
       * of that core (as Go's idle mark workers take idle cores). After
       * latency-drop's live heap fell tenfold, 2.7 GiB went back at 10% in
       * 1.7 s, the program's one thread on one of two cores. */
      spare = atomic_load_relaxed(&rt->nrunning) < (uint32_t)rt->opt_procs &&
              atomic_load_relaxed(&rt->phase) == PHASE_OFF;
    }
    uint64_t ratio = 100 / (pct * (uint64_t)(rt->opt_procs > 0 ? rt->opt_procs : 1));
    uint64_t sleep = spare ? worked : worked * (ratio > 1 ? ratio - 1 : 1);
    if (sleep > 100000000) sleep = 100000000;
    uint32_t s0 = atomic_load_acquire(&rt->scav_exit);
    gogc_os_futex_wait_ns(&rt->scav_exit, s0, sleep);
  }
  return NULL;
}

void gogc_scavenger_start(void) {
  pthread_t tid;
  if (gogc_start_helper(&tid, NULL, scavenger_main, NULL, "gogc-scavenger") != 0)
    gogc_warn("cannot start the background scavenger; free memory is returned only by "
              "gogc_free_os_memory and at the memory limit");
}

GOGC_API void gogc_free_os_memory(void) {
  if (gogc_ensure_init() != 0 || gogc_thread_register_self() == NULL) return;
  gogc_collect();
  gogc_scavenge(UINT64_MAX, SCAV_ANY);
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->scav_lock); /* keeps fork out of the middle, as for pages */
  gogc_fix_release(&rt->fix_spans, true, UINT64_MAX);
  gogc_fix_release(&rt->fix_bits, true, UINT64_MAX);
  pthread_mutex_unlock(&rt->scav_lock);
}

/* GODEBUG=scavtrace=1: one line per cycle, in Go's format. gc_lock held. */
void gogc_scavenger_trace(void) {
  gogc_runtime *rt = gogc_rt;
  uint64_t bg = atomic_load_relaxed(&rt->scav_released_bg);
  uint64_t sync = atomic_load_relaxed(&rt->scav_released_sync);
  gogc_heap_memory m;
  gogc_heap_read_memory(&m);
  uint64_t retained = m.inuse + m.free;
  char line[200];
  int n = snprintf(line, sizeof line,
                   "scav %llu KiB work (bg), %llu KiB work (eager), %llu KiB now, %d%% util\n",
                   (unsigned long long)((bg - rt->scav_trace_bg) >> 10),
                   (unsigned long long)((sync - rt->scav_trace_sync) >> 10),
                   (unsigned long long)(m.released >> 10),
                   retained ? (int)(m.inuse * 100 / retained) : 0);
  rt->scav_trace_bg = bg;
  rt->scav_trace_sync = sync;
  if (n > 0) gogc_os_write_err(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
