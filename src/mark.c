/* gogc: marking (Go's mgcmark.go and mgcwork.go).
 *
 * Tri-colour marking without recursion. An object is white until its mark
 * bit is set; grey while its address sits in a work buffer; black once it
 * has been scanned. Shading a candidate pointer (shade):
 *   1. is it inside the mapped heap, on a page of an in-use span, below
 *      the span's limit?                  (a subtraction and two compares)
 *   2. which slot? (offset * divmagic) >> 32, no division
 *   3. is the slot allocated? (slot < freeindex || allocbit)  -- pointers
 *      to free slots are ignored, so a stale pointer never resurrects one
 *   4. is its mark bit clear? (a plain load) Then it is set with a locked
 *      OR, one for all the bits that one object's scan sets in the same
 *      mark word (mark_batch), and the object goes on
 *   5. noscan objects are black at once; others are queued (grey).
 *
 * Work buffers: each marker holds two buffers of 253 addresses (Go's
 * gcWork primary/secondary) and exchanges full and empty ones with a
 * global list under work_lock. A marker with spare work gives a buffer
 * away when another is waiting (balance). Large objects are scanned in
 * 4 KiB oblets (Go: 128 KiB). A piece of a pointer array must stay well
 * under an assist's time bound (GOGC_MUTATOR_WORK_NS), cache misses and
 * all: on the latency workload a 32 KiB oblet of its 2 MiB root array
 * took from 50 to over 200 us, and such scans were most assists that overran their
 * bound. Reaching the base of a large object queues the start of every
 * later oblet, so no scan step is long and several markers share a big
 * array.
 *
 * Roots are jobs claimed with an atomic counter: data/bss shards of
 * 256 KiB, ranges added with gogc_add_roots, and each thread's stack from
 * its saved stack pointer up, plus its saved registers.
 *
 * Termination (world stopped): a marker that finds no local and no global
 * work and no root job waits; when every marker is waiting the mark is
 * complete (no grey object exists, no one can create one).
 *
 * With the world stopped, nothing moves under the markers: freeindex and
 * allocation bits are stable, so step 3 needs no synchronisation. The
 * concurrent collector keeps these structures and adds Go's
 * freeIndexForScan snapshot and the write-barrier buffers.
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>

#define ROOT_SHARD ((uintptr_t)256 << 10)

/* ---------------------------------------------------------------------------
 * Work buffers
 *
 * work_lock is taken inside a critical section when the caller is a
 * registered thread (an assist, a barrier flush): a thread stopped while
 * holding it would block every marker that scans its stack.
 * ------------------------------------------------------------------------- */
static inline gogc_thread *work_lock(void) {
  gogc_thread *t = gogc_self;
  if (t) gogc_critical_enter(t);
  gogc_lock(&gogc_rt->work_lock);
  return t;
}

static inline void work_unlock(gogc_thread *t) {
  pthread_mutex_unlock(&gogc_rt->work_lock);
  if (t) gogc_critical_leave(t);
}

/* The list operations, work_lock held (callers that move several buffers
 * take it once: gogc_gcwork_publish). */
static gogc_wbuf *empty_pop_locked(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_wbuf *b = rt->work_empty;
  if (b) rt->work_empty = b->next;
  return b;
}

static void empty_push_locked(gogc_wbuf *b) {
  b->next = gogc_rt->work_empty;
  gogc_rt->work_empty = b;
}

static void full_push_locked(gogc_wbuf *b) {
  gogc_runtime *rt = gogc_rt;
  b->next = rt->work_full;
  atomic_store_relaxed(&rt->work_full, b);
  if (rt->nwaiting > 0) pthread_cond_signal(&rt->work_cond);
}

/* After full buffers were pushed, lock released: wake a sleeping worker. */
static void full_announce(void) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->phase) == PHASE_MARK) {
    atomic_add_relaxed(&rt->work_seq, 1);
    if (atomic_load_relaxed(&rt->nsleeping) > 0) gogc_os_futex_wake(&rt->work_seq, 1);
  }
}

/* b (from the empty list, or NULL: a new one) made ready for use. */
static gogc_wbuf *wbuf_ready(gogc_wbuf *b) {
  if (b == NULL) b = gogc_meta_alloc_critical(sizeof(gogc_wbuf), "mark work buffers");
  b->n = 0;
  b->next = NULL;
  return b;
}

static gogc_wbuf *wbuf_get_empty(void) {
  gogc_thread *t = work_lock();
  gogc_wbuf *b = empty_pop_locked();
  work_unlock(t);
  return wbuf_ready(b);
}

static void wbuf_put_full(gogc_wbuf *b) {
  gogc_thread *t = work_lock();
  full_push_locked(b);
  work_unlock(t);
  full_announce();
}

static void wbuf_put_empty(gogc_wbuf *b) {
  gogc_thread *t = work_lock();
  empty_push_locked(b);
  work_unlock(t);
}

static inline void gcw_push(gogc_gcwork *w, uintptr_t obj) {
  gogc_wbuf *b = w->primary;
  if (unlikely(b->n == WBUF_ENTRIES)) {
    w->primary = w->secondary;
    w->secondary = b;
    b = w->primary;
    if (b->n == WBUF_ENTRIES) {
      wbuf_put_full(b);
      b = w->primary = wbuf_get_empty();
    }
  }
  b->obj[b->n++] = obj;
}

static inline uintptr_t gcw_pop(gogc_gcwork *w);

/* Grey objects leave the work buffers through a small FIFO: each is
 * prefetched when popped and scanned PF_DEPTH pops later, so the scan of
 * one object overlaps the cache misses of the next ones (Garner,
 * Blackburn and Frampton, ISMM 2007). The ring is local work like the
 * buffers: a gcwork is empty only when both are. */
#define PF_DEPTH GCW_PF_DEPTH
static inline uintptr_t gcw_next(gogc_gcwork *w) {
  while (w->pf_n < PF_DEPTH) {
    uintptr_t o = gcw_pop(w);
    if (o == 0) break;
    __builtin_prefetch((const void *)o);
    w->pf[(w->pf_head + w->pf_n) % PF_DEPTH] = o;
    w->pf_n++;
  }
  if (w->pf_n == 0) return 0;
  uintptr_t o = w->pf[w->pf_head];
  w->pf_head = (w->pf_head + 1) % PF_DEPTH;
  w->pf_n--;
  return o;
}

static inline void gcw_push(gogc_gcwork *w, uintptr_t obj);

/* Put the ring's objects back in the buffers (before publishing). */
static void gcw_unring(gogc_gcwork *w) {
  while (w->pf_n > 0) {
    gcw_push(w, w->pf[w->pf_head]);
    w->pf_head = (w->pf_head + 1) % PF_DEPTH;
    w->pf_n--;
  }
}

static inline uintptr_t gcw_pop(gogc_gcwork *w) {
  gogc_wbuf *b = w->primary;
  if (likely(b->n > 0)) return b->obj[--b->n];
  if (w->secondary->n > 0) {
    w->primary = w->secondary;
    w->secondary = b;
    b = w->primary;
    return b->obj[--b->n];
  }
  return 0;
}

