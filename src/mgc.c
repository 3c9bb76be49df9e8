/* gogc: the collection cycle, pacing glue and statistics (Go's mgc.go).
 *
 * The concurrent cycle (default; docs/design.md has the whole argument):
 *
 *  0. Trigger: an allocation that refills a span (or a large object) sees
 *     heap_live >= trigger; or gogc_collect. One cycle at a time
 *     (gc_lock). If the previous sweep is unfinished, the allocating
 *     thread sweeps a 0.1 ms slice and goes on instead (until 10% past
 *     the goal), so no thread finishes a whole sweep at the trigger.
 *  1. Sweep termination (start_concurrent_cycle, pause 1): finish the
 *     sweep, snapshot the data segments, stop the world, make the root
 *     jobs (one per thread: stacks are scanned later, one thread stopped
 *     at a time), barrier and allocate-black on, restart. O(threads).
 *  2. Concurrent mark: the background worker (25% of GOMAXPROCS, 5% when
 *     every core runs a registered thread and the CPU limiter is off),
 *     idle workers, and mark assists paid per span refill at the pacer's
 *     ratio (on a span of several pages, again at each cache word while
 *     the refill's debt is unpaid), each at most 0.1 ms.
 *  3. Mark termination (try_mark_termination, pause 2): shade the barrier
 *     buffers; new grey objects restart the world (Go's gcMarkDone loop);
 *     then flush caches, verify, sweepgen += 2, pacer end-of-cycle and
 *     commit, restart.
 *  4. Sweep (sweep.c): background, lazy, proportional.
 *
 * GODEBUG=gcstoptheworld=1 marks inside one pause with the parallel
 * markers (run_stw_cycle); =2 also sweeps inside it.
 *
 * Pacing is pacer.c (Go's 1.18 pacer, the memory-limit goal, the GC CPU
 * limiter), pure functions: this file feeds them the runtime's counters
 * (pacer_read_memory, gogc_mark_stats at mark termination), publishes
 * next_gc and trigger, and tells the scavenger (scavenge.c) the new goals.
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>

GOGC_API volatile uint32_t gogc__wb_enabled;


/* ---------------------------------------------------------------------------
 * Pacing: the pacer (pacer.c) fed from the runtime's counters
 * ------------------------------------------------------------------------- */

/* Read the memory counted against the limit into the pacer. */
static void pacer_read_memory(gogc_pacer *p, uint64_t heap_alloc) {
  gogc_heap_memory m;
  gogc_heap_read_memory(&m);
  p->mapped_ready = m.ready + gogc_meta_bytes();
  p->heap_free = m.free;
  p->heap_alloc = heap_alloc;
}

/* Recompute goal and trigger from the current settings and publish them.
 * gc_lock held. */
static void pacer_publish(int when) {
  gogc_runtime *rt = gogc_rt;
  gogc_pacer *p = &rt->pacer;
  atomic_store_relaxed(&p->gc_percent, atomic_load_relaxed(&rt->gc_percent));
  p->mem_limit = atomic_load_relaxed(&rt->mem_limit);
  atomic_store_relaxed(&p->globals_scan, rt->globals_scan);
  gogc_pacer_commit(p, rt->opt_gcstoptheworld == 0);
  atomic_store_relaxed(&rt->next_gc, p->goal);
  atomic_store_relaxed(&rt->trigger, p->trigger);
  gogc_scavenger_pace(when);
}

static void pacer_update(int when) {
  pacer_read_memory(&gogc_rt->pacer, atomic_load_relaxed(&gogc_rt->heap_live));
  pacer_publish(when);
}

void gogc_pacer_update(void) { pacer_update(PACE_OTHER); }

/* After a sweep ends: the live heap and the pages in use are exact now,
 * so the memory-limit goal and the scavenger's goals are recomputed (the
 * ones at mark termination counted unswept garbage as heap). Skipped if a
 * cycle holds gc_lock. */
void gogc_pacer_update_try(void) {
  gogc_runtime *rt = gogc_rt;
  if (pthread_mutex_trylock(&rt->gc_lock) != 0) return;
  if (atomic_load_relaxed(&rt->phase) == PHASE_OFF) pacer_update(PACE_SWEEP_END);
  pthread_mutex_unlock(&rt->gc_lock);
}

/* The GC CPU limiter's clock: at most every 10 ms, by whichever thread
 * gets here first (allocation refills, workers, cycle ends). */
void gogc_limiter_poll(void) {
  gogc_runtime *rt = gogc_rt;
  uint64_t now = gogc_os_nanotime();
  if (now - atomic_load_relaxed(&rt->limiter.last) < 10000000) return;
  if (pthread_mutex_trylock(&rt->limiter_lock) != 0) return;
  gogc_limiter *l = &rt->limiter;
  if (now - l->last >= 10000000) {
    uint64_t gc = atomic_load_relaxed(&rt->gc_cpu_ns), idle = atomic_load_relaxed(&rt->idle_cpu_total);
    uint64_t total = (now - l->last) * (uint64_t)rt->opt_procs;
    bool on = gogc_limiter_update(l, now, gc - rt->limiter_gc_seen, idle - rt->limiter_idle_seen, total);
    rt->limiter_gc_seen = gc;
    rt->limiter_idle_seen = idle;
    atomic_store_relaxed(&rt->limiter_on, on ? 1u : 0u);
  }
  pthread_mutex_unlock(&rt->limiter_lock);
}

/* Scan work per byte of allocation an assist must do now (Go's revise). */
static double assist_ratio(void) {
  gogc_runtime *rt = gogc_rt;
  return gogc_pacer_assist_ratio(&rt->pacer, atomic_load_relaxed(&rt->heap_live),
                                 atomic_load_relaxed(&rt->heap_triggered),
                                 atomic_load_relaxed(&rt->scan_work),
                                 atomic_load_relaxed(&rt->heap_scan_max));
}

/* ---------------------------------------------------------------------------
 * gctrace
 * ------------------------------------------------------------------------- */

/* Go's fmtNSAsMS: whole ms from 10 ms up, else two significant digits
 * with at most three decimals. */
