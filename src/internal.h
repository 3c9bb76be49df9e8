/* gogc: internal functions shared between files, grouped by the file that
 * defines them, plus atomics, assertions and small inline helpers.
 * Internal names start with gogc_ and are hidden by -fvisibility=hidden;
 * file-local helpers are static.
 */
#ifndef GOGC_INTERNAL_H
#define GOGC_INTERNAL_H

#include "types.h"
#include "os/os.h"

#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define GOGC_NOINLINE __attribute__((noinline))
#define GOGC_COLD __attribute__((cold, noinline))

#if defined(__SANITIZE_ADDRESS__)
#define GOGC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOGC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GOGC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOGC_TSAN 1
#endif
#endif

/* The scanner reads memory it does not own (other objects, stacks, free
 * slots) by design; keep sanitizers out of it. Only the few scanning
 * functions carry this attribute. */
#define GOGC_NO_SANITIZE \
  __attribute__((no_sanitize("address", "thread"))) __attribute__((noinline))
/* A piece of those functions, inlined into them (same attributes). */
#define GOGC_NO_SANITIZE_INLINE \
  __attribute__((no_sanitize("address", "thread"))) __attribute__((always_inline)) inline

/* ---------------------------------------------------------------------------
 * What memory checkers see (AddressSanitizer builds; valgrind memcheck with
 * -DGOGC_VALGRIND=ON): free slots and free pages are inaccessible, an
 * object is accessible from its allocation until the sweep (or gogc_free)
 * frees it. A program that reads an object the collector freed, the sign
 * of a lost object, is stopped at the read. Poisoned at span creation and
 * on free; unpoisoned by allocation, before the slot is zeroed.
 * ------------------------------------------------------------------------- */
#if defined(GOGC_ASAN)
#include <sanitizer/asan_interface.h>
#define gogc_mem_poison(p, n) __asan_poison_memory_region((const void *)(p), (size_t)(n))
#define gogc_mem_unpoison(p, n) __asan_unpoison_memory_region((const void *)(p), (size_t)(n))
#define GOGC_MEM_CHECKED 1
#elif defined(GOGC_VALGRIND) && GOGC_VALGRIND
#include <valgrind/memcheck.h>
#define gogc_mem_poison(p, n) ((void)VALGRIND_MAKE_MEM_NOACCESS((p), (n)))
#define gogc_mem_unpoison(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define GOGC_MEM_CHECKED 1
/* The scanner reads uninitialised stack words on purpose: what it makes
 * of one (a mark bit) must not count as uninitialised to memcheck. */
#define gogc_mem_launder(v) ((void)VALGRIND_MAKE_MEM_DEFINED(&(v), sizeof(v)))
#else
#define gogc_mem_poison(p, n) ((void)0)
#define gogc_mem_unpoison(p, n) ((void)0)
#define GOGC_MEM_CHECKED 0
#endif
#ifndef gogc_mem_launder
#define gogc_mem_launder(v) ((void)0)
#endif

/* The longest one piece of collector work (a mark assist, a slice of
 * proportional sweeping) may hold the allocating thread that pays for it.
 * Debt left over is paid at the thread's next span refill; a thread whose
 * debt keeps growing assists longer (ASSIST_BACKLOG, mgc.c), and assists
 * under a memory limit may run 0.1 ms. On the latency workload (1 GiB
 * live, 2 threads on 2 cores): 0.1 ms here and 0.1 ms worker slices gave
 * a p99.9 gap of about 150 us, 30 us about 85 us, 10 us (with the
 * background worker standing aside, mgc.c) about 63 us. */
#define GOGC_MUTATOR_WORK_NS 10000

/* ---------------------------------------------------------------------------
 * The barrier flag (gogc.h's inline gogc_store takes its slow path when it
 * is not 0): WB_MARKING while the collector marks (the barrier shades),
 * WB_CHECK for good under GODEBUG=invalidptr=1 (every store is checked).
 * Written with the world stopped (or at start-up).
 * ------------------------------------------------------------------------- */
#define WB_MARKING 1u
#define WB_CHECK 2u
#define WB_GREY_STACKS 4u /* with WB_MARKING: some thread's stack is grey (rt->grey_stacks > 0) */
#define gogc_wb_marking() (__atomic_load_n(&gogc__wb_enabled, __ATOMIC_RELAXED) & WB_MARKING)

