/* gogc: finalizers, cleanups and weak handles (Go's specials, mfinal.go,
 * mcleanup.go and the weak handles of mheap.go).
 *
 * Records. Each is a small "special" attached to an object through its
 * span: a list per span, sorted by the object's offset and then by kind
 * (finalizer, weak handle, cleanup), under a spin lock in the span. A bit
 * per span (page_specials, at the span's first page) says which spans have
 * any, so the collector visits only those. An object without specials
 * costs nothing; a span without them costs one pointer test per sweep.
 *
 * Marking. One root job (ROOT_SPECIALS) visits every record:
 *   finalizer  the object's contents are scanned but the object is not
 *              marked: everything it references survives the cycle, and
 *              the object itself stays white unless something else
 *              reaches it. The argument is a root.
 *   cleanup    the argument is a root; the object is not involved.
 *   weak       the handle cell is marked (it must outlive its object's
 *              record); the object is not.
 * and every entry of the finalizer queue (object and argument) is a root
 * until its function has been called. Records added while marking do the
 * same work themselves, since the root job may already have run.
 *
 * Sweeping. Before a span's bitmaps are swapped, each object with records
 * and no mark is dead:
 *   with a finalizer  its mark bit is set (resurrected for one more
 *                     cycle), the finalizer is queued with the object,
 *                     its weak handles are cleared; cleanups stay;
 *   without one       its weak handles are cleared and its cleanups
 *                     queued, and the object is freed with the span's
 *                     other garbage.
 * So weak handles go NULL at the first unreachability, before any
 * finalizer runs; a finalized object is freed at a later cycle, unless
 * the finalizer stored it somewhere; cleanups run only once the object is
 * gone for good. As in Go, a finalizer whose object reaches itself (a
 * cycle through finalizable objects) never runs, and finalizers run in
 * dependency order: if A points to B, B's waits until A is gone.
 *
 * Weak handles. A handle is an 8-byte noscan heap cell holding the
 * object's address, one per object (so handles compare equal exactly when
 * they name the same object); the program holds the cell, the record
 * holds it too while the object lives. Reading one: inside a critical
 * section (so no cycle can end meanwhile) load the address, sweep the
 * object's span if it is not swept yet (a dead object with a stale
 * address must not come back), load again, and while marking shade the
 * result: a pointer that appears out of a non-pointer is a deletion as
 * far as the barrier is concerned.
 *
 * Running. The finalizer queue is a FIFO of due finalizers and cleanups,
 * under fin_lock. A dedicated thread, registered like any user thread and
 * started with the first finalizer or cleanup, calls them one at a time
 * with no collector lock held, so they may allocate, store, block and
 * collect. A program may also run them itself (gogc_run_finalizers) and
 * wait until none is pending (gogc_wait_finalizers). Taking an entry out
 * of the queue while marking shades it, for the same reason as above.
 *
 * Locks. A span's spin lock comes before special_lock and fin_lock. All
 * three are held by registered threads only inside critical sections
 * (they are taken with the world stopped in stop-the-world marks and by
 * fork), and never around a call into the program.
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>

/* ---------------------------------------------------------------------------
 * Locks and records
 * ------------------------------------------------------------------------- */

void gogc_specials_init(void) {
  pthread_mutex_init(&gogc_rt->special_lock, NULL);
  pthread_mutex_init(&gogc_rt->fin_lock, NULL);
}

static void span_lock(gogc_span *s) {
  for (uint32_t spins = 0;; spins++) {
    if (!atomic_load_relaxed(&s->specials_lock) &&
        !__atomic_exchange_n(&s->specials_lock, 1, __ATOMIC_ACQUIRE))
      return;
    if (spins > 64) sched_yield();
  }
}

static void span_unlock(gogc_span *s) { atomic_store_release(&s->specials_lock, 0); }

/* Caller in a critical section (or unregistered). */
static gogc_special *special_alloc(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->special_lock);
  gogc_special *sp = rt->special_free;
  if (sp != NULL) rt->special_free = sp->next;
  pthread_mutex_unlock(&rt->special_lock);
  if (sp == NULL) sp = gogc_meta_alloc(sizeof *sp);
  if (sp != NULL) memset(sp, 0, sizeof *sp);
  return sp;
}