/* Someone is idle: give away a buffer's worth of our work. */
static GOGC_NOINLINE void gcw_balance(gogc_gcwork *w) {
  if (w->secondary->n > 0) {
    wbuf_put_full(w->secondary);
    w->secondary = wbuf_get_empty();
  } else if (w->primary->n > 4) {
    gogc_wbuf *b = wbuf_get_empty();
    uint32_t half = w->primary->n / 2;
    memcpy(b->obj, &w->primary->obj[w->primary->n - half], half * sizeof(uintptr_t));
    b->n = half;
    w->primary->n -= half;
    wbuf_put_full(b);
  }
}

/* Get a full buffer from the global list, waiting for one. Returns false
 * when marking is complete. */
static bool gcw_get_full(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->work_lock);
  for (;;) {
    if (rt->mark_done) break;
    gogc_wbuf *b = rt->work_full;
    if (b != NULL) {
      atomic_store_relaxed(&rt->work_full, b->next);
      pthread_mutex_unlock(&rt->work_lock);
      wbuf_put_empty(w->primary);
      w->primary = b;
      return true;
    }
    if (atomic_load_relaxed(&rt->root_next) < atomic_load_relaxed(&rt->nroots)) {
      pthread_mutex_unlock(&rt->work_lock);
      return true; /* root jobs left: the caller takes one */
    }
    atomic_store_relaxed(&rt->nwaiting, rt->nwaiting + 1); /* read unlocked by drain */
    if (rt->nwaiting == rt->nworkers) {
      rt->mark_done = 1;
      pthread_cond_broadcast(&rt->work_cond);
      break;
    }
    pthread_cond_wait(&rt->work_cond, &rt->work_lock);
    atomic_store_relaxed(&rt->nwaiting, rt->nwaiting - 1);
  }
  pthread_mutex_unlock(&rt->work_lock);
  return false;
}

void gogc_gcwork_flush(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  atomic_add_relaxed(&rt->bytes_marked, w->bytes_marked);
  atomic_add_relaxed(&rt->scan_work, w->scan_work);
  w->bytes_marked = w->scan_work = 0;
}

/* ---------------------------------------------------------------------------
 * Shading and scanning
 * ------------------------------------------------------------------------- */

/* The mark bits that one scan (an object, a range, a typed object's
 * pointer words) has decided to set in one mark word, not yet written.
 *
 * The locked OR that sets a mark bit was the single largest cost of
 * marking (in binary-trees nearly half of scan_object's samples fell on
 * it): on x86-64 a locked instruction waits for every earlier load and
 * store, so it also exposes the cache misses that the prefetch ring
 * hides. The pointers of one object often land in one mark word (64
 * slots): a tree node's children allocated one after the other, an
 * array's elements, a list node and its payload. So a scan collects the
 * bits per word and writes them with one OR when it reaches another word
 * or ends: binary-trees 3% less wall time with 2 threads, 1.5% with 1
 * (medians of 8 and 5 round-robin runs, 2026-11-30).
 *
 * Until the OR, another marker may see such an object white and grey it
 * too: it is scanned twice, as when two markers race on the bit anyway
 * (see shade). The object itself is grey already (pushed), and every
 * scan writes its bits before it returns, so when marking ends every
 * reached object's bit is set. Keeping the bits across objects instead,
 * in the gcwork until it ran dry or was published, was 4% slower than
 * not batching at all (the same runs), and carrying one object's word to
 * the next object's scan, written when that scan ended, 12% slower than
 * this (marking 10% more CPU a cycle for the same bytes marked). I did
 * not find out why. */
typedef struct mark_batch {
  uint64_t *mw;
  uint64_t bits;
} mark_batch;

static inline void batch_flush(mark_batch *b) {
  if (b->bits != 0) __atomic_or_fetch(b->mw, b->bits, __ATOMIC_RELAXED);
}

/* Shade the object p points into, if any (see the top of the file), its
 * mark bit added to mb. Two markers that both saw the bit clear both go
 * on: the object is scanned twice and its bytes counted twice in
 * bytes_marked, which only paces (HeapAlloc comes from the sweep's exact
 * counts). The OR's result is not used: a fetch-or that tells whether
 * this call set the bit becomes a locked bit-test-and-set, microcoded on
 * x86-64 (2-3% slower on binary-trees; a compare-and-swap loop no better). */
static inline void shade_batched(gogc_gcwork *w, mark_batch *mb, uintptr_t p, uintptr_t heap_base,
                           uintptr_t heap_mapped, gogc_span **spans) {
  gogc_mem_launder(p);
  uintptr_t off = p - heap_base;
  if (off >= heap_mapped) return;
  gogc_span *s = atomic_load_acquire(&spans[off >> PAGE_SHIFT]);
  if (s == NULL || p >= s->limit) return;
  uint32_t idx = (uint32_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
  if (!gogc_span_is_allocated(s, idx)) return;
  uint64_t bit = (uint64_t)1 << (idx & 63);
  uint64_t *mw = &s->markbits[idx >> 6];
  uint64_t seen = atomic_load_relaxed(mw);
  if (mw == mb->mw) {
    if ((seen | mb->bits) & bit) return;
    mb->bits |= bit;
  } else {
    if (seen & bit) return;
    batch_flush(mb);
    mb->mw = mw;
    mb->bits = bit;
  }
  w->bytes_marked += s->elemsize;
  if (spanclass_kind(s->spanclass) == KIND_NOSCAN) return;
  gcw_push(w, s->base + (uintptr_t)idx * s->elemsize);
}

/* Shade one word (a root word, a barrier's buffer entry). */
static inline void shade(gogc_gcwork *w, uintptr_t p, uintptr_t heap_base,
                         uintptr_t heap_mapped, gogc_span **spans) {
  mark_batch mb = {NULL, 0};
  shade_batched(w, &mb, p, heap_base, heap_mapped, spans);
  batch_flush(&mb);
}

/* Scan [lo, hi) conservatively: every aligned word may be a pointer. */
static GOGC_NO_SANITIZE_INLINE void scan_words(gogc_gcwork *w, uintptr_t lo, uintptr_t hi) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t base = rt->heap_base, mapped = atomic_load_acquire(&rt->heap_mapped);
  gogc_span **spans = rt->spans;
  lo = (lo + 7) & ~(uintptr_t)7;
  w->scan_work += hi > lo ? hi - lo : 0;
  mark_batch mb = {NULL, 0};
  for (uintptr_t a = lo; a + 8 <= hi; a += 8) shade_batched(w, &mb, *(const uintptr_t *)a, base, mapped, spans);
  batch_flush(&mb);
}

GOGC_NO_SANITIZE void gogc_scan_range(gogc_gcwork *w, uintptr_t lo, uintptr_t hi) {
  scan_words(w, lo, hi);
}

/* Shade what the root word v points to, if anything. */
void gogc_mark_shade_word(gogc_gcwork *w, uintptr_t v) {
  gogc_runtime *rt = gogc_rt;
  shade(w, v, rt->heap_base, atomic_load_acquire(&rt->heap_mapped), rt->spans);
}