static void fmt_ms(char *buf, size_t n, uint64_t ns) {
  if (ns >= 10000000) {
    snprintf(buf, n, "%llu", (unsigned long long)(ns / 1000000));
    return;
  }
  uint64_t x = ns / 1000;
  if (x == 0) {
    snprintf(buf, n, "0");
    return;
  }
  int dec = 3;
  while (x >= 100) {
    x /= 10;
    dec--;
  }
  uint64_t p = 1;
  for (int i = 0; i < dec; i++) p *= 10;
  if (dec == 0) snprintf(buf, n, "%llu", (unsigned long long)x);
  else snprintf(buf, n, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
}

typedef struct cycle_trace {
  uint64_t start_ns, t_mark, t_markterm, t_end;
  uint64_t heap0, heap1, heap2, goal;
  uint64_t mark_cpu;                        /* stop-the-world mode */
  uint64_t assist_cpu, bg_cpu, idle_cpu;    /* concurrent mode */
  uint64_t stack_pause_max;
  uint64_t sweep_finish_ns; /* finishing the previous sweep before pause 1 */
  int forced, concurrent, restarts;
  uint32_t num; /* this cycle's number (num_gc once it ends) */
} cycle_trace;

static cycle_trace cur; /* [gc] the cycle in progress */

static void print_trace(const cycle_trace *c) {
  gogc_runtime *rt = gogc_rt;
  char a[16], b[16], cc[16], d[16], e[16], f[16], g[16], h[16];
  uint64_t procs = (uint64_t)rt->opt_procs;
  fmt_ms(a, sizeof a, c->t_mark - c->start_ns);
  fmt_ms(b, sizeof b, c->t_markterm - c->t_mark);
  fmt_ms(cc, sizeof cc, c->t_end - c->t_markterm);
  fmt_ms(d, sizeof d, (c->t_mark - c->start_ns) * procs);
  fmt_ms(e, sizeof e, c->assist_cpu);
  fmt_ms(f, sizeof f, c->concurrent ? c->bg_cpu : c->mark_cpu);
  fmt_ms(g, sizeof g, c->idle_cpu);
  fmt_ms(h, sizeof h, (c->t_end - c->t_markterm) * procs);
  uint64_t elapsed = gogc_os_nanotime() - rt->start_ns;
  double frac = elapsed ? (double)atomic_load_relaxed(&rt->gc_cpu_ns) / ((double)elapsed * rt->ncpu) : 0;
  char line[512];
  int n = snprintf(line, sizeof line,
                   "gc %llu @%.3fs %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, "
                   "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
                   (unsigned long long)rt->num_gc, (double)(c->start_ns - rt->start_ns) / 1e9,
                   (int)(frac * 100), a, b, cc, d, e, f, g, h,
                   (unsigned long long)(c->heap0 >> 20), (unsigned long long)(c->heap1 >> 20),
                   (unsigned long long)(c->heap2 >> 20), (unsigned long long)(c->goal >> 20),
                   (unsigned long long)(rt->stacks_scan >> 20),
                   (unsigned long long)(rt->globals_scan >> 20), rt->opt_procs,
                   c->forced ? " (forced)" : "");
  if (n > 0) gogc_os_write_err(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  if (rt->opt_gctrace >= 2 && c->concurrent) {
    char sp[16], sw[16];
    fmt_ms(sp, sizeof sp, c->stack_pause_max);
    fmt_ms(sw, sizeof sw, c->sweep_finish_ns);
    n = snprintf(line, sizeof line,
                 "gc %llu: longest single-thread stop %s ms, %d mark restarts, "
                 "%s ms finishing the previous sweep\n",
                 (unsigned long long)rt->num_gc, sp, c->restarts, sw);
    if (n > 0) gogc_os_write_err(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  }
}

/* ---------------------------------------------------------------------------
 * The cycle
 * ------------------------------------------------------------------------- */
static void *bg_worker_main(void *arg);

static void start_threads_once(void) {
  gogc_runtime *rt = gogc_rt;
  if (rt->threads_started) return;
  rt->threads_started = 1;
  gogc_mark_init();
  gogc_sweeper_start();
  gogc_scavenger_start();
  pthread_t tid;
  if (gogc_start_helper(&tid, NULL, bg_worker_main, NULL, "gogc-bg-mark") != 0)
    gogc_fatal("cannot start the background mark worker");
  gogc_idle_workers_start();
}

/* Mark termination, shared by both modes: the world is stopped, marking
 * is complete. Flush caches, verify, flip sweepgen, pace, count. */
static void mark_termination(cycle_trace *c) {
  gogc_runtime *rt = gogc_rt;
  atomic_store_relaxed(&rt->phase, PHASE_MARKTERM);
  atomic_store_relaxed(&gogc__wb_enabled, gogc__wb_enabled & WB_CHECK);
  c->heap1 = atomic_load_relaxed(&rt->heap_live);
  for (gogc_thread *t = rt->threads; t; t = t->next) {
    gogc_assert(t->wb_n == 0);
    gogc_mcache_flush(t);
  }
  uint64_t marked = atomic_load_relaxed(&rt->bytes_marked);
  c->heap2 = marked;
  if (rt->opt_gcverify) gogc_heap_verify("after mark");
  rt->heap_marked = marked;
  gogc_mark_stats ms = {
      .heap_triggered = c->heap0,
      .heap_end = c->heap1,
      .heap_marked = marked,
      .scan_work = atomic_load_relaxed(&rt->scan_work),
      .root_scan_work = rt->stacks_scan + rt->globals_scan,
      .stack_scan = rt->stacks_scan,
      .mark_ns = c->concurrent ? c->t_markterm - c->t_mark : 0, /* no cons/mark if stopped */
      .bg_cpu_ns = c->bg_cpu,
      .assist_cpu_ns = c->assist_cpu,
      .idle_cpu_ns = c->idle_cpu,
  };
  /* The goal this cycle ran to, before the pacer sets the next one: what
   * gctrace prints (Go's lastHeapGoal). */
  c->goal = atomic_load_relaxed(&rt->next_gc);
  gogc_pacer_end_cycle(&rt->pacer, &ms);
  /* Objects in memory now: everything allocated, dead or not, until the
   * sweep (Go's heapAlloc counts unswept garbage the same way). */
  pacer_read_memory(&rt->pacer, c->heap1);
  atomic_store_relaxed(&rt->heap_live, marked);
  atomic_store_relaxed(&rt->sweep_central, 0);
  atomic_store_relaxed(&rt->sweep_done, 0);
  rt->sweep_pages_total = rt->pages_inuse;
  atomic_store_relaxed(&rt->pages_swept, 0);
  rt->sweep_live_basis = marked;
  atomic_store_release(&rt->sweepgen, rt->sweepgen + 2);
  atomic_store_relaxed(&rt->phase, PHASE_OFF);
  if (rt->opt_gcstoptheworld >= 2) gogc_sweep_finish();
  pacer_publish(PACE_CYCLE_END);
  c->t_end = gogc_os_nanotime();
}

static void record_cycle(cycle_trace *c, uint64_t pause) {
  gogc_runtime *rt = gogc_rt;
  uint64_t now_unix = gogc_os_walltime();
  rt->pause_ns[rt->num_gc % GOGC_PAUSE_RING] = pause;
  rt->pause_end[rt->num_gc % GOGC_PAUSE_RING] = now_unix;
  rt->pause_total_ns += pause;
  rt->last_gc_unix = now_unix;
  atomic_store_relaxed(&rt->num_gc, rt->num_gc + 1); /* [gc_lock]; events read it */
  if (c->forced) rt->num_forced_gc++;
}

/* Everything inside the pause (GODEBUG=gcstoptheworld=1 or 2). Not
 * inlined: __builtin_unwind_init spills the collector's own callee-saved
 * registers into this frame, above the stack pointer from which its stack
 * is scanned. */
static GOGC_NOINLINE void stw_cycle(cycle_trace *c) {
  gogc_runtime *rt = gogc_rt;
  __builtin_unwind_init();
  volatile uintptr_t marker = 0;
  gogc_stop_the_world();
  gogc_pools_cleanup();
  atomic_store_relaxed(&rt->arena_freed_since, 0);
  atomic_store_relaxed(&rt->phase, PHASE_MARK);
  atomic_store_relaxed(&rt->nroots, 0); /* read unlocked as a hint (take_root) */
  gogc_roots_prepare_static();
  gogc_roots_add_threads((uintptr_t)&marker);
  c->t_mark = gogc_os_nanotime();
  uint64_t cpu0 = gogc_os_thread_cputime();
  gogc_mark_run();
  c->mark_cpu = gogc_os_thread_cputime() - cpu0;
  atomic_add_relaxed(&rt->gc_cpu_ns, c->mark_cpu);
  c->t_markterm = gogc_os_nanotime();
  mark_termination(c);
  uint64_t pause = c->t_end - c->start_ns;
  if (pause > rt->max_stw_pause_ns) rt->max_stw_pause_ns = pause;
  record_cycle(c, pause);
  gogc_start_the_world();
  gogc_scavenger_kick();
  (void)marker;
}

static void run_stw_cycle(int trigger) {
  gogc_runtime *rt = gogc_rt;
  cycle_trace c;
  memset(&c, 0, sizeof c);
  c.forced = trigger == TRIGGER_FORCED;
  uint64_t cpu0 = gogc_os_thread_cputime();
  gogc_sweep_finish();
  gogc_roots_snapshot_data();
  c.heap0 = atomic_load_relaxed(&rt->heap_live);
  c.num = (uint32_t)rt->num_gc + 1;
  gogc_event_simple(GOGC_EVENT_CYCLE_START, c.num, 0, 0);
  gogc_event_simple(GOGC_EVENT_PAUSE_START, c.num, 0, 2);
  c.start_ns = gogc_os_nanotime();
  stw_cycle(&c);
  gogc_event_simple(GOGC_EVENT_PAUSE_END, c.num, c.t_end - c.start_ns, 2);
  gogc_event_simple(GOGC_EVENT_CYCLE_END, c.num, 0, 0);
  gogc_sweeper_wake();
  gogc_meta_reserve_refill();
  atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_thread_cputime() - cpu0 - c.mark_cpu);
  if (rt->opt_gctrace) print_trace(&c);
  if (rt->opt_scavtrace) gogc_scavenger_trace();
  atomic_add_acq_rel(&rt->cycles, 1);
  gogc_os_futex_wake(&rt->cycles, INT_MAX);
}

/* Concurrent mode, step 1 (sweep termination), by the thread that
 * triggers the cycle, gc_lock held: finish the sweep, stop the world,
 * make the root jobs, turn the barrier and allocate-black on, restart.
 * O(threads): no stack or heap is scanned here. */
static void start_concurrent_cycle(int trigger) {
  gogc_runtime *rt = gogc_rt;
  cycle_trace *c = &cur;
  memset(c, 0, sizeof *c);
  c->forced = trigger == TRIGGER_FORCED;
  c->concurrent = 1;
  c->num = (uint32_t)rt->num_gc + 1;
  gogc_event_simple(GOGC_EVENT_CYCLE_START, c->num, 0, 0);
  /* Timed with the clock, not thread CPU time: that is a system call, and
   * a program thread runs this (an arena churning 2 MiB chunks starts a
   * cycle every 16 or so). */
  uint64_t s0 = gogc_os_nanotime();
  gogc_sweep_finish();
  c->sweep_finish_ns = gogc_os_nanotime() - s0;
  gogc_roots_snapshot_data();
  c->heap0 = atomic_load_relaxed(&rt->heap_live);
  gogc_event_simple(GOGC_EVENT_PAUSE_START, c->num, 0, 0);
  c->start_ns = gogc_os_nanotime();
  gogc_stop_the_world();
  gogc_pools_cleanup(); /* before the barrier is on: plain stores */
  atomic_store_relaxed(&rt->arena_freed_since, 0);
  atomic_store_relaxed(&rt->nroots, 0); /* read unlocked as a hint (take_root) */
  gogc_roots_prepare_static();
  gogc_roots_add_threads_concurrent();
  atomic_store_relaxed(&rt->root_next, 0);
  atomic_store_relaxed(&rt->bytes_marked, 0);
  atomic_store_relaxed(&rt->scan_work, 0);
  atomic_store_relaxed(&rt->assist_cpu_ns, 0);
  atomic_store_relaxed(&rt->bg_cpu_ns, 0);
  atomic_store_relaxed(&rt->idle_cpu_ns, 0);
  atomic_store_relaxed(&rt->bg_credit, 0);
  rt->cycle_stack_pause_ns = 0;
  rt->stacks_scan = 0;
  gogc_assert(rt->nactive == 0 && rt->work_full == NULL);
  atomic_store_relaxed(&rt->heap_triggered, c->heap0); /* read by assists */
  atomic_store_relaxed(&rt->heap_scan_max, c->heap0);
  for (gogc_thread *t = rt->threads; t; t = t->next) t->assist_credit = 0;
  atomic_store_relaxed(&rt->phase, PHASE_MARK);
  atomic_store_relaxed(&gogc__wb_enabled, WB_MARKING | (rt->grey_stacks ? WB_GREY_STACKS : 0) |
                                              (gogc__wb_enabled & WB_CHECK));
  c->t_mark = gogc_os_nanotime();
  gogc_start_the_world();
  uint64_t pause = c->t_mark - c->start_ns;
  if (pause > rt->max_stw_pause_ns) rt->max_stw_pause_ns = pause;
  rt->cycle_pause_ns = pause;
  gogc_event_simple(GOGC_EVENT_PAUSE_END, c->num, pause, 0);
  gogc_event_simple(GOGC_EVENT_MARK_START, c->num, 0, 0);
  atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_nanotime() - s0);
  atomic_add_acq_rel(&rt->bg_seq, 1);
  gogc_os_futex_wake(&rt->bg_seq, INT_MAX);
}

/* Concurrent mode, step 3 (mark termination), by the background worker
 * when no worker sees any work: stop the world, shade every thread's
 * barrier buffer; if that found grey objects (or a thread is in the middle
 * of an assist), restart the world and keep marking (Go's gcMarkDone
 * loop); after two such restarts, finish the few objects left with the
 * world stopped. Returns true when the cycle ended. */
static bool try_mark_termination(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  cycle_trace *c = &cur;
  gogc_lock(&rt->gc_lock);
  if (atomic_load_relaxed(&rt->phase) != PHASE_MARK) { /* another thread finished it */
    pthread_mutex_unlock(&rt->gc_lock);
    return true;
  }
  gogc_event_simple(GOGC_EVENT_PAUSE_START, c->num, 0, 1);
  uint64_t t0 = gogc_os_nanotime();
  gogc_stop_the_world();
  bool busy = gogc_mark_work_available(); /* an assist holds work: let it finish */
  if (!busy) {
    for (gogc_thread *t = rt->threads; t; t = t->next) gogc_wb_drain(t, w);
    if (!gogc_gcwork_empty(w) && c->restarts < 2) { /* new grey objects: mark on */
      c->restarts++;
      gogc_gcwork_publish(w);
      busy = true;
    }
  }
  if (busy) {
    gogc_start_the_world();
    uint64_t p = gogc_os_nanotime() - t0;
    rt->cycle_pause_ns += p;
    if (p > rt->max_stw_pause_ns) rt->max_stw_pause_ns = p;
    gogc_event_simple(GOGC_EVENT_PAUSE_END, c->num, p, 1);
    pthread_mutex_unlock(&rt->gc_lock);
    return false;
  }
  if (!gogc_gcwork_empty(w)) {
    /* Finish with the world stopped (the idle workers may help). */
    while (gogc_mark_drain_concurrent(w, 0, 0) || gogc_mark_work_available()) sched_yield();
  }
  gogc_gcwork_flush(w);
  gogc_mark_close();
  c->t_markterm = t0;
  c->assist_cpu = atomic_load_relaxed(&rt->assist_cpu_ns);
  c->idle_cpu = atomic_load_relaxed(&rt->idle_cpu_ns);
  c->bg_cpu = atomic_load_relaxed(&rt->bg_cpu_ns);
  c->stack_pause_max = rt->cycle_stack_pause_ns;
  if (rt->opt_gccheckmark) gogc_checkmark();
  mark_termination(c);
  uint64_t p = c->t_end - t0;
  if (p > rt->max_stw_pause_ns) rt->max_stw_pause_ns = p;
  record_cycle(c, rt->cycle_pause_ns + p);
  gogc_start_the_world();
  gogc_scavenger_kick();
  if (gogc_events_on()) {
    gogc_event_simple(GOGC_EVENT_PAUSE_END, c->num, p, 1);
    gogc_event_simple(GOGC_EVENT_MARK_END, c->num, 0, 0);
    gogc_event_simple(GOGC_EVENT_CYCLE_END, c->num, 0, 0);
  }
  gogc_meta_reserve_refill();
  /* The trace line is out before anyone waiting for the cycle returns. */
  if (rt->opt_gctrace) print_trace(c);
  if (rt->opt_scavtrace) gogc_scavenger_trace();
  atomic_add_acq_rel(&rt->cycles, 1);
  gogc_os_futex_wake(&rt->cycles, INT_MAX);
  pthread_mutex_unlock(&rt->gc_lock);
  gogc_sweeper_wake();
  return true;
}

/* Keep the background worker to its duty cycle: 25% of GOMAXPROCS (Go's
 * dedicated and fractional workers), at most a core, while some core is
 * free of registered threads; 5% when they keep every core busy (`busy`)
 * and no assist runs (bg_worker_main: while assists run, none).
 * Then each slice would take a core from a running thread and stall it for
 * the slice (measured on the latency workload, 2 threads on 2 cores: p99.9
 * gap 450 us at 25%, 180 us at 5%, same wall time); the mark assists, in
 * small steps, make up the difference. While the GC CPU limiter is on
 * there are no assists: back to 25%, or a mark under a tight memory limit
 * crawls, collects floating garbage and ends far past the goal (measured:
 * 1 GiB live, limit 1.5 GiB, heap 1.7 GiB at mark end). start, cpu_start:
 * when this mark began for the worker, and its CPU clock then. */
static void bg_duty_wait(uint64_t start, uint64_t cpu_start, bool busy, uint64_t slice) {
  gogc_runtime *rt = gogc_rt;
  double duty = busy ? 0.05 : 0.25;
  double goal = duty * rt->opt_procs;
  if (goal > 1) goal = 1;
  uint64_t elapsed = gogc_os_nanotime() - start;
  uint64_t mine = gogc_os_thread_cputime() - cpu_start;
  if ((double)mine > goal * (double)elapsed) {
    uint64_t sleep = (uint64_t)((double)mine / goal) - elapsed;
    if (sleep > 10 * slice) sleep = 10 * slice;
    uint32_t ph = PHASE_MARK;
    gogc_os_futex_wait_ns(&rt->phase, ph, sleep);
  }
}

/* The background mark worker (Go's fractional worker, and the cycle's
 * driver): marks with a duty cycle of 25% of GOMAXPROCS (at most one
 * core), stands aside while the program's threads keep every core busy
 * and assist, the idle workers use cores no registered thread is using,
 * and when no work is left it runs mark termination. */
#define BG_ASIDE_NS 1000000 /* how long the worker stands aside before it looks again */
static void *bg_worker_main(void *arg) {
  (void)arg;
  gogc_runtime *rt = gogc_rt;
  gogc_gcwork w;
  gogc_gcwork_init(&w);
  uint32_t seen = 0;
  /* Marking in slices: 25 us when the program's threads keep every core
   * busy (the 5% duty below), since then each slice preempts one of them
   * for its length (25 us slices and 30 us assists took the latency
   * workload's p99.9 gap from about 150 us to about 100 us); otherwise
   * 0.1 ms. Short slices only where they buy latency: each costs a few
   * microseconds of clock reads, a publish and an event, and the sleep
   * after it may oversleep by the timer slack (50 us). */
  const uint64_t slice_free = 100000, slice_busy = 25000;
  uint64_t assists_seen = 0;
  for (;;) {
    uint32_t seq;
    while ((seq = atomic_load_acquire(&rt->bg_seq)) == seen) gogc_os_futex_wait(&rt->bg_seq, seen);
    seen = seq;
    if (atomic_load_acquire(&rt->phase) != PHASE_MARK) continue;
    uint64_t start = gogc_os_nanotime(), cpu_start = gogc_os_thread_cputime();
    for (;;) {
      while (atomic_load_acquire(&rt->test_hold)) gogc_os_futex_wait_ns(&rt->test_hold, 1, 1000000);
      uint64_t cpu0 = gogc_os_thread_cputime();
      uint64_t sw0 = w.scan_work;
      uint64_t s0 = gogc_os_nanotime();
      bool busy = atomic_load_relaxed(&rt->nrunning) >= (uint32_t)rt->opt_procs;
      bool limited = gogc_limiter_on();
      if (busy && !limited) {
        /* The program's threads keep every core busy and pay for the mark
         * with assists: stand aside, since each slice here would preempt
         * one of them for the slice and two context switches. In
         * scheduler traces of the latency workload this worker was half
         * of the gaps over 50 us (11,000 of 22,000 a run, 79 us on
         * average), which set its p99.9. Only when no assist ran for
         * BG_ASIDE_NS (the threads compute without allocating) does the
         * worker mark, at its 5% duty, so the cycle still ends. */
        uint64_t a = atomic_load_relaxed(&rt->assists);
        if (a != assists_seen) {
          assists_seen = a;
          if (atomic_load_acquire(&rt->phase) != PHASE_MARK) break; /* an assist ended it */
          gogc_os_futex_wait_ns(&rt->phase, PHASE_MARK, BG_ASIDE_NS);
          start += gogc_os_nanotime() - s0; /* the duty counts from here: no catching up */
          continue;
        }
      }
      uint64_t slice = busy && !limited ? slice_busy : slice_free;
      bool more = gogc_mark_drain_concurrent(&w, 0, s0 + slice);
      gogc_event_simple(GOGC_EVENT_WORKER, 0, gogc_os_nanotime() - s0, 0);
      /* What the background did is credit that assists may use. */
      atomic_add_relaxed(&rt->bg_credit, (int64_t)(w.scan_work - sw0));
      if (more) gogc_gcwork_publish(&w);
      uint64_t used = gogc_os_thread_cputime() - cpu0;
      atomic_add_relaxed(&rt->bg_cpu_ns, used);
      gogc_limiter_poll();
      atomic_add_relaxed(&rt->gc_cpu_ns, used);
      if (!more) {
        if (gogc_mark_work_available()) {
          /* Others hold the work (assists, barrier flushes publish it in
           * small pieces): wait for some, but within the duty cycle. The
           * wait used to skip it, and each small publish woke the worker
           * for another slice: it ran 20% of a core in stretches of 1-3 ms
           * while a program thread waited for that core (sched_switch
           * tracing, latency workload, 2 threads on 2 cores). */
          bg_duty_wait(start, cpu_start, busy && !limited, slice);
          uint32_t ws = atomic_load_acquire(&rt->work_seq);
          gogc_os_futex_wait_ns(&rt->work_seq, ws, 100000);
          continue;
        }
        uint64_t c0 = gogc_os_thread_cputime();
        bool done = try_mark_termination(&w);
        atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_thread_cputime() - c0);
        if (done) break;
        continue;
      }
      bg_duty_wait(start, cpu_start, busy && !limited, slice);
    }
  }
  return NULL;
}

