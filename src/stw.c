/* gogc: threads, and stopping the world.
 *
 * Registration. Every thread that may hold references to collected
 * objects is registered: the main thread at start-up, threads created
 * through pthread_create by an interposed wrapper (GOGC_INTERPOSE), and any
 * other thread lazily at its first allocation or explicitly with
 * gogc_register_thread. A pthread key's destructor unregisters a thread
 * when it exits; its cached spans go back to their mcentrals first.
 * Between pthread_create and the new thread's registration, the start
 * argument lives in a pending record that is itself a root, so an object
 * passed only as the argument cannot be lost in that window.
 *
 * Stopping the world (Boehm- and Go-style, with signals):
 *   1. the collector takes threads_lock and sets world_stopping;
 *   2. it sends the suspend signal to every RUNNING thread but itself
 *      (while there is a core for each, it first asks them to stop at
 *      their next safepoint and signals only those that have not within
 *      10 us: see stop_poke);
 *   3. a thread's handler saves its registers on its own stack (the
 *      kernel's signal frame holds the interrupted context, and
 *      __builtin_unwind_init spills the rest), records its stack pointer,
 *      acknowledges, and sleeps on the futex stw_seq;
 *   4. the collector waits for every acknowledgement; then all stacks and
 *      registers are stable and scannable from the saved stack pointers.
 * Restarting bumps stw_seq and wakes every sleeper.
 *
 * Deferral. A thread inside an allocator critical section (in_critical)
 * is never stopped there: its handler only sets suspend_pending, and the
 * thread suspends itself as it leaves the section, so a stopped thread
 * never holds a heap lock or a half-updated span. Hence the rule: a lock
 * taken while the world is stopped (central lists, heap, work buffers,
 * roots, metadata) is held by a registered thread only inside a critical
 * section. Locks a stopped thread may hold (gc_lock, limiter_lock,
 * scav_lock) are only ever tried from inside one.
 *
 * Blocking. gogc_enter_blocking saves the callee-saved registers and the
 * stack pointer in the thread struct and marks the thread BLOCKING; the
 * collector scans such threads without signalling them. Leaving uses a
 * Dekker handshake with the collector (both sides store, then load, with
 * sequential consistency): either the collector saw RUNNING and signals
 * the thread, or the thread sees world_stopping and waits for the restart.
 * Entering uses the same handshake the other way round: a thread that
 * finds a stop in progress right after marking itself BLOCKING waits for
 * it to end before returning, so a signal sent while it still looked
 * RUNNING never lands in the blocking call that follows (no EINTR from
 * the collector inside gogc_enter_blocking).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <time.h>

__thread gogc_thread *gogc_self __attribute__((tls_model("initial-exec")));

static gogc_thread *thread_free_list; /* [threads_lock] recycled structs */

typedef struct start_rec {
  void *(*fn)(void *);
  void *arg; /* a root until the new thread has registered */
  struct start_rec *next, *prev;
} start_rec;
static start_rec *pending_starts, *start_free; /* [threads_lock] */


/* ---------------------------------------------------------------------------
 * The suspend signal
 * ------------------------------------------------------------------------- */

/* Both sides of a stop wait on the CPU for a while before sleeping, while
 * a core is free for the other side (fewer registered threads running than
 * cores): a stop of a thread or of the world lasts a few microseconds to a
 * few tens when there is little to mark, and on a virtual machine each
 * sleep and wake-up is an interrupt to a halted virtual CPU and two
 * context switches. A thread that freed arenas of 10,000 objects, one
 * collection per 16 of them, was stopped twice a cycle and slept both
 * times (mark termination 30 us). With more running threads than cores
 * the spinner would take the core that the other side needs: sleep at
 * once, as before. Async-signal-safe (the clock is the vDSO's). */
#define STOP_SPIN_NS 50000
static inline bool stop_core_spare(void) {
  gogc_runtime *rt = gogc_rt;
  uint32_t forced = atomic_load_relaxed(&rt->test_stop_policy);
  if (unlikely(forced != 0)) return forced == 1;
  return atomic_load_relaxed(&rt->nrunning) < rt->ncpu;
}

/* A few pauses on the CPU; then whether less than ns has passed since t0. */
static inline bool spin_within(uint64_t t0, uint64_t ns) {
  for (int k = 0; k < 16; k++) gogc_cpu_relax();
  return gogc_os_nanotime() - t0 < ns;
}