/* Free a chain linked through next. */
static void special_free_chain(gogc_special *head) {
  if (head == NULL) return;
  gogc_special *tail = head;
  while (tail->next != NULL) tail = tail->next;
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->special_lock);
  tail->next = rt->special_free;
  rt->special_free = head;
  pthread_mutex_unlock(&rt->special_lock);
}

static void page_bit(gogc_span *s, bool on) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t page = (s->base - rt->heap_base) >> PAGE_SHIFT;
  uint64_t bit = (uint64_t)1 << (page & 63);
  if (on) {
    __atomic_fetch_or(&rt->page_specials[page >> 6], bit, __ATOMIC_RELEASE);
    atomic_add_relaxed(&rt->nspecial_spans, 1);
  } else {
    __atomic_fetch_and(&rt->page_specials[page >> 6], ~bit, __ATOMIC_RELEASE);
    atomic_sub_relaxed(&rt->nspecial_spans, 1);
  }
}

static inline bool key_le(const gogc_special *a, uint32_t offset, uint32_t kind) {
  return a->offset < offset || (a->offset == offset && a->kind <= kind);
}

/* Insert sp after every record with a key <= its own (so cleanups of one
 * object keep the order they were added in). Span locked. Objects are
 * mostly given records in address order: start from the last insertion
 * when it is not past the new key. */
static void special_insert(gogc_span *s, gogc_special *sp) {
  gogc_special **pp = &s->specials;
  gogc_special *h = s->specials_last;
  if (h != NULL && key_le(h, sp->offset, sp->kind)) pp = &h->next;
  while (*pp != NULL && key_le(*pp, sp->offset, sp->kind)) pp = &(*pp)->next;
  bool was_empty = s->specials == NULL;
  sp->next = *pp;
  *pp = sp;
  s->specials_last = sp;
  if (was_empty) page_bit(s, true);
}

/* The link that points to the first record of (offset, kind) that
 * matches (id 0: any), or NULL. Span locked. */
static gogc_special **special_find(gogc_span *s, uint32_t offset, uint32_t kind, uint64_t id) {
  /* Records before the hint have smaller keys: start there when the hint
   * is below the key (a span's objects are looked up mostly in order). */
  gogc_special **start = &s->specials;
  gogc_special *h = s->specials_last;
  if (h != NULL && (h->offset < offset || (h->offset == offset && h->kind < kind))) start = &h->next;
  for (gogc_special **pp = start; *pp != NULL; pp = &(*pp)->next) {
    gogc_special *sp = *pp;
    if (sp->offset > offset) break;
    if (sp->offset == offset && sp->kind == kind && (id == 0 || sp->id == id)) return pp;
  }
  return NULL;
}

static void special_unlink(gogc_span *s, gogc_special **pp) {
  gogc_special *sp = *pp;
  *pp = sp->next;
  sp->next = NULL;
  if (s->specials_last == sp) s->specials_last = NULL;
  if (s->specials == NULL) page_bit(s, false);
}

bool gogc_specials_has(gogc_span *s, uintptr_t offset) {
  bool found = false;
  span_lock(s);
  for (gogc_special *sp = s->specials; sp != NULL && sp->offset <= offset; sp = sp->next)
    if (sp->offset == offset) found = true;
  span_unlock(s);
  return found;
}

/* The records of s are sorted, name allocated objects of s, at most one
 * finalizer and one weak handle each, and the span's page bit agrees.
 * World stopped (the heap verifier). */
bool gogc_specials_is_valid(const gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t page = (s->base - rt->heap_base) >> PAGE_SHIFT;
  bool bit = (atomic_load_relaxed(&rt->page_specials[page >> 6]) >> (page & 63)) & 1;
  if (bit != (s->specials != NULL)) return false;
  const gogc_special *prev = NULL;
  for (const gogc_special *sp = s->specials; sp != NULL; prev = sp, sp = sp->next) {
    if (sp->kind < SPECIAL_FINALIZER || sp->kind > SPECIAL_CLEANUP) return false;
    if (sp->offset % s->elemsize != 0 || sp->offset >= s->nelems * s->elemsize) return false;
    if (!gogc_span_is_allocated(s, (uint32_t)(sp->offset / s->elemsize))) return false;
    if (prev != NULL && !key_le(prev, sp->offset, sp->kind)) return false;
    if (prev != NULL && prev->offset == sp->offset && prev->kind == sp->kind &&
        sp->kind != SPECIAL_CLEANUP)
      return false;
    if (sp->kind == SPECIAL_WEAK && *(const uintptr_t *)sp->arg != s->base + sp->offset) return false;
  }
  return true;
}