/* The longest one assist may hold its thread; under a memory limit. */
#define ASSIST_MAX_NS GOGC_MUTATOR_WORK_NS
#define ASSIST_LIMIT_NS 100000
/* A thread whose debt outgrew this many bytes of allocation (short
 * assists are not keeping up) assists for up to ASSIST_BACKLOG_NS. With
 * 2 threads, binary-trees (16-byte objects, on 1-page spans then: a
 * refill every 8 KiB, about 4 bytes to scan per byte allocated) outran
 * 10 us assists once the background worker stood aside: peak RSS 330-370
 * MB became 530-600 MB; with this rule, 310-365 MB. The heap can
 * overshoot by this much a thread. */
#define ASSIST_BACKLOG ((int64_t)1 << 20)
#define ASSIST_BACKLOG_NS 30000
/* The most allocation one thread may have paid for in advance. */
#define ASSIST_MAX_CREDIT ((int64_t)1 << 20)

/* Mark assist: the calling thread allocated past its credit while
 * marking runs; it does scan work in proportion (at most ASSIST_MAX_NS at a
 * time, so one assist never stalls its thread for long). */

void gogc_assist(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->phase) != PHASE_MARK || t->in_critical) return;
  if (atomic_load_relaxed(&rt->test_hold)) return;
  gogc_limiter_poll();
  if (gogc_limiter_on()) { /* GC has had half the CPU: no assists (Go's limiter) */
    t->assist_credit = 0;
    /* Past the goal the memory limit set, the thread waits instead: up
     * to 0.1 ms at each span refill, parked, doing no GC work (so the
     * limiter's count does not grow), while the workers mark on the core
     * it leaves. Go lets the heap overshoot here; a mutator faster than
     * the mark it outruns took the latency workload (1 GiB live, limit
     * 1.5 GiB) to a peak RSS of 1.10-1.13x the limit. With the wait,
     * 5 runs: 1.03-1.04x, GC CPU 47-48% instead of 52-53%, 10% less wall
     * time (fewer cycles: less floating garbage), longest gaps alike. */
    uint64_t goal = atomic_load_relaxed(&rt->next_gc);
    if (atomic_load_relaxed(&rt->pacer.limit_bound) &&
        atomic_load_relaxed(&rt->heap_live) > goal) {
      gogc_enter_blocking();
      gogc_os_futex_wait_ns(&rt->phase, PHASE_MARK, 100000);
      gogc_leave_blocking();
    }
    return;
  }
  double ratio = assist_ratio();
  int64_t debt = -t->assist_credit;
  if (debt <= 0) return;
  uint64_t work = (uint64_t)((double)debt * ratio);
  if (work < (16 << 10)) work = 16 << 10; /* small assists: short stalls */
  /* Use background credit first (Go's bgScanCredit). */
  int64_t avail = atomic_load_relaxed(&rt->bg_credit);
  if (avail > 0) {
    int64_t take = avail < (int64_t)work ? avail : (int64_t)work;
    atomic_sub_relaxed(&rt->bg_credit, take);
    work -= (uint64_t)take;
    t->assist_credit += (int64_t)((double)take / (ratio > 0 ? ratio : 1));
    /* Credit in hand is capped: the ratio changes as the mark goes on. */
    if (t->assist_credit > ASSIST_MAX_CREDIT) t->assist_credit = ASSIST_MAX_CREDIT;
    if (work == 0 || t->assist_credit >= 0) {
      if (t->assist_credit < 0) t->assist_credit = 0;
      return;
    }
  }
  /* Timed with the monotonic clock (vDSO), not thread CPU time (a system
   * call): the assist runs on this thread, and this is a per-refill path. */
  uint64_t t0 = gogc_os_nanotime();
  gogc_gcwork *w = gogc_thread_gcw(t);
  uint64_t before = w->scan_work;
  /* Under a memory limit, memory comes first: assists run up to 0.1 ms.
   * (The latency workload under GOGC=off and a 1.5 GiB limit, in a build
   * that also spun on locks: peak RSS 1720-1760 MiB with 0.1 ms assists,
   * 1850-1940 MiB with 30 us.) */
  uint64_t cap = atomic_load_relaxed(&rt->mem_limit) != INT64_MAX ? ASSIST_LIMIT_NS : ASSIST_MAX_NS;
  if (debt > ASSIST_BACKLOG && cap < ASSIST_BACKLOG_NS) cap = ASSIST_BACKLOG_NS;
  bool more = gogc_mark_drain_concurrent(w, work, t0 + cap);
  uint64_t done = w->scan_work - before;
  gogc_gcwork_publish(w);
  if (!more) t->assist_credit = 0; /* nothing left to do: no debt to carry */
  else t->assist_credit += (int64_t)((double)done / (ratio > 0 ? ratio : 1)) + 1;
  if (t->assist_credit > 0) t->assist_credit = 0;
  uint64_t used = gogc_os_nanotime() - t0;
  atomic_add_relaxed(&rt->assist_cpu_ns, used);
  atomic_add_relaxed(&rt->gc_cpu_ns, used);
  atomic_add_relaxed(&rt->assists, 1);
  gogc_event_simple(GOGC_EVENT_ASSIST, 0, used, 0);
  /* The mark looks complete: end it here (Go's gcAssistAlloc calls
   * gcMarkDone), rather than wait for the background worker, which gets
   * little CPU while the program's threads keep every core busy (5% duty,
   * and the scheduler's share): measured with 4 allocating threads on 2
   * cores and GOGC=10, a cycle with nothing to mark lasted 16 ms, during
   * which the threads allocated 138 MB, all of it black, against a 0.4 MB
   * goal. One thread at a time tries; the others go on allocating. */
  if (!more && !gogc_mark_work_available() && atomic_load_relaxed(&rt->phase) == PHASE_MARK &&
      !atomic_load_relaxed(&rt->test_hold) &&
      __atomic_exchange_n(&rt->assist_finishing, 1, __ATOMIC_ACQUIRE) == 0) {
    uint64_t c0 = gogc_os_nanotime();
    try_mark_termination(w);
    atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_nanotime() - c0);
    atomic_store_release(&rt->assist_finishing, 0);
  }
}

