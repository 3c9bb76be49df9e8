/* gogc: sweeping (Go's mgcsweep.go).
 *
 * After mark termination every span in use is "unswept" (the collector
 * added 2 to sweepgen with the world stopped). Sweeping a span turns its
 * mark bits into its allocation bits: marked objects stay, everything
 * else becomes a free slot, and a span with no marked object goes back to
 * the page heap. There is no per-object work: the swap is a pointer
 * exchange, the count a popcount per 64 slots.
 *
 * Four sweepers, all through gogc_sweep_span:
 *   - the background sweeper thread, started after each cycle;
 *   - lazy sweeping in mcentral's cache_span, when a thread needs a span
 *     of one class (it sweeps unswept spans of that class first);
 *   - gogc_ensure_swept, before an object is looked at or freed;
 *   - the collector, which finishes the sweep before a new cycle starts
 *     (and, under GODEBUG=gcstoptheworld=2, sweeps everything with the
 *     world stopped).
 *
 * Ownership: a sweeper takes a span off an unswept list under the
 * mcentral lock and stores sweepgen = h - 1 there, so exactly one sweeper
 * owns it; it publishes with a release store of h. sweepers_active counts
 * sweeps in flight so the collector can wait for the last one.
 */
#include "internal.h"

#include <sched.h>

/* Report a marked free slot: a pointer to a free object was followed, or
 * an allocation bit was lost. Both are collector bugs. */
static GOGC_COLD void report_zombie(gogc_span *s, uint32_t i) {
  gogc_fatal("sweep: marked free object %p in span %p (class %u, slot %u of %u)",
             (void *)(s->base + i * s->elemsize), (void *)s->base,
             spanclass_sizeclass(s->spanclass), i, s->nelems);
}

/* The slots before the first free one, from the new allocation bits: the
 * sweep starts freeindex there rather than at 0. Allocation would skip
 * them anyway, and markers test `slot < freeindex` before they read the
 * allocation bits (gogc_span_is_allocated): a pointer into a full span, or
 * into its allocated front, then costs no load of the bitmap, a cache miss
 * on most of a large heap's spans (the latency workload's live chains,
 * binary-trees' long-lived tree). Bits past nelems are never set. */
static uint32_t leading_allocated(const gogc_span *s) {
  uint32_t f = 0;
  for (uint32_t w = 0; w < s->bitwords; w++) {
    uint64_t b = s->allocbits[w];
    if (b != ~(uint64_t)0) {
      f += (uint32_t)__builtin_ctzll(~b);
      break;
    }
    f += 64;
  }
  return f < s->nelems ? f : s->nelems;
}

bool gogc_sweep_span(gogc_span *s, bool preserve) {
  gogc_runtime *rt = gogc_rt;
  uint32_t h = atomic_load_relaxed(&rt->sweepgen);
  gogc_assert(atomic_load_relaxed(&s->sweepgen) == h - 1);
  gogc_assert(s->list == LIST_NONE && s->cache_owner == NULL);
  uint32_t sc = spanclass_sizeclass(s->spanclass);
  gogc_mcentral *c = &rt->central[s->spanclass];
  atomic_add_relaxed(&rt->pages_swept, s->npages);
  /* Dead objects with finalizers are resurrected here, before the bits
   * are read; weak handles are cleared, finalizers and cleanups queued. */
  if (s->specials != NULL) gogc_specials_sweep(s);

  if (sc == 0) {
    bool marked = s->markbits[0] & 1, released = false;
    /* An arena chunk nothing points to: a freed one is unprotected first
     * (and stays quarantined if that fails), then usually kept for the
     * next arena. */
    if (!marked && s->arena_state != 0) {
      int r = gogc_arena_sweep_dead(s);
      if (r == 3) {
        atomic_add_relaxed(&rt->large_frees, 1);
        atomic_add_relaxed(&rt->large_free_bytes, (uint64_t)s->npages * PAGE_SIZE);
        atomic_store_release(&s->sweepgen, h);
        return false;
      }
      marked = r == 0;
      released = r == 2;
    }
    if (!marked) {
      atomic_add_relaxed(&rt->large_frees, 1);
      atomic_add_relaxed(&rt->large_free_bytes, (uint64_t)s->npages * PAGE_SIZE);
      atomic_store_release(&s->sweepgen, h);
      gogc_heap_free_span_ex(s, released);
      return false;
    }
    s->markbits[0] = 0;
    s->allocbits[0] = 1;
    atomic_store_release(&s->sweepgen, h);
    if (!preserve) {
      gogc_lock(&c->lock);
      gogc_central_push(c, s, true);
      pthread_mutex_unlock(&c->lock);
    }
    return true;
  }

  uint32_t nalloc = 0;
  for (uint32_t w = 0; w < s->bitwords; w++) nalloc += (uint32_t)__builtin_popcountll(s->markbits[w]);
  if (rt->opt_gcverify) {
    for (uint32_t i = 0; i < s->nelems; i++)
      if (gogc_bit_get(s->markbits, i) && !gogc_span_is_allocated(s, i)) report_zombie(s, i);
  }
  gogc_assert(nalloc <= s->alloc_count);
  uint32_t nfreed = s->alloc_count - nalloc;
  if (GOGC_MEM_CHECKED && nfreed) /* memory checkers: freed slots inaccessible */
    for (uint32_t i = 0; i < s->nelems; i++)
      if (!gogc_bit_get(s->markbits, i) && gogc_span_is_allocated(s, i))
        gogc_mem_poison(s->base + (uintptr_t)i * s->elemsize, s->elemsize);
  uint64_t *old = s->allocbits;
  atomic_store_relaxed(&s->allocbits, s->markbits);
  s->markbits = old;
  memset(old, 0, s->bitwords * sizeof(uint64_t));
  atomic_store_relaxed(&s->freeindex, leading_allocated(s));
  s->alloc_count = nalloc;
  gogc_span_refill_cache(s);
  if (nfreed) {
    s->needzero = 1;
    atomic_add_relaxed(&rt->small_nfree[sc], nfreed);
  }
  atomic_store_release(&s->sweepgen, h);
  if (nalloc == 0 && !preserve) {
    gogc_heap_free_span(s);
    return false;
  }
  if (!preserve) {
    gogc_lock(&c->lock);
    gogc_central_push(c, s, true);
    pthread_mutex_unlock(&c->lock);
  }
  return true;
}

