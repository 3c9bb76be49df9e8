/* gogc: the collection cycle, pacing and statistics (Go's mgc.go).
 *
 * A cycle, today (marking with the world stopped, sweeping concurrent):
 *
 *  0. Trigger: an allocation that takes a new span (or a large object)
 *     sees heap_live >= next_gc; or gogc_collect. One cycle at a time
 *     (gc_lock); a thread that loses the race re-tests the trigger.
 *  1. Sweep termination (world running): finish the previous cycle's
 *     sweep, waiting for sweeps in flight, so every span is swept before
 *     marking; snapshot the data segments (dl_iterate_phdr takes the
 *     loader's lock, which a stopped thread might hold).
 *  2. Stop the world (stw.c). Root jobs: data shards, added ranges, every
 *     thread's stack from its saved stack pointer, saved registers.
 *  3. Mark (mark.c) with the collecting thread and GOMAXPROCS-1 marker
 *     threads until no grey object is left.
 *  4. Mark termination: return every thread's cached spans to their
 *     mcentrals (so no span is cached across the sweepgen change), verify
 *     the heap under GODEBUG=gcverify=1, add 2 to sweepgen (every span
 *     becomes unswept), reset heap_live to the marked bytes, compute the
 *     next goal. Restart the world.
 *  5. Sweep (sweep.c): the background sweeper and allocating threads.
 *
 * The concurrent collector will split step 3 out of the pause, keeping
 * these structures: the write barrier (gogc_store) is already called by
 * every program, allocate-black is in the allocator, spans follow Go's
 * sweepgen protocol and mark bits are separate from allocation bits.
 *
 * Pacing (Go's GOGC rule; the full pacer comes later):
 *   goal = marked + (marked + stacks + globals) * GOGC / 100
 *   goal = max(goal, 4 MiB * GOGC / 100); GOGC < 0: no goal.
 * The trigger is the goal: with the world stopped for marking, no
 * allocation happens while marking, so the heap never passes the goal.
 */
#include "internal.h"

#include <stdio.h>

GOGC_API volatile uint32_t gogc__wb_enabled;


/* ---------------------------------------------------------------------------
 * Pacing
 * ------------------------------------------------------------------------- */
void gogc_pacer_commit(void) {
  gogc_runtime *rt = gogc_rt;
  int pct = atomic_load_relaxed(&rt->gc_percent);
  uint64_t goal;
  if (pct < 0) {
    goal = UINT64_MAX;
  } else {
    uint64_t roots = rt->stacks_scan + rt->globals_scan;
    goal = rt->heap_marked + (rt->heap_marked + roots) * (uint64_t)pct / 100;
    uint64_t min = HEAP_MINIMUM * (uint64_t)pct / 100;
    if (goal < min) goal = min;
  }
  atomic_store_relaxed(&rt->next_gc, goal);
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
  uint64_t mark_cpu;
  int forced;
} cycle_trace;

static void print_trace(const cycle_trace *c) {
  gogc_runtime *rt = gogc_rt;
  char a[16], b[16], cc[16], d[16], e[16], f[16], g[16], h[16];
  uint64_t procs = (uint64_t)rt->opt_procs;
  fmt_ms(a, sizeof a, c->t_mark - c->start_ns);
  fmt_ms(b, sizeof b, c->t_markterm - c->t_mark);
  fmt_ms(cc, sizeof cc, c->t_end - c->t_markterm);
  fmt_ms(d, sizeof d, (c->t_mark - c->start_ns) * procs);
  fmt_ms(e, sizeof e, 0);
  fmt_ms(f, sizeof f, c->mark_cpu);
  fmt_ms(g, sizeof g, 0);
  fmt_ms(h, sizeof h, (c->t_end - c->t_markterm) * procs);
  uint64_t elapsed = gogc_os_nanotime() - rt->start_ns;
  double frac = elapsed ? (double)rt->gc_cpu_ns / ((double)elapsed * rt->ncpu) : 0;
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
}

/* ---------------------------------------------------------------------------
 * The cycle
 * ------------------------------------------------------------------------- */
static void start_threads_once(void) {
  static bool started;
  if (started) return;
  started = true;
  gogc_mark_init();
  gogc_sweeper_start();
}

/* Everything inside the pause. Not inlined: __builtin_unwind_init spills
 * the collector's own callee-saved registers into this frame, above the
 * stack pointer from which its stack is scanned. */
