/* gogc: the write barrier (Go's mbarrier.go and mwbbuf.go).
 *
 * While the collector marks concurrently (phase MARK, gogc__wb_enabled
 * set), every pointer store into the heap, a global or an added root range
 * goes through gogc_store, gogc_memmove, gogc_memclr or the atomic forms
 * here. The barrier is Go's hybrid one:
 *
 *     shade(*slot)      the value overwritten  (Yuasa, deletion)
 *     shade(value)      the value written      (Dijkstra, insertion),
 *                       while this thread's stack is not yet scanned
 *     *slot = value
 *
 * "Shade" here is cheap: both words go into the thread's barrier buffer
 * (wb, 512 words) and are shaded in a batch when it fills (gogc_wb_flush)
 * or, at mark termination, by the collector with the world stopped.
 *
 * Why stacks are scanned once and never again. The collector keeps the
 * weak tri-colour invariant: a white object referenced from a black one
 * is reachable from a grey one through white objects. Stacks (and
 * registers) have no barrier; each is scanned once, its thread stopped
 * alone. Objects allocated during the mark are black.
 *  1. A thread cannot hide an object by loading the only heap reference
 *     onto its stack and then overwriting the heap slot: the overwrite
 *     shades the old value, whether or not that stack was scanned.
 *  2. A thread whose stack is not yet scanned cannot hide an object by
 *     storing it into a black object and then dropping it from its stack:
 *     the store shades the new value.
 *  3. After a thread's stack is scanned, everything it can get is black
 *     (new objects), or loaded from a heap slot or global (protected by
 *     the deletion half while the slot holds it), or shaded as it is
 *     handed over (a weak pointer's target, special.c; an object taken
 *     from a pool, pool.c; a pointer another thread writes into its
 *     locals goes through the barrier, docs/api.md), so a scanned stack
 *     is never the only path to a white object.
 * Globals are scanned concurrently too, hence barriers on global stores.
 *
 * So the insertion half is needed only for case 2. Go's barrier shades
 * both values always, because a goroutine cannot cheaply tell whether its
 * own stack is grey; here each thread's stack is scanned once, at a stop
 * of that thread (or by the thread itself), and the scan clears the
 * thread's stack_grey flag, which the barrier reads inside its critical
 * section. A thread registered during the mark keeps the flag set until
 * the cycle ends (its stack is never scanned in it). Most stores while
 * marking initialise new objects, whose old value is zero: with a black
 * stack they buffer nothing, and binary-trees with 2 threads lost its
 * barrier-buffer flushes (1.7% of its CPU samples) and about 1% of its
 * wall time (medians of 6 round-robin runs).
 *
 * Once every stack is black, such a store needs no barrier at all, and
 * the inline fast path handles it (gogc.h's second sequence): while any
 * registered thread's stack is grey, WB_GREY_STACKS is set beside
 * WB_MARKING (rt->grey_stacks counts them under threads_lock: all
 * threads at mark start, one more for a thread registering during the
 * mark, one less as each is scanned or leaves, gogc_stack_blacken); when
 * the flag is WB_MARKING alone, the sequence exchanges the value into a
 * slot that holds 0 and calls the slow path only for a slot that held
 * something (the deletion half) or when the exchange found it so. A
 * thread that sees the bit set late takes the slow path, which is always
 * right; a thread whose own stack is grey always sees it set (it was set
 * with the world stopped, or by that thread registering). binary-trees
 * with 2 threads: gogc__store_slow's 3.6% of CPU samples gone, 1.8% less
 * wall time (medians of 8 round-robin runs, 2026-11-30).
 *
 * What needs no barrier:
 *   - stores to the thread's own locals, and of non-pointer data;
 *   - the initialising stores into an object allocated since the mark
 *     started may skip the deletion half (the old value is zero) but not
 *     the insertion half: the value may be white and held only by this
 *     thread's unscanned stack (case 2). Writing NULL, or a pointer to an
 *     object allocated during this mark, needs nothing. gogc_store is
 *     always correct; these exceptions are for code that counts cycles.
 *   - any store while the collector is off (the fast path tests a flag).
 *
 * The phase must not change between the flag test and the store: a
 * thread that saw the barrier off, then stopped for the mark to start,
 * would store without it. Go forbids preemption there. gogc_store's fast
 * path on x86-64 is an inline sequence bracketed by two marker
 * instructions (gogc.h); when the collector stops a thread whose program
 * counter is inside it, before the store, the signal handler moves the
 * program counter back to the start (gogc_barrier_restart), so the test
 * runs again after the stop. The slow paths below run the test and the
 * store inside an allocator critical section, where no stop happens.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>


static GOGC_NOINLINE gogc_thread *barrier_thread(void) {
  gogc_thread *t = gogc_self;
  if (t == NULL && gogc_ensure_init() == 0) {
    t = gogc_thread_register_self();
    /* Out of memory: a store cannot fail, so the thread's record comes
     * from the collector's reserve (as its own threads' do; refilled
     * after the cycle). unit_oom's threads scenario hit the fatal error
     * below when every request failed and a new thread stored while
     * marking. */
    if (t == NULL) t = gogc_thread_register_helper();
  }
  if (t == NULL) gogc_fatal("a pointer store from a thread that cannot be registered");
  return t;
}