/* Work an allocation owes after leaving its critical section: an assist
 * while marking, or starting a cycle at the trigger. */
void gogc_alloc_gc_work(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->phase) == PHASE_MARK) {
    if (t->assist_credit < 0) gogc_assist(t);
    return;
  }
  if (gogc_gc_should_trigger()) {
    /* The previous sweep is not done (no runway: a tight memory limit
     * runs cycles back to back): sweep a slice and let the allocation go
     * on, rather than have this thread finish the whole sweep before the
     * cycle starts (Go's sweepDistMinTrigger, done per refill). Past 10%
     * over the goal, start the cycle anyway. */
    uint64_t goal = atomic_load_relaxed(&rt->next_gc);
    if (!atomic_load_relaxed(&rt->sweep_done) &&
        atomic_load_relaxed(&rt->heap_live) < goal + goal / 10) {
      gogc_sweep_proportional(true);
      if (!atomic_load_relaxed(&rt->sweep_done)) return;
    }
    gogc_gc(TRIGGER_HEAP);
    return;
  }
  if (!atomic_load_relaxed(&rt->sweep_done)) gogc_sweep_proportional(false);
}

/* Wait until the cycle count passes n, marking meanwhile (the waiting
 * thread is a registered thread, outside any critical section). */
static void wait_cycle(gogc_thread *self, uint32_t n) {
  gogc_runtime *rt = gogc_rt;
  uint32_t c;
  /* Parked like a thread in a blocking call (Go parks a goroutine waiting
   * in runtime.GC): its stack is scanned from here up, with the registers
   * saved here, and no signal stops it. The marking it does below touches
   * only objects already grey or black, which need no root. */
  gogc_enter_blocking();
  while ((c = atomic_load_acquire(&rt->cycles)) == n) {
    if (atomic_load_relaxed(&rt->phase) == PHASE_MARK && !atomic_load_relaxed(&rt->test_hold)) {
      uint64_t cpu0 = gogc_os_thread_cputime();
      gogc_gcwork *w = gogc_thread_gcw(self);
      if (gogc_mark_drain_concurrent(w, 0, gogc_os_nanotime() + 1000000)) {
        gogc_gcwork_publish(w);
      }
      uint64_t used = gogc_os_thread_cputime() - cpu0;
      atomic_add_relaxed(&rt->assist_cpu_ns, used);
      atomic_add_relaxed(&rt->gc_cpu_ns, used);
    }
    gogc_os_futex_wait_ns(&rt->cycles, c, 1000000);
  }
  gogc_leave_blocking();
}

