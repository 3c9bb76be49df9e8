/* gogc: fork().
 *
 * The child of fork() has one thread, the caller, and a copy of memory in
 * which any other thread may have been anywhere: holding a gogc lock,
 * halfway through a cycle, or between taking a span from its mcentral and
 * installing it in its cache. So the fork happens with the world stopped,
 * which puts every other registered thread outside the allocator's
 * critical sections, and with every lock of the library held:
 *
 *   prepare  (parent, before fork): wait until no cycle is in progress and
 *            hold gc_lock, so the child starts with the collector off and
 *            the barrier off; finish the sweep, so no span is half swept.
 *            Then the locks a registered thread may hold outside a
 *            critical section (roots, limiter, scavenger); then stop the
 *            world (threads_lock); then the locks held only inside
 *            critical sections or by the collector's own threads (the
 *            central lists, heap, work buffers, pool registries, arena
 *            chunks ready for reuse,
 *            specials and the finalizer queue, metadata), in that order.
 *            Taking the second group before the stop could deadlock it (a
 *            thread inside a critical section waiting for one of them is
 *            never stopped), and taking the first group after it could
 *            deadlock on a stopped holder.
 *   parent   (after fork): release them all; restart the world.
 *   child    (after fork): release them all; forget the threads that do
 *            not exist here, after returning their cached spans; and start
 *            the collector's own threads (markers, sweeper, workers) again
 *            at the next cycle, with their wake-up counters reset.
 *
 * The child may then allocate and collect normally. A fork from inside a
 * gogc call (a signal handler, a finalizer later) is not supported.
 */
#include "internal.h"

#include <limits.h>

static int fork_held; /* the handlers ran prepare (gogc was initialised) */

static void fork_prepare(void) {
  gogc_runtime *rt = gogc_rt;
  fork_held = rt != NULL;
  if (!fork_held) return;
  gogc_thread *self = gogc_thread_register_self();
  gogc_lock(&rt->gc_lock);
  while (atomic_load_acquire(&rt->phase) != PHASE_OFF) {
    uint32_t n = atomic_load_acquire(&rt->cycles);
    pthread_mutex_unlock(&rt->gc_lock);
    gogc_thread *t = gogc_self;
    if (t) gogc_enter_blocking(); /* the cycle may need to scan this stack */
    while (atomic_load_acquire(&rt->cycles) == n) gogc_os_futex_wait_ns(&rt->cycles, n, 1000000);
    if (t) gogc_leave_blocking();
    gogc_lock(&rt->gc_lock);
  }
  /* No sweep may be in flight at the fork (a span half swept would stay
   * so in the child): finish the sweep; with gc_lock held no cycle makes
   * more work. */
  if (self != NULL) gogc_sweep_finish();
  gogc_lock(&rt->roots_lock);
  gogc_lock(&rt->limiter_lock);
  gogc_lock(&rt->scav_lock); /* before heap_lock: the scavenger's order */
  gogc_stop_the_world();              /* takes threads_lock */
  for (int i = 0; i < NUM_SPAN_CLASSES; i++) gogc_lock(&rt->central[i].lock);
  gogc_lock(&rt->heap_lock);
  gogc_lock(&rt->work_lock);
  gogc_lock(&rt->pool_lock);
  gogc_lock(&rt->arena_lock);
  gogc_specials_fork_prepare();
  gogc_meta_lock();
}

/* In the parent the stopped threads go on; in the child they are gone,
 * and restarting only clears world_stopping and releases threads_lock. */
static void fork_release(bool child) {
  gogc_runtime *rt = gogc_rt;
  gogc_meta_unlock();
  gogc_specials_fork_release(child);
  pthread_mutex_unlock(&rt->arena_lock);
  pthread_mutex_unlock(&rt->pool_lock);
  pthread_mutex_unlock(&rt->work_lock);
  pthread_mutex_unlock(&rt->heap_lock);
  for (int i = NUM_SPAN_CLASSES; i-- > 0;) pthread_mutex_unlock(&rt->central[i].lock);
  gogc_start_the_world();
  pthread_mutex_unlock(&rt->scav_lock);
  pthread_mutex_unlock(&rt->limiter_lock);
  pthread_mutex_unlock(&rt->roots_lock);
}

static void fork_parent(void) {
  if (!fork_held) return;
  fork_release(false);
  pthread_mutex_unlock(&gogc_rt->gc_lock);
}

static void fork_child(void) {
  if (!fork_held) return;
  gogc_runtime *rt = gogc_rt;
  fork_release(true);
  gogc_events_fork_child();
  gogc_fork_child_threads();
  /* The collector's threads are gone: start new ones at the next cycle,
   * waiting on counters that start again from zero. */
  rt->threads_started = 0;
  rt->nmarkers = 0;
  atomic_store_relaxed(&rt->marker_seq, 0);
  atomic_store_relaxed(&rt->bg_seq, 0);
  atomic_store_relaxed(&rt->sweeper_seq, 0);
  atomic_store_relaxed(&rt->scav_seq, 0);
  atomic_store_relaxed(&rt->work_seq, 0);
  atomic_store_relaxed(&rt->nsleeping, 0);
  atomic_store_relaxed(&rt->idle_seq, 0);
  atomic_store_relaxed(&rt->idle_parked, 0);
  atomic_store_relaxed(&rt->sweepers_active, 0);
  pthread_mutex_unlock(&rt->gc_lock);
}

void gogc_fork_init(void) {
  if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
    gogc_warn("pthread_atfork failed: fork() from a program using gogc may hang the child");
}