/* Scan the object at obj without marking it (Go's specials root for an
 * object with a finalizer: what it references lives, it stays white). */
void gogc_mark_scan_unmarked(gogc_gcwork *w, uintptr_t obj) {
  gogc_span *s = gogc_span_of(obj);
  if (s == NULL || spanclass_kind(s->spanclass) == KIND_NOSCAN) return;
  gcw_push(w, obj);
}

/* GODEBUG=invalidptr=1: a typed pointer slot holding an address in the
 * heap that is not in an allocated object. Nothing legitimate puts one
 * there (typed objects start zeroed): it is a dangling pointer, one past
 * the end of an object, or an object the collector lost. */
static GOGC_COLD void invalid_slot(uintptr_t slot, uintptr_t v) {
  uintptr_t obase = 0;
  gogc_span *os = gogc_span_of(slot);
  if (os != NULL && slot < os->limit)
    obase = os->base + (uintptr_t)(spanclass_sizeclass(os->spanclass) ? gogc_span_obj_index(os, slot) : 0) * os->elemsize;
  gogc_fatal("found invalid pointer %p in a typed pointer slot %p (object %p + %lu): it points "
             "into the heap but not into an allocated object [GODEBUG=invalidptr=1]",
             (void *)v, (void *)slot, (void *)obase, (unsigned long)(slot - obase));
}

static inline void check_slot(uintptr_t slot, uintptr_t v, uintptr_t heap_base,
                              uintptr_t heap_mapped, gogc_span **spans) {
  uintptr_t off = v - heap_base;
  if (off >= heap_mapped) return;
  gogc_span *s = atomic_load_acquire(&spans[off >> PAGE_SHIFT]);
  if (s == NULL || v >= s->limit) invalid_slot(slot, v);
  uint32_t idx = spanclass_sizeclass(s->spanclass)
                     ? (uint32_t)(((uint64_t)(v - s->base) * s->divmagic) >> 32) : 0;
  if (!gogc_span_is_allocated(s, idx)) invalid_slot(slot, v);
}

/* Shade word k of the 64 words from a for each bit k set in mask (the
 * pointer words of a typed object); chk: GODEBUG=invalidptr=1. */
static GOGC_NO_SANITIZE_INLINE void shade_masked(gogc_gcwork *w, uintptr_t a, uint64_t mask,
                                                        bool chk, uintptr_t base, uintptr_t mapped,
                                                        gogc_span **spans) {
  mark_batch mb = {NULL, 0};
  while (mask) {
    uintptr_t k = (uintptr_t)__builtin_ctzll(mask);
    mask &= mask - 1;
    uintptr_t v = ((const uintptr_t *)a)[k];
    if (unlikely(chk)) check_slot(a + k * 8, v, base, mapped, spans);
    shade_batched(w, &mb, v, base, mapped, spans);
  }
  batch_flush(&mb);
}

/* Scan [lo, hi) where word i is a pointer iff bit (first_bit + i) of
 * bits is set (typed small objects: the span's heap bits). */
static GOGC_NO_SANITIZE void scan_bits(gogc_gcwork *w, uintptr_t lo, uintptr_t hi,
                                       const uint64_t *bits, uintptr_t first_bit) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t base = rt->heap_base, mapped = atomic_load_acquire(&rt->heap_mapped);
  gogc_span **spans = rt->spans;
  uintptr_t nw = (hi - lo) >> 3;
  bool chk = rt->opt_invalidptr;
  w->scan_work += hi - lo;
  for (uintptr_t i = 0; i < nw;) {
    uintptr_t b = first_bit + i;
    uint64_t word = bits[b >> 6] >> (b & 63);
    uintptr_t take = 64 - (b & 63);
    if (take > nw - i) take = nw - i;
    if (take < 64) word &= ((uint64_t)1 << take) - 1;
    shade_masked(w, lo + i * 8, word, chk, base, mapped, spans);
    i += take;
  }
}

/* Scan the object [lo, hi) of a typed small span whose objects all have
 * type t (no heap bits): t's layout, repeated over the slot. */
static GOGC_NO_SANITIZE void scan_uniform(gogc_gcwork *w, uintptr_t lo, uintptr_t hi,
                                          const gogc_type *t);

/* Scan [lo, hi) of a large typed object whose layout repeats from obase. */
static GOGC_NO_SANITIZE void scan_typed_large(gogc_gcwork *w, uintptr_t obase, uintptr_t lo,
                                              uintptr_t hi, const gogc_type *t) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t base = rt->heap_base, mapped = atomic_load_acquire(&rt->heap_mapped);
  gogc_span **spans = rt->spans;
  w->scan_work += hi - lo;
  size_t nwords = t->nwords;
  size_t word = ((lo - obase) >> 3) % nwords;
  bool chk = rt->opt_invalidptr;
  for (uintptr_t a = lo; a < hi; a += 8) {
    if (gogc_bit_get(t->mask, (uint32_t)word)) {
      uintptr_t v = *(const uintptr_t *)a;
      if (unlikely(chk)) check_slot(a, v, base, mapped, spans);
      shade(w, v, base, mapped, spans);
    }
    if (++word == nwords) word = 0;
  }
}

static GOGC_NO_SANITIZE void scan_uniform(gogc_gcwork *w, uintptr_t lo, uintptr_t hi,
                                          const gogc_type *t) {
  if (unlikely(t == NULL)) { /* cannot happen: a typed object sets its span's type first */
    gogc_scan_range(w, lo, hi);
    return;
  }
  if (!t->has_rep) {
    scan_typed_large(w, lo, lo, hi, t);
    return;
  }
  gogc_runtime *rt = gogc_rt;
  uintptr_t base = rt->heap_base, mapped = atomic_load_acquire(&rt->heap_mapped);
  gogc_span **spans = rt->spans;
  uintptr_t nw = (hi - lo) >> 3;
  bool chk = rt->opt_invalidptr;
  w->scan_work += hi - lo;
  for (uintptr_t i = 0; i < nw; i += 64) {
    uint64_t word = t->rep;
    if (nw - i < 64) word &= ((uint64_t)1 << (nw - i)) - 1;
    shade_masked(w, lo + i * 8, word, chk, base, mapped, spans);
  }
}

/* An arena chunk (arena.c): only [base, arena_lo) can hold pointers.
 * gogc_arena_free faults a chunk only when no marker is inside it: a
 * marker announces itself in arena_scanning, then checks that the chunk
 * is still live (both sequentially consistent, against the freer's store
 * of ARENA_FREEING and load of arena_scanning). */
static GOGC_NOINLINE void scan_arena_chunk(gogc_gcwork *w, gogc_span *s, uintptr_t p) {
  __atomic_add_fetch(&s->arena_scanning, 1, __ATOMIC_SEQ_CST);
  if (atomic_load_seqcst(&s->arena_state) == ARENA_LIVE) {
    uintptr_t lo = atomic_load_acquire(&s->arena_lo); /* after the zeroing (extend_zeroed) */
    if (p == s->base)
      for (uintptr_t o = p + OBLET_BYTES; o < lo; o += OBLET_BYTES) gcw_push(w, o);
    uintptr_t end = p + OBLET_BYTES < lo ? p + OBLET_BYTES : lo;
    if (p < end) gogc_scan_range(w, p, end);
  }
  __atomic_sub_fetch(&s->arena_scanning, 1, __ATOMIC_SEQ_CST);
}