/* The stopped side: wait while *addr == val, on the CPU first when a core
 * is spare, then on the futex. */
static void stop_wait_while(volatile uint32_t *addr, uint32_t val) {
  bool spin = stop_core_spare();
  uint64_t t0 = spin ? gogc_os_nanotime() : 0;
  while (atomic_load_acquire(addr) == val) {
    if (spin && spin_within(t0, STOP_SPIN_NS)) continue;
    gogc_os_futex_wait(addr, val);
  }
}

/* Spill registers, publish the stack pointer, acknowledge, sleep until the
 * world restarts. Runs in the signal handler or at the end of a critical
 * section; async-signal-safe (atomics and futex only). */
GOGC_NOINLINE void gogc_suspend_self(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  __builtin_unwind_init();
  volatile uintptr_t marker = 0;
  /* Sequentially consistent, with the collector's stores of the request
   * and of suspend_pending (stop_poke): a poke this clears was made after
   * its request, which the exchange below then sees. */
  atomic_store_seqcst(&t->suspend_pending, 0);
  if (t->in_suspend) return; /* a signal that arrived while stopped: see below */
  do {
    t->in_suspend = 1;
    atomic_signal_fence();
    if (atomic_exchange_seqcst(&t->ack_wanted, 0)) {
      /* A full stop: one ack for the signal that asked for it. */
      atomic_store_relaxed(&t->saved_sp, (uintptr_t)&marker);
      uint32_t seq = atomic_load_acquire(&rt->stw_seq);
      atomic_add_acq_rel(&rt->stw_acks, 1);
      gogc_os_futex_wake(&rt->stw_acks, 1);
      stop_wait_while(&rt->stw_seq, seq);
    } else if (atomic_load_seqcst(&t->suspend_req)) {
      /* A single-thread stop (a stack scan or a barrier-buffer flush). */
      atomic_store_relaxed(&t->saved_sp, (uintptr_t)&marker);
      atomic_store_release(&t->suspended, 1);
      gogc_os_futex_wake(&t->suspended, 1);
      stop_wait_while(&t->suspend_req, 1);
    }
    /* Neither: the signal was stale (its stop already had this thread's
     * ack, given at a safepoint). A signal for the next stop may have come
     * while this one held the thread, and its handler returned at once
     * (in_suspend): the request it carried is still set, so look again
     * after clearing in_suspend. */
    atomic_signal_fence();
    t->in_suspend = 0;
    atomic_signal_fence();
  } while (atomic_load_seqcst(&t->ack_wanted) || atomic_load_seqcst(&t->suspend_req));
  (void)marker;
}

#if !defined(GOGC_TSAN)
/* A library lock is held for a microsecond or so, by a thread that is
 * running: wait for it on the CPU (trying every 16 pauses) before
 * sleeping in pthread_mutex_lock. With plain mutexes each of the latency
 * workload's two threads slept on the heap lock about 1500 times a
 * second, with glibc's adaptive spin (100 tries) still some 700, with a
 * 20 us spin under 100 (sched_switch counts). A woken sleeper often landed
 * on the busy core of the thread that woke it while the other core sat
 * idle, and waited there for the next scheduler tick, 4 ms (sched_switch
 * tracing on a 2-core machine).
 *
 * Most of the sleeps left came when the holder had been preempted, mostly
 * by the background mark worker, whose slices take a core for about 50 us
 * when every core runs a program thread: so while no more registered
 * threads run than there are CPUs, the spin lasts 100 us, past such a
 * slice. Latency workload, 10 alternating runs each: sleeps on the heap
 * lock 647 -> 51 a run, medians: p99.9 gap 77 -> 69 us, longest gap 7.0
 * -> 6.4 ms, wall 7.5 -> 6.9 s. With more running threads than CPUs a
 * long spin would take the core a preempted holder needs: 20 us. */
#define LOCK_SPIN_NS 20000
#define LOCK_SPIN_LONG_NS 100000
GOGC_NOINLINE void gogc_lock_contended(pthread_mutex_t *m) {
  gogc_runtime *rt = gogc_rt;
  uint64_t spin = rt != NULL && atomic_load_relaxed(&rt->nrunning) <= rt->ncpu ? LOCK_SPIN_LONG_NS
                                                                                : LOCK_SPIN_NS;
  uint64_t t0 = gogc_os_nanotime();
  do {
    for (int k = 0; k < 16; k++) gogc_cpu_relax();
    if (pthread_mutex_trylock(m) == 0) return;
  } while (gogc_os_nanotime() - t0 < spin);
  pthread_mutex_lock(m);
}
#endif