void gogc_gc(int trigger) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *self = gogc_self;
  if (self == NULL) return;
  gogc_lock(&rt->gc_lock);
  start_threads_once();
  /* An arena trigger asks for one cycle per batch of freed chunks. */
  bool arena = trigger == TRIGGER_ARENA &&
               atomic_load_relaxed(&rt->arena_freed_since) >= ARENA_RECYCLE_CHUNKS;
  if (trigger == TRIGGER_ARENA) trigger = TRIGGER_HEAP;
  if (rt->opt_gcstoptheworld) {
    if (trigger == TRIGGER_FORCED || arena || gogc_gc_should_trigger()) run_stw_cycle(trigger);
    pthread_mutex_unlock(&rt->gc_lock);
    return;
  }
  if (trigger == TRIGGER_HEAP) {
    bool started = false;
    if (atomic_load_relaxed(&rt->phase) == PHASE_OFF && (arena || gogc_gc_should_trigger())) {
      start_concurrent_cycle(trigger);
      started = true;
    }
    pthread_mutex_unlock(&rt->gc_lock);
    if (started) gogc_mark_scan_self(self); /* no signal needed for this thread */
    return;
  }
  /* Forced (Go's runtime.GC): let a cycle in progress finish, run a whole
   * new one, and help it mark while waiting. */
  for (;;) {
    uint32_t n = atomic_load_acquire(&rt->cycles);
    if (atomic_load_relaxed(&rt->phase) == PHASE_OFF) break;
    pthread_mutex_unlock(&rt->gc_lock);
    wait_cycle(self, n);
    gogc_lock(&rt->gc_lock);
  }
  uint32_t n = atomic_load_acquire(&rt->cycles);
  start_concurrent_cycle(trigger);
  pthread_mutex_unlock(&rt->gc_lock);
  wait_cycle(self, n);
}