/* Take one unswept span off a list of c. [central] */
static gogc_span *take_unswept(gogc_mcentral *c, uint32_t h) {
  int un = gogc_swept_index(h) ^ 1;
  gogc_span *s = c->partial[un];
  if (s == NULL) s = c->full[un];
  if (s == NULL) return NULL;
  gogc_central_unlink(c, s);
  atomic_store_relaxed(&s->sweepgen, h - 1);
  atomic_add_relaxed(&gogc_rt->sweepers_active, 1);
  return s;
}

/* Up to max unswept spans (one of a large class) of the first class in
 * sweep order that has any, into v, and their mcentral into *cp; how
 * many (0: nothing is left). The cursor sweep_central moves past classes
 * found empty. In a critical section. */
static uint32_t take_unswept_any(gogc_span **v, uint32_t max, gogc_mcentral **cp) {
  gogc_runtime *rt = gogc_rt;
  uint32_t h = atomic_load_relaxed(&rt->sweepgen);
  for (;;) {
    uint32_t i = atomic_load_relaxed(&rt->sweep_central);
    if (i >= NUM_SPAN_CLASSES) return 0;
    gogc_mcentral *c = &rt->central[i];
    /* Large spans one at a time: each is worth a lock round trip, and
     * sweeping a dead arena chunk can make system calls. */
    uint32_t lim = spanclass_sizeclass(i) == 0 ? 1 : max, n = 0;
    gogc_span *s;
    gogc_lock(&c->lock);
    while (n < lim && (s = take_unswept(c, h)) != NULL) v[n++] = s;
    pthread_mutex_unlock(&c->lock);
    if (n > 0) {
      *cp = c;
      return n;
    }
    __atomic_compare_exchange_n(&rt->sweep_central, &i, i + 1, false, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
  }
}

/* The background sweeper's step: up to SWEEP_BATCH unswept spans of one
 * class taken under one hold of its lock, swept, those that stay put back
 * under one more hold, the empty ones given to the page heap under one
 * hold of the heap lock. Sweeping a span at a time took and released the
 * class's lock twice a span, and the heap lock once an empty one, the
 * locks the allocating threads take at every refill: in binary-trees (one
 * class, most spans empty after a cycle) lock calls were half of the
 * sweeper's samples, and the program thread waited on them. The batch is
 * one critical section: no cycle starts while spans are off the lists,
 * and a STW waits at most for SWEEP_BATCH small spans or one large one. */
#define SWEEP_BATCH 8
static uint32_t sweep_some(uint32_t max) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  gogc_assert(t != NULL && max <= SWEEP_BATCH);
  gogc_critical_enter(t);
  gogc_span *taken[SWEEP_BATCH], *empty[SWEEP_BATCH];
  gogc_mcentral *c = NULL;
  uint32_t n = take_unswept_any(taken, max, &c), nkeep = 0, nempty = 0;
  for (uint32_t k = 0; k < n; k++) {
    gogc_span *s = taken[k];
    /* preserve: nothing put back or freed yet (a dead large object is) */
    if (!gogc_sweep_span(s, true)) continue;
    if (spanclass_sizeclass(s->spanclass) != 0 && s->alloc_count == 0) empty[nempty++] = s;
    else taken[nkeep++] = s; /* the ones that stay, compacted in place */
  }
  if (nempty) gogc_heap_free_spans(empty, nempty, false);
  if (nkeep) {
    gogc_lock(&c->lock);
    for (uint32_t k = 0; k < nkeep; k++) gogc_central_push(c, taken[k], true);
    pthread_mutex_unlock(&c->lock);
  }
  /* Only now: gogc_sweep_finish waits for these spans to be listed. */
  if (n) atomic_sub_relaxed(&rt->sweepers_active, n);
  gogc_critical_leave(t);
  return n;
}