#if defined(GOGC_TSAN)
void gogc_tsan_lock(pthread_mutex_t *m) {
  for (int spins = 0; pthread_mutex_trylock(m) != 0; spins++) {
    if (spins < 64) {
      sched_yield();
    } else {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
  }
}
#endif

static void suspend_handler(int sig, siginfo_t *info, void *uctx) {
  (void)sig;
  (void)info;
  int saved = errno;
  gogc_thread *t = gogc_self;
  if (t != NULL) atomic_add_relaxed(&t->signals_seen, 1);
  if (t != NULL && gogc_rt != NULL && !t->in_suspend &&
      (atomic_load_relaxed(&t->ack_wanted) || atomic_load_relaxed(&t->suspend_req))) {
    atomic_signal_fence();
    if (t->in_critical) {
      atomic_store_relaxed(&t->suspend_pending, 1);
    } else {
      /* Stopped between an inline barrier's test and its store: run the
       * test again after the stop (barrier.c). */
      gogc_barrier_restart(uctx);
      gogc_suspend_self(t);
    }
  }
  errno = saved;
}

int gogc_threads_init(void) {
  gogc_runtime *rt = gogc_rt;
  pthread_mutex_init(&rt->threads_lock, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = suspend_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(rt->suspend_signal, &sa, NULL) != 0) {
    gogc_warn("cannot install the suspend signal handler for signal %d", rt->suspend_signal);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Registration
 * ------------------------------------------------------------------------- */
static void thread_unregister(gogc_thread *t);

static void key_destructor(void *p) {
  gogc_thread *t = p;
  if (t != NULL && t == gogc_self) thread_unregister(t);
}

int gogc_thread_key_init(void);
int gogc_thread_key_init(void) {
  return pthread_key_create(&gogc_rt->thread_key, key_destructor);
}

/* A collector thread (the background sweeper) must register even when
 * the OS refuses memory: its struct may come from the reserve. */
static __thread bool registering_helper;

gogc_thread *gogc_thread_register_helper(void) {
  registering_helper = true;
  gogc_thread *t = gogc_thread_register_self();
  registering_helper = false;
  return t;
}

gogc_thread *gogc_thread_register_self(void) {
  gogc_thread *t = gogc_self;
  if (t != NULL) return t;
  gogc_runtime *rt = gogc_rt;
  uintptr_t lo, hi;
  if (gogc_os_thread_stack(&lo, &hi) != 0) {
    gogc_warn("cannot find the stack of the calling thread; not registered");
    return NULL;
  }
  /* A recycled struct is cleared under the lock: a root job queued for the
   * thread that used it before may still read need_scan (scan_thread). */
  gogc_lock(&rt->threads_lock);
  t = thread_free_list;
  if (t) {
    thread_free_list = t->next;
    struct gogc_gcwork *gcw = t->gcw; /* kept by a recycled struct */
    memset(t, 0, sizeof *t);
    t->gcw = gcw;
  }
  pthread_mutex_unlock(&rt->threads_lock);
  if (t == NULL) {
    t = registering_helper ? gogc_meta_alloc_critical(sizeof *t, "a collector thread")
                           : gogc_meta_alloc(sizeof *t);
    if (t == NULL) return NULL;
    memset(t, 0, sizeof *t);
  }
  gogc_mcache_init(t);
  t->tid = pthread_self();
  t->os_tid = (uint64_t)gettid();
  t->stack_lo = lo;
  t->stack_hi = hi;
  t->state = THREAD_RUNNING;
  atomic_store_relaxed(&t->stack_grey, 1);
  gogc_self = t; /* before linking: the handler must find it */
  gogc_lock(&rt->threads_lock);
  t->pool_idx = gogc_pool_index_alloc();
  t->next = rt->threads;
  if (rt->threads) rt->threads->prev = t;
  rt->threads = t;
  rt->nthreads++;
  atomic_add_relaxed(&rt->nrunning, 1);
  /* Registered while marking: its stack stays grey for the rest of the
   * cycle, so the barriers' inline stage for black stacks goes off (it
   * sets the bit itself, before its first store). */
  if (atomic_load_relaxed(&rt->phase) == PHASE_MARK && rt->grey_stacks++ == 0)
    atomic_or_relaxed(&gogc__wb_enabled, WB_GREY_STACKS);
  pthread_mutex_unlock(&rt->threads_lock);
  pthread_setspecific(rt->thread_key, t);
  return t;
}

static void thread_unregister(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  gogc_critical_enter(t);
  if (t->wb_n > 0) gogc_wb_flush(t); /* its barrier records must not be lost */
  gogc_mcache_flush(t);
  gogc_critical_leave(t);
  gogc_lock(&rt->threads_lock);
  t->need_scan = 0;
  gogc_stack_blacken(t);
  if (t->prev) t->prev->next = t->next;
  else rt->threads = t->next;
  if (t->next) t->next->prev = t->prev;
  rt->nthreads--;
  atomic_sub_relaxed(&rt->nrunning, 1);
  gogc_pool_index_free(t->pool_idx);
  gogc_self = NULL;
  t->next = thread_free_list;
  thread_free_list = t;
  pthread_mutex_unlock(&rt->threads_lock);
  pthread_setspecific(rt->thread_key, NULL);
}

GOGC_API void gogc_register_thread(void) {
  if (gogc_ensure_init() == 0) gogc_thread_register_self();
}

GOGC_API void gogc_unregister_thread(void) {
  if (gogc_self != NULL) thread_unregister(gogc_self);
}

/* ---------------------------------------------------------------------------
 * Blocking sections
 * ------------------------------------------------------------------------- */
/* The registers must be the caller's, untouched by any prologue: on x86-64
 * a naked stub stores rbx, rbp and r12-r15 into its own frame and passes
 * it on; the caller's stack pointer is just above the return address. */
/* Wait until no stop involving t is in progress: the world restarted and
 * no single-thread stop requested. A signal sent for such a stop is
 * handled here meanwhile. */
static void wait_stop_over(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  uint32_t seq = atomic_load_acquire(&rt->stw_seq);
  while (atomic_load_seqcst(&rt->world_stopping) && atomic_load_acquire(&rt->stw_seq) == seq)
    gogc_os_futex_wait(&rt->stw_seq, seq);
  while (atomic_load_seqcst(&t->suspend_req)) gogc_os_futex_wait(&t->suspend_req, 1);
}

void gogc_enter_blocking_regs(uintptr_t *regs);
void gogc_enter_blocking_regs(uintptr_t *regs) {
  gogc_thread *t = gogc_self;
  if (t == NULL) return;
  if (t->blocking_depth++ > 0) return;
  gogc_runtime *rt = gogc_rt;
  memcpy(t->regs, regs, 6 * sizeof(uintptr_t));
  atomic_store_relaxed(&t->saved_sp, (uintptr_t)(regs + 8)); /* past the 6 saves, padding, return */
  atomic_store_seqcst(&t->state, THREAD_BLOCKING);
  atomic_sub_seqcst(&rt->nrunning, 1);
  /* A core may be free now: wake the idle workers that wait for one
   * (mark.c, gogc_wait_for_core). */
  if (unlikely(atomic_load_seqcst(&rt->idle_parked) != 0)) {
    int saved_errno = errno;
    gogc_idle_wake();
    errno = saved_errno;
  }
  /* A stop that began just before may have read RUNNING: then its signal
   * is on the way, and arriving during the blocking call the program is
   * about to make it would interrupt it (poll, nanosleep and the like fail
   * with EINTR even under SA_RESTART). The Dekker pair with the collector
   * (it stores the request, then loads the state; we store the state,
   * then load the request) means that whenever it read RUNNING, we see the
   * request here; we then wait for that stop to end, and its signal is
   * handled while we wait. Seen in CI: poll inside gogc_enter_blocking
   * returned EINTR with no program signal sent. */
  if (atomic_load_seqcst(&rt->world_stopping) || atomic_load_seqcst(&t->suspend_req)) {
    int saved_errno = errno;
    wait_stop_over(t);
    errno = saved_errno;
  }
}

#if defined(__x86_64__)
GOGC_API __attribute__((naked)) void gogc_enter_blocking(void) {
  __asm__ volatile("subq $56, %rsp\n\t"
                   "movq %rbx, 0(%rsp)\n\t"
                   "movq %rbp, 8(%rsp)\n\t"
                   "movq %r12, 16(%rsp)\n\t"
                   "movq %r13, 24(%rsp)\n\t"
                   "movq %r14, 32(%rsp)\n\t"
                   "movq %r15, 40(%rsp)\n\t"
                   "movq %rsp, %rdi\n\t"
                   "call gogc_enter_blocking_regs\n\t"
                   "addq $56, %rsp\n\t"
                   "ret");
}
#else
#error "gogc_enter_blocking: write the register-saving stub for this architecture"
#endif

GOGC_API void gogc_leave_blocking(void) {
  gogc_thread *t = gogc_self;
  if (t == NULL || t->blocking_depth == 0) return;
  if (--t->blocking_depth > 0) return;
  gogc_runtime *rt = gogc_rt;
  int saved_errno = errno; /* the program reads the blocking call's errno after this */
  atomic_add_relaxed(&rt->nrunning, 1);
  for (;;) {
    atomic_store_seqcst(&t->state, THREAD_RUNNING);
    if (!atomic_load_seqcst(&rt->world_stopping) && !atomic_load_seqcst(&t->suspend_req)) break;
    atomic_store_seqcst(&t->state, THREAD_BLOCKING);
    wait_stop_over(t);
  }
  errno = saved_errno;
}

/* ---------------------------------------------------------------------------
 * Stopping one thread (concurrent mark: stack scans, barrier flushes)
 *
 * With threads_lock held, the collector stops one registered thread t
 * (never itself): it sets t->suspend_req, and either finds t BLOCKING
 * (then t cannot leave gogc_leave_blocking while the request stands: the
 * same Dekker handshake as above) or signals it; the handler (deferred to
 * the end of a critical section, as for a full stop) saves registers and
 * the stack pointer, sets t->suspended and waits for the request to be
 * withdrawn. Returns true when t is stopped; false if it could not be
 * signalled.
 * ------------------------------------------------------------------------- */
/* Waiting for stopped threads to answer. A thread answers its signal or,
 * inside a critical section, at the section's end, so the wait is short;
 * but a signal can go missing on the way: ThreadSanitizer defers signals
 * to its own queue and was seen, under load, to never run the handler for
 * one (a thread looping in trylock and nanosleep, both intercepted, never
 * answered). A kernel does not lose one, but a program may block the
 * signal in a thread. So the waiter sends the signal again after 10 ms,
 * doubling up to 1 s; the protocol makes a repeat harmless (a handler that
 * finds no request set returns, and one ack is given per request however
 * many signals come: types.h), and after 5 s it says what it waits for. */
typedef struct stop_waiter {
  uint64_t start, next;  /* ns: began waiting; next resend */
  uint64_t interval;     /* ns */
  uint32_t resends;
  bool warned;
  bool spin; /* wait on the CPU first (stop_core_spare) */
} stop_waiter;

static stop_waiter stop_waiter_init(void) {
  uint64_t now = gogc_os_nanotime();
  return (stop_waiter){
      .start = now, .next = now + 10000000, .interval = 10000000, .spin = stop_core_spare()};
}

/* Wait on *addr while it holds expect, until the next resend is due: true
 * when it is. */
static bool stop_waiter_wait(stop_waiter *w, volatile uint32_t *addr, uint32_t expect) {
  if (w->spin && spin_within(w->start, STOP_SPIN_NS)) return false;
  uint64_t now = gogc_os_nanotime();
  if (now < w->next) {
    gogc_os_futex_wait_ns(addr, expect, w->next - now);
    return false;
  }
  w->next = now + w->interval;
  if (w->interval < 1000000000) w->interval *= 2;
  if (!w->warned && now - w->start > 5000000000ull) {
    w->warned = true;
    gogc_warn("a stop has waited 5 s for a registered thread to answer signal %d "
              "(%u signals sent again); is the signal blocked in that thread?",
              gogc_rt->suspend_signal, w->resends);
  }
  return true;
}

/* Cooperative stops. While a core is free for every running thread
 * (stop_core_spare), the collector first asks a thread to stop at its next
 * safepoint, the end of an allocator critical section (every allocation
 * and, while marking, every barriered store), by setting suspend_pending
 * as the signal handler would for a thread inside one; only a thread that
 * has not stopped within STOP_POLL_NS is signalled. A thread that
 * allocates stops within a microsecond, without the signal's interrupt to
 * its CPU, the kernel's delivery and the handler (on a virtual machine
 * 10-20 us from request to acknowledgement). Whether the thread stops at
 * the safepoint or on the signal, it stops in gogc_suspend_self with the
 * same checks, so the signal remains the guarantee; a poke left over
 * after its stop costs one call that finds no request. Under
 * ThreadSanitizer leaving a section already checks the requests. */
#define STOP_POLL_NS 10000
static inline void stop_poke(gogc_thread *t) {
#if !defined(GOGC_TSAN)
  atomic_store_seqcst(&t->suspend_pending, 1);
#else
  (void)t;
#endif
}

/* The requesting side, after its pokes: whether *addr reaches at_least
 * within STOP_POLL_NS. */
static bool stop_poll_until(volatile uint32_t *addr, uint32_t at_least) {
  uint64_t t0 = gogc_os_nanotime();
  while (atomic_load_acquire(addr) < at_least)
    if (!spin_within(t0, STOP_POLL_NS)) return atomic_load_acquire(addr) >= at_least;
  return true;
}

static void stop_waiter_resend(stop_waiter *w, gogc_thread *t) {
  w->resends++;
  pthread_kill(t->tid, gogc_rt->suspend_signal);
}

bool gogc_thread_suspend(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  gogc_assert(t != gogc_self);
  atomic_store_relaxed(&t->suspended, 0);
  atomic_store_seqcst(&t->suspend_req, 1);
  t->stopped_blocking = atomic_load_seqcst(&t->state) == THREAD_BLOCKING;
  if (t->stopped_blocking) return true;
  if (stop_core_spare()) {
    stop_poke(t);
    if (stop_poll_until(&t->suspended, 1)) return true;
  }
  int rc = pthread_kill(t->tid, rt->suspend_signal);
  if (rc != 0) {
    atomic_store_seqcst(&t->suspend_req, 0);
    gogc_warn("cannot signal a registered thread (error %d); did it exit without unregistering?", rc);
    return false;
  }
  stop_waiter w = stop_waiter_init();
  while (!atomic_load_acquire(&t->suspended)) {
    if (stop_waiter_wait(&w, &t->suspended, 0) && !atomic_load_acquire(&t->suspended))
      stop_waiter_resend(&w, t);
  }
  return true;
}

/* t's registers and stack pointer while it is stopped: regs is NULL when
 * they are spilled on its stack (stopped by the signal). */
void gogc_thread_stopped_stack(gogc_thread *t, uintptr_t *sp, const uintptr_t **regs,
                               uint32_t *nregs) {
  bool blocking = t->stopped_blocking; /* not the state now: see types.h */
  *regs = blocking ? t->regs : NULL;
  *nregs = blocking ? 6 : 0;
  *sp = gogc_thread_roots_lo(t, atomic_load_relaxed(&t->saved_sp), nregs);
}

void gogc_thread_resume(gogc_thread *t) {
  atomic_store_release(&t->suspended, 0);
  atomic_store_seqcst(&t->suspend_req, 0);
  gogc_os_futex_wake(&t->suspend_req, INT_MAX);
}

/* ---------------------------------------------------------------------------
 * Stop and start
 * ------------------------------------------------------------------------- */
/* Signal t for a full stop; if that fails, withdraw the request (false),
 * unless t already acknowledged it. */
static bool stop_signal(gogc_thread *t) {
  int rc = pthread_kill(t->tid, gogc_rt->suspend_signal);
  if (rc == 0) return true;
  gogc_warn("cannot signal a registered thread (error %d); did it exit without unregistering?", rc);
  return !atomic_exchange_seqcst(&t->ack_wanted, 0);
}

void gogc_stop_the_world(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *self = gogc_self;
  gogc_lock(&rt->threads_lock);
  atomic_store_relaxed(&rt->stw_acks, 0);
  atomic_store_seqcst(&rt->world_stopping, 1);
  uint32_t expected = 0;
  bool poll = stop_core_spare();
  for (gogc_thread *t = rt->threads; t; t = t->next) {
    t->stopped_blocking = 0;
    if (t == self) continue;
    if (atomic_load_seqcst(&t->state) != THREAD_RUNNING) {
      t->stopped_blocking = 1; /* it waits in gogc_leave_blocking until the restart */
      continue;
    }
    atomic_store_seqcst(&t->ack_wanted, 1);
    expected++;
    if (poll) stop_poke(t);
    else if (!stop_signal(t)) expected--;
  }
  if (poll && !stop_poll_until(&rt->stw_acks, expected)) { /* signal those not stopped yet */
    for (gogc_thread *t = rt->threads; t; t = t->next) {
      if (t == self || t->stopped_blocking || !atomic_load_seqcst(&t->ack_wanted)) continue;
      if (!stop_signal(t)) expected--;
    }
  }
  uint32_t a;
  stop_waiter w = stop_waiter_init();
  while ((a = atomic_load_acquire(&rt->stw_acks)) < expected) {
    if (!stop_waiter_wait(&w, &rt->stw_acks, a)) continue;
    /* Send again to every thread that has not acknowledged. */
    for (gogc_thread *t = rt->threads; t; t = t->next) {
      if (t != self && !t->stopped_blocking && atomic_load_seqcst(&t->ack_wanted))
        stop_waiter_resend(&w, t);
    }
  }
}

void gogc_start_the_world(void) {
  gogc_runtime *rt = gogc_rt;
  atomic_store_seqcst(&rt->world_stopping, 0);
  atomic_add_acq_rel(&rt->stw_seq, 1);
  gogc_os_futex_wake(&rt->stw_seq, INT_MAX);
  pthread_mutex_unlock(&rt->threads_lock);
}

/* World stopped: every thread's stack (and saved registers) as roots, and
 * the arguments of threads not yet started. self_sp: the collector's own
 * stack pointer, its registers already spilled below it. */
void gogc_roots_add_threads(uintptr_t self_sp) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *self = gogc_self;
  uint64_t stacks = 0;
  for (gogc_thread *t = rt->threads; t; t = t->next) {
    uintptr_t sp = t == self ? self_sp : atomic_load_relaxed(&t->saved_sp);
    bool blocking = t != self && t->stopped_blocking; /* as the stop found it */
    uint32_t nregs = blocking ? 6 : 0;
    if (sp < t->stack_lo || sp > t->stack_hi) {
      gogc_warn("thread stack pointer %p outside its stack [%p, %p): not scanned", (void *)sp,
                (void *)t->stack_lo, (void *)t->stack_hi);
      continue;
    }
    sp = gogc_thread_roots_lo(t, sp, &nregs);
    gogc_roots_push_stack(sp, t->stack_hi, nregs ? t->regs : NULL, nregs);
    stacks += t->stack_hi - sp;
  }
  for (start_rec *r = pending_starts; r; r = r->next)
    gogc_roots_push_range((uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1), ROOT_DATA);
  rt->stacks_scan = stacks;
}

/* World stopped, concurrent mode: one root job per thread (its stack is
 * scanned later, the thread stopped alone), and the arguments of threads
 * not yet started. */
void gogc_roots_add_threads_concurrent(void) {
  gogc_rt->grey_stacks = 0;
  for (gogc_thread *t = gogc_rt->threads; t; t = t->next) {
    t->need_scan = 1;
    atomic_store_relaxed(&t->stack_grey, 1);
    gogc_rt->grey_stacks++;
    gogc_roots_push_thread(t);
  }
  for (start_rec *r = pending_starts; r; r = r->next)
    gogc_roots_push_range((uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1), ROOT_DATA);
}

/* World stopped, checkmark: the roots the concurrent scans saw. A
 * conservative scan of a stack now would also see values that became
 * stale after the scan (a dead register spilled by a callee, an
 * uninitialised slot), which the concurrent mark need not have marked;
 * so the re-mark starts from the words each stack held when it was
 * scanned, plus what is in the heap and the globals now. */
void gogc_roots_add_threads_checkmark(void) {
  for (gogc_thread *t = gogc_rt->threads; t; t = t->next) {
    if (t->cm_snap && t->cm_words)
      gogc_roots_push_range((uintptr_t)t->cm_snap, (uintptr_t)(t->cm_snap + t->cm_words), ROOT_DATA);
  }
  for (start_rec *r = pending_starts; r; r = r->next)
    gogc_roots_push_range((uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1), ROOT_DATA);
}

/* In the child of fork, after every lock was released: only the calling
 * thread exists. Give back the caches of the others, forget them and the
 * threads that were being created. */
void gogc_fork_child_threads(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *self = gogc_self;
  gogc_lock(&rt->threads_lock);
  gogc_thread *t = rt->threads;
  rt->threads = NULL;
  rt->nthreads = 0;
  while (t != NULL) {
    gogc_thread *next = t->next;
    if (t == self) {
      t->next = rt->threads;
      t->prev = NULL;
      rt->threads = t;
      rt->nthreads = 1;
    } else {
      /* It was stopped outside any critical section (fork.c): its
       * cache is consistent. */
      gogc_mcache_flush(t);
      gogc_pool_index_free(t->pool_idx);
      t->wb_n = 0;
      t->next = thread_free_list;
      thread_free_list = t;
    }
    t = next;
  }
  while (pending_starts != NULL) {
    start_rec *r = pending_starts;
    pending_starts = r->next;
    r->arg = NULL;
    r->next = start_free;
    start_free = r;
  }
  atomic_store_relaxed(&rt->nrunning,
                       self != NULL && atomic_load_relaxed(&self->state) == THREAD_RUNNING ? 1 : 0);
  pthread_mutex_unlock(&rt->threads_lock);
}

/* ---------------------------------------------------------------------------
 * pthread_create
 * ------------------------------------------------------------------------- */
#if GOGC_INTERPOSE
typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static pthread_create_fn real_create;
#endif

int gogc_real_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                             void *(*fn)(void *), void *arg) {
#if GOGC_INTERPOSE
  if (real_create == NULL) {
    pthread_create_fn f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (f == NULL) f = (pthread_create_fn)dlsym(RTLD_DEFAULT, "pthread_create");
    atomic_store_relaxed(&real_create, f);
  }
  if (real_create == NULL) return EAGAIN;
  return real_create(tid, attr, fn, arg);
#else
  return pthread_create(tid, attr, fn, arg);
#endif
}

/* The collector's own threads (markers, workers, sweeper, scavenger,
 * finalizer thread) start with every signal blocked but the suspend
 * signal and the synchronous ones: a signal the program sends to the
 * process must reach one of the program's threads, not run the program's
 * handler on a collector thread. Each is named (gogc-sweeper and so on)
 * so that top -H, gdb and perf tell them from the program's threads. */
int gogc_start_helper(pthread_t *tid, const pthread_attr_t *attr, void *(*fn)(void *),
                      void *arg, const char *name) {
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, gogc_rt->suspend_signal);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGTRAP);
  sigdelset(&all, SIGABRT);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = gogc_real_pthread_create(tid, attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc == 0) gogc_os_thread_set_name(*tid, name);
  return rc;
}