/* ---------------------------------------------------------------------------
 * Phase stepping, for tests (tests/unit_concurrent.c): hold the workers,
 * start a cycle, scan one thread's stack, then let the cycle finish.
 * ------------------------------------------------------------------------- */
void gogc_test_start_held_cycle(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *self = gogc_thread_register_self();
  gogc_gc(TRIGGER_FORCED); /* make sure a previous cycle is over */
  gogc_sweep_finish();
  atomic_store_release(&rt->test_hold, 1);
  gogc_lock(&rt->gc_lock);
  start_threads_once();
  start_concurrent_cycle(TRIGGER_FORCED);
  pthread_mutex_unlock(&rt->gc_lock);
  (void)self;
}

void gogc_test_scan_thread(gogc_thread *t) {
  gogc_gcwork w;
  gogc_gcwork_init(&w);
  gogc_gcwork_scan_thread(&w, t);
  gogc_gcwork_release(&w);
}

void gogc_test_finish_held_cycle(void) {
  gogc_test_finish_held_cycle_unswept();
  gogc_sweep_finish();
}

/* Without the sweep (with rt->test_hold_sweep set, the spans stay
 * unswept until this thread sweeps or allocates). */
void gogc_test_finish_held_cycle_unswept(void) {
  gogc_runtime *rt = gogc_rt;
  uint32_t n = atomic_load_acquire(&rt->cycles);
  atomic_store_release(&rt->test_hold, 0);
  gogc_os_futex_wake(&rt->test_hold, INT_MAX);
  while (atomic_load_acquire(&rt->cycles) == n) gogc_os_futex_wait_ns(&rt->cycles, n, 1000000);
}

