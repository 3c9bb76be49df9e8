/* unit_concurrent: phase stepping. Each test starts a cycle whose marking
 * is held (no worker or assist marks), scans this thread's stack at a
 * chosen moment, performs one kind of store, lets the cycle finish, and
 * checks that the object the barrier must have shaded survived the sweep
 * with its contents. Without the half of the barrier a test targets, its
 * object is reachable only through a path the marker never saw, and the
 * sweep frees it (checked by hand when the barrier was written: removing
 * either half fails the matching tests).
 *
 * Objects are created in noinline helpers and handed around through
 * volatile slots, so no copy of a pointer stays in a register or stack
 * slot where the conservative scan would find it by accident. */
#define _GNU_SOURCE /* REG_RIP */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "check.h"
#include "testutil.h"

#define MAGIC 0x5eedf00dcafeull
#define HIDE 0xa5a5000000000000ull /* xor-ed into an address: not a pointer */

struct obj {
  uint64_t magic;
  struct obj *f;
  uint64_t pad[2];
};

/* Globals are roots; stores into them use the barrier. */
struct obj *volatile g_holder;
struct obj *volatile g_keep;

static GOGC_NOINLINE struct obj *new_obj(void) {
  struct obj *o = gogc_alloc(sizeof *o);
  o->magic = MAGIC;
  return o;
}

/* Stores a new object into *slot and forgets it. */
static GOGC_NOINLINE void make_into(void *slot) {
  gogc_store(slot, new_obj());
}

static GOGC_NOINLINE void clobber_stack(void) {
  volatile char buf[8192];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
}

static bool alive(const struct obj *o) {
  return gogc_size(o) != 0 && o->magic == MAGIC;
}

static gogc_thread *self(void) {
  return gogc_thread_register_self();
}

/* Deletion half: the only heap reference is loaded onto a stack that was
 * already scanned, then overwritten. */
static void test_deletion(int how) {
  gogc_store((void *)&g_holder, new_obj());
  make_into(&g_holder->f);
  clobber_stack();
  gogc_test_start_held_cycle();
  gogc_test_scan_thread(self()); /* this stack is black from here */
  struct obj *volatile x = g_holder->f;
  switch (how) {
  case 0: gogc_store(&g_holder->f, NULL); break;
  case 1: gogc_memclr(&g_holder->f, sizeof(void *)); break;
  case 2: (void)gogc_atomic_swap(&g_holder->f, NULL); break;
  case 3: (void)gogc_atomic_cas(&g_holder->f, x, NULL); break;
  case 4: {
    void *zero[2] = {0, 0};
    gogc_memmove(&g_holder->f, zero, sizeof(void *));
    break;
  }
  }
  gogc_test_finish_held_cycle();
  CHECK(g_holder->f == NULL);
  CHECK(alive(x));
  if (!alive(x)) printf("  deletion barrier (form %d) lost its object\n", how);
}

/* Insertion half: an object held only by an unscanned stack is stored
 * into a black object (allocated during the mark), then dropped. */
static void test_insertion(int how) {
  struct obj *volatile x = new_obj();
  gogc_test_start_held_cycle();
  struct obj *black = new_obj(); /* allocated black */
  gogc_store((void *)&g_holder, black);
  switch (how) {
  case 0: gogc_store(&black->f, x); break;
  case 1: {
    struct obj *src[1] = {x};
    gogc_memmove(&black->f, src, sizeof src);
    src[0] = NULL;
    break;
  }
  case 2: (void)gogc_atomic_swap(&black->f, x); break;
  case 3: (void)gogc_atomic_cas(&black->f, NULL, x); break;
  case 4: gogc_atomic_store(&black->f, x); break;
  }
  x = NULL;
  black = NULL;
  clobber_stack();
  gogc_test_scan_thread(self()); /* finds neither x nor a copy */
  gogc_test_finish_held_cycle();
  struct obj *got = g_holder->f;
  CHECK(got != NULL && alive(got));
  if (got == NULL || !alive(got)) printf("  insertion barrier (form %d) lost its object\n", how);
}