/* Scan a grey object (or an oblet of a large one) starting at p. A small
 * conservative object is scanned inline, not by a call to
 * gogc_scan_range, which saved and restored six registers and reloaded
 * the heap bounds for every object (binary-trees, 16-byte objects: 3-5%
 * less wall time with 1 and 2 threads). */
static GOGC_NO_SANITIZE void scan_object(gogc_gcwork *w, uintptr_t p) {
  gogc_span *s = atomic_load_acquire(&gogc_rt->spans[(p - gogc_rt->heap_base) >> PAGE_SHIFT]);
  int kind = spanclass_kind(s->spanclass);
  if (spanclass_sizeclass(s->spanclass) != 0) {
    uintptr_t end = p + s->elemsize;
    if (kind == KIND_TYPED) {
      const uint64_t *hb = atomic_load_acquire(&s->heapbits);
      if (hb != NULL) scan_bits(w, p, end, hb, (p - s->base) >> 3);
      else scan_uniform(w, p, end, atomic_load_acquire(&s->large_type));
    } else {
      scan_words(w, p, end);
    }
    return;
  }
  if (unlikely(atomic_load_acquire(&s->arena_state) != 0)) {
    scan_arena_chunk(w, s, p);
    return;
  }
  uintptr_t obj_end = s->base + s->elemsize;
  if (p == s->base && s->elemsize > OBLET_BYTES) {
    for (uintptr_t o = p + OBLET_BYTES; o < obj_end; o += OBLET_BYTES) gcw_push(w, o);
  }
  uintptr_t end = p + OBLET_BYTES < obj_end ? p + OBLET_BYTES : obj_end;
  if (kind == KIND_TYPED) scan_typed_large(w, s->base, p, end, s->large_type);
  else gogc_scan_range(w, p, end);
}

static void scan_thread(gogc_gcwork *w, gogc_thread *t);
static void scan_added(gogc_gcwork *w, const gogc_root *r);

static void scan_root(gogc_gcwork *w, const gogc_root *r) {
  if (r->kind == ROOT_SPECIALS) {
    gogc_specials_scan(w);
    return;
  }
  if (r->kind == ROOT_THREAD) {
    scan_thread(w, (gogc_thread *)r->lo);
    return;
  }
  if (r->kind == ROOT_ADDED && atomic_load_relaxed(&gogc_rt->phase) == PHASE_MARK) {
    scan_added(w, r);
    return;
  }
  if (r->nregs) gogc_scan_range(w, (uintptr_t)r->regs, (uintptr_t)(r->regs + r->nregs));
  gogc_scan_range(w, r->lo, r->hi);
}

/* Mark until there is no work anywhere. */
static void drain(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  for (;;) {
    if (atomic_load_relaxed(&rt->root_next) < rt->nroots) {
      uint32_t j = __atomic_fetch_add(&rt->root_next, 1, __ATOMIC_RELAXED);
      if (j < rt->nroots) {
        scan_root(w, &rt->roots[j]);
        continue;
      }
    }
    uintptr_t obj = gcw_next(w);
    if (obj != 0) {
      scan_object(w, obj);
      if (unlikely(atomic_load_relaxed(&rt->nwaiting) > 0)) gcw_balance(w);
      continue;
    }
    if (!gcw_get_full(w)) break;
  }
}

static void gcw_init(gogc_gcwork *w) {
  w->primary = wbuf_get_empty();
  w->secondary = wbuf_get_empty();
  w->bytes_marked = w->scan_work = 0;
  w->active = w->idle = 0;
  w->pf_head = w->pf_n = 0;
}

static void gcw_dispose(gogc_gcwork *w) {
  gogc_assert(w->primary->n == 0 && w->secondary->n == 0);
  wbuf_put_empty(w->primary);
  wbuf_put_empty(w->secondary);
  w->primary = w->secondary = NULL;
  gogc_gcwork_flush(w);
}

/* ---------------------------------------------------------------------------
 * Marker threads
 * ------------------------------------------------------------------------- */
static uint32_t markers_running;

static void *marker_main(void *arg) {
  gogc_runtime *rt = gogc_rt;
  uint32_t seen = 0;
  for (;;) {
    uint32_t seq;
    while ((seq = atomic_load_acquire(&rt->marker_seq)) == seen)
      gogc_os_futex_wait(&rt->marker_seq, seen);
    seen = seq;
    uint64_t t0 = gogc_os_thread_cputime();
    gogc_gcwork w;
    gcw_init(&w);
    drain(&w);
    gcw_dispose(&w);
    atomic_add_relaxed(&rt->gc_cpu_ns, gogc_os_thread_cputime() - t0);
    if (__atomic_sub_fetch(&markers_running, 1, __ATOMIC_ACQ_REL) == 0)
      gogc_os_futex_wake(&markers_running, 1);
  }
  return NULL;
}

void gogc_mark_init(void) {
  gogc_runtime *rt = gogc_rt;
  pthread_mutex_init(&rt->work_lock, NULL);
  pthread_cond_init(&rt->work_cond, NULL);
  rt->nmarkers = rt->opt_procs > 1 ? (uint32_t)rt->opt_procs - 1 : 0;
  if (rt->nmarkers > 0) {
    rt->marker_tids = gogc_meta_alloc(rt->nmarkers * sizeof(pthread_t));
    uint32_t started = 0;
    for (uint32_t i = 0; rt->marker_tids && i < rt->nmarkers; i++)
      if (gogc_start_helper(&rt->marker_tids[i], NULL, marker_main, NULL, "gogc-marker") == 0) started++;
    rt->nmarkers = started;
  }
}

/* Run the mark phase to completion with the world stopped. The roots
 * must be prepared (gogc_mark_roots_prepare). */
void gogc_mark_run(void) {
  gogc_runtime *rt = gogc_rt;
  rt->nworkers = 1 + rt->nmarkers;
  atomic_store_relaxed(&rt->nwaiting, 0);
  rt->mark_done = 0;
  atomic_store_relaxed(&rt->root_next, 0);
  atomic_store_relaxed(&rt->bytes_marked, 0);
  atomic_store_relaxed(&rt->scan_work, 0);
  atomic_store_release(&markers_running, rt->nmarkers);
  if (rt->nmarkers) {
    atomic_add_acq_rel(&rt->marker_seq, 1);
    gogc_os_futex_wake(&rt->marker_seq, (int)rt->nmarkers);
  }
  gogc_gcwork w;
  gcw_init(&w);
  drain(&w);
  gcw_dispose(&w);
  uint32_t n;
  while ((n = atomic_load_acquire(&markers_running)) != 0) gogc_os_futex_wait(&markers_running, n);
  gogc_assert(rt->work_full == NULL);
}

/* ---------------------------------------------------------------------------
 * Roots
 * ------------------------------------------------------------------------- */