/* A forced collection that does not scan its own frames. The collector's
 * frames lie over the dead frames of the program's earlier, deeper calls
 * (allocations among them), and a slot they never write (padding, a spill
 * not reached) still holds what the dead frame left there; besides, the
 * collector itself handles span and object addresses as it works. A
 * conservative scan would take either for a root, and an object the
 * program has just dropped, gogc_collect() right after, could survive. So
 * the scan of this thread starts at the frame of this function (Go runs
 * the collector on a separate system stack for the same reason): the
 * caller's callee-saved registers are spilled in the frame above
 * (__builtin_unwind_init in the caller), its caller-saved ones are dead
 * across the call, and nothing below holds an object of the program
 * (event listeners, which may run here, must not keep any; see event.c). */
static GOGC_NOINLINE void collect_unscanned_below(gogc_thread *t, int kind) {
  atomic_store_relaxed(&t->roots_sp, (uintptr_t)__builtin_frame_address(0));
  gogc_gc(kind);
  atomic_store_relaxed(&t->roots_sp, 0);
}

GOGC_API GOGC_NOINLINE void gogc_collect(void) {
  gogc_thread *t;
  if (gogc_ensure_init() != 0 || (t = gogc_thread_register_self()) == NULL) return;
  __builtin_unwind_init(); /* spill the caller's registers in this frame */
  collect_unscanned_below(t, TRIGGER_FORCED);
  /* Go's runtime.GC also finishes the sweep before returning. */
  gogc_sweep_finish();
}

GOGC_API int gogc_set_percent(int percent) {
  if (gogc_ensure_init() != 0) return 100;
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->gc_lock);
  int old = rt->gc_percent;
  atomic_store_relaxed(&rt->gc_percent, percent < 0 ? -1 : percent);
  gogc_pacer_update();
  pthread_mutex_unlock(&rt->gc_lock);
  return old;
}