static GOGC_NOINLINE void stw_cycle(cycle_trace *c) {
  gogc_runtime *rt = gogc_rt;
  __builtin_unwind_init();
  volatile uintptr_t marker = 0;
  gogc_stop_the_world();
  atomic_store_relaxed(&rt->phase, PHASE_MARK);
  rt->nroots = 0;
  gogc_roots_prepare_static();
  gogc_roots_add_threads((uintptr_t)&marker);
  c->t_mark = gogc_os_nanotime();
  uint64_t cpu0 = gogc_os_thread_cputime();
  gogc_mark_run();
  c->mark_cpu = gogc_os_thread_cputime() - cpu0;
  atomic_add_relaxed(&rt->gc_cpu_ns, c->mark_cpu);
  c->t_markterm = gogc_os_nanotime();

  /* Mark termination. */
  atomic_store_relaxed(&rt->phase, PHASE_MARKTERM);
  c->heap1 = atomic_load_relaxed(&rt->heap_live);
  for (gogc_thread *t = rt->threads; t; t = t->next) gogc_mcache_flush(t);
  uint64_t marked = atomic_load_relaxed(&rt->bytes_marked);
  c->heap2 = marked;
  if (rt->opt_gcverify) gogc_heap_verify("after mark");
  rt->heap_marked = marked;
  atomic_store_relaxed(&rt->heap_live, marked);
  atomic_store_relaxed(&rt->sweep_central, 0);
  atomic_store_relaxed(&rt->sweep_done, 0);
  atomic_store_release(&rt->sweepgen, rt->sweepgen + 2);
  atomic_store_relaxed(&rt->phase, PHASE_OFF);
  if (rt->opt_gcstoptheworld >= 2) gogc_sweep_finish();
  gogc_pacer_commit();
  c->goal = atomic_load_relaxed(&rt->next_gc);

  c->t_end = gogc_os_nanotime();
  uint64_t pause = c->t_end - c->start_ns;
  uint64_t now_unix = gogc_os_walltime();
  rt->pause_ns[rt->num_gc % GOGC_PAUSE_RING] = pause;
  rt->pause_end[rt->num_gc % GOGC_PAUSE_RING] = now_unix;
  rt->pause_total_ns += pause;
  rt->last_gc_unix = now_unix;
  rt->num_gc++;
  if (c->forced) rt->num_forced_gc++;
  atomic_add_relaxed(&rt->cycles, 1);
  gogc_start_the_world();
  (void)marker;
}

static void run_cycle(int trigger) {
  gogc_runtime *rt = gogc_rt;
  cycle_trace c;
  memset(&c, 0, sizeof c);
  c.forced = trigger == TRIGGER_FORCED;
  start_threads_once();
  uint64_t cpu0 = gogc_os_thread_cputime();
  gogc_sweep_finish();
  gogc_roots_snapshot_data();
  c.heap0 = atomic_load_relaxed(&rt->heap_live);
  c.start_ns = gogc_os_nanotime();
  stw_cycle(&c);
  gogc_sweeper_wake();
  atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_thread_cputime() - cpu0 - c.mark_cpu);
  if (rt->opt_gctrace) print_trace(&c);
}

void gogc_gc(int trigger) {
  gogc_runtime *rt = gogc_rt;
  if (gogc_self == NULL) return;
  pthread_mutex_lock(&rt->gc_lock);
  if (trigger == TRIGGER_HEAP && !gogc_gc_should_trigger()) {
    pthread_mutex_unlock(&rt->gc_lock);
    return;
  }
  run_cycle(trigger);
  pthread_mutex_unlock(&rt->gc_lock);
}

GOGC_API void gogc_collect(void) {
  if (gogc_ensure_init() != 0 || gogc_thread_register_self() == NULL) return;
  gogc_gc(TRIGGER_FORCED);
  /* Go's runtime.GC also finishes the sweep before returning. */
  gogc_sweep_finish();
}

GOGC_API int gogc_set_percent(int percent) {
  if (gogc_ensure_init() != 0) return 100;
  gogc_runtime *rt = gogc_rt;
  pthread_mutex_lock(&rt->gc_lock);
  int old = rt->gc_percent;
  atomic_store_relaxed(&rt->gc_percent, percent < 0 ? -1 : percent);
  gogc_pacer_commit();
  pthread_mutex_unlock(&rt->gc_lock);
  return old;
}

/* ---------------------------------------------------------------------------
 * Write barrier. In this version marking happens with the world stopped,
 * so gogc__wb_enabled is never set and the barrier only stores; the
 * concurrent collector turns it on (and this slow path shades the old and
 * the new value into the thread's write-barrier buffer).
 * ------------------------------------------------------------------------- */
GOGC_API void gogc__store_slow(void **slot, void *value) {
  atomic_store_relaxed(slot, value);
}

GOGC_API void *gogc_memmove(void *dst, const void *src, size_t n) {
  return memmove(dst, src, n);
}

/* ---------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------- */
uint64_t gogc_meta_bytes(void);

GOGC_API void gogc_read_memstats(gogc_memstats *ms) {
  if (ms == NULL) return;
  memset(ms, 0, sizeof *ms);
  if (gogc_ensure_init() != 0) return;
  gogc_runtime *rt = gogc_rt;
  if (gogc_thread_register_self() == NULL) return;
  pthread_mutex_lock(&rt->gc_lock);
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
  ms->heap_inuse = rt->pages_inuse * PAGE_SIZE;
  ms->heap_idle = ms->heap_sys - ms->heap_inuse;
  ms->heap_released = 0;
  ms->gc_sys = gogc_meta_bytes() + atomic_load_relaxed(&rt->metadata_bytes);
  ms->sys = ms->heap_sys + ms->gc_sys;
  ms->next_gc = atomic_load_relaxed(&rt->next_gc);
  ms->last_gc = rt->last_gc_unix;
  ms->pause_total_ns = rt->pause_total_ns;
  memcpy(ms->pause_ns, rt->pause_ns, sizeof ms->pause_ns);
  memcpy(ms->pause_end, rt->pause_end, sizeof ms->pause_end);
  ms->num_gc = (uint32_t)rt->num_gc;
  ms->num_forced_gc = (uint32_t)rt->num_forced_gc;
  uint64_t elapsed = gogc_os_nanotime() - rt->start_ns;
  ms->gc_cpu_fraction = elapsed ? (double)rt->gc_cpu_ns / ((double)elapsed * rt->ncpu) : 0;
  ms->gc_percent = rt->gc_percent;
  gogc_start_the_world();
  pthread_mutex_unlock(&rt->gc_lock);
}