static void roots_push(uintptr_t lo, uintptr_t hi, const uintptr_t *regs,
                       uint32_t nregs, uint32_t kind) {
  gogc_runtime *rt = gogc_rt;
  if (rt->nroots == rt->roots_cap) {
    uint32_t cap = rt->roots_cap ? rt->roots_cap * 2 : 256;
    gogc_root *nr = gogc_meta_alloc_critical(cap * sizeof(gogc_root), "the root table");
    if (rt->nroots) memcpy(nr, rt->roots, rt->nroots * sizeof(gogc_root));
    /* The old table stays as metadata: it may sit inside a metadata chunk
     * (unmapping it there took other metadata with it). */
    rt->roots = nr;
    rt->roots_cap = cap;
  }
  rt->roots[rt->nroots] = (gogc_root){lo, hi, regs, nregs, kind};
  atomic_store_relaxed(&rt->nroots, rt->nroots + 1);
}

/* Add a range as root jobs, in shards so markers can share it. */
void gogc_roots_push_range(uintptr_t lo, uintptr_t hi, uint32_t kind) {
  for (uintptr_t a = lo; a < hi; a += ROOT_SHARD)
    roots_push(a, hi - a > ROOT_SHARD ? a + ROOT_SHARD : hi, NULL, 0, kind);
}

void gogc_roots_push_stack(uintptr_t lo, uintptr_t hi, const uintptr_t *regs, uint32_t nregs) {
  roots_push(lo, hi, regs, nregs, ROOT_STACK);
}

void gogc_roots_push_thread(gogc_thread *t) {
  roots_push((uintptr_t)t, 0, NULL, 0, ROOT_THREAD);
}

/* ---------------------------------------------------------------------------
 * Concurrent mark
 *
 * The world runs. Grey objects live in gcworks: the background worker's,
 * the idle workers', those of threads running an assist or flushing their
 * barrier buffer, and the global list. A gcwork that may hold grey
 * objects (it took a root job or a global buffer) is counted in nactive,
 * under work_lock, before it takes anything, and leaves the count only
 * when it is empty. Barrier flushes shade inside a critical section and
 * publish before leaving it, so a thread stopped outside one holds grey
 * objects only in its barrier buffer (wb), never elsewhere. Hence:
 *
 *   no root job left, work_full empty, nactive == 0, and (world stopped)
 *   every thread's wb shades nothing new   =>   no grey object exists.
 *
 * The first three are checked under work_lock by the background worker
 * before it stops the world (gogc_mark_work_available), the last with the
 * world stopped (mgc.c). If shading finds new grey objects there, the
 * world restarts and marking goes on: Go's gcMarkDone loop.
 *
 * Thread stacks are root jobs (ROOT_THREAD): the thread is stopped alone
 * (gogc_thread_suspend), its stack and registers scanned, and it runs
 * again. Each stack is scanned once per cycle (need_scan); the barrier
 * makes a rescan unnecessary (see barrier.c). A thread registered during
 * the cycle starts with need_scan == 0: it can only hold what the barrier
 * has already shaded or what it allocates (black).
 * ------------------------------------------------------------------------- */
static void gcw_deactivate(gogc_gcwork *w) {
  gogc_gcwork_flush(w); /* counted before the cycle can see it idle */
  if (!w->active) return;
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = work_lock();
  rt->nactive--;
  w->active = 0;
  work_unlock(t);
}

/* Move whatever w holds to the global list, leave the active count, and
 * add its counters to the cycle's. One hold of work_lock does it all (the
 * full buffers out, empty ones in, the count): an assist ends here, and
 * with 2 threads assisting 5,000 times a cycle each, the separate lock
 * round trips (up to five) were 1.4% of binary-trees' CPU. The buffers
 * go on the list before the count drops, as gcw_deactivate requires. */
void gogc_gcwork_publish(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  gcw_unring(w);
  gogc_gcwork_flush(w); /* counted before the cycle can see it idle */
  gogc_wbuf **slot[2]; /* w's buffers that hold work */
  uint32_t nfull = 0;
  if (w->primary && w->primary->n > 0) slot[nfull++] = &w->primary;
  if (w->secondary && w->secondary->n > 0) slot[nfull++] = &w->secondary;
  if (nfull == 0 && !w->active) return;
  gogc_thread *t = work_lock();
  for (uint32_t i = 0; i < nfull; i++) {
    full_push_locked(*slot[i]);
    *slot[i] = empty_pop_locked(); /* its replacement, NULL if none is free */
  }
  if (w->active) {
    rt->nactive--;
    w->active = 0;
  }
  work_unlock(t);
  if (nfull == 0) return;
  full_announce();
  for (uint32_t i = 0; i < nfull; i++) *slot[i] = wbuf_ready(*slot[i]);
}

void gogc_gcwork_init(gogc_gcwork *w) {
  gcw_init(w);
}

void gogc_gcwork_release(gogc_gcwork *w) {
  gogc_gcwork_publish(w);
  wbuf_put_empty(w->primary);
  wbuf_put_empty(w->secondary);
  w->primary = w->secondary = NULL;
}

bool gogc_gcwork_empty(const gogc_gcwork *w) {
  return w->pf_n == 0 && (w->primary == NULL || w->primary->n == 0) &&
         (w->secondary == NULL || w->secondary->n == 0);
}

/* A registered thread's own gcwork (assists, barrier flushes). */
gogc_gcwork *gogc_thread_gcw(gogc_thread *t) {
  if (t->gcw == NULL) {
    gogc_gcwork *w = gogc_meta_alloc_critical(sizeof *w, "a thread's mark state");
    gogc_gcwork_init(w);
    t->gcw = w;
  }
  return t->gcw;
}

/* Claim a root job, counting w as active first (see above). */
static bool take_root(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->root_next) >= atomic_load_relaxed(&rt->nroots)) return false;
  if (!w->active) {
    gogc_thread *t = work_lock();
    bool marking = atomic_load_relaxed(&rt->phase) == PHASE_MARK;
    if (marking) {
      rt->nactive++;
      w->active = 1;
    }
    work_unlock(t);
    if (!marking) return false; /* mark termination has begun */
  }
  uint32_t j = __atomic_fetch_add(&rt->root_next, 1, __ATOMIC_RELAXED);
  if (j >= rt->nroots) return false;
  scan_root(w, &rt->roots[j]);
  return true;
}

static bool gcw_try_get_full(gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->work_full) == NULL) return false;
  gogc_thread *t = work_lock();
  /* Once mark termination has begun, global work belongs to the
   * stop-the-world markers (checkmark), not to concurrent drainers. */
  gogc_wbuf *b = atomic_load_relaxed(&rt->phase) == PHASE_MARK ? rt->work_full : NULL;
  if (b != NULL) {
    atomic_store_relaxed(&rt->work_full, b->next);
    if (!w->active) {
      rt->nactive++;
      w->active = 1;
    }
    /* Called with w empty: its primary goes to the empty list in the
     * same hold of the lock (publish has why). */
    gogc_assert(w->primary->n == 0);
    empty_push_locked(w->primary);
    w->primary = b;
  }
  work_unlock(t);
  return b != NULL;
}