GOGC_API int64_t gogc_set_memory_limit(int64_t limit) {
  if (gogc_ensure_init() != 0) return INT64_MAX;
  gogc_runtime *rt = gogc_rt;
  if (limit < 0) return atomic_load_relaxed(&rt->mem_limit);
  gogc_lock(&rt->gc_lock);
  int64_t old = rt->mem_limit;
  atomic_store_relaxed(&rt->mem_limit, limit);
  gogc_pacer_update();
  pthread_mutex_unlock(&rt->gc_lock);
  /* A limit below what is held now: release free pages at once. */
  gogc_scavenge_for_limit();
  return old;
}

/* ---------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------- */

GOGC_API void gogc_read_memstats(gogc_memstats *ms) {
  if (ms == NULL) return;
  memset(ms, 0, sizeof *ms);
  if (gogc_ensure_init() != 0) return;
  gogc_runtime *rt = gogc_rt;
  if (gogc_thread_register_self() == NULL) return;
  gogc_lock(&rt->gc_lock);
  gogc_stop_the_world();
  uint64_t nmalloc[NUM_SIZE_CLASSES];
  for (int c = 0; c < NUM_SIZE_CLASSES; c++) nmalloc[c] = atomic_load_relaxed(&rt->small_nmalloc[c]);
  for (gogc_thread *t = rt->threads; t; t = t->next) {
    for (int c = 0; c < NUM_SIZE_CLASSES; c++) nmalloc[c] += t->local_nmalloc[c];
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
      gogc_span *s = t->alloc[i];
      if (s && s->nelems) nmalloc[spanclass_sizeclass(s->spanclass)] += s->alloc_count - s->alloc_count_at_cache;
    }
  }
  uint64_t large_allocs = atomic_load_relaxed(&rt->large_allocs);
  uint64_t large_frees = atomic_load_relaxed(&rt->large_frees);
  uint64_t large_free_bytes = atomic_load_relaxed(&rt->large_free_bytes);
  uint64_t alloc_bytes = 0, free_bytes = large_free_bytes;
  ms->mallocs = large_allocs;
  ms->frees = large_frees;
  ms->by_size[0].mallocs = large_allocs;
  ms->by_size[0].frees = large_frees;
  for (int c = 1; c < NUM_SIZE_CLASSES; c++) {
    uint64_t nf = atomic_load_relaxed(&rt->small_nfree[c]);
    ms->by_size[c].size = gogc_class_size[c];
    ms->by_size[c].mallocs = nmalloc[c];
    ms->by_size[c].frees = nf;
    ms->mallocs += nmalloc[c];
    ms->frees += nf;
    alloc_bytes += nmalloc[c] * gogc_class_size[c];
    free_bytes += nf * gogc_class_size[c];
  }
  uint64_t large_alloc_bytes = atomic_load_relaxed(&rt->large_alloc_bytes);
  alloc_bytes += large_alloc_bytes;
  ms->total_alloc = alloc_bytes;
  ms->heap_alloc = alloc_bytes - free_bytes;
  ms->heap_objects = ms->mallocs - ms->frees;
  ms->heap_sys = atomic_load_relaxed(&rt->heap_mapped);
  ms->heap_inuse = atomic_load_relaxed(&rt->pages_inuse) * PAGE_SIZE;
  ms->heap_idle = ms->heap_sys - ms->heap_inuse;
  gogc_heap_memory hm;
  gogc_heap_read_memory(&hm);
  ms->heap_released = hm.released;
  ms->heap_free = hm.free;
  ms->gc_sys = gogc_meta_bytes();
  ms->memory_held = hm.ready + ms->gc_sys;
  ms->memory_limit = atomic_load_relaxed(&rt->mem_limit);
  ms->heap_goal = atomic_load_relaxed(&rt->next_gc);
  ms->heap_live_goal_limit = gogc_pacer_limit_goal(&rt->pacer);
  ms->scavenged_total = atomic_load_relaxed(&rt->scav_released_total);
  ms->scav_bg_cpu_ns = atomic_load_relaxed(&rt->scav_bg_ns);
  ms->scav_assist_cpu_ns = atomic_load_relaxed(&rt->scav_assist_ns);
  ms->finalizers_queued = atomic_load_relaxed(&rt->fin_queued);
  ms->finalizers_run = atomic_load_relaxed(&rt->fin_run);
  ms->cleanups_queued = atomic_load_relaxed(&rt->cleanup_queued);
  ms->cleanups_run = atomic_load_relaxed(&rt->cleanup_run);
  ms->finalizers_pending = atomic_load_relaxed(&rt->fin_pending);
  ms->weak_live = atomic_load_relaxed(&rt->weak_live);
  ms->arenas_live = atomic_load_relaxed(&rt->arenas_live);
  ms->arena_bytes = atomic_load_relaxed(&rt->arena_bytes);
  ms->arena_chunks_quarantined = atomic_load_relaxed(&rt->arena_quarantined);
  ms->arena_chunks_ready = atomic_load_relaxed(&rt->arena_nready);
  gogc_lock(&rt->limiter_lock);
  ms->limiter_enabled = rt->limiter.enabled;
  ms->limiter_times_enabled = (uint32_t)rt->limiter.times_enabled;
  pthread_mutex_unlock(&rt->limiter_lock);
  ms->sys = ms->heap_sys + ms->gc_sys;
  ms->next_gc = atomic_load_relaxed(&rt->next_gc);
  ms->last_gc = rt->last_gc_unix;
  ms->pause_total_ns = rt->pause_total_ns;
  memcpy(ms->pause_ns, rt->pause_ns, sizeof ms->pause_ns);
  memcpy(ms->pause_end, rt->pause_end, sizeof ms->pause_end);
  ms->num_gc = (uint32_t)atomic_load_relaxed(&rt->num_gc);
  ms->num_forced_gc = (uint32_t)rt->num_forced_gc;
  uint64_t elapsed = gogc_os_nanotime() - rt->start_ns;
  ms->gc_cpu_fraction = elapsed ? (double)atomic_load_relaxed(&rt->gc_cpu_ns) / ((double)elapsed * rt->ncpu) : 0;
  ms->gc_percent = rt->gc_percent;
  ms->concurrent = rt->opt_gcstoptheworld == 0;
  ms->pause_max_ns = rt->max_stw_pause_ns;
  ms->stack_pause_max_ns = rt->max_stack_pause_ns;
  ms->mark_assists = atomic_load_relaxed(&rt->assists);
  gogc_start_the_world();
  pthread_mutex_unlock(&rt->gc_lock);
}