bool gogc_specials_any(void) {
  gogc_runtime *rt = gogc_rt;
  return atomic_load_relaxed(&rt->nspecial_spans) != 0 || atomic_load_relaxed(&rt->fin_pending) != 0;
}

/* Shade single words from a registered thread while marking. */
static void shade_words(gogc_thread *t, uintptr_t a, uintptr_t b) {
  if (!gogc_wb_marking()) return;
  uintptr_t w[2] = {a, b};
  gogc_mark_shade_range(t, (uintptr_t)w, (uintptr_t)(w + 2));
}

/* ---------------------------------------------------------------------------
 * The finalizer queue and its thread
 * ------------------------------------------------------------------------- */

/* Queue a batch (linked through next, in order). fin_lock not held. */
static void fin_enqueue(gogc_fin_entry *head, gogc_fin_entry *tail, uint32_t n) {
  if (n == 0) return;
  gogc_runtime *rt = gogc_rt;
  atomic_add_relaxed(&rt->fin_pending, n);
  gogc_lock(&rt->fin_lock);
  if (rt->fin_tail != NULL) rt->fin_tail->next = head;
  else rt->fin_head = head;
  rt->fin_tail = tail;
  pthread_mutex_unlock(&rt->fin_lock);
  /* Dekker with fin_main: it stores fin_sleeping then reads fin_seq (in
   * the futex call); we bump fin_seq then read fin_sleeping. */
  __atomic_add_fetch(&rt->fin_seq, 1, __ATOMIC_SEQ_CST);
  if (atomic_load_seqcst(&rt->fin_sleeping)) gogc_os_futex_wake(&rt->fin_seq, 1);
}

/* An entry from *cache, refilled with up to 64 free entries at a time. */
static gogc_fin_entry *fin_entry_alloc(gogc_fin_entry **cache) {
  gogc_runtime *rt = gogc_rt;
  if (*cache == NULL) {
    gogc_lock(&rt->fin_lock);
    gogc_fin_entry *e = rt->fin_free, *last = NULL;
    for (int i = 0; i < 64 && e != NULL; i++) last = e, e = e->next;
    if (last != NULL) {
      *cache = rt->fin_free;
      rt->fin_free = e;
      last->next = NULL;
    }
    pthread_mutex_unlock(&rt->fin_lock);
  }
  gogc_fin_entry *e = *cache;
  if (e != NULL) *cache = e->next;
  else e = gogc_meta_alloc_critical(sizeof *e, "the finalizer queue");
  return e;
}

/* Give back what is left of a cache. */
static void fin_entry_uncache(gogc_fin_entry *cache) {
  if (cache == NULL) return;
  gogc_runtime *rt = gogc_rt;
  gogc_fin_entry *last = cache;
  while (last->next != NULL) last = last->next;
  gogc_lock(&rt->fin_lock);
  last->next = rt->fin_free;
  rt->fin_free = cache;
  pthread_mutex_unlock(&rt->fin_lock);
}

/* Take the oldest entry and call it. t is the caller. Returns false when
 * the queue is empty. Never inlined: the object is kept in a callee-saved
 * register across the call, and only this function's epilogue restores
 * the caller's value. Inlined into fin_main, the register kept the object
 * after the call, the thread parked with it among its saved registers,
 * and the object stayed reachable until the next finalizer ran (test_final
 * under gcstress saw a finalized object never die). */
static GOGC_NOINLINE bool fin_run_one(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  gogc_critical_enter(t);
  gogc_lock(&rt->fin_lock);
  gogc_fin_entry *e = rt->fin_head;
  if (e == NULL) {
    pthread_mutex_unlock(&rt->fin_lock);
    gogc_critical_leave(t);
    return false;
  }
  rt->fin_head = e->next;
  if (rt->fin_head == NULL) rt->fin_tail = NULL;
  void (*fn)(void) = e->fn;
  void *obj = e->obj, *arg = e->arg;
  e->obj = e->arg = NULL;
  e->next = rt->fin_free;
  rt->fin_free = e;
  pthread_mutex_unlock(&rt->fin_lock);
  /* The entry was a root; now only this thread's stack holds them. */
  shade_words(t, (uintptr_t)obj, (uintptr_t)arg);
  gogc_critical_leave(t);

  if (obj != NULL) {
    ((gogc_finalizer_fn)fn)(obj, arg);
    atomic_add_relaxed(&rt->fin_run, 1);
  } else {
    ((gogc_cleanup_fn)fn)(arg);
    atomic_add_relaxed(&rt->cleanup_run, 1);
  }
  gogc_keep_alive(obj);
  obj = arg = NULL;
  /* Waiters wait for "nothing pending" (with a timeout as a safety net). */
  if (__atomic_sub_fetch(&rt->fin_pending, 1, __ATOMIC_ACQ_REL) == 0) {
    atomic_add_acq_rel(&rt->fin_done_seq, 1);
    gogc_os_futex_wake(&rt->fin_done_seq, INT_MAX);
  }
  return true;
}