uint32_t gogc_sweep_batch(void) { return sweep_some(SWEEP_BATCH); }

/* Sweep one span of any class. The caller is a registered thread: the
 * sweep is a critical section, so a cycle (which changes sweepgen with the
 * world stopped) can never fall between reading sweepgen and sweeping. */
bool gogc_sweep_one(void) { return sweep_some(1) != 0; }

/* Nothing is left to sweep this cycle (the first to see it says so). */
void gogc_sweep_set_done(void) {
  gogc_runtime *rt = gogc_rt;
  if (__atomic_exchange_n(&rt->sweep_done, 1, __ATOMIC_ACQ_REL) == 0)
    gogc_event_simple(GOGC_EVENT_SWEEP_DONE, (uint32_t)atomic_load_relaxed(&rt->num_gc), 0, 0);
}

/* Called by lazy sweepers that took a span through cache_span. */
void gogc_ensure_swept(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  uint32_t h = atomic_load_relaxed(&rt->sweepgen);
  uint32_t sg = atomic_load_acquire(&s->sweepgen);
  if (sg == h || sg == h + 3) return;
  if (atomic_load_relaxed(&s->state) != SPAN_INUSE) return;
  gogc_mcentral *c = &rt->central[s->spanclass];
  gogc_lock(&c->lock);
  if (atomic_load_relaxed(&s->sweepgen) == h - 2 && s->list != LIST_NONE) {
    gogc_central_unlink(c, s);
    atomic_store_relaxed(&s->sweepgen, h - 1);
    atomic_add_relaxed(&rt->sweepers_active, 1);
    pthread_mutex_unlock(&c->lock);
    gogc_sweep_span(s, false);
    atomic_sub_relaxed(&rt->sweepers_active, 1);
    return;
  }
  pthread_mutex_unlock(&c->lock);
  while (atomic_load_acquire(&s->sweepgen) == h - 1) sched_yield();
}

/* Proportional sweeping (Go's deductSweepCredit): an allocating thread
 * sweeps in proportion to what it allocated since the sweep began, so
 * that the sweep is done at 90% of the way to the next trigger and the
 * thread that starts the next cycle finds nothing left to sweep. The
 * caller is registered, outside critical sections. */
void gogc_sweep_proportional(bool all) {
  gogc_runtime *rt = gogc_rt;
  uint64_t basis = rt->sweep_live_basis;
  uint64_t trig = atomic_load_relaxed(&rt->trigger);
  uint64_t live = atomic_load_relaxed(&rt->heap_live);
  uint64_t total = rt->sweep_pages_total;
  if (total == 0 && !all) return;
  uint64_t target = total; /* no runway (the trigger at the live heap): all of it */
  if (!all && trig > basis + PAGE_SIZE) {
    double frac = live > basis ? (double)(live - basis) / (0.9 * (double)(trig - basis)) : 0;
    target = frac >= 1 ? total : (uint64_t)(frac * (double)total);
  }
  /* As much as the debt asks (Go's deductSweepCredit), at most
   * GOGC_MUTATOR_WORK_NS per call, so one refill never stalls its thread
   * for long. With a short runway (a tight memory limit: cycles back to
   * back) a fixed handful of spans per refill fell behind, and the thread
   * that started the next cycle spent up to 44 ms finishing the sweep.
   * all (the trigger waits for the sweep): until a sweep finds nothing
   * left, whatever pages_swept says. Only that sets sweep_done; stopping
   * at the page count, as the other calls do, left it unset once the
   * program's threads had swept every page, with the background sweeper
   * parked on busy cores, and each cycle started only at 110% of the goal
   * (binary-trees, 2 threads: 1881 refills a run found the sweep "not
   * done" with every page swept). */
  if (!all && atomic_load_relaxed(&rt->pages_swept) >= target) return;
  uint64_t t0 = gogc_os_nanotime();
  for (int n = 0; all || atomic_load_relaxed(&rt->pages_swept) < target; n++) {
    if (!gogc_sweep_one()) {
      gogc_sweep_set_done();
      break;
    }
    if ((n & 7) == 7 && gogc_os_nanotime() - t0 > GOGC_MUTATOR_WORK_NS) break;
  }
}