/* Once this thread's stack is scanned, the insertion half is off
 * (barrier.c, case 3): a store into a new object buffers nothing (the old
 * value is zero), where the same store before the scan buffers the value.
 * An object the thread then takes out of the heap and stores into a black
 * object survives through the deletion half alone. */
static void test_insertion_after_scan(void) {
  gogc_store((void *)&g_holder, new_obj());
  make_into(&g_holder->f);
  gogc_store((void *)&g_keep, NULL);
  clobber_stack();
  gogc_test_start_held_cycle();
  gogc_thread *t = self();
  CHECK(t->stack_grey == 1);
  struct obj *before = new_obj(); /* black */
  uint32_t n0 = t->wb_n;
  gogc_store(&before->f, g_holder);
  CHECKF(t->wb_n == n0 + 1, "grey stack: %u words buffered, want 1", t->wb_n - n0);
  gogc_test_scan_thread(t); /* this stack is black from here */
  CHECK(t->stack_grey == 0);
  struct obj *black = new_obj();
  gogc_store((void *)&g_keep, black); /* the global's old value is NULL */
  struct obj *volatile x = g_holder->f;
  n0 = t->wb_n;
  gogc_store(&black->f, x);
  CHECKF(t->wb_n == n0, "black stack: %u words buffered, want 0", t->wb_n - n0);
  gogc_store(&g_holder->f, NULL); /* the deletion half shades x */
  CHECK(t->wb_n == n0 + 1);
  x = NULL;
  black = before = NULL;
  gogc_test_finish_held_cycle();
  CHECK(g_keep != NULL && alive(g_keep->f));
  gogc_store((void *)&g_keep, NULL);
}

/* The inline barrier's second stage (gogc.h): once every registered
 * thread's stack is scanned, the flag is exactly WB_MARKING and a store
 * into a slot holding NULL needs no barrier; any other store still takes
 * the slow path, whose deletion half must keep the object below alive. A
 * thread that registers during the mark has a grey stack for the rest of
 * the cycle (barrier.c) and turns the stage off again, for every thread,
 * until it leaves: its own stores are then the slow path's, which buffers
 * the value written (the insertion half). Which path a store took is seen
 * here only through the flag and the barrier buffer: every object such a
 * thread can legitimately hold is also protected another way (a new one
 * is black, its start argument is shaded, one loaded from the heap is
 * under the deletion half), so no lost object can show it. */
static struct obj *volatile g_black;    /* allocated during the mark */
static volatile uint32_t g_late_flag, g_late_buffered;

static void *late_main(void *arg) {
  (void)arg;
  gogc_thread *t = self(); /* registers now, during the mark */
  g_late_flag = atomic_load_relaxed(&gogc__wb_enabled);
  struct obj *x = new_obj();
  uint32_t n0 = t->wb_n;
  gogc_store(&g_black->f, x); /* the slot holds NULL */
  g_late_buffered = t->wb_n - n0;
  return NULL;
}

static void scan_all_threads(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *ts[256];
  size_t n = 0;
  gogc_lock(&rt->threads_lock);
  for (gogc_thread *t = rt->threads; t && n < 256; t = t->next) ts[n++] = t;
  pthread_mutex_unlock(&rt->threads_lock);
  for (size_t i = 0; i < n; i++) gogc_test_scan_thread(ts[i]);
}