static void *fin_main(void *unused) {
  (void)unused;
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_thread_register_self();
  if (t == NULL) {
    gogc_warn("cannot register the finalizer thread; run finalizers with gogc_run_finalizers");
    atomic_store_release(&rt->fin_started, 0);
    return NULL;
  }
  atomic_store_release(&rt->fin_thread, t);
  for (;;) {
    uint32_t seq = atomic_load_acquire(&rt->fin_seq);
    if (fin_run_one(t)) continue;
    /* The finalizers' dead frames may still hold the objects they got:
     * a resurrected object would live on until the next finalizer. */
    gogc_clear_dead_stack();
    gogc_enter_blocking();
    atomic_store_seqcst(&rt->fin_sleeping, 1);
    if (atomic_load_seqcst(&rt->fin_seq) == seq) gogc_os_futex_wait(&rt->fin_seq, seq);
    atomic_store_relaxed(&rt->fin_sleeping, 0);
    gogc_leave_blocking();
  }
  return NULL;
}

static void fin_start(void) {
  gogc_runtime *rt = gogc_rt;
  uint32_t zero = 0;
  if (atomic_load_relaxed(&rt->fin_started) ||
      !__atomic_compare_exchange_n(&rt->fin_started, &zero, 1, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_RELAXED))
    return;
  pthread_t tid;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = gogc_start_helper(&tid, &attr, fin_main, NULL, "gogc-finalizer");
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    gogc_warn("cannot start the finalizer thread (error %d); run finalizers with "
              "gogc_run_finalizers",
              rc);
    atomic_store_release(&rt->fin_started, 0);
  }
}

GOGC_API size_t gogc_run_finalizers(void) {
  if (gogc_ensure_init() != 0) return 0;
  gogc_thread *t = gogc_self;
  if (t == NULL && (t = gogc_thread_register_self()) == NULL) return 0;
  size_t n = 0;
  while (fin_run_one(t)) n++;
  return n;
}

GOGC_API void gogc_wait_finalizers(void) {
  if (gogc_ensure_init() != 0) return;
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  if (t == NULL && (t = gogc_thread_register_self()) == NULL) return;
  if (t == atomic_load_acquire(&rt->fin_thread)) { /* from a finalizer: waiting would deadlock */
    gogc_run_finalizers();
    return;
  }
  for (;;) {
    uint32_t seq = atomic_load_acquire(&rt->fin_done_seq);
    if (atomic_load_acquire(&rt->fin_pending) == 0) return;
    if (!atomic_load_acquire(&rt->fin_started)) {
      gogc_run_finalizers(); /* no thread (it could not start): do it here */
      continue;
    }
    gogc_enter_blocking();
    gogc_os_futex_wait_ns(&rt->fin_done_seq, seq, 10000000);
    gogc_leave_blocking();
  }
}

/* ---------------------------------------------------------------------------
 * Marking and sweeping
 * ------------------------------------------------------------------------- */