/* Mark while the world runs, until no work is left for this worker
 * (returns false; w is then empty and inactive) or until budget bytes of
 * scan work were done or the clock passed deadline (returns true; w may
 * still hold work: the caller publishes it). budget/deadline 0: none. */
bool gogc_mark_drain_concurrent(gogc_gcwork *w, uint64_t budget, uint64_t deadline) {
  gogc_runtime *rt = gogc_rt;
  uint64_t start = w->scan_work, clocked = start;
  /* Short deadlines only (assists, slices that preempt a program thread)
   * are kept to within DRAIN_CLOCK_BYTES of scan work; see below. */
  bool fine = deadline != 0 && deadline <= gogc_os_nanotime() + DRAIN_FINE_NS;
  uint32_t n = 0;
  for (;;) {
    /* Every 32 objects (at most 128 KiB of words: 4 KiB oblets). Checking
     * the budget after every 16 KiB of scan work as well made assists stop
     * sooner in arena churn (1 MiB chunks), cycles took longer and
     * quarantined chunks piled up past test_arena's 2 GiB bound in the
     * UBSan build. */
    if ((++n & 31) == 0) {
      if (budget && w->scan_work - start >= budget) {
        gcw_unring(w);
        return true;
      }
      /* A long deadline (a worker's slice) is read every 256 objects or
       * DRAIN_SLICE_CLOCK_BYTES of scan work: reading it every 32 small
       * objects was 2% of binary-trees' CPU (the idle worker's 0.2 ms
       * slices). A short one every 128 (and by bytes below), about 1.5 us
       * of small objects: every 32 was 3.5% of binary-trees' CPU with 2
       * threads, where assists do all the marking (a vDSO clock read is
       * 20 ns on this VM); every 128, 1.3%, and 3.7% less wall time
       * (medians of 6 round-robin runs). */
      if (deadline && ((fine && (n & 127) == 0) || (n & 255) == 0 ||
                       w->scan_work - clocked >= DRAIN_SLICE_CLOCK_BYTES)) {
        if (gogc_os_nanotime() >= deadline) {
          gcw_unring(w);
          return true;
        }
        clocked = w->scan_work;
      }
      /* Go's gcDrain: keep the global list stocked, so assists and idle
       * workers always find work while there is some. */
      if (atomic_load_relaxed(&rt->work_full) == NULL) gcw_balance(w);
    } else if (fine && w->scan_work - clocked >= DRAIN_CLOCK_BYTES) {
      /* A short deadline also after every DRAIN_CLOCK_BYTES of scan work:
       * 32 oblets of a pointer array, each word a cache miss, can be a
       * millisecond of work. With the clock read every 32 objects only,
       * 2.6% of the latency workload's assists, bounded at 10 us, ran
       * 40 us or more (its 2 MiB root array); with this, 0.4%. Not for
       * the workers' long slices: stopping those on time too made arena
       * churn's cycles three times as long (the background worker, over
       * its duty, then slept where it used to finish the mark), and
       * test_arena's address space grew past its 2 GiB bound. */
      clocked = w->scan_work;
      if (gogc_os_nanotime() >= deadline) {
        gcw_unring(w);
        return true;
      }
    }
    uintptr_t obj = gcw_next(w);
    if (obj != 0) {
      scan_object(w, obj);
      continue;
    }
    if (!w->idle && take_root(w)) continue;
    if (gcw_try_get_full(w)) continue;
    gcw_deactivate(w);
    return false;
  }
}

/* Is there any grey object or root job left, as far as the workers can
 * see? (Barrier buffers are checked with the world stopped.) */
bool gogc_mark_work_available(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = work_lock();
  bool avail = atomic_load_relaxed(&rt->work_full) != NULL || rt->nactive > 0 ||
               atomic_load_relaxed(&rt->root_next) < atomic_load_relaxed(&rt->nroots);
  work_unlock(t);
  return avail;
}

/* World stopped, no work anywhere: from here no concurrent drainer (an
 * idle worker, a waiting gogc_collect) takes work; wait for any still
 * leaving its drain loop. */
void gogc_mark_close(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = work_lock();
  atomic_store_relaxed(&rt->phase, PHASE_MARKTERM);
  work_unlock(t);
  for (;;) {
    t = work_lock();
    uint32_t n = rt->nactive;
    work_unlock(t);
    if (n == 0) break;
    sched_yield();
  }
}

/* Scan the stack of the calling thread (an assist that claimed its own
 * stack job). Not inlined: the registers are spilled in this frame. */
/* GODEBUG=gccheckmark=1: keep a copy of the words a stack scan saw
 * (threads_lock held), the roots the checkmark re-mark starts from. */
static GOGC_NO_SANITIZE void checkmark_snapshot(gogc_thread *t, const uintptr_t *regs,
                                                uint32_t nregs, uintptr_t lo, uintptr_t hi) {
  size_t n = nregs + (hi - lo) / 8;
  if (n > t->cm_cap) {
    if (t->cm_snap) gogc_os_free(t->cm_snap, t->cm_cap * 8);
    size_t cap = (n * 8 + 65535) & ~(size_t)65535;
    t->cm_snap = gogc_os_alloc(cap);
    t->cm_cap = t->cm_snap ? cap / 8 : 0;
    if (t->cm_snap == NULL) {
      t->cm_words = 0;
      return;
    }
  }
  /* Word by word, not memcpy: a sanitizer must not check stack reads. */
  const volatile uintptr_t *src = regs; /* volatile: never turned into memcpy */
  for (uint32_t i = 0; i < nregs; i++) t->cm_snap[i] = src[i];
  src = (const volatile uintptr_t *)lo;
  for (size_t i = 0; i < (hi - lo) / 8; i++) t->cm_snap[nregs + i] = src[i];
  t->cm_words = n;
}

/* Zero the dead stack below the caller's frame (Boehm's GC_clear_stack),
 * for a thread about to park with its stack scanned from where it parks:
 * the frames of the parking calls lie over the dead frames of earlier,
 * deeper calls, and a slot they never write (padding, a spill not
 * reached) keeps what a dead frame left there, maybe the address of an
 * object nothing else references, which then survives. */