/* ---------------------------------------------------------------------------
 * GODEBUG=invalidptr=1: a pointer into the heap that does not point into
 * an allocated object (a dangling pointer, or one past the end of an
 * object) is reported where it is first seen: passed to the API, or found
 * in a typed pointer slot by the marker. With it on, every gogc_store
 * takes this slow path (WB_CHECK).
 * ------------------------------------------------------------------------- */

/* Does p point into the heap but not into an allocated object? Caller in
 * a critical section (no sweep can change the answer under it). */
bool gogc_ptr_is_invalid(uintptr_t p) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t off = p - rt->heap_base;
  if (off >= atomic_load_acquire(&rt->heap_mapped)) return false; /* not the heap */
  uint32_t idx;
  uintptr_t base;
  return gogc_object_find(p, &idx, &base) == NULL;
}

void gogc_check_ptr(const char *fn, const char *what, const void *p) {
  if (p != NULL && gogc_ptr_is_invalid((uintptr_t)p))
    gogc_fatal("%s: %s %p points into the gogc heap but not into an allocated object "
               "(freed, never allocated, or one past the end) [GODEBUG=invalidptr=1]",
               fn, what, p);
}

/* *slot = value, returning the old value, with the slot's first access a
 * write (see gogc__store_slow). A locked exchange would do, but it drains
 * the store buffer, and a program that stores into new objects while
 * marking has stores to fresh lines pending: the exchange was 13% of
 * binary-trees' program thread. On x86-64 an unlocked compare-and-exchange
 * is a write access whatever the comparison finds, and fences nothing:
 * expecting zero (an initialising store) it stores value itself; else it
 * returns the old value and writes it back, and the store follows. Not
 * atomic against another thread's store to the same slot, which gogc_store
 * never promised (the atomic forms do): each racing store shades the value
 * it writes, so whatever value is lost between them was shaded.
 * Sanitizer builds keep the exchange, which they see (the assembly they
 * would not check). */
static inline uintptr_t wb_swap(void **slot, void *value) {
#if defined(__x86_64__) && !defined(GOGC_ASAN) && !defined(GOGC_TSAN)
  uintptr_t old = 0;
  __asm__ volatile("cmpxchgq %2, %1" : "+a"(old), "+m"(*(uintptr_t *)slot) : "r"(value) : "cc", "memory");
  if (old != 0) atomic_store_relaxed(slot, value);
  return old;
#else
  return (uintptr_t)__atomic_exchange_n(slot, value, __ATOMIC_RELAXED);
#endif
}

GOGC_API void gogc__store_slow(void **slot, void *value) {
  gogc_thread *t = gogc_self;
  if (unlikely(t == NULL)) t = barrier_thread();
  gogc_critical_enter(t);
  if (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK) {
    gogc_check_ptr("gogc_store", "slot", slot);
    gogc_check_ptr("gogc_store", "value", value);
  }
  if (gogc_wb_marking()) {
    /* Swap, not load then store: a load is a read access, and the first
     * access to a page never touched since it was mapped (or returned to
     * the OS) maps the shared zero page on a read; the store right after
     * must then replace it, with a TLB flush of every core running a
     * thread of the process (an interrupt to each: 4% of binary-trees'
     * mutator time, new nodes being stored into while marking). The swap
     * (wb_swap) begins with a write access (for an aligned slot; a
     * misaligned one keeps the load and store). Shading after the store is as good as before
     * it: no stop can come between (critical section), and the buffer is
     * drained before marking ends. */
    uintptr_t old;
    if (likely(((uintptr_t)slot & 7) == 0)) {
      old = wb_swap(slot, value);
    } else { /* a locked operation across cache lines: slow, or a fault */
      old = (uintptr_t)atomic_load_relaxed(slot);
      atomic_store_relaxed(slot, value);
    }
    gogc_wb_put(t, old);
    if (gogc_wb_insertion(t)) gogc_wb_put(t, (uintptr_t)value); /* case 2 only */
  } else {
    atomic_store_relaxed(slot, value);
  }
  gogc_critical_leave(t);
}