void gogc_specials_scan(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  uintptr_t npages = atomic_load_acquire(&rt->heap_mapped) >> PAGE_SHIFT;
  for (uintptr_t i = 0; i < (npages + 63) / 64; i++) {
    uint64_t bits = atomic_load_acquire(&rt->page_specials[i]);
    while (bits != 0) {
      uintptr_t page = i * 64 + (uintptr_t)__builtin_ctzll(bits);
      bits &= bits - 1;
      gogc_span *s = atomic_load_relaxed(&rt->spans[page]);
      if (s == NULL || s->base != rt->heap_base + (page << PAGE_SHIFT)) continue;
      if (t) gogc_critical_enter(t);
      span_lock(s);
      for (gogc_special *sp = s->specials; sp != NULL; sp = sp->next) {
        if (sp->kind == SPECIAL_FINALIZER) gogc_mark_scan_unmarked(w, s->base + sp->offset);
        gogc_mark_shade_word(w, (uintptr_t)sp->arg);
      }
      span_unlock(s);
      if (t) gogc_critical_leave(t);
    }
  }
  if (t) gogc_critical_enter(t);
  gogc_lock(&rt->fin_lock);
  for (gogc_fin_entry *e = rt->fin_head; e != NULL; e = e->next) {
    gogc_mark_shade_word(w, (uintptr_t)e->obj);
    gogc_mark_shade_word(w, (uintptr_t)e->arg);
  }
  pthread_mutex_unlock(&rt->fin_lock);
  if (t) gogc_critical_leave(t);
}

void gogc_specials_sweep(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  gogc_fin_entry *head = NULL, *tail = NULL, *cache = NULL;
  gogc_special *dead = NULL;
  uint32_t nq = 0, nfin = 0, nclean = 0, nweak = 0;
  bool small = spanclass_sizeclass(s->spanclass) != 0;
  span_lock(s);
  gogc_special **pp = &s->specials;
  while (*pp != NULL) {
    uint32_t off = (*pp)->offset;
    uint32_t idx = small ? gogc_span_obj_index(s, s->base + off) : 0;
    if (gogc_bit_get(s->markbits, idx)) { /* reachable: keep its records */
      while (*pp != NULL && (*pp)->offset == off) pp = &(*pp)->next;
      continue;
    }
    void *obj = (void *)(s->base + off);
    bool finalize = (*pp)->kind == SPECIAL_FINALIZER; /* sorted first */
    if (finalize) atomic_or_relaxed(&s->markbits[idx >> 6], (uint64_t)1 << (idx & 63));
    while (*pp != NULL && (*pp)->offset == off) {
      gogc_special *sp = *pp;
      if (sp->kind == SPECIAL_CLEANUP && finalize) { /* after the finalizer, at the real end */
        pp = &sp->next;
        continue;
      }
      *pp = sp->next;
      if (sp->kind == SPECIAL_WEAK) {
        atomic_store_release((uintptr_t *)sp->arg, (uintptr_t)0);
        nweak++;
      } else {
        gogc_fin_entry *e = fin_entry_alloc(&cache);
        e->next = NULL;
        e->fn = sp->fn;
        e->obj = sp->kind == SPECIAL_FINALIZER ? obj : NULL;
        e->arg = sp->arg;
        if (tail) tail->next = e;
        else head = e;
        tail = e;
        nq++;
        if (sp->kind == SPECIAL_FINALIZER) nfin++;
        else nclean++;
      }
      sp->next = dead;
      dead = sp;
    }
  }
  s->specials_last = NULL;
  if (s->specials == NULL) page_bit(s, false);
  span_unlock(s);
  special_free_chain(dead);
  fin_entry_uncache(cache);
  if (nweak) atomic_sub_relaxed(&rt->weak_live, nweak);
  if (nfin) atomic_add_relaxed(&rt->fin_queued, nfin);
  if (nclean) atomic_add_relaxed(&rt->cleanup_queued, nclean);
  fin_enqueue(head, tail, nq);
}

/* ---------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------- */

/* Start a call: the calling thread, registered. */
static gogc_thread *api_thread(void) {
  if (gogc_ensure_init() != 0) return NULL;
  gogc_thread *t = gogc_self;
  if (t == NULL) t = gogc_thread_register_self();
  return t;
}