#if GOGC_INTERPOSE
static void *thread_start(void *p) {
  start_rec *r = p;
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_thread_register_self();
  if (t) t->registered_by_pthread = 1;
  void *(*fn)(void *) = r->fn;
  void *arg = r->arg; /* on this stack from here on */
  /* The record may still be an unscanned root of a cycle that started
   * before this thread registered (and will not scan this stack): the
   * barrier for taking the value out of it. */
  if (t != NULL && gogc_wb_marking())
    gogc_mark_shade_range(t, (uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1));
  gogc_lock(&rt->threads_lock);
  if (r->prev) r->prev->next = r->next;
  else pending_starts = r->next;
  if (r->next) r->next->prev = r->prev;
  r->arg = NULL;
  r->next = start_free;
  start_free = r;
  pthread_mutex_unlock(&rt->threads_lock);
  return fn(arg);
}

__attribute__((visibility("default"))) int pthread_create(pthread_t *tid,
                                                          const pthread_attr_t *attr,
                                                          void *(*fn)(void *), void *arg) {
  if (gogc_ensure_init() != 0) return gogc_real_pthread_create(tid, attr, fn, arg);
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->threads_lock);
  start_rec *r = start_free;
  if (r) start_free = r->next;
  pthread_mutex_unlock(&rt->threads_lock);
  if (r == NULL && (r = gogc_meta_alloc(sizeof *r)) == NULL) return EAGAIN;
  r->fn = fn;
  r->arg = arg;
  r->prev = NULL;
  /* The argument moves from this stack to one the collector will not
   * scan this cycle (the new thread's): the barrier for that store. */
  gogc_thread *self = gogc_self;
  if (self != NULL && gogc_wb_marking())
    gogc_mark_shade_range(self, (uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1));
  gogc_lock(&rt->threads_lock);
  r->next = pending_starts;
  if (pending_starts) pending_starts->prev = r;
  pending_starts = r;
  pthread_mutex_unlock(&rt->threads_lock);
  int rc = gogc_real_pthread_create(tid, attr, thread_start, r);
  if (rc != 0) {
    gogc_lock(&rt->threads_lock);
    if (r->prev) r->prev->next = r->next;
    else pending_starts = r->next;
    if (r->next) r->next->prev = r->prev;
    r->next = start_free;
    start_free = r;
    pthread_mutex_unlock(&rt->threads_lock);
  }
  return rc;
}
#endif