#define CLEAR_STACK_BYTES 8192
static GOGC_NOINLINE void clear_stack_below(void) {
  char buf[CLEAR_STACK_BYTES];
  memset(buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory"); /* the stores are not dead */
}

void gogc_clear_dead_stack(void) {
  gogc_thread *t = gogc_self;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  /* Room for the buffer, with a margin above the guard page. */
  if (t == NULL || sp < t->stack_lo || sp - t->stack_lo < CLEAR_STACK_BYTES + 16384) return;
  clear_stack_below();
}

static GOGC_NOINLINE void scan_own_stack(gogc_gcwork *w, gogc_thread *t) {
  __builtin_unwind_init();
  volatile uintptr_t marker = 0;
  uint32_t nregs = 0;
  uintptr_t lo = gogc_thread_roots_lo(t, (uintptr_t)&marker, &nregs);
  if (gogc_rt->opt_gccheckmark) checkmark_snapshot(t, NULL, 0, lo, t->stack_hi);
  gogc_scan_range(w, lo, t->stack_hi);
  (void)marker;
}

/* Another thread's stack is copied while the thread is stopped and
 * scanned after it runs again, so that its stop lasts a copy rather than
 * the shading of every word (a lookup and maybe a locked OR each). The
 * stop is also as long as the scanning thread is off its core, which on a
 * busy machine is what makes a long one: the shorter the stop, the less
 * often that happens. Scanning the copy is scanning the stack at the
 * instant of the copy, which is what a scan with the thread stopped does:
 * the barrier covers what the thread does after (the soundness argument
 * in barrier.c), and nothing is freed before the mark ends. One buffer,
 * under threads_lock (held across a thread's scan); a stack larger than
 * it is scanned in place, and the buffer grows for next time, up to
 * STACK_COPY_MAX. */
#define STACK_COPY_MAX ((size_t)1 << 20)
#define STACK_COPY_MIN ((size_t)64 << 10)

/* Copy the words of [lo, hi) (8-aligned) to dst: another thread's stack or saved registers,
 * read word by word outside the sanitizers, as gogc_scan_range reads it. */
static GOGC_NO_SANITIZE void copy_stack_words(uintptr_t *dst, uintptr_t lo, uintptr_t hi) {
  const volatile uintptr_t *src = (const volatile uintptr_t *)lo;
  for (size_t i = 0, n = (hi - lo) / 8; i < n; i++) dst[i] = src[i];
}

static void stack_copy_grow(gogc_runtime *rt, size_t need) {
  if (need > STACK_COPY_MAX || need <= rt->stack_copy_cap) return;
  size_t cap = rt->stack_copy_cap ? rt->stack_copy_cap : STACK_COPY_MIN;
  while (cap < need) cap *= 2;
  if (cap > STACK_COPY_MAX) cap = STACK_COPY_MAX;
  uintptr_t *b = gogc_os_alloc(cap);
  if (b == NULL) return; /* keep scanning in place */
  if (rt->stack_copy) gogc_os_free(rt->stack_copy, rt->stack_copy_cap);
  rt->stack_copy = b;
  rt->stack_copy_cap = cap;
}

static void scan_thread(gogc_gcwork *w, gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->threads_lock);
  if (!t->need_scan) { /* exited, or scanned with the world stopped */
    pthread_mutex_unlock(&rt->threads_lock);
    return;
  }
  t->need_scan = 0;
  if (t == gogc_self) {
    scan_own_stack(w, t);
    gogc_stack_blacken(t);
    pthread_mutex_unlock(&rt->threads_lock);
    return;
  }
  if (gogc_thread_suspend(t)) {
    uint64_t t0 = gogc_os_nanotime(); /* the thread's pause starts now */
    uintptr_t sp;
    const uintptr_t *regs;
    uint32_t nregs;
    size_t copied = 0, need = 0; /* words in stack_copy to scan once it runs */
    gogc_thread_stopped_stack(t, &sp, &regs, &nregs);
    if (sp < t->stack_lo || sp > t->stack_hi) {
      gogc_warn("thread stack pointer %p outside its stack [%p, %p): not scanned", (void *)sp,
                (void *)t->stack_lo, (void *)t->stack_hi);
    } else {
      if (rt->opt_gccheckmark) checkmark_snapshot(t, regs, nregs, sp, t->stack_hi);
      uintptr_t lo = (sp + 7) & ~(uintptr_t)7, hi = t->stack_hi & ~(uintptr_t)7;
      if (hi < lo) hi = lo;
      need = (size_t)nregs * 8 + (hi - lo);
      if (need != 0 && need <= rt->stack_copy_cap) {
        if (nregs) copy_stack_words(rt->stack_copy, (uintptr_t)regs, (uintptr_t)(regs + nregs));
        copy_stack_words(rt->stack_copy + nregs, lo, hi);
        copied = need / 8;
      } else {
        if (nregs) gogc_scan_range(w, (uintptr_t)regs, (uintptr_t)(regs + nregs));
        gogc_scan_range(w, sp, t->stack_hi);
      }
      atomic_add_relaxed(&rt->stacks_scan, t->stack_hi - sp);
      gogc_stack_blacken(t); /* before it runs again */
    }
    gogc_thread_resume(t);
    uint64_t d = gogc_os_nanotime() - t0;
    if (copied) gogc_scan_range(w, (uintptr_t)rt->stack_copy, (uintptr_t)(rt->stack_copy + copied));
    else if (need) stack_copy_grow(rt, need);
    if (d > rt->max_stack_pause_ns) rt->max_stack_pause_ns = d;
    if (d > rt->cycle_stack_pause_ns) rt->cycle_stack_pause_ns = d;
    uint64_t tid = t->os_tid;
    pthread_mutex_unlock(&rt->threads_lock);
    if (gogc_events_on()) { /* once the thread runs again and no lock is held */
      gogc_event e = {.kind = GOGC_EVENT_STACK_SCAN, .duration_ns = d, .thread = tid};
      gogc_event_emit(&e);
    }
    return;
  }
  pthread_mutex_unlock(&rt->threads_lock);
}

/* The program thread that started a cycle (gogc_gc) scans its own stack
 * at once, where it stands in the library, instead of waiting to be
 * stopped by a signal for it: on a virtual machine a signal and the two
 * wake-ups of the stop cost more than scanning a small stack. Any moment
 * of the mark will do for a stack (barrier.c), and scan_thread makes sure
 * only one scan happens. The gcwork counts as active before it takes
 * anything (as in take_root), or mark termination could miss what it
 * holds; outside a critical section, since scan_thread takes threads_lock
 * (a stop holds that lock while it waits for critical sections to end). */
void gogc_mark_scan_self(gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  gogc_gcwork *w = gogc_thread_gcw(t);
  gogc_thread *l = work_lock();
  bool marking = atomic_load_relaxed(&rt->phase) == PHASE_MARK;
  if (marking && !w->active) {
    rt->nactive++;
    w->active = 1;
  }
  work_unlock(l);
  if (!marking) return;
  uint64_t t0 = gogc_os_nanotime();
  scan_thread(w, t);
  gogc_gcwork_publish(w);
  uint64_t used = gogc_os_nanotime() - t0; /* marking on a program thread: an assist */
  atomic_add_relaxed(&rt->assist_cpu_ns, used);
  atomic_add_relaxed(&rt->gc_cpu_ns, used);
}

void gogc_gcwork_scan_thread(gogc_gcwork *w, gogc_thread *t) {
  gogc_lock(&gogc_rt->threads_lock);
  t->need_scan = 1;
  pthread_mutex_unlock(&gogc_rt->threads_lock);
  scan_thread(w, t);
}

/* A range added with gogc_add_roots, scanned while the world runs: only
 * while it is still registered (gogc_remove_roots waits for the scan). */
static void scan_added(gogc_gcwork *w, const gogc_root *r) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  if (t) gogc_critical_enter(t);
  gogc_lock(&rt->roots_lock);
  for (uint32_t i = 0; i < rt->nadded; i++) {
    if (rt->added[i].lo <= r->lo && r->hi <= rt->added[i].hi) {
      gogc_scan_range(w, r->lo, r->hi);
      break;
    }
  }
  pthread_mutex_unlock(&rt->roots_lock);
  if (t) gogc_critical_leave(t);
}