static void test_black_stacks_inline(void) {
  gogc_store((void *)&g_holder, new_obj());
  make_into(&g_holder->f); /* z: held only through g_holder */
  gogc_store((void *)&g_keep, NULL);
  clobber_stack();
  gogc_test_start_held_cycle();
  CHECK(atomic_load_relaxed(&gogc__wb_enabled) == (WB_MARKING | WB_GREY_STACKS));
  scan_all_threads();
  CHECKF(atomic_load_relaxed(&gogc__wb_enabled) == WB_MARKING,
         "every stack scanned: flag %#x, want WB_MARKING alone", gogc__wb_enabled);
  gogc_thread *t = self();
  struct obj *black = new_obj();
  gogc_store((void *)&g_keep, black);    /* inline: the global held NULL */
  CHECK(g_keep == black);
  struct obj *volatile z = g_holder->f;
  uint32_t n0 = t->wb_n;
  gogc_store(&g_holder->f, NULL);        /* not inline: shades z */
  CHECKF(t->wb_n == n0 + 1, "deletion with black stacks: %u words buffered, want 1",
         t->wb_n - n0);
  gogc_store(&black->f, z);              /* inline */
  CHECK(black->f == z && t->wb_n == n0 + 1);
  z = NULL;
  /* A late thread: its stack stays grey, its stores need the insertion half. */
  g_black = new_obj();
  pthread_t th;
  CHECK(pthread_create(&th, NULL, late_main, NULL) == 0);
  pthread_join(th, NULL);
  CHECKF(g_late_flag == (WB_MARKING | WB_GREY_STACKS), "late thread saw flag %#x", g_late_flag);
  CHECKF(g_late_buffered == 1, "late thread's store buffered %u words, want 1", g_late_buffered);
  CHECKF(atomic_load_relaxed(&gogc__wb_enabled) == WB_MARKING,
         "after the late thread left: flag %#x", gogc__wb_enabled);
  black = NULL;
  clobber_stack();
  gogc_test_finish_held_cycle();
  CHECK(g_keep != NULL && alive(g_keep->f));
  CHECK(g_black->f != NULL && alive(g_black->f));
  gogc_store((void *)&g_keep, NULL);
  gogc_store((void *)&g_black, NULL);
}

/* The stop handler's restart of an interrupted inline barrier
 * (barrier.c): for each of gogc_store's two sequences, a pc after its
 * start marker and before its end marker (the test done, the store not)
 * goes back to the start marker; any other pc is left alone, including
 * the end marker itself (the store done). Every byte offset is tried,
 * not only instruction boundaries. The sequences are found in an out-of-
 * line copy of gogc_store (its address taken), at any optimisation level. */
static void test_barrier_restart(void) {
#if defined(__x86_64__) && !defined(GOGC_NO_INLINE_BARRIER)
  static const unsigned char start[8] = {0x0f, 0x1f, 0x84, 0x00, 0x67, 0x6f, 0x67, 0x63};
  static const unsigned char end[8] = {0x0f, 0x1f, 0x84, 0x00, 0x47, 0x4f, 0x47, 0x43};
  void (*volatile fn)(void *, const void *) = gogc_store;
  const unsigned char *code = (const unsigned char *)(uintptr_t)fn;
  int seqs = 0;
  for (size_t i = 0; i < 256 && seqs < 2; i++) { /* the function's two, then code after it */
    if (memcmp(code + i, start, 8) != 0) continue;
    size_t e = i + 8;
    while (e < i + 64 && memcmp(code + e, end, 8) != 0) e++;
    CHECKF(e + 8 - i <= 40, "sequence %d: %zu bytes from start to the end of END", seqs,
           e + 8 - i);
    for (size_t pc = i; pc <= e + 8; pc++) {
      ucontext_t uc;
      memset(&uc, 0, sizeof uc);
      uc.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)(code + pc);
      gogc_barrier_restart(&uc);
      uintptr_t want = (uintptr_t)(code + (pc >= i + 8 && pc < e ? i : pc));
      CHECKF((uintptr_t)uc.uc_mcontext.gregs[REG_RIP] == want,
             "sequence %d, pc start+%zu: resumed at start+%ld", seqs, pc - i,
             (long)((uintptr_t)uc.uc_mcontext.gregs[REG_RIP] - (uintptr_t)(code + i)));
    }
    seqs++;
    i = e + 7;
  }
  CHECKF(seqs == 2, "found %d inline barrier sequences, want 2", seqs);
#endif
}