/* ---------------------------------------------------------------------------
 * Atomics, named by memory order (GNU builtins).
 * ------------------------------------------------------------------------- */
#define atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define atomic_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define atomic_load_seqcst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define atomic_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define atomic_store_seqcst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define atomic_add_relaxed(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define atomic_sub_relaxed(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_RELAXED)
#define atomic_add_acq_rel(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define atomic_or_relaxed(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define atomic_and_relaxed(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
#define atomic_add_seqcst(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define atomic_sub_seqcst(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)
#define atomic_exchange_acq_rel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define atomic_exchange_seqcst(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define atomic_signal_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#define atomic_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)

/* ---------------------------------------------------------------------------
 * Assertions, graded (GOGC_DEBUG): gogc_assert at >= 1, gogc_assert_internal
 * at >= 2, gogc_assert_expensive at >= 3.
 * ------------------------------------------------------------------------- */
GOGC_COLD void gogc_assert_fail(const char *expr, const char *file, int line);
#define gogc_check(x) \
  ((void)(likely(x) ? 0 : (gogc_assert_fail(#x, __FILE__, __LINE__), 0)))
#if GOGC_DEBUG >= 1
#define gogc_assert(x) gogc_check(x)
#else
#define gogc_assert(x) ((void)0)
#endif
#if GOGC_DEBUG >= 2
#define gogc_assert_internal(x) gogc_check(x)
#else
#define gogc_assert_internal(x) ((void)0)
#endif
#if GOGC_DEBUG >= 3
#define gogc_assert_expensive(x) gogc_check(x)
#else
#define gogc_assert_expensive(x) ((void)0)
#endif

/* The one runtime instance (types.h). */
extern gogc_runtime *gogc_rt;
extern __thread gogc_thread *gogc_self;

/* ---------------------------------------------------------------------------
 * init.c
 * ------------------------------------------------------------------------- */
int gogc_ensure_init(void);
GOGC_COLD void gogc_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void gogc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Metadata from the OS, never freed except through gogc_meta_free. */
void *gogc_meta_alloc(size_t size);
/* For a cycle in progress: falls back on the reserve, fatal only when
 * that is spent too. `what` names the use in the message. */
void *gogc_meta_alloc_critical(size_t size, const char *what);
void gogc_meta_reserve_refill(void);
bool gogc_oom_retry(size_t size); /* ask the user's handler; false: ENOMEM */

/* ---------------------------------------------------------------------------
 * sizeclass.c
 * ------------------------------------------------------------------------- */
extern uint32_t gogc_class_size[NUM_SIZE_CLASSES];
extern uint8_t gogc_class_npages[NUM_SIZE_CLASSES];
extern uint32_t gogc_class_divmagic[NUM_SIZE_CLASSES];
void gogc_sizeclass_init(void);
static inline uint32_t gogc_size_to_class(size_t size);

/* ---------------------------------------------------------------------------
 * pagealloc.c: address-ordered first fit over a page bitmap, with the
 * longest free run of each 512-page chunk as a summary. [heap] lock held.
 * ------------------------------------------------------------------------- */
/* Page index (a multiple of align, a power of two) or UINTPTR_MAX;
 * *dirty: pages of the run not scavenged. */
uintptr_t gogc_pages_alloc(uintptr_t npages, uintptr_t align, uintptr_t *dirty);
/* Which chunks the scavenger may release pages from. */
enum {
  SCAV_SPARSE = 0, /* under 31/32 in use now, and in this cycle and the last (background) */
  SCAV_NOT_FULL,   /* under 31/32 in use now (background, over the memory limit's goal) */
  SCAV_ANY         /* every free page (gogc_free_os_memory, an allocation over the limit) */
};
uintptr_t gogc_pages_find_scavengable(uintptr_t below, uintptr_t max_pages, int which,
                                      uintptr_t *n);
void gogc_pages_scavenge_begin(uintptr_t page, uintptr_t n);
void gogc_pages_scavenge_end(uintptr_t page, uintptr_t n, bool released);
void gogc_pages_free(uintptr_t page, uintptr_t npages);
void gogc_pages_grow(uintptr_t first_page, uintptr_t npages);
bool gogc_pages_is_valid(void);

/* ---------------------------------------------------------------------------
 * mheap.c
 * ------------------------------------------------------------------------- */
int gogc_heap_init(void);
gogc_span *gogc_heap_alloc_span(uintptr_t npages, uintptr_t align, uint16_t spanclass,
                                uintptr_t elemsize, uint32_t nelems);
void gogc_heap_free_span(gogc_span *s);
void gogc_heap_free_span_ex(gogc_span *s, bool released);
void gogc_heap_free_spans(gogc_span **v, size_t n, bool released); /* one lock hold */
void gogc_heap_read_memory(gogc_heap_memory *m);
void gogc_heap_lock(void);   /* registered callers: inside a critical section */
void gogc_heap_unlock(void);

/* ---------------------------------------------------------------------------
 * fixalloc.c ([heap] lock held unless noted)
 * ------------------------------------------------------------------------- */
void *gogc_fix_alloc(gogc_fixpool *pool, uint32_t size); /* zeroed; NULL: no memory */
void gogc_fix_free(gogc_fixpool *pool, void *p, uint32_t size);
uint64_t gogc_fix_release(gogc_fixpool *pool, bool all, uint64_t max_bytes); /* scav_lock held; takes [heap] */
bool gogc_fixpool_is_valid(const gogc_fixpool *pool);

/* ---------------------------------------------------------------------------
 * scavenge.c
 * ------------------------------------------------------------------------- */
uint64_t gogc_scavenge(uint64_t bytes, int which); /* SCAV_*; bytes released */
uint64_t gogc_scavenge_locked(uint64_t bytes, int which); /* scav_lock held */
void gogc_scavenge_for_limit(void);                 /* after pages were faulted in */
enum { PACE_OTHER = 0, PACE_CYCLE_END, PACE_SWEEP_END };
void gogc_scavenger_pace(int when);                 /* gc_lock held */
void gogc_scavenger_kick(void);                     /* after gogc_scavenger_pace(PACE_CYCLE_END) */
void gogc_scavenger_start(void);
void gogc_scavenger_trace(void);                    /* GODEBUG=scavtrace=1 */
uint64_t gogc_memory_held(void);
uint64_t gogc_meta_bytes(void);
uint64_t *gogc_bits_alloc(uint32_t words); /* zeroed; [heap] lock held */
void gogc_bits_free(uint64_t *bits, uint32_t words);

/* ---------------------------------------------------------------------------
 * mcentral.c
 * ------------------------------------------------------------------------- */
void gogc_central_init(gogc_mcentral *c, uint16_t spanclass);
gogc_span *gogc_central_cache_span(gogc_mcentral *c, gogc_thread *t, gogc_span *old);
void gogc_central_uncache_span(gogc_mcentral *c, gogc_span *s);
void gogc_central_push(gogc_mcentral *c, gogc_span *s, bool swept);
void gogc_central_unlink(gogc_mcentral *c, gogc_span *s);
static inline int gogc_swept_index(uint32_t sg) { return (sg >> 1) & 1; }

/* ---------------------------------------------------------------------------
 * alloc.c (mcache and the allocation entry points)
 * ------------------------------------------------------------------------- */
void gogc_mcache_init(gogc_thread *t);
void gogc_mcache_flush(gogc_thread *t); /* world stopped or owner */
void gogc_span_refill_cache(gogc_span *s);
uint32_t gogc_span_next_free(gogc_span *s);
void gogc_mark_new_object(gogc_span *s, uint32_t idx);
/* The span and slot of the live object p points into, or NULL; sweeps the
 * span first. The caller is inside a critical section. */
gogc_span *gogc_object_find(uintptr_t p, uint32_t *idx_out, uintptr_t *base_out);
bool gogc_ptr_is_invalid(uintptr_t p);                                /* barrier.c */
void gogc_check_ptr(const char *fn, const char *what, const void *p); /* barrier.c */
void gogc_hide_range(uintptr_t lo, uintptr_t hi, void (*hide)(void *), void *arg); /* barrier.c */
void *gogc_alloc_arena_chunk(void); /* a zeroed chunk, already an arena chunk (arena.c) */

/* ---------------------------------------------------------------------------
 * sweep.c
 * ------------------------------------------------------------------------- */
/* Sweep s, which the caller acquired (sweepgen == h - 1, off every list).
 * preserve: the caller keeps it (returns true if it still exists). */
bool gogc_sweep_span(gogc_span *s, bool preserve);
bool gogc_sweep_one(void); /* false when nothing is left to sweep */
uint32_t gogc_sweep_batch(void); /* spans swept; 0 when nothing is left */
void gogc_sweep_finish(void);
void gogc_sweep_set_done(void); /* the first to find nothing left: SWEEP_DONE */
void gogc_sweep_proportional(bool all); /* a slice of sweep debt (all: of the rest) */
void gogc_ensure_swept(gogc_span *s);
void gogc_sweeper_start(void);
void gogc_sweeper_wake(void);

/* ---------------------------------------------------------------------------
 * mark.c
 * ------------------------------------------------------------------------- */
void gogc_mark_init(void);
void gogc_mark_run(void); /* world stopped: parallel mark to completion */
GOGC_NO_SANITIZE void gogc_scan_range(gogc_gcwork *w, uintptr_t lo, uintptr_t hi);
void gogc_clear_dead_stack(void); /* zero a few KiB below the caller's frame */
void gogc_gcwork_flush(gogc_gcwork *w);
void gogc_gcwork_init(gogc_gcwork *w);
void gogc_gcwork_publish(gogc_gcwork *w);  /* local work to the global list */
void gogc_gcwork_release(gogc_gcwork *w);  /* publish and give the buffers back */
bool gogc_gcwork_empty(const gogc_gcwork *w);
gogc_gcwork *gogc_thread_gcw(gogc_thread *t);
void gogc_roots_push_thread(gogc_thread *t);
/* Concurrent mark: drain until no work (false) or budget/deadline (true). */
bool gogc_mark_drain_concurrent(gogc_gcwork *w, uint64_t budget, uint64_t deadline);
bool gogc_mark_work_available(void);
void gogc_mark_close(void); /* world stopped, mark complete: no more concurrent draining */
void gogc_mark_shade_range(gogc_thread *t, uintptr_t lo, uintptr_t hi);
void gogc_wb_drain(gogc_thread *t, gogc_gcwork *w); /* t stopped or the caller */
void gogc_wb_flush(gogc_thread *t);                 /* owner, in a critical section */
void gogc_idle_workers_start(void);
void gogc_idle_wake(void); /* a registered thread entered a blocking section while helpers waited */
void gogc_wait_for_core(uint32_t index, bool (*wanted)(void)); /* helpers that use free cores */
void gogc_gcwork_scan_thread(gogc_gcwork *w, gogc_thread *t); /* scan t's stack now */
void gogc_mark_scan_self(gogc_thread *t); /* the caller's stack, while marking */
void gogc_mark_shade_word(gogc_gcwork *w, uintptr_t v);       /* a root word */
void gogc_mark_scan_unmarked(gogc_gcwork *w, uintptr_t obj);  /* contents only */

/* ---------------------------------------------------------------------------
 * special.c (finalizers, cleanups, weak handles, the finalizer queue)
 * ------------------------------------------------------------------------- */
void gogc_specials_init(void);
void gogc_specials_scan(gogc_gcwork *w);  /* the ROOT_SPECIALS job */
bool gogc_specials_any(void);             /* is there anything for that job */
void gogc_specials_sweep(gogc_span *s);   /* the sweeper owns s, before its bitmap swap */
bool gogc_specials_has(gogc_span *s, uintptr_t offset); /* the object has any */
bool gogc_specials_is_valid(const gogc_span *s);         /* world stopped */
void gogc_specials_fork_prepare(void);    /* world stopped */
void gogc_specials_fork_release(bool child);

/* ---------------------------------------------------------------------------
 * barrier.c
 * ------------------------------------------------------------------------- */
void gogc_barrier_restart(void *uctx); /* signal handler: restart an inline barrier */
void gogc_stack_blacken(gogc_thread *t); /* threads_lock held: t's stack is scanned (or t leaves) */

/* ---------------------------------------------------------------------------
 * stw.c (threads, signals, stopping the world)
 * ------------------------------------------------------------------------- */
int gogc_threads_init(void);
gogc_thread *gogc_thread_register_self(void);
gogc_thread *gogc_thread_register_helper(void);
void gogc_stop_the_world(void);
void gogc_start_the_world(void);
GOGC_COLD void gogc_suspend_self(gogc_thread *t);
static inline void gogc_cpu_relax(void) { /* in spin loops */
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#else
  atomic_signal_fence();
#endif
}
/* Take a library lock. A registered thread waiting for a lock must still
 * be stoppable: the suspend signal interrupts the wait. ThreadSanitizer
 * holds that signal back while the thread waits inside pthread_mutex_lock,
 * so under TSan the wait is a trylock loop around short sleeps, where TSan
 * delivers it (stw.c). */
#if defined(GOGC_TSAN)
void gogc_tsan_lock(pthread_mutex_t *m);
#define gogc_lock(m) gogc_tsan_lock(m)
#else
void gogc_lock_contended(pthread_mutex_t *m);
static inline void gogc_lock(pthread_mutex_t *m) {
  if (likely(pthread_mutex_trylock(m) == 0)) return;
  gogc_lock_contended(m);
}
#endif
/* Stop one thread (threads_lock held, never the caller), read where its
 * stack starts, let it go. */
bool gogc_thread_suspend(gogc_thread *t);
void gogc_thread_stopped_stack(gogc_thread *t, uintptr_t *sp, const uintptr_t **regs,
                               uint32_t *nregs);
void gogc_thread_resume(gogc_thread *t);
/* Where a scan of t's stack starts, given the stack pointer t was found
 * at. Inside gogc_collect the frames below its entry (roots_sp) are the
 * collector's and neither they nor the registers hold roots: the
 * program's callee-saved registers are spilled above roots_sp. */
static inline uintptr_t gogc_thread_roots_lo(const gogc_thread *t, uintptr_t sp,
                                             uint32_t *nregs) {
  uintptr_t r = atomic_load_relaxed(&t->roots_sp);
  if (r > sp && r <= t->stack_hi) {
    *nregs = 0;
    return r;
  }
  return sp;
}
/* Leave an allocator critical section, suspending if a stop was requested. */
static inline void gogc_critical_enter(gogc_thread *t) {
  t->in_critical++;
  atomic_signal_fence();
}
/* Should t, just out of its last critical section, stop itself now? The
 * handler said so (suspend_pending). Under ThreadSanitizer, which holds a
 * signal back until the thread's next intercepted call, leaving a section
 * is also a safepoint: a thread asked to stop stops here, signal or not. */
#if defined(GOGC_TSAN)
#define gogc_stop_due(t)                                                               \
  (unlikely((t)->suspend_pending) || unlikely(atomic_load_relaxed(&(t)->ack_wanted)) || \
   unlikely(atomic_load_relaxed(&(t)->suspend_req)))
#else
#define gogc_stop_due(t) unlikely(atomic_load_relaxed(&(t)->suspend_pending))
#endif
static inline void gogc_critical_leave(gogc_thread *t) {
  atomic_signal_fence();
  t->in_critical--;
  atomic_signal_fence();
  if (gogc_stop_due(t) && t->in_critical == 0) gogc_suspend_self(t);
}
int gogc_real_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                             void *(*fn)(void *), void *arg);
/* A collector thread: the program's signals blocked in it (stw.c). */
int gogc_start_helper(pthread_t *tid, const pthread_attr_t *attr, void *(*fn)(void *),
                      void *arg, const char *name);

/* Does t's barrier need the insertion half (its stack is not yet scanned
 * in this cycle: barrier.c)? Written by the scan while t is stopped, or by
 * t itself; read by t inside a critical section. */
static inline bool gogc_wb_insertion(const gogc_thread *t) {
  return atomic_load_relaxed(&t->stack_grey) != 0;
}

/* Append v to t's barrier buffer if it may point into the heap. Inside a
 * critical section, with the barrier on. */
static inline void gogc_wb_put(gogc_thread *t, uintptr_t v) {
  gogc_runtime *rt = gogc_rt;
  if (v - rt->heap_base >= atomic_load_relaxed(&rt->heap_mapped)) return;
  if (unlikely(t->wb_n == WB_ENTRIES)) gogc_wb_flush(t);
  t->wb[t->wb_n++] = v;
}

/* ---------------------------------------------------------------------------
 * event.c
 * ------------------------------------------------------------------------- */
extern uint32_t gogc__events_on; /* a listener or the trace is on */
void gogc_events_init(void);
void gogc_events_fork_child(void);
void gogc_event_emit(gogc_event *e); /* fills the heap figures (and time, cycle when 0) */
static inline bool gogc_events_on(void) { return atomic_load_relaxed(&gogc__events_on) != 0; }
/* An event of one kind, with the world running. */
static inline void gogc_event_simple(gogc_event_kind kind, uint32_t cycle, uint64_t duration,
                                     uint32_t detail) {
  if (!gogc_events_on()) return;
  gogc_event e = {0};
  e.kind = kind;
  e.cycle = cycle;
  e.duration_ns = duration;
  e.detail = detail;
  gogc_event_emit(&e);
}

/* ---------------------------------------------------------------------------
 * arena.c
 * ------------------------------------------------------------------------- */
/* An unmarked chunk: 0 keep it, 1 free it, 2 free it, its memory returned,
 * 3 the arena took it back (it is on no list now). */
int gogc_arena_sweep_dead(gogc_span *s);
gogc_span *gogc_arena_ready_pop(void); /* a recycled chunk, or NULL; in a critical section */
void gogc_arena_reset_recycled(gogc_span *s); /* after ready_pop, outside critical sections */
void gogc_arena_chunk_zero(gogc_span *s); /* nothing resident, all zero (fresh or decommitted) */
void gogc_arena_chunk_fit(gogc_span *s); /* huge or small pages, as new arenas want now */
void gogc_arena_unprotect_ready(gogc_thread *t, bool bg); /* outside critical sections */
void gogc_arenas_init(void);

/* ---------------------------------------------------------------------------
 * pool.c
 * ------------------------------------------------------------------------- */
void gogc_pools_init(void);
void gogc_pools_cleanup(void);       /* world stopped, at a cycle's start */
void gogc_pools_push_roots(void);    /* world stopped: the registries */
uint32_t gogc_pool_index_alloc(void); /* threads_lock */
void gogc_pool_index_free(uint32_t idx);

/* ---------------------------------------------------------------------------
 * roots.c
 * ------------------------------------------------------------------------- */
void gogc_roots_snapshot_data(void); /* before the world stops */
void gogc_roots_add_threads(uintptr_t self_sp); /* world stopped */
void gogc_roots_add_threads_concurrent(void);  /* world stopped: one job per thread */
void gogc_roots_add_threads_checkmark(void);   /* world stopped: checkable stack parts */
void gogc_roots_prepare_static(void);         /* world stopped */
void gogc_roots_push_range(uintptr_t lo, uintptr_t hi, uint32_t kind);
void gogc_roots_push_stack(uintptr_t lo, uintptr_t hi, const uintptr_t *regs, uint32_t nregs);

/* ---------------------------------------------------------------------------
 * mgc.c (the cycle, pacing, statistics)
 * ------------------------------------------------------------------------- */
enum { TRIGGER_HEAP = 0, TRIGGER_FORCED = 1, TRIGGER_ARENA = 2 /* freed chunks to recycle */ };
void gogc_gc(int trigger);
void gogc_pacer_update(void);       /* gc_lock held: inputs from rt, publish outputs */
bool gogc_parse_byte_count(const char *s, int64_t *out); /* options.c */
void gogc_pacer_update_try(void);   /* takes gc_lock if free (after a sweep) */
void gogc_limiter_poll(void);       /* cheap; updates at most every 10 ms */
static inline bool gogc_limiter_on(void) { return atomic_load_relaxed(&gogc_rt->limiter_on) != 0; }
void gogc_assist(gogc_thread *t);
void gogc_alloc_gc_work(gogc_thread *t); /* after an allocation's critical section */
/* Phase stepping for tests: a cycle whose marking waits for finish. */
void gogc_test_start_held_cycle(void);
void gogc_test_scan_thread(gogc_thread *t);
void gogc_test_finish_held_cycle(void);
void gogc_test_finish_held_cycle_unswept(void);
static inline bool gogc_gc_should_trigger(void) {
  return atomic_load_relaxed(&gogc_rt->heap_live) >= atomic_load_relaxed(&gogc_rt->trigger);
}

/* ---------------------------------------------------------------------------
 * pacer.c (pure functions; see the essay there)
 * ------------------------------------------------------------------------- */
void gogc_pacer_init(gogc_pacer *p, int gc_percent, int64_t mem_limit, int procs);
void gogc_pacer_commit(gogc_pacer *p, bool concurrent);
uint64_t gogc_pacer_limit_goal(const gogc_pacer *p);
void gogc_pacer_end_cycle(gogc_pacer *p, const gogc_mark_stats *m);
double gogc_pacer_assist_ratio(const gogc_pacer *p, uint64_t heap_live, uint64_t triggered,
                               uint64_t work_done, uint64_t heap_scan_max);
void gogc_limiter_init(gogc_limiter *l, int procs, uint64_t now);
bool gogc_limiter_update(gogc_limiter *l, uint64_t now, uint64_t gc, uint64_t idle,
                         uint64_t total);

/* ---------------------------------------------------------------------------
 * fork.c
 * ------------------------------------------------------------------------- */
void gogc_fork_init(void);               /* pthread_atfork handlers */
void gogc_fork_child_threads(void);      /* stw.c: drop the threads fork left behind */
void gogc_meta_lock(void);               /* init.c */
void gogc_meta_unlock(void);

/* ---------------------------------------------------------------------------
 * checkmark.c
 * ------------------------------------------------------------------------- */
void gogc_checkmark(void); /* world stopped, mark complete: abort on a miss */

/* ---------------------------------------------------------------------------
 * options.c
 * ------------------------------------------------------------------------- */
void gogc_options_init(void);
void gogc_options_fault_init(void);
extern uint32_t gogc__stress; /* alloc.c: GODEBUG=gcstress or gcstressslow is on */

/* ---------------------------------------------------------------------------
 * verify.c
 * ------------------------------------------------------------------------- */
void gogc_heap_verify(const char *when); /* world stopped; aborts on error */
bool gogc_span_is_valid(const gogc_span *s);

/* ---------------------------------------------------------------------------
 * Inline helpers
 * ------------------------------------------------------------------------- */
extern uint8_t gogc_size_to_class8[1024 / 8 + 1];
extern uint8_t gogc_size_to_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];

static inline uint32_t gogc_size_to_class(size_t size) {
  if (size <= 1024) return gogc_size_to_class8[(size + 7) >> 3];
  return gogc_size_to_class128[(size - 1024 + 127) >> 7];
}

/* The span holding address p, or NULL when p is outside the mapped heap. */
static inline gogc_span *gogc_span_of(uintptr_t p) {
  uintptr_t off = p - gogc_rt->heap_base;
  if (off >= atomic_load_relaxed(&gogc_rt->heap_mapped)) return NULL;
  return atomic_load_acquire(&gogc_rt->spans[off >> PAGE_SHIFT]);
}

static inline uint32_t gogc_span_obj_index(const gogc_span *s, uintptr_t p) {
  return (uint32_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
}

static inline bool gogc_bit_get(const uint64_t *bits, uint32_t i) {
  return (bits[i >> 6] >> (i & 63)) & 1;
}
/* A bit of a bitmap whose owner may be writing other bits of the same word
 * (allocation and heap bits read by markers, gogc_base, gogc_realloc of
 * another thread's object): a relaxed atomic load, a plain load on x86. */
static inline bool gogc_bit_get_shared(const uint64_t *bits, uint32_t i) {
  return (atomic_load_relaxed(&bits[i >> 6]) >> (i & 63)) & 1;
}
/* Set or clear a bit: the owner's plain read, then a relaxed atomic store
 * of the word, so that readers of the other bits (gogc_bit_get_shared)
 * never race with it. Not a read-modify-write: one writer at a time. */
static inline void gogc_bit_set(uint64_t *bits, uint32_t i) {
  atomic_store_relaxed(&bits[i >> 6], bits[i >> 6] | ((uint64_t)1 << (i & 63)));
}
static inline void gogc_bit_clear(uint64_t *bits, uint32_t i) {
  atomic_store_relaxed(&bits[i >> 6], bits[i >> 6] & ~((uint64_t)1 << (i & 63)));
}

/* Slot i is allocated (see the table in types.h). Caller keeps the span
 * from being swept. */
static inline bool gogc_span_is_allocated(const gogc_span *s, uint32_t i) {
  return i < atomic_load_relaxed(&s->freeindex) ||
         gogc_bit_get_shared(atomic_load_relaxed(&s->allocbits), i);
}

#endif