GOGC_API int gogc_set_finalizer(void *obj, gogc_finalizer_fn fn, void *arg) {
  gogc_thread *t = api_thread();
  if (t == NULL) return -1;
  if (obj == NULL) {
    gogc_warn("gogc_set_finalizer(NULL): no object");
    return -1;
  }
  if (fn != NULL) fin_start();
  gogc_critical_enter(t);
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = gogc_object_find((uintptr_t)obj, &idx, &base);
  const char *err =
      s == NULL                  ? "not a live object allocated by gogc"
      : s->arena_state != 0      ? "points into an arena (only heap objects have finalizers)"
      : base != (uintptr_t)obj ? "interior pointer (give the object's base)"
      : fn != NULL && (uintptr_t)arg >= base && (uintptr_t)arg < base + s->elemsize
          ? "the argument points into the object, which would then never be finalized"
          : NULL;
  gogc_special *sp = NULL;
  bool shade = false;
  if (err == NULL && fn != NULL && (sp = special_alloc()) == NULL) err = "out of memory";
  if (err == NULL) {
    uint32_t off = (uint32_t)(base - s->base);
    span_lock(s);
    gogc_special **pp = special_find(s, off, SPECIAL_FINALIZER, 0);
    if (fn == NULL) {
      if (pp != NULL) {
        gogc_special *old = *pp;
        special_unlink(s, pp);
        sp = old; /* freed below */
      }
    } else if (pp != NULL) {
      err = "the object already has a finalizer (remove it first with a NULL function)";
    } else {
      sp->offset = off;
      sp->kind = SPECIAL_FINALIZER;
      sp->fn = (void (*)(void))fn;
      sp->arg = arg;
      special_insert(s, sp);
      sp = NULL;
      shade = true;
    }
    span_unlock(s);
  }
  /* The root job may have run already this cycle: do its work. */
  if (shade && gogc_wb_marking()) {
    if (spanclass_kind(s->spanclass) != KIND_NOSCAN) gogc_mark_shade_range(t, base, base + s->elemsize);
    shade_words(t, (uintptr_t)arg, 0);
  }
  if (sp != NULL) special_free_chain(sp);
  gogc_critical_leave(t);
  if (err != NULL) {
    gogc_warn("gogc_set_finalizer(%p): %s", obj, err);
    return -1;
  }
  return 0;
}

GOGC_API gogc_cleanup gogc_add_cleanup(void *obj, gogc_cleanup_fn fn, void *arg) {
  gogc_cleanup c = {0, 0};
  gogc_thread *t = api_thread();
  if (t == NULL) return c;
  if (obj == NULL || fn == NULL) {
    gogc_warn("gogc_add_cleanup(%p): %s", obj, obj == NULL ? "no object" : "no function");
    return c;
  }
  fin_start();
  gogc_critical_enter(t);
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = gogc_object_find((uintptr_t)obj, &idx, &base);
  const char *err = NULL;
  gogc_special *sp = NULL;
  if (s == NULL) err = "not a live object allocated by gogc";
  else if (s->arena_state != 0) err = "points into an arena (only heap objects have cleanups)";
  else if ((uintptr_t)arg >= base && (uintptr_t)arg < base + s->elemsize)
    err = "the argument points into the object, which would then never be collected";
  else if ((sp = special_alloc()) == NULL) err = "out of memory";
  if (err == NULL) {
    sp->offset = (uint32_t)(base - s->base);
    sp->kind = SPECIAL_CLEANUP;
    sp->fn = (void (*)(void))fn;
    sp->arg = arg;
    sp->id = __atomic_add_fetch(&gogc_rt->cleanup_next_id, 1, __ATOMIC_RELAXED);
    c.obj_hidden = ~base;
    c.id = sp->id;
    span_lock(s);
    special_insert(s, sp);
    span_unlock(s);
    if (gogc_wb_marking()) shade_words(t, (uintptr_t)arg, 0);
  }
  gogc_critical_leave(t);
  if (err != NULL) gogc_warn("gogc_add_cleanup(%p): %s", obj, err);
  return c;
}

GOGC_API int gogc_cleanup_stop(gogc_cleanup c) {
  if (c.id == 0) return 0;
  gogc_thread *t = api_thread();
  if (t == NULL) return 0;
  int stopped = 0;
  gogc_critical_enter(t);
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = gogc_object_find(~c.obj_hidden, &idx, &base);
  gogc_special *sp = NULL;
  if (s != NULL) {
    span_lock(s);
    gogc_special **pp = special_find(s, (uint32_t)(base - s->base), SPECIAL_CLEANUP, c.id);
    if (pp != NULL) {
      sp = *pp;
      special_unlink(s, pp);
      stopped = 1;
    }
    span_unlock(s);
  }
  if (sp != NULL) special_free_chain(sp);
  gogc_critical_leave(t);
  return stopped;
}

/* The object's weak handle if it has one (0), a new one installed or none
 * found when only looking (1), not a live object (-1), out of memory (-2).
 * cell: a fresh cell to install, or NULL to look only. */