/* Shade every word of [lo, hi) now, from a registered thread while
 * marking (a range that becomes a root during the cycle, the argument of
 * a thread being created). */
void gogc_mark_shade_range(gogc_thread *t, uintptr_t lo, uintptr_t hi) {
  gogc_gcwork *w = gogc_thread_gcw(t);
  gogc_critical_enter(t);
  if (gogc_wb_marking()) {
    gogc_scan_range(w, lo, hi);
    gogc_gcwork_publish(w);
  }
  gogc_critical_leave(t);
}

/* Shade the barrier buffer of t into w: t is the caller, inside a
 * critical section, or t is stopped. */
void gogc_wb_drain(gogc_thread *t, gogc_gcwork *w) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t base = rt->heap_base, mapped = atomic_load_acquire(&rt->heap_mapped);
  gogc_span **spans = rt->spans;
  for (uint32_t i = 0; i < t->wb_n; i++) shade(w, t->wb[i], base, mapped, spans);
  t->wb_n = 0;
}

/* The barrier buffer is full: shade it and publish what turned grey. The
 * owner calls this inside a critical section. */
void gogc_wb_flush(gogc_thread *t) {
  gogc_gcwork *w = gogc_thread_gcw(t);
  gogc_wb_drain(t, w);
  if (!gogc_gcwork_empty(w)) gogc_gcwork_publish(w);
  else gogc_gcwork_flush(w);
}

/* ---------------------------------------------------------------------------
 * Idle workers: mark on cores no registered thread is using, like Go's
 * idle mark workers. Worker i runs while fewer than GOMAXPROCS - i
 * registered threads are running (not in a blocking section). They run at
 * normal priority and in 1 ms slices: a worker holding grey objects must
 * not be starved by the scheduler (at idle priority it was, and marking
 * stalled behind the work it held).
 * ------------------------------------------------------------------------- */
static bool idle_slot_free(uint32_t index) {
  gogc_runtime *rt = gogc_rt;
  uint32_t running = atomic_load_seqcst(&rt->nrunning); /* Dekker: gogc_wait_for_core */
  return running + index < (uint32_t)rt->opt_procs;
}

/* For a helper thread that works only on a free core (idle worker
 * `index`, or the background sweeper with index 0): while fewer than
 * index + 1 cores are free of running registered threads and wanted()
 * holds, sleep until a registered thread enters a blocking section
 * (gogc_idle_wake) or 10 ms pass. The caller is not counted in nrunning.
 * Polling every 1 ms, as idle workers did, woke each about 700 times a
 * second for nothing while the program kept every core busy (latency
 * workload, 2 threads on 2 cores: sched_switch counts); now about 60.
 * Dekker with gogc_enter_blocking: we announce ourselves, then read
 * nrunning; the entering thread lowers nrunning, then reads idle_parked.
 * A missed wake-up (a thread that unregisters, say) costs the timeout. */
void gogc_wait_for_core(uint32_t index, bool (*wanted)(void)) {
  gogc_runtime *rt = gogc_rt;
  uint32_t seq = atomic_load_acquire(&rt->idle_seq);
  atomic_add_seqcst(&rt->idle_parked, 1);
  if (!idle_slot_free(index) && wanted())
    gogc_os_futex_wait_ns(&rt->idle_seq, seq, 10000000);
  atomic_sub_seqcst(&rt->idle_parked, 1);
}

static bool marking(void) { return atomic_load_seqcst(&gogc_rt->phase) == PHASE_MARK; }

/* A registered thread entered a blocking section: idle workers waiting
 * for a core look again. */
void gogc_idle_wake(void) {
  gogc_runtime *rt = gogc_rt;
  atomic_add_acq_rel(&rt->idle_seq, 1);
  gogc_os_futex_wake(&rt->idle_seq, INT_MAX);
}

static void *idle_main(void *arg) {
  uint32_t index = (uint32_t)(uintptr_t)arg;
  gogc_runtime *rt = gogc_rt;
  gogc_gcwork w;
  gogc_gcwork_init(&w);
  w.idle = 1; /* stack scans stop a thread: left to the background worker and assists */
  uint32_t seen = 0;
  for (;;) {
    uint32_t seq;
    while ((seq = atomic_load_acquire(&rt->bg_seq)) == seen) gogc_os_futex_wait(&rt->bg_seq, seen);
    seen = seq;
    uint64_t cpu0 = gogc_os_thread_cputime();
    while (atomic_load_acquire(&rt->phase) == PHASE_MARK && atomic_load_relaxed(&rt->bg_seq) == seen) {
      if (atomic_load_acquire(&rt->test_hold)) {
        gogc_os_futex_wait_ns(&rt->test_hold, 1, 1000000);
        continue;
      }
      if (!idle_slot_free(index)) {
        gogc_wait_for_core(index, marking);
        continue;
      }
      uint32_t ws = atomic_load_acquire(&rt->work_seq);
      uint64_t t0 = gogc_os_nanotime(), sw0 = w.scan_work;
      bool more = gogc_mark_drain_concurrent(&w, 0, t0 + 200000);
      gogc_event_simple(GOGC_EVENT_WORKER, 0, gogc_os_nanotime() - t0, 1);
      /* Credit for the assists, as the background worker's (Go's idle
       * workers flush theirs too): without it a thread allocating beside
       * an idle core pays full assists while that core marks. Slices of
       * 0.2 ms keep the credit current. */
      atomic_add_relaxed(&rt->bg_credit, (int64_t)(w.scan_work - sw0));
      /* CPU counted per slice, so mark termination (the gctrace line, the
       * pacer's utilisation) sees this cycle's idle marking. */
      uint64_t cpu1 = gogc_os_thread_cputime();
      atomic_add_relaxed(&rt->idle_cpu_ns, cpu1 - cpu0);
      atomic_add_relaxed(&rt->idle_cpu_total, cpu1 - cpu0);
      cpu0 = cpu1;
      if (more) {
        gogc_gcwork_publish(&w);
        continue;
      }
      gogc_gcwork_flush(&w);
      atomic_add_relaxed(&rt->nsleeping, 1);
      gogc_os_futex_wait_ns(&rt->work_seq, ws, 1000000);
      atomic_sub_relaxed(&rt->nsleeping, 1);
    }
    gogc_gcwork_publish(&w);
    uint64_t idle_used = gogc_os_thread_cputime() - cpu0;
    atomic_add_relaxed(&rt->idle_cpu_ns, idle_used);
    atomic_add_relaxed(&rt->idle_cpu_total, idle_used);
  }
  return NULL;
}

void gogc_idle_workers_start(void) {
  gogc_runtime *rt = gogc_rt;
  uint32_t n = rt->opt_procs > 0 ? (uint32_t)rt->opt_procs : 1;
  for (uint32_t i = 0; i < n; i++) {
    pthread_t tid;
    gogc_start_helper(&tid, NULL, idle_main, (void *)(uintptr_t)i, "gogc-idle-mark");
  }
}