/* Objects allocated during the mark are black at once. */
static void test_allocate_black(void) {
  gogc_test_start_held_cycle();
  struct obj *o = new_obj();
  gogc_span *s = gogc_span_of((uintptr_t)o);
  CHECK(s != NULL && gogc_bit_get(s->markbits, gogc_span_obj_index(s, (uintptr_t)o)));
  void *big = gogc_alloc(100000);
  gogc_span *bs = gogc_span_of((uintptr_t)big);
  CHECK(bs != NULL && (bs->markbits[0] & 1));
  CHECK((gogc__wb_enabled & WB_MARKING) && gogc_rt->phase == PHASE_MARK);
  gogc_test_finish_held_cycle();
  CHECK(gogc__wb_enabled == 0 && gogc_rt->phase == PHASE_OFF);
  CHECK(alive(o));
}

/* The allocation that reaches the trigger starts the cycle after its own
 * critical section; the object it returns must be black all the same, or
 * a plain store of it into a global already scanned (`g = gogc_alloc(n)`)
 * loses it once the pointer leaves this thread's registers. The workers
 * are held, so nothing but the allocation itself can have marked it. */
static void test_trigger_returns_black(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_collect();
  atomic_store_release(&rt->test_hold, 1);
  int old = gogc_set_percent(1);
  struct obj *o = NULL;
  for (int i = 0; i < 1000000 && atomic_load_acquire(&rt->phase) != PHASE_MARK; i++) o = new_obj();
  CHECK(atomic_load_acquire(&rt->phase) == PHASE_MARK);
  gogc_span *s = o ? gogc_span_of((uintptr_t)o) : NULL;
  CHECKF(s != NULL && gogc_bit_get(s->markbits, gogc_span_obj_index(s, (uintptr_t)o)),
         "the object whose allocation started the cycle is %s", s ? "white" : "not found");
  gogc_set_percent(-1);
  gogc_test_finish_held_cycle();
  CHECK(alive(o));
  (void)old;
}

/* Garbage made before the cycle is reclaimed by it: the collector is not
 * keeping everything alive by accident. (A stale register or stack word
 * may keep one object of the chain, and what it points to, so the test
 * asks for most of them.) */
#define NGARBAGE 1000
static uintptr_t g_hidden[NGARBAGE]; /* addresses, xor-ed: not pointers */

static GOGC_NOINLINE void make_garbage(void) {
  for (int i = 0; i < NGARBAGE; i++) {
    struct obj *o = new_obj();
    g_hidden[i] = (uintptr_t)o ^ HIDE;
  }
}

static void test_garbage_reclaimed(void) {
  make_garbage();
  clobber_stack();
  gogc_test_start_held_cycle();
  gogc_test_finish_held_cycle();
  int freed = 0;
  for (int i = 0; i < NGARBAGE; i++) freed += gogc_size((void *)(g_hidden[i] ^ HIDE)) == 0;
  CHECK(freed >= NGARBAGE * 95 / 100);
  if (freed < NGARBAGE * 95 / 100) printf("  only %d of %d garbage objects freed\n", freed, NGARBAGE);
}

/* A thread in a blocking section is stopped without a signal; its
 * callee-saved registers were saved by gogc_enter_blocking and must be
 * scanned. When it leaves the section during the stop, it shows RUNNING
 * for a moment (gogc_leave_blocking sets it, sees the stop, sets BLOCKING
 * again and waits). A scan that read the state at that moment skipped
 * the saved registers: an object held only in a callee-saved register
 * across the section was freed (found by the stress test under
 * gcstoptheworld=2, about one run in twenty). Here the moment is made by
 * hand: stop, flip the state to RUNNING, ask how to scan the thread. */
static volatile int g_block_go, g_block_in;
static gogc_thread *volatile g_block_thread;

static void *blocker_main(void *arg) {
  (void)arg;
  g_block_thread = gogc_thread_register_self();
  gogc_enter_blocking();
  __atomic_store_n(&g_block_in, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&g_block_go, __ATOMIC_ACQUIRE)) tu_sleep_ms(1);
  gogc_leave_blocking();
  return NULL;
}