/* Shade every aligned word that [dst, dst+n) holds now and, while t's
 * stack is grey, that [src, src+n) holds (src may be NULL: a clear). */
static void wb_put_range(gogc_thread *t, uintptr_t dst, uintptr_t src, size_t n) {
  uintptr_t first = (dst + 7) & ~(uintptr_t)7;
  if (!gogc_wb_insertion(t)) src = 0;
  for (uintptr_t a = first; a + 8 <= dst + n; a += 8) {
    gogc_wb_put(t, *(const uintptr_t *)a);
    if (src) {
      uintptr_t s = src + (a - dst);
      uintptr_t v;
      memcpy(&v, (const void *)s, sizeof v); /* src may be misaligned */
      gogc_wb_put(t, v);
    }
  }
}

/* A range about to become invisible to the markers without being
 * overwritten (a freed arena chunk): while marking, shade what it holds,
 * as the deletion half of the barrier does for one slot. hide() runs in
 * the same critical section, so marking cannot start or end between the
 * test and the hiding. */
void gogc_hide_range(uintptr_t lo, uintptr_t hi, void (*hide)(void *), void *arg) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  gogc_critical_enter(t);
  hide(arg);
  if (gogc_wb_marking()) wb_put_range(t, lo, 0, hi - lo);
  gogc_critical_leave(t);
}

/* Copies and clears go in pieces, each with its barrier in one critical
 * section, so a stop is never held off for long. */
#define BULK_PIECE 4096

GOGC_API void *gogc_memmove(void *dst, const void *src, size_t n) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
  bool forward = d <= s || d >= s + n;
  size_t done = 0;
  while (done < n) {
    size_t piece = n - done < BULK_PIECE ? n - done : BULK_PIECE;
    size_t off = forward ? done : n - done - piece;
    gogc_critical_enter(t);
    if (done == 0 && (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK)) {
      gogc_check_ptr("gogc_memmove", "destination", dst);
      gogc_check_ptr("gogc_memmove", "destination end", (const char *)dst + n - 1);
    }
    if (gogc_wb_marking()) wb_put_range(t, d + off, s + off, piece);
    memmove((void *)(d + off), (const void *)(s + off), piece);
    gogc_critical_leave(t);
    done += piece;
  }
  return dst;
}

GOGC_API void gogc_memclr(void *dst, size_t n) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  uintptr_t d = (uintptr_t)dst;
  for (size_t done = 0; done < n;) {
    size_t piece = n - done < BULK_PIECE ? n - done : BULK_PIECE;
    gogc_critical_enter(t);
    if (done == 0 && (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK)) {
      gogc_check_ptr("gogc_memclr", "destination", dst);
      gogc_check_ptr("gogc_memclr", "destination end", (const char *)dst + n - 1);
    }
    if (gogc_wb_marking()) wb_put_range(t, d + done, 0, piece);
    memset((void *)(d + done), 0, piece);
    gogc_critical_leave(t);
    done += piece;
  }
}

GOGC_API void gogc_atomic_store(void *slot, const void *value) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  gogc_critical_enter(t);
  if (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK) {
    gogc_check_ptr("gogc_atomic_store", "slot", slot);
    gogc_check_ptr("gogc_atomic_store", "value", value);
  }
  if (gogc_wb_marking()) {
    gogc_wb_put(t, (uintptr_t)atomic_load_relaxed((void **)slot));
    if (gogc_wb_insertion(t)) gogc_wb_put(t, (uintptr_t)value);
  }
  atomic_store_seqcst((void **)slot, (void *)value);
  gogc_critical_leave(t);
}

GOGC_API void *gogc_atomic_swap(void *slot, const void *value) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  gogc_critical_enter(t);
  if (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK) {
    gogc_check_ptr("gogc_atomic_swap", "slot", slot);
    gogc_check_ptr("gogc_atomic_swap", "value", value);
  }
  bool on = gogc_wb_marking();
  if (on && gogc_wb_insertion(t)) gogc_wb_put(t, (uintptr_t)value);
  void *old = __atomic_exchange_n((void **)slot, (void *)value, __ATOMIC_SEQ_CST);
  if (on) gogc_wb_put(t, (uintptr_t)old); /* exactly the value overwritten */
  gogc_critical_leave(t);
  return old;
}