static int weak_lookup(gogc_thread *t, const void *obj, uintptr_t *cell, gogc_weak **out) {
  int rc = -1;
  gogc_critical_enter(t);
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = gogc_object_find((uintptr_t)obj, &idx, &base);
  if (s != NULL && s->arena_state != 0) s = NULL; /* arena memory: refused */
  if (s != NULL) {
    uint32_t off = (uint32_t)(base - s->base);
    gogc_special *sp = cell != NULL ? special_alloc() : NULL;
    span_lock(s);
    gogc_special **pp = special_find(s, off, SPECIAL_WEAK, 0);
    if (pp != NULL) {
      *out = (gogc_weak *)(*pp)->arg;
      rc = 0;
    } else if (sp != NULL) {
      atomic_store_release(cell, base);
      sp->offset = off;
      sp->kind = SPECIAL_WEAK;
      sp->arg = cell;
      special_insert(s, sp);
      atomic_add_relaxed(&gogc_rt->weak_live, 1);
      sp = NULL;
      *out = (gogc_weak *)cell;
      rc = 1;
    } else {
      *out = NULL;
      rc = cell == NULL ? 1 : -2;
    }
    span_unlock(s);
    if (sp != NULL) special_free_chain(sp);
    /* A cell allocated before this cycle and since kept only here. */
    if (rc == 1 && cell != NULL && gogc_wb_marking()) shade_words(t, (uintptr_t)cell, 0);
  }
  gogc_critical_leave(t);
  return rc;
}

GOGC_API gogc_weak *gogc_weak_make(const void *obj) {
  if (obj == NULL) return NULL;
  gogc_thread *t = api_thread();
  if (t == NULL) return NULL;
  gogc_weak *w = NULL;
  int rc = weak_lookup(t, obj, NULL, &w);
  if (rc == 1) { /* none yet: allocate a cell outside the critical section */
    uintptr_t *cell = gogc_alloc_noscan(sizeof(uintptr_t));
    if (cell == NULL) return NULL;
    rc = weak_lookup(t, obj, cell, &w);
  }
  if (rc < 0) {
    gogc_warn("gogc_weak_make(%p): %s", obj,
              rc == -1 ? "not a live object allocated by gogc" : "out of memory");
    return NULL;
  }
  gogc_keep_alive(obj);
  return w;
}

GOGC_API void *gogc_weak_get(const gogc_weak *w) {
  if (w == NULL) return NULL;
  gogc_thread *t = api_thread();
  if (t == NULL) return NULL;
  const uintptr_t *cell = (const uintptr_t *)w;
  gogc_critical_enter(t);
  uintptr_t p = atomic_load_acquire(cell);
  if (p != 0) {
    /* A dead object's span may not be swept yet: sweep it, which clears
     * the cell, before trusting the address. */
    gogc_span *s = gogc_span_of(p);
    if (s != NULL) gogc_ensure_swept(s);
    p = atomic_load_acquire(cell);
    if (p != 0 && gogc_wb_marking()) shade_words(t, p, 0);
  }
  gogc_critical_leave(t);
  return (void *)p;
}

/* ---------------------------------------------------------------------------
 * fork: the queue and the record free list are consistent in the child;
 * the finalizer thread is gone (a finalizer it was running never ends
 * there). A new one starts with the next finalizer or cleanup set; until
 * then gogc_wait_finalizers runs the queue itself.
 * ------------------------------------------------------------------------- */
void gogc_specials_fork_prepare(void) {
  gogc_lock(&gogc_rt->special_lock);
  gogc_lock(&gogc_rt->fin_lock);
}

void gogc_specials_fork_release(bool child) {
  gogc_runtime *rt = gogc_rt;
  if (child) {
    uint64_t n = 0;
    for (gogc_fin_entry *e = rt->fin_head; e != NULL; e = e->next) n++;
    atomic_store_relaxed(&rt->fin_pending, n);
    atomic_store_relaxed(&rt->fin_seq, 0);
    atomic_store_relaxed(&rt->fin_done_seq, 0);
    atomic_store_relaxed(&rt->fin_thread, NULL);
    atomic_store_relaxed(&rt->fin_started, 0);
    atomic_store_relaxed(&rt->fin_sleeping, 0);
  }
  pthread_mutex_unlock(&rt->fin_lock);
  pthread_mutex_unlock(&rt->special_lock);
}