static void test_blocking_transient_running(void) {
  gogc_runtime *rt = gogc_rt;
  pthread_t tid;
  CHECK(pthread_create(&tid, NULL, blocker_main, NULL) == 0);
  while (!__atomic_load_n(&g_block_in, __ATOMIC_ACQUIRE)) tu_sleep_ms(1);
  gogc_thread *t = g_block_thread;

  /* The whole world stopped (gcstoptheworld modes, mark termination). */
  pthread_mutex_lock(&rt->gc_lock);
  gogc_stop_the_world();
  atomic_store_seqcst(&t->state, THREAD_RUNNING); /* the moment in leave_blocking */
  rt->nroots = 0;
  volatile uintptr_t marker = 0;
  gogc_roots_add_threads((uintptr_t)&marker);
  bool found = false, with_regs = false;
  for (uint32_t i = 0; i < rt->nroots; i++)
    if (rt->roots[i].kind == ROOT_STACK && rt->roots[i].hi == t->stack_hi) {
      found = true;
      with_regs = rt->roots[i].regs == t->regs && rt->roots[i].nregs == 6;
    }
  CHECKF(found && with_regs, "stack root of a blocking thread: found %d, saved registers %d",
         found, with_regs);
  rt->nroots = 0;
  atomic_store_seqcst(&t->state, THREAD_BLOCKING);
  gogc_start_the_world();
  pthread_mutex_unlock(&rt->gc_lock);
  (void)marker;

  /* One thread stopped for its stack scan (concurrent marking). */
  pthread_mutex_lock(&rt->threads_lock);
  CHECK(gogc_thread_suspend(t));
  atomic_store_seqcst(&t->state, THREAD_RUNNING);
  uintptr_t sp;
  const uintptr_t *regs;
  uint32_t nregs;
  gogc_thread_stopped_stack(t, &sp, &regs, &nregs);
  CHECKF(regs == t->regs && nregs == 6, "single stop of a blocking thread: registers %p, %u",
         (const void *)regs, nregs);
  atomic_store_seqcst(&t->state, THREAD_BLOCKING);
  gogc_thread_resume(t);
  pthread_mutex_unlock(&rt->threads_lock);

  __atomic_store_n(&g_block_go, 1, __ATOMIC_RELEASE);
  gogc_enter_blocking();
  pthread_join(tid, NULL);
  gogc_leave_blocking();
}

/* Both ways a stop reaches a running thread (stw.c): at its next
 * safepoint, the end of an allocator critical section, when a core is
 * free for it (stop_poke: no signal), and by the signal when it never
 * reaches one (a loop that does not allocate) or when every core is
 * taken. rt->test_stop_policy chooses the policy for each case; each case
 * stops the world and then the thread alone, and checks where the stop
 * found the thread and whether it handled a signal (at least one: the
 * second stop may come while the thread is still in the first's handler,
 * and its signal, pending then, may be handled after the check). */
static volatile int g_spin_alloc, g_spin_go, g_spin_in;
static gogc_thread *volatile g_spin_thread;
static void *volatile g_spin_sink;

static void *spinner_main(void *arg) {
  (void)arg;
  g_spin_thread = gogc_thread_register_self();
  __atomic_store_n(&g_spin_in, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&g_spin_go, __ATOMIC_ACQUIRE)) {
    if (g_spin_alloc) gogc_store((void **)&g_spin_sink, gogc_alloc_noscan(16));
    else
      for (volatile int i = 0; i < 100; i++) {
      }
  }
  return NULL;
}