GOGC_API int gogc_atomic_cas(void *slot, const void *expected, const void *desired) {
  gogc_thread *t = gogc_self;
  if (t == NULL) t = barrier_thread();
  gogc_critical_enter(t);
  if (atomic_load_relaxed(&gogc__wb_enabled) & WB_CHECK) {
    gogc_check_ptr("gogc_atomic_cas", "slot", slot);
    gogc_check_ptr("gogc_atomic_cas", "value", desired);
  }
  bool on = gogc_wb_marking();
  if (on && gogc_wb_insertion(t)) gogc_wb_put(t, (uintptr_t)desired);
  void *exp = (void *)expected;
  int ok = __atomic_compare_exchange_n((void **)slot, &exp, (void *)desired, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  if (on && ok) gogc_wb_put(t, (uintptr_t)expected); /* the value overwritten */
  gogc_critical_leave(t);
  return ok;
}

/* t's stack was scanned in this mark, or t is leaving: its stores no
 * longer need the insertion half. When no stack is grey any more, the
 * inline stage for black stacks goes on for every thread (WB_GREY_STACKS
 * off: see gogc.h). Clearing the bit early is never unsafe for a thread
 * that still sees it set (it takes the slow path); setting it again
 * during the mark is needed only for a thread registering then, which
 * sets it itself (stw.c). threads_lock held, so the count and the bit
 * change together and the phase cannot change. */
void gogc_stack_blacken(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  if (!atomic_load_relaxed(&t->stack_grey)) return;
  atomic_store_relaxed(&t->stack_grey, 0);
  if (atomic_load_relaxed(&rt->phase) != PHASE_MARK) return;
  gogc_assert(rt->grey_stacks > 0);
  if (--rt->grey_stacks == 0) atomic_and_relaxed(&gogc__wb_enabled, ~WB_GREY_STACKS);
}

/* ---------------------------------------------------------------------------
 * Restarting an interrupted inline barrier (signal handler)
 *
 * gogc.h's sequences, at most 40 bytes from START to the end of END:
 *   START (8 bytes); cmpl $0,<flag>; jne marking; movq v,(s); END (8 bytes)
 *   START; cmpl $1,<flag>; jne slow; xorl eax,eax; cmpxchgq v,(s); END;
 *   jne slow
 * (the second at most 37 bytes: 8 + 8 + 6 + 2 + 5 + 8). If the
 * interrupted pc lies after START and before END (the store not done),
 * it goes back to START: the flag is tested again. The store is the last
 * instruction before END in both, so a stop after it never repeats it;
 * the second sequence's branch on the exchange's result comes after END
 * (the marker, a nop, keeps the flags).
 * ------------------------------------------------------------------------- */
#if defined(__x86_64__)
static const unsigned char seq_start[8] = {0x0f, 0x1f, 0x84, 0x00, 0x67, 0x6f, 0x67, 0x63};
static const unsigned char seq_end[8] = {0x0f, 0x1f, 0x84, 0x00, 0x47, 0x4f, 0x47, 0x43};
#define SEQ_MAX 40

/* Read n bytes of our own code at a; false if not all are mapped. */
static bool read_code(uintptr_t a, unsigned char *buf, size_t n) {
  if ((a >> 12) == ((a + n - 1) >> 12)) {
    memcpy(buf, (const void *)a, n); /* within the page holding pc */
    return true;
  }
  struct iovec local = {buf, n}, remote = {(void *)a, n};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

void gogc_barrier_restart(void *uctx) {
  ucontext_t *uc = uctx;
  uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
  unsigned char win[2 * SEQ_MAX];
  uintptr_t lo = pc - SEQ_MAX;
  if (!read_code(lo, win, sizeof win)) return;
  size_t at = SEQ_MAX; /* pc's index in win */
  /* The last START at or below pc - 8 (pc is past it). */
  size_t s = (size_t)-1;
  for (size_t i = at - 8 + 1; i-- > 0;) {
    if (memcmp(win + i, seq_start, 8) == 0) {
      s = i;
      break;
    }
  }
  if (s == (size_t)-1) return;
  /* The first END after START: pc must be before it. */
  for (size_t e = s + 8; e + 8 <= sizeof win && e <= s + SEQ_MAX; e++) {
    if (memcmp(win + e, seq_end, 8) == 0) {
      if (at < e) uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(lo + s);
      return;
    }
  }
}
#else
void gogc_barrier_restart(void *uctx) {
  (void)uctx;
}
#endif