/* Sweep everything left and wait for sweeps in flight. Collector only,
 * before stopping the world (or with it stopped). */
void gogc_sweep_finish(void) {
  gogc_runtime *rt = gogc_rt;
  while (gogc_sweep_one()) {
  }
  while (atomic_load_acquire(&rt->sweepers_active) != 0) sched_yield();
  gogc_sweep_set_done();
}

/* ---------------------------------------------------------------------------
 * Background sweeper
 * ------------------------------------------------------------------------- */
/* Every core runs a registered thread besides this one (nrunning counts
 * the sweeper while it sweeps). */
static bool sweeper_cores_busy(void) {
  gogc_runtime *rt = gogc_rt;
  return atomic_load_relaxed(&rt->nrunning) > (uint32_t)rt->opt_procs;
}

/* Go's background sweeper runs only on an idle P (goschedIfBusy). Ours is
 * a thread at the program's priority: when every core was busy, the kernel
 * time-shared a core between it and a program thread, and the program's
 * two threads on a 2-core machine took turns on the other core a 4 ms tick
 * at a time, for the 100-250 ms each sweep of a 1 GiB heap took (the
 * latency workload's clusters of 4 ms gaps, one cluster per cycle). So
 * when the cores are busy the sweeper parks, like an idle mark worker,
 * until a thread enters a blocking section or 10 ms pass, and the
 * allocating threads sweep in proportion to what they allocate
 * (gogc_sweep_proportional, in steps of at most GOGC_MUTATOR_WORK_NS),
 * which finishes the sweep before the next cycle is due. Between waits it
 * still sweeps 16 spans, so a busy program that stopped allocating gets
 * its garbage swept too, slowly. */
static bool sweep_unfinished(void) { return !atomic_load_relaxed(&gogc_rt->sweep_done); }

static void sweeper_wait_for_core(void) {
  gogc_enter_blocking(); /* no longer counted in nrunning */
  gogc_wait_for_core(0, sweep_unfinished);
  gogc_leave_blocking();
}

static void *sweeper_main(void *arg) {
  gogc_runtime *rt = gogc_rt;
  uint32_t seen = 0;
  /* Registered like a mutator, so the world stops around its sweeps. */
  if (gogc_thread_register_helper() == NULL) gogc_fatal("cannot register the background sweeper");
  for (;;) {
    uint32_t seq;
    gogc_enter_blocking(); /* parked: no need to stop it */
    while ((seq = atomic_load_acquire(&rt->sweeper_seq)) == seen)
      gogc_os_futex_wait(&rt->sweeper_seq, seen);
    gogc_leave_blocking();
    seen = seq;
    while (atomic_load_acquire(&rt->test_hold_sweep)) { /* tests: leave spans unswept */
      gogc_enter_blocking();
      gogc_os_futex_wait_ns(&rt->test_hold_sweep, 1, 1000000);
      gogc_leave_blocking();
    }
    uint32_t n = 0, k;
    while ((k = gogc_sweep_batch()) > 0) {
      n += k;
      if (n >= 16) {
        n = 0;
        if (sweeper_cores_busy()) sweeper_wait_for_core();
      }
    }
    gogc_sweep_set_done(); /* a hint for the allocators */
    /* Arena chunks recycled by this sweep: made accessible and zeroed
     * here, beside the program, when their arenas were large (arena.c). */
    if (atomic_load_relaxed(&rt->arena_nready_prot) != 0) gogc_arena_unprotect_ready(gogc_self, true);
    /* The pages in use are exact now: new goals for the memory limit and
     * the scavenger. */
    gogc_pacer_update_try();
  }
  return NULL;
}

void gogc_sweeper_start(void) {
  gogc_start_helper(&gogc_rt->sweeper_tid, NULL, sweeper_main, NULL, "gogc-sweeper");
}

void gogc_sweeper_wake(void) {
  atomic_add_relaxed(&gogc_rt->sweeper_seq, 1);
  gogc_os_futex_wake(&gogc_rt->sweeper_seq, 1);
}