static void test_stop_paths(void) {
  gogc_runtime *rt = gogc_rt;
  for (int alloc = 0; alloc < 2; alloc++) {
    for (int poll = 0; poll < 2; poll++) {
#if defined(GOGC_TSAN)
      /* ThreadSanitizer delivers a signal at the thread's next intercepted
       * call, which a loop that does not allocate never makes. */
      if (!alloc) continue;
#endif
      g_spin_alloc = alloc;
      __atomic_store_n(&g_spin_go, 0, __ATOMIC_RELEASE);
      __atomic_store_n(&g_spin_in, 0, __ATOMIC_RELEASE);
      pthread_t tid;
      CHECK(pthread_create(&tid, NULL, spinner_main, NULL) == 0);
      while (!__atomic_load_n(&g_spin_in, __ATOMIC_ACQUIRE)) tu_sleep_ms(1);
      gogc_thread *t = g_spin_thread;
      __atomic_store_n(&rt->test_stop_policy, poll ? 1u : 2u, __ATOMIC_RELAXED);
      /* Stopped at safepoints only if the thread is on a CPU during the
       * 10 us: on a busy machine (CI runs tests two at a time, one of
       * them forking hundreds of children) it may be off its CPU for
       * milliseconds, so tries a millisecond apart, for up to 2 s. */
      uint32_t sigs = 0;
      for (int attempt = 0; attempt < 2000; attempt++) {
        if (attempt > 0) tu_sleep_ms(1);
        uint32_t sig0 = __atomic_load_n(&t->signals_seen, __ATOMIC_RELAXED);
        pthread_mutex_lock(&rt->gc_lock);
        gogc_stop_the_world();
        uintptr_t sp = atomic_load_relaxed(&t->saved_sp);
        CHECKF(sp > t->stack_lo && sp < t->stack_hi, "alloc %d poll %d: full stop, sp %p", alloc,
               poll, (void *)sp);
        gogc_start_the_world();
        pthread_mutex_unlock(&rt->gc_lock);

        pthread_mutex_lock(&rt->threads_lock);
        CHECK(gogc_thread_suspend(t));
        const uintptr_t *regs;
        uint32_t nregs;
        gogc_thread_stopped_stack(t, &sp, &regs, &nregs);
        CHECKF(sp > t->stack_lo && sp < t->stack_hi && regs == NULL,
               "alloc %d poll %d: single stop, sp %p regs %p", alloc, poll, (void *)sp,
               (const void *)regs);
        gogc_thread_resume(t);
        pthread_mutex_unlock(&rt->threads_lock);
        sigs = __atomic_load_n(&t->signals_seen, __ATOMIC_RELAXED) - sig0;
        if (!(alloc && poll) || sigs == 0) break;
      }
      __atomic_store_n(&rt->test_stop_policy, 0u, __ATOMIC_RELAXED);
#if !defined(GOGC_TSAN) /* its slowdown makes the 10 us too short to count on */
      if (alloc && poll) CHECKF(sigs == 0, "stopped at safepoints, yet %u signals handled", sigs);
      else CHECKF(sigs >= 1, "alloc %d poll %d: stopped with no signal", alloc, poll);
#endif
      __atomic_store_n(&g_spin_go, 1, __ATOMIC_RELEASE);
      pthread_join(tid, NULL);
    }
  }
}

/* A weak pointer to an object that a cycle found dead, read before the
 * object's span is swept, is NULL: gogc_weak_get sweeps the span first
 * (without that it returned the dead object, which the sweep then freed).
 * The object is held by an added root range until the held cycle has
 * started (so the collection before it keeps the object), then the range
 * is removed, with no barrier involved: the held cycle finds it dead. */
static gogc_weak *volatile g_weak;

static GOGC_NOINLINE uintptr_t weak_target(void **root) {
  struct obj *o = new_obj();
  gogc_store((void *)&g_weak, gogc_weak_make(o));
  *root = o;
  return tu_enc(o);
}

static void test_weak_unswept(void) {
  gogc_runtime *rt = gogc_rt;
  int tested = 0;
  void **root = calloc(1, sizeof(void *));
  char why[160] = "";
  /* A stale copy of the pointer (a register, a dead frame) can keep the
   * object marked: try again with a new one. */
  for (int attempt = 0; attempt < 20 && !tested; attempt++) {
    CHECK(gogc_add_roots(root, root + 1) == 0);
    uintptr_t e = weak_target(root);
    clobber_stack();
    tu_clobber_stack();
    atomic_store_release(&rt->test_hold_sweep, 1);
    gogc_test_start_held_cycle();
    CHECK(gogc_remove_roots(root, root + 1) == 0);
    *root = NULL;
    gogc_test_finish_held_cycle_unswept();
    struct obj *o = tu_dec(e);
    gogc_span *s = gogc_span_of((uintptr_t)o);
    uint32_t h = atomic_load_relaxed(&rt->sweepgen);
    snprintf(why, sizeof why, "last attempt: span sweepgen %u (h %u), marked %d, cell %s",
             s ? s->sweepgen : 0, h,
             s ? (int)gogc_bit_get(s->markbits, gogc_span_obj_index(s, (uintptr_t)o)) : -1,
             *(const uintptr_t *)g_weak == (uintptr_t)o ? "set" : "cleared");
    /* Only meaningful if the object died (no stale word kept it) and its
     * span is still unswept. */
    if (s != NULL && atomic_load_relaxed(&s->sweepgen) == h - 2 &&
        !gogc_bit_get(s->markbits, gogc_span_obj_index(s, (uintptr_t)o)) &&
        *(const uintptr_t *)g_weak == (uintptr_t)o) {
      tested = 1;
      CHECKF(gogc_weak_get(g_weak) == NULL, "a weak pointer returned an object found dead");
      CHECK(*(const uintptr_t *)g_weak == 0);
    }
    o = NULL;
    atomic_store_release(&rt->test_hold_sweep, 0);
    gogc_os_futex_wake(&rt->test_hold_sweep, INT_MAX);
    gogc_sweep_finish();
  }
  free(root);
  CHECKF(tested, "no attempt left the weak pointer's object dead and unswept (%s)", why);
}

/* The allocating threads swept every page (the background sweeper
 * parked: here, held) but none found the sweep empty, so sweep_done is
 * unset; the sweep the trigger asks for (gogc_sweep_proportional with
 * all) must find that out and set it, or the cycle waits for the heap to
 * reach 110% of its goal (it did, with 2 busy threads on 2 cores). */
static void test_sweep_done_after_pages(void) {
  gogc_runtime *rt = gogc_rt;
  for (int i = 0; i < 20000; i++) CHECK(new_obj() != NULL); /* garbage */
  atomic_store_release(&rt->test_hold_sweep, 1);
  gogc_test_start_held_cycle();
  gogc_test_finish_held_cycle_unswept();
  CHECK(!atomic_load_acquire(&rt->sweep_done));
  CHECK(rt->sweep_pages_total > 0);
  while (atomic_load_relaxed(&rt->pages_swept) < rt->sweep_pages_total && gogc_sweep_one()) {
  }
  CHECK(atomic_load_relaxed(&rt->pages_swept) >= rt->sweep_pages_total);
  CHECK(!atomic_load_acquire(&rt->sweep_done)); /* the state the trigger found */
  gogc_sweep_proportional(true);
  CHECKF(atomic_load_acquire(&rt->sweep_done), "every page swept, but sweep_done still unset");
  atomic_store_release(&rt->test_hold_sweep, 0);
  gogc_os_futex_wake(&rt->test_hold_sweep, INT_MAX);
  gogc_sweep_finish();
}

int main(void) {
  const char *gd = getenv("GODEBUG");
  /* Held cycles need the concurrent mode, and no collection that the
   * test does not start: under gcstress/gcstressslow an allocation made
   * while a cycle is held (test_insertion, test_allocate_black) starts a
   * forced collection, which waits for the held cycle to end, and only
   * this thread can end it. */
  if (gd && (strstr(gd, "gcstoptheworld") || tu_stressed())) {
    printf("unit_concurrent: skipped under GODEBUG=%s\n", gd);
    return 0;
  }
  gogc_set_percent(-1); /* only the cycles the tests start */
  for (int how = 0; how < 5; how++) test_deletion(how);
  for (int how = 0; how < 5; how++) test_insertion(how);
  test_insertion_after_scan();
  test_black_stacks_inline();
  test_barrier_restart();
  test_allocate_black();
  test_trigger_returns_black();
  test_garbage_reclaimed();
  test_weak_unswept();
  test_sweep_done_after_pages();
  test_blocking_transient_running();
  test_stop_paths();
  return check_done();
}
