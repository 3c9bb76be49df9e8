/* gogc: allocation (Go's mallocgc and mcache).
 *
 * Path of a small request (<= 32 KiB):
 *   size -> size class (two table lookups) -> span class (class, kind)
 *   -> the thread's cached span for that span class (mcache, no lock)
 *   -> fast path: count trailing zeros of the span's alloc_cache, the
 *      complement of its allocation bits from freeindex on; take the slot,
 *      advance freeindex. No lock, no atomic read-modify-write.
 *   -> slow path when the cache word is used up: load the next word of
 *      allocation bits; when the span is full, give it back to its
 *      mcentral and get another (which may sweep lazily, or take pages
 *      from the heap). Counting the new span's free space into heap_live
 *      at that moment is what lets the pacer see allocation (Go's refill).
 * Large requests get their own span from the page heap.
 *
 * Critical sections. From reading the cached span to publishing the new
 * object the thread is inside gogc_critical_enter/leave: a stop-the-world
 * signal arriving there is deferred until the section ends, so the
 * collector never sees a half-updated span or a thread holding a heap
 * lock. A collection is started only outside the section.
 *
 * Kinds. Conservative objects are scanned word by word, noscan objects
 * never, typed objects through heap bits (small spans: 1 bit per word of
 * the span, written at allocation) or the span's layout (large objects).
 * A layout whose every word is a pointer is allocated as conservative and
 * one without pointers as noscan: the scan is the same and cheaper.
 *
 * Zeroing. A span that was swept or built on reused pages may hold old
 * data (needzero); fresh pages are already zero. Go clears each object as
 * it is allocated. Here, when a span is taken into a cache, its free slots
 * are cleared at once, in runs between live slots (zero_free_slots), and
 * allocation from it writes nothing more. Clearing object by object, each
 * 16-byte allocation of binary-trees that began a cache line waited on
 * that line, with the store buffer full behind it; one memset over the
 * span streams the lines in. needzero stays set only for objects freed
 * while the span is cached (gogc_free) and for large objects, which are
 * cleared at allocation.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>

/* A span with no free slot: every mcache entry starts here, so the fast
 * path needs no NULL test. */
static gogc_span empty_span;

/* A layout whose every word is a pointer: the heap bits of the part of a
 * resized typed object that was not copied from the old one, and of a
 * typed span whose heap bits could not be had. Static: needs no memory. */
static _Alignas(gogc_type) unsigned char all_pointers[sizeof(gogc_type) + sizeof(uint64_t)];
static pthread_once_t all_pointers_once = PTHREAD_ONCE_INIT;

static void all_pointers_init(void) {
  gogc_type *t = (gogc_type *)(void *)all_pointers;
  *t = (gogc_type){.name = "(every word a pointer)", .size = 8, .nwords = 1, .nptrs = 1,
                   .kind = KIND_CONSERVATIVE, .has_rep = 1, .rep = ~(uint64_t)0};
  t->mask[0] = 1;
}

static const gogc_type *all_pointers_type(void) {
  pthread_once(&all_pointers_once, all_pointers_init);
  return (const gogc_type *)(const void *)all_pointers;
}

/* ---------------------------------------------------------------------------
 * Span slot bookkeeping (owner of the span only)
 * ------------------------------------------------------------------------- */

/* Load alloc_cache for the word holding freeindex: bit 0 is slot freeindex,
 * bits past nelems or past the word are 0. */
void gogc_span_refill_cache(gogc_span *s) {
  uint32_t f = s->freeindex;
  if (f >= s->nelems) {
    s->alloc_cache = 0;
    return;
  }
  uint64_t avail = ~s->allocbits[f >> 6] >> (f & 63);
  uint32_t left = s->nelems - f;
  if (left < 64) avail &= ((uint64_t)1 << left) - 1;
  s->alloc_cache = avail;
}

/* Next free slot, or nelems if the span is full. Takes the slot.
 * When alloc_cache is 0: if freeindex is inside a word, the rest of that
 * word is taken; if it is at a word boundary, that word is unexamined. */
uint32_t gogc_span_next_free(gogc_span *s) {
  while (s->alloc_cache == 0) {
    uint32_t f = (s->freeindex + 63) & ~63u;
    if (f >= s->nelems) {
      atomic_store_relaxed(&s->freeindex, s->nelems);
      return s->nelems;
    }
    atomic_store_relaxed(&s->freeindex, f);
    gogc_span_refill_cache(s);
    if (s->alloc_cache == 0) atomic_store_relaxed(&s->freeindex, f + 64 < s->nelems ? f + 64 : s->nelems);
  }
  uint64_t c = s->alloc_cache;
  uint32_t bit = (uint32_t)__builtin_ctzll(c);
  uint32_t idx = s->freeindex + bit;
  s->alloc_cache = (c >> bit) >> 1;
  atomic_store_relaxed(&s->freeindex, idx + 1);
  s->alloc_count++;
  return idx;
}

/* Allocate-black: an object allocated while marking is marked at once.
 * True if this call set the bit (the object was white). */
static inline bool mark_new(gogc_span *s, uint32_t idx) {
  uint64_t bit = (uint64_t)1 << (idx & 63);
  return (atomic_or_relaxed(&s->markbits[idx >> 6], bit) & bit) == 0;
}

/* A small object's bytes are counted on the thread: a shared counter
 * updated at every allocation while marking costs a cache line that the
 * markers' flushes and the other allocating threads keep taking away. */
static inline void mark_new_small(gogc_thread *t, gogc_span *s, uint32_t idx) {
  if (mark_new(s, idx))
    atomic_store_relaxed(&t->new_marked, atomic_load_relaxed(&t->new_marked) + s->elemsize);
}

/* A large object (the shared counter: these are few). */
void gogc_mark_new_object(gogc_span *s, uint32_t idx) {
  if (mark_new(s, idx)) atomic_add_relaxed(&gogc_rt->bytes_marked, s->elemsize);
}

/* An allocation that reaches the trigger starts the cycle after its own
 * critical section, so the object it returns was allocated white, and the
 * roots may be scanned before the caller stores it anywhere. Stored into
 * a global without gogc_store (`table = gogc_alloc(n)`: the commonest
 * slip, and the barrier is the only thing that would shade it), it was
 * lost when the global's shard was scanned first and the thread's stack
 * after the pointer left it (examples/pool.c did exactly this; 1 run in
 * 20 under ASan). Blacken it as if it had been allocated during marking.
 * Inside a critical section: marking cannot end between the test and the
 * mark, so no bit is set for a cycle that is over. */
static GOGC_NOINLINE void blacken_returned(gogc_thread *t, uintptr_t p) {
  gogc_critical_enter(t);
  if (gogc_wb_marking()) {
    gogc_span *s = gogc_span_of(p);
    if (spanclass_sizeclass(s->spanclass) != 0) mark_new_small(t, s, gogc_span_obj_index(s, p));
    else gogc_mark_new_object(s, 0);
  }
  gogc_critical_leave(t);
}

/* The work an allocation owes (gogc_alloc_gc_work), and the returned
 * object blackened if that work started marking. */
static void alloc_gc_work(gogc_thread *t, uintptr_t p) {
  bool was_marking = gogc_wb_marking();
  gogc_alloc_gc_work(t);
  if (!was_marking && gogc_wb_marking()) blacken_returned(t, p);
}

/* ---------------------------------------------------------------------------
 * mcache
 * ------------------------------------------------------------------------- */

/* Allocate-black, a span at a time (Go marks each new object; here a
 * locked bit operation at every allocation while marking was a tenth of
 * the allocation fast path's time in binary-trees). The first allocation
 * from a cached span while marking marks its own object and every slot
 * still free; later ones from the span mark nothing (black_free). Markers
 * ignore free slots (gogc_span_is_allocated), marked or not, so the marks
 * only take effect as slots are allocated. The owner unmarks the slots
 * still free when the span leaves its cache: at the latest at mark
 * termination, which flushes every cache before the sweep turns marks
 * into allocation bits; and it counts the objects allocated meanwhile as
 * marked then. Atomic OR and AND: markers set other bits of the same
 * words. In the allocation's critical section. */
/* The free slots of bitmap word w of our cached span s: at or past
 * freeindex, below nelems, clear in the allocation bits. */
static inline uint64_t free_slots_word(const gogc_span *s, uint32_t w) {
  uint32_t from = s->freeindex, first = w << 6;
  uint64_t free = ~s->allocbits[w];
  if (first < from) free &= ~(uint64_t)0 << (from & 63);
  if (s->nelems - first < 64) free &= ((uint64_t)1 << (s->nelems - first)) - 1;
  return free;
}

static GOGC_NOINLINE void premark_free(gogc_thread *t, gogc_span *s, uint32_t idx) {
  mark_new_small(t, s, idx);
  for (uint32_t w = s->freeindex >> 6; (w << 6) < s->nelems; w++) {
    uint64_t free = free_slots_word(s, w);
    if (free) atomic_or_relaxed(&s->markbits[w], free);
  }
  s->black_count0 = s->alloc_count;
  s->black_free = 1;
}

static void unpremark_free(gogc_thread *t, gogc_span *s) {
  for (uint32_t w = s->freeindex >> 6; (w << 6) < s->nelems; w++) {
    uint64_t free = free_slots_word(s, w);
    if (free) __atomic_and_fetch(&s->markbits[w], ~free, __ATOMIC_RELAXED);
  }
  atomic_store_relaxed(&t->new_marked, atomic_load_relaxed(&t->new_marked) +
                                           (uint64_t)(s->alloc_count - s->black_count0) * s->elemsize);
  s->black_free = 0;
}

/* The statistics of a cached span that t gives back. */
static void mcache_uncache_stats(gogc_thread *t, gogc_span *s) {
  if (s->black_free) unpremark_free(t, s);
  uint32_t sc = spanclass_sizeclass(s->spanclass);
  uint32_t used = s->alloc_count - s->alloc_count_at_cache;
  t->local_nmalloc[sc] += used;
  /* The span's free space was counted as live when it was cached. */
  atomic_sub_relaxed(&gogc_rt->heap_live, (uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
}

static void mcache_uncache(gogc_thread *t, gogc_span *s) {
  mcache_uncache_stats(t, s);
  gogc_central_uncache_span(&gogc_rt->central[s->spanclass], s);
}

/* Return every cached span. The owner calls this, or the collector with
 * the world stopped (then t is not inside a critical section). */
void gogc_mcache_flush(gogc_thread *t) {
  for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
    gogc_span *s = t->alloc[i];
    if (s != &empty_span && s != NULL) mcache_uncache(t, s);
    t->alloc[i] = &empty_span;
  }
  gogc_runtime *rt = gogc_rt;
  uint64_t nm = atomic_load_relaxed(&t->new_marked);
  if (nm) {
    atomic_add_relaxed(&rt->bytes_marked, nm);
    atomic_store_relaxed(&t->new_marked, 0);
  }
  for (int c = 0; c < NUM_SIZE_CLASSES; c++) {
    if (t->local_nmalloc[c]) {
      atomic_add_relaxed(&rt->small_nmalloc[c], t->local_nmalloc[c]);
      t->local_nmalloc[c] = 0;
    }
  }
}

void gogc_mcache_init(gogc_thread *t) {
  for (int i = 0; i < NUM_SPAN_CLASSES; i++) t->alloc[i] = &empty_span;
}

/* Clear every free slot of s, a span just taken into a cache, in runs of
 * adjacent free slots (one memset for a span that is all free). */
static void zero_free_slots(gogc_span *s) {
  uintptr_t size = s->elemsize;
  for (uint32_t w = s->freeindex >> 6; (w << 6) < s->nelems; w++) {
    uint64_t avail = free_slots_word(s, w);
    while (avail != 0) {
      uint32_t lo = (uint32_t)__builtin_ctzll(avail);
      uint64_t rest = ~(avail >> lo);
      uint32_t len = rest == 0 ? 64 - lo : (uint32_t)__builtin_ctzll(rest);
      void *p = (void *)(s->base + (uintptr_t)((w << 6) + lo) * size);
      gogc_mem_unpoison(p, (uintptr_t)len * size); /* free slots stay inaccessible */
      memset(p, 0, (uintptr_t)len * size);
      gogc_mem_poison(p, (uintptr_t)len * size);
      avail = lo + len >= 64 ? 0 : avail & (~(uint64_t)0 << (lo + len));
    }
  }
  s->needzero = 0;
}

/* Slow path: the cached span of class spc has no free slot in its cache
 * word. Returns the slot's address or 0 when out of memory. *trigger is
 * set when the heap reached the trigger. Inside the critical section. */
static GOGC_NOINLINE uintptr_t alloc_small_slow(gogc_thread *t, uint16_t spc,
                                                 gogc_span **out, bool *trigger) {
  gogc_runtime *rt = gogc_rt;
  gogc_span *s = t->alloc[spc];
  /* The shared empty sentinel is never written (every thread has it). */
  uint32_t idx = s == &empty_span ? 0 : gogc_span_next_free(s);
  if (idx >= s->nelems) {
    gogc_span *old = s != &empty_span ? s : NULL;
    if (old != NULL) mcache_uncache_stats(t, old);
    t->alloc[spc] = &empty_span;
    s = gogc_central_cache_span(&rt->central[spc], t, old);
    if (s == NULL) return 0;
    if (s->needzero) zero_free_slots(s);
    t->alloc[spc] = s;
    uint64_t bytes = (uint64_t)(s->nelems - s->alloc_count) * s->elemsize;
    atomic_add_relaxed(&rt->heap_live, bytes);
    if (atomic_load_relaxed(&rt->phase) == PHASE_MARK) {
      t->assist_credit -= (int64_t)bytes; /* paid for by a mark assist */
      *trigger = t->assist_credit < 0;
    } else {
      /* Start a cycle, or pay sweep debt (proportional sweeping). */
      *trigger = gogc_gc_should_trigger() || !atomic_load_relaxed(&rt->sweep_done);
    }
    idx = gogc_span_next_free(s);
    gogc_assert(idx < s->nelems);
  } else if (s->npages > 1 && t->assist_credit < 0 &&
             atomic_load_relaxed(&rt->phase) == PHASE_MARK && !gogc_limiter_on()) {
    /* A span of several pages still owing for its refill: assist again
     * at each new cache word (64 slots) until the debt is paid. One
     * bounded assist per refill did too little per byte on such spans,
     * and the program outran the mark (binary-trees, 2 threads, 16-byte
     * objects on 4-page spans: 25% more marked at the end of each cycle,
     * 30% fewer cycles, peak RSS 10-15% higher; on 2-page spans 5% and
     * 7%). One-page spans keep one assist per refill, and so does the
     * limiter's wait. */
    *trigger = true;
  }
  *out = s;
  return s->base + (uintptr_t)idx * s->elemsize;
}

/* Write the heap bits of a typed small object: the layout repeats over
 * the whole slot, past the requested elements too, so that an array grown
 * in place by gogc_realloc keeps its layout (the tail is zeroed, and
 * scanning zeros costs little). */
/* Write len (<= 64) bits of val at bit pos. */
static inline void bits_write(uint64_t *bits, uint32_t pos, uint64_t val, uint32_t len) {
  uint64_t m = len == 64 ? ~(uint64_t)0 : (((uint64_t)1 << len) - 1);
  uint32_t wi = pos >> 6, sh = pos & 63;
  val &= m;
  atomic_store_relaxed(&bits[wi], (bits[wi] & ~(m << sh)) | (val << sh));
  if (sh != 0 && sh + len > 64)
    atomic_store_relaxed(&bits[wi + 1], (bits[wi + 1] & ~(m >> (64 - sh))) | (val >> (64 - sh)));
}

/* Write type's layout, repeated over the slot, into heap bits hb for the
 * object at p. */
static void heapbits_fill(gogc_span *s, uint64_t *hb, uintptr_t p, const gogc_type *type) {
  uint32_t w0 = (uint32_t)((p - s->base) >> 3);
  uint32_t nw = (uint32_t)(s->elemsize >> 3);
  if (type->has_rep) { /* the layout repeats in phase with every 64 words */
    for (uint32_t j = 0; j < nw; j += 64) bits_write(hb, w0 + j, type->rep, nw - j < 64 ? nw - j : 64);
    return;
  }
  uint32_t period = (uint32_t)type->nwords, k = 0;
  for (uint32_t j = 0; j < nw; j++) {
    if (gogc_bit_get(type->mask, k)) gogc_bit_set(hb, w0 + j);
    else gogc_bit_clear(hb, w0 + j);
    if (++k == period) k = 0;
  }
}

/* Record the layout of a new typed object at p in its small span s (the
 * allocating thread owns s). A span whose objects all have one type keeps
 * only that type (s->large_type, heap bits NULL): nothing to write per
 * object, and markers read the layout from the type, which stays in
 * cache. The first object of another type gives the span heap bits, filled
 * with the old type for every slot, then published: a marker that still
 * sees none scans with the old type, right for every object but this new
 * one, which no one can reach yet. bits_needed: the caller writes heap
 * bits itself (gogc_realloc's copy). Returns the heap bits, or NULL while
 * the span is uniform. If the bitmap cannot be had (out of memory), the
 * span's type becomes "every word a pointer": conservative, so still safe
 * for every object in it. */
static uint64_t *heapbits_write(gogc_span *s, uintptr_t p, const gogc_type *type,
                                bool bits_needed) {
  uint64_t *hb = s->heapbits;
  if (hb == NULL) {
    const gogc_type *u = s->large_type;
    if (!bits_needed && (u == NULL || u == type)) {
      if (u == NULL) atomic_store_release(&s->large_type, type);
      return NULL;
    }
    gogc_heap_lock();
    hb = gogc_bits_alloc(s->npages * (uint32_t)(PAGE_SIZE / 512));
    gogc_heap_unlock();
    if (hb == NULL) {
      atomic_store_release(&s->large_type, all_pointers_type());
      return NULL;
    }
    if (u != NULL)
      for (uint32_t i = 0; i < s->nelems; i++) heapbits_fill(s, hb, s->base + (uintptr_t)i * s->elemsize, u);
    heapbits_fill(s, hb, p, type);
    atomic_store_release(&s->heapbits, hb);
    return hb;
  }
  heapbits_fill(s, hb, p, type);
  return hb;
}

static gogc_thread *thread_slow(void) {
  if (gogc_ensure_init() != 0) return NULL;
  return gogc_thread_register_self();
}

static void *alloc_large(gogc_thread *t, size_t size, int kind, const gogc_type *type);
static void stress_collect(gogc_thread *t, bool slow);

/* The allocation entry point for every kind. type/count: typed objects. */
/* Clear a slot: small ones with inline stores (most objects are a few
 * words; a call to memset costs more than the stores), others with
 * memset. The empty asm keeps the compiler from turning the loop back
 * into a memset call. */
static inline void zero_small(void *p, uintptr_t n) {
  if (n <= 64) {
    uint64_t *w = p;
    for (uintptr_t i = 0; i < n / 8; i++) {
      w[i] = 0;
      __asm__ volatile("" : : "r"(w) : "memory");
    }
  } else {
    memset(p, 0, n);
  }
}

/* Heap bits to copy into a new typed object (gogc_realloc): words
 * [0, n) take the bits from bit `from` of `bits`; the rest keep the
 * layout's. Written inside the allocation's critical section: once it
 * ends, a cycle may flush this thread's cache and another thread may
 * allocate from the span, rewriting the same heap-bit words. */
typedef struct bits_copy {
  const uint64_t *bits;
  uint32_t from, n;
} bits_copy;

static inline __attribute__((always_inline)) void *
alloc_object_copy(size_t size, int kind, const gogc_type *type, const bits_copy *copy);

static inline void *alloc_object(size_t size, int kind, const gogc_type *type) {
  return alloc_object_copy(size, kind, type, NULL);
}

/* The heap could not grow for a small object: collect once (which frees
 * spans to reuse) and try again, then ask the out-of-memory handler
 * (gogc_set_oom_handler) and try once more if it says so; NULL with
 * ENOMEM if that fails too, as for large objects. */
static GOGC_NOINLINE void *alloc_small_oom(size_t size, int kind, const gogc_type *type,
                                           const bits_copy *copy) {
  static __thread int retrying;
  if (retrying) return NULL;
  retrying = 1;
  gogc_gc(TRIGGER_FORCED);
  gogc_sweep_finish();
  void *p = alloc_object_copy(size, kind, type, copy);
  if (p == NULL && gogc_oom_retry(size)) p = alloc_object_copy(size, kind, type, copy);
  retrying = 0;
  if (p == NULL) errno = ENOMEM;
  return p;
}

/* The slot of the lowest set bit of c, s's allocation cache (nonzero):
 * taken, and the cache and freeindex moved past it (Go's nextFreeFast). */
static inline __attribute__((always_inline)) uintptr_t span_take_cached(gogc_span *s, uint64_t c) {
  uint32_t bit = (uint32_t)__builtin_ctzll(c);
  uint32_t idx = s->freeindex + bit;
  s->alloc_cache = (c >> bit) >> 1;
  atomic_store_relaxed(&s->freeindex, idx + 1);
  s->alloc_count++;
  return s->base + (uintptr_t)idx * s->elemsize;
}

static inline __attribute__((always_inline)) void *
alloc_object_copy(size_t size, int kind, const gogc_type *type, const bits_copy *copy) {
  gogc_thread *t = gogc_self;
  if (unlikely(t == NULL) && (t = thread_slow()) == NULL) return NULL;
  if (unlikely(size > MAX_SMALL_SIZE)) return alloc_large(t, size, kind, type);
  uint16_t spc = spanclass_make(gogc_size_to_class(size), kind);
  bool trigger = false;
  gogc_critical_enter(t);
  gogc_span *s = t->alloc[spc];
  uintptr_t p;
  uint64_t c = s->alloc_cache;
  if (likely(c != 0)) {
    p = span_take_cached(s, c);
  } else {
    p = alloc_small_slow(t, spc, &s, &trigger);
    if (unlikely(p == 0)) {
      gogc_critical_leave(t);
      return alloc_small_oom(size, kind, type, copy);
    }
  }
  gogc_mem_unpoison(p, s->elemsize);
  if (s->needzero) zero_small((void *)p, s->elemsize);
  if (kind == KIND_TYPED) {
    uint64_t *hb = heapbits_write(s, p, type, copy != NULL);
    if (copy != NULL && hb != NULL) { /* NULL: out of memory, the span is conservative now */
      uint32_t to = (uint32_t)((p - s->base) >> 3);
      for (uint32_t i = 0; i < copy->n; i++) {
        if (gogc_bit_get_shared(copy->bits, copy->from + i)) gogc_bit_set(hb, to + i);
        else gogc_bit_clear(hb, to + i);
      }
    }
  }
  if (unlikely(gogc_wb_marking()) && !s->black_free) premark_free(t, s, gogc_span_obj_index(s, p));
  gogc_critical_leave(t);
  if (unlikely(trigger | gogc__stress)) {
    if (gogc__stress) stress_collect(t, c == 0);
    if (trigger) alloc_gc_work(t, p); /* a mark assist, or the start of a cycle */
    __asm__ volatile("" : : "r"(p) : "memory"); /* keep p live across it */
  }
  return (void *)p;
}

/* GODEBUG=gcstress=N / gcstressslow=1 (testing): a full collection at
 * every Nth allocation of this thread, or whenever an allocation took a
 * slow path. After the allocation's critical section; the new object is
 * kept live by the caller across it. */
uint32_t gogc__stress;

static GOGC_NOINLINE void stress_collect(gogc_thread *t, bool slow) {
  gogc_runtime *rt = gogc_rt;
  bool now = slow && rt->opt_gcstressslow;
  if (rt->opt_gcstress > 0 && ++t->stress_allocs % (uint64_t)rt->opt_gcstress == 0) now = true;
  if (now) gogc_gc(TRIGGER_FORCED);
}

static void zero_pages(void *p, size_t bytes) {
  if (bytes >= ((size_t)1 << 20)) gogc_os_purge(p, bytes); /* fresh zero pages */
  else memset(p, 0, bytes);
}

/* A large span the caller owns becomes the one allocated object it holds
 * (fresh from the page heap, or an arena chunk recycled by arena.c): in
 * its mcentral's swept list, counted, black while marking. arena: it is
 * an arena chunk, marked as one before it can be seen, so no marker ever
 * scans it as a plain object (a freed chunk faults, and only the chunk
 * protocol keeps markers out). In the allocation's critical section. */
static void large_publish(gogc_span *s, bool arena) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t bytes = (uintptr_t)s->npages * PAGE_SIZE;
  if (arena) {
    atomic_store_relaxed(&s->arena_lo, s->base + ARENA_CHUNK_HEADER);
    atomic_store_relaxed(&s->arena_hi, s->base + bytes);
    s->arena_lo_lim = s->arena_lo; /* nothing zeroed yet (arena.c, extend_zeroed) */
    s->arena_hi_lim = s->arena_hi;
    atomic_store_release(&s->arena_state, (uint32_t)ARENA_LIVE);
  }
  atomic_store_release(&s->freeindex, 1);
  s->alloc_count = 1;
  s->alloc_cache = 0;
  gogc_mcentral *c = &rt->central[s->spanclass];
  gogc_lock(&c->lock);
  gogc_central_push(c, s, true);
  pthread_mutex_unlock(&c->lock);
  atomic_add_relaxed(&rt->heap_live, bytes);
  atomic_add_relaxed(&rt->large_allocs, 1);
  atomic_add_relaxed(&rt->large_alloc_bytes, bytes);
  if (unlikely(gogc_wb_marking())) gogc_mark_new_object(s, 0);
}

/* arena: the object is an arena chunk (see large_publish); it is marked as one
 * before it can be seen, so no marker ever scans it as a plain object
 * (a freed chunk faults, and only the chunk protocol keeps markers out). */
static GOGC_NOINLINE void *alloc_large_ex(gogc_thread *t, size_t size, int kind,
                                          const gogc_type *type, bool arena) {
  gogc_runtime *rt = gogc_rt;
  if (size > rt->heap_reserve) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
  uint16_t spc = spanclass_make(0, kind);
  /* The object's address is taken inside the critical section and kept
   * live in this frame from then on: a stop deferred to the end of the
   * section, or a collection started below, finds the new object only
   * through p (the span pointer s is metadata, not a root). */
  void *p = NULL;
  bool needzero = false;
  for (int attempt = 0; attempt < 3 && p == NULL; attempt++) {
    gogc_critical_enter(t);
    /* An arena chunk is aligned to its size: a huge page can back it. */
    gogc_span *s = gogc_heap_alloc_span(npages, arena ? ARENA_CHUNK >> PAGE_SHIFT : 1, spc,
                                        npages * PAGE_SIZE, 1);
    if (s != NULL) {
      /* An object that will be scanned is zeroed before anyone can see
       * it: allocated black while marking, it is never scanned, and the
       * verifiers would read its old contents. Noscan objects are zeroed
       * after the section (Go's delayed zeroing). */
      if (s->needzero && kind != KIND_NOSCAN) {
        zero_pages((void *)s->base, npages * PAGE_SIZE);
        s->needzero = 0;
      }
      s->large_type = kind == KIND_TYPED ? type : NULL;
      large_publish(s, arena);
      p = (void *)s->base;
      needzero = s->needzero;
    }
    gogc_critical_leave(t);
    __asm__ volatile("" : : "r"(p) : "memory");
    if (p == NULL && attempt == 0) gogc_gc(TRIGGER_FORCED); /* free what we can */
    if (p == NULL && attempt == 1 && !gogc_oom_retry(size)) break; /* the user's handler */
  }
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  if (needzero) zero_pages(p, npages * PAGE_SIZE);
  if (atomic_load_relaxed(&rt->phase) == PHASE_MARK) t->assist_credit -= (int64_t)(npages * PAGE_SIZE);
  if (unlikely(gogc__stress)) stress_collect(t, true);
  alloc_gc_work(t, (uintptr_t)p);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

static void *alloc_large(gogc_thread *t, size_t size, int kind, const gogc_type *type) {
  return alloc_large_ex(t, size, kind, type, false);
}

void *gogc_alloc_arena_chunk(void) {
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  if (unlikely(t == NULL) && (t = thread_slow()) == NULL) return NULL;
  /* A recycled chunk (its span still in the span table, on no list):
   * cleared, then allocated again as alloc_large would. When only
   * protected ones wait, a batch of them is made accessible first. */
  if (atomic_load_relaxed(&rt->arena_nready_prot) != 0 &&
      atomic_load_relaxed(&rt->arena_nready) == atomic_load_relaxed(&rt->arena_nready_prot))
    gogc_arena_unprotect_ready(t, false);
  void *p = NULL;
  gogc_critical_enter(t);
  gogc_span *s = gogc_arena_ready_pop();
  gogc_critical_leave(t);
  if (s != NULL) {
    gogc_arena_reset_recycled(s); /* READY and on no list: nobody else reads it */
    gogc_arena_chunk_fit(s);
    gogc_critical_enter(t);
    /* A marker may be shading the chunk through a stray word (it then
     * skips it: READY). */
    atomic_store_relaxed(&s->markbits[0], 0);
    s->allocbits[0] = 1;
    atomic_store_relaxed(&s->sweepgen, atomic_load_relaxed(&rt->sweepgen));
    large_publish(s, true);
    p = (void *)s->base;
    gogc_critical_leave(t);
  }
  __asm__ volatile("" : : "r"(p) : "memory");
  if (p != NULL) return p;
  p = alloc_large_ex(t, ARENA_CHUNK, KIND_CONSERVATIVE, NULL, true);
  if (p != NULL) { /* for arena.c: no page resident beyond what its arena uses */
    s = gogc_span_of((uintptr_t)p);
    gogc_arena_chunk_zero(s);
    s->arena_underuse = 0;
    s->arena_huge = ARENA_HUGE_UNSET;
    gogc_arena_chunk_fit(s); /* its new arena's first word is not written yet */
  }
  return p;
}

/* ---------------------------------------------------------------------------
 * Public allocation API
 *
 * Each entry point but gogc_alloc_typed_array and gogc_realloc tries
 * alloc_fast first: the common case (a small object from the thread's
 * cached span, nothing else due) in a small function of its own, with no
 * size check beyond the class lookup, that saves at most one register
 * (the full path inlined into it saved six).
 * Anything else (no thread yet, a large object, a typed one whose span
 * has or needs heap bits, an empty allocation cache, a slot to clear, a
 * span to premark black) takes alloc_object, which handles every case and
 * repeats the lookup.
 * ------------------------------------------------------------------------- */

/* An object of span class spc from t's cached span, or NULL. The same
 * steps as alloc_object_copy's, inside the same critical section. A typed
 * object (type not NULL) takes this path only where there are no heap
 * bits to write: its span holds objects of this one type (heapbits_write). */
static inline __attribute__((always_inline)) void *alloc_fast(gogc_thread *t, uint32_t spc,
                                                              const gogc_type *type) {
  gogc_critical_enter(t);
  gogc_span *s = t->alloc[spc];
  uint64_t c = s->alloc_cache;
  uintptr_t p = 0;
  if (likely(c != 0) && likely(!s->needzero) && likely(!gogc_wb_marking() || s->black_free) &&
      (type == NULL ||
       (atomic_load_relaxed(&s->large_type) == type && s->heapbits == NULL))) {
    p = span_take_cached(s, c);
    gogc_mem_unpoison(p, s->elemsize);
  }
  gogc_critical_leave(t);
  return (void *)p;
}

/* GODEBUG=gcstress after an allocation by the fast path, which the stress
 * runs thus test too. p, the new object, stays live across the cycle. */
static GOGC_NOINLINE void *alloc_fast_stress(gogc_thread *t, void *p) {
  stress_collect(t, false);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

/* The span class of a small object of size bytes and kind, or 0 when it
 * is too large for the fast path's lookup (over 1 KiB: the full path). */
static inline uint32_t fast_spanclass(size_t size, int kind) {
  if (unlikely(size > 1024)) return 0;
  return spanclass_make((uint32_t)gogc_size_to_class8[(size + 7) >> 3], kind);
}

/* The full path, out of line, so that its registers are not saved on the
 * fast path. */
static GOGC_NOINLINE void *alloc_full(size_t size, int kind) {
  return alloc_object(size, kind, NULL);
}

/* An untyped object of either kind: the fast path, else the full one. */
static inline __attribute__((always_inline)) void *alloc_sized(size_t size, int kind) {
  gogc_thread *t = gogc_self;
  uint32_t spc = fast_spanclass(size, kind);
  if (likely(t != NULL) && likely(spc != 0)) {
    void *p = alloc_fast(t, spc, NULL);
    if (likely(p != NULL)) return unlikely(gogc__stress) ? alloc_fast_stress(t, p) : p;
  }
  return alloc_full(size, kind);
}

GOGC_API void *gogc_alloc(size_t size) {
  return alloc_sized(size, KIND_CONSERVATIVE);
}

GOGC_API void *gogc_alloc_noscan(size_t size) {
  return alloc_sized(size, KIND_NOSCAN);
}

GOGC_API void *gogc_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_sized(total, KIND_CONSERVATIVE);
}

static GOGC_NOINLINE void *alloc_typed_array(const gogc_type *type, size_t count) {
  if (type == NULL) gogc_fatal("gogc_alloc_typed: NULL layout");
  size_t total;
  if (__builtin_mul_overflow(count, type->size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (type->kind != KIND_TYPED) return alloc_object(total, type->kind, NULL);
  return alloc_object(total, KIND_TYPED, type);
}

GOGC_API void *gogc_alloc_typed_array(const gogc_type *type, size_t count) {
  return alloc_typed_array(type, count);
}

GOGC_API void *gogc_alloc_typed(const gogc_type *type) {
  gogc_thread *t = gogc_self;
  if (likely(t != NULL) && likely(type != NULL) && likely(type->fast_spc != 0)) {
    void *p = alloc_fast(t, type->fast_spc, type->kind == KIND_TYPED ? type : NULL);
    if (likely(p != NULL)) return unlikely(gogc__stress) ? alloc_fast_stress(t, p) : p;
  }
  return alloc_typed_array(type, 1);
}

GOGC_API char *gogc_strdup(const char *str) {
  if (str == NULL) return NULL;
  size_t n = strlen(str) + 1;
  char *p = alloc_sized(n, KIND_NOSCAN);
  if (p) memcpy(p, str, n);
  return p;
}

GOGC_API const gogc_type *gogc_type_new(const char *name, size_t size,
                                        size_t nptrs, const size_t *offs) {
  if (gogc_ensure_init() != 0) return NULL;
  if (name == NULL) name = "(unnamed)";
  if (size == 0 || size > ((size_t)1 << 40)) {
    gogc_warn("gogc_type_new(%s): size %zu is out of range", name, size);
    return NULL;
  }
  if (nptrs > 0 && offs == NULL) {
    gogc_warn("gogc_type_new(%s): %zu pointers but no offsets", name, nptrs);
    return NULL;
  }
  size_t nwords = (size + 7) / 8;
  for (size_t i = 0; i < nptrs; i++) {
    if (offs[i] % sizeof(void *) != 0 || offs[i] + sizeof(void *) > size) {
      gogc_warn("gogc_type_new(%s): pointer offset %zu is %s", name, offs[i],
                offs[i] % sizeof(void *) ? "not pointer-aligned" : "outside the object");
      return NULL;
    }
  }
  gogc_type *t = gogc_meta_alloc(sizeof(gogc_type) + ((nwords + 63) / 64) * 8);
  if (t == NULL) return NULL;
  t->name = name;
  t->size = nwords * 8;
  t->nwords = nwords;
  for (size_t i = 0; i < nptrs; i++) gogc_bit_set(t->mask, (uint32_t)(offs[i] / 8));
  size_t n = 0;
  for (size_t w = 0; w < nwords; w++) n += gogc_bit_get(t->mask, (uint32_t)w);
  t->nptrs = n;
  t->kind = n == 0 ? KIND_NOSCAN : (n == nwords && size % 8 == 0) ? KIND_CONSERVATIVE : KIND_TYPED;
  /* One small element: alloc_fast serves it (typed ones, from a span of
   * this type only). */
  t->fast_spc = (uint16_t)fast_spanclass(t->size, t->kind);
  if (nwords <= 64 && 64 % nwords == 0) {
    t->has_rep = 1;
    t->rep = 0;
    for (uint32_t j = 0; j < 64; j++)
      if (gogc_bit_get(t->mask, (uint32_t)(j % nwords))) t->rep |= (uint64_t)1 << j;
  }
  return t;
}

/* ---------------------------------------------------------------------------
 * Object queries
 * ------------------------------------------------------------------------- */

/* The span and slot of p if p points into a live object, else NULL. The
 * span is swept first, so its allocation state is current. */

/* As a critical section, so that no cycle falls between the sweep and the
 * reads of the allocation state. */
static gogc_span *find_object(const void *ptr, uint32_t *idx_out, uintptr_t *base_out) {
  if (gogc_rt == NULL) return NULL;
  gogc_thread *t = gogc_self;
  if (t == NULL && (t = thread_slow()) == NULL) return NULL;
  gogc_critical_enter(t);
  gogc_span *s = gogc_object_find((uintptr_t)ptr, idx_out, base_out);
  gogc_critical_leave(t);
  return s;
}

gogc_span *gogc_object_find(uintptr_t p, uint32_t *idx_out, uintptr_t *base_out) {
  gogc_span *s = gogc_span_of(p);
  if (s == NULL || atomic_load_acquire(&s->state) != SPAN_INUSE) return NULL;
  gogc_ensure_swept(s);
  /* The sweep may have freed the span, or the page may hold another one. */
  if (gogc_span_of(p) != s || atomic_load_acquire(&s->state) != SPAN_INUSE) return NULL;
  if (p >= s->limit) return NULL;
  uint32_t idx = spanclass_sizeclass(s->spanclass) ? gogc_span_obj_index(s, p) : 0;
  if (!gogc_span_is_allocated(s, idx)) return NULL;
  *idx_out = idx;
  *base_out = s->base + (uintptr_t)idx * s->elemsize;
  return s;
}

GOGC_API size_t gogc_size(const void *p) {
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = find_object(p, &idx, &base);
  return s ? s->elemsize : 0;
}

GOGC_API void *gogc_base(const void *p) {
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = find_object(p, &idx, &base);
  return s ? (void *)base : NULL;
}

GOGC_API void *gogc_realloc(void *p, size_t size) {
  if (p == NULL) return gogc_alloc(size);
  uint32_t idx;
  uintptr_t base;
  gogc_span *s = find_object(p, &idx, &base);
  if (s == NULL) gogc_fatal("gogc_realloc(%p): not a live object allocated by gogc", p);
  if (s->arena_state != 0)
    gogc_fatal("gogc_realloc(%p): points into an arena (copy it with gogc_arena_clone)", p);
  if (base != (uintptr_t)p)
    gogc_fatal("gogc_realloc(%p): interior pointer (object starts at %p)", p, (void *)base);
  size_t old = s->elemsize;
  if (size <= old && size >= old / 2 && old <= MAX_SMALL_SIZE) return p;
  int kind = spanclass_kind(s->spanclass);
  /* The object's layout: a large object's type; a small span's heap bits,
   * or, while it has none, the one type of all its objects (heap bits are
   * made before an object of another type exists: if none are seen here,
   * p has that type). */
  const uint64_t *hb = spanclass_sizeclass(s->spanclass) ? atomic_load_acquire(&s->heapbits) : NULL;
  const gogc_type *lt = hb == NULL ? atomic_load_acquire(&s->large_type) : NULL;
  void *q;
  if (kind == KIND_TYPED && lt != NULL && size > MAX_SMALL_SIZE) {
    q = alloc_large(gogc_self, size, KIND_TYPED, lt);
  } else if (kind == KIND_TYPED && lt != NULL) {
    /* One type repeated (like a typed array), and so is the copy. */
    q = alloc_object(size, KIND_TYPED, lt);
  } else if (kind == KIND_TYPED && size <= MAX_SMALL_SIZE && hb != NULL) {
    /* A small object's layout is only in its heap bits (no per-object
     * type is kept): the copied words keep their bits, words past the old
     * size are scanned conservatively until written by a typed object. */
    bits_copy copy = {hb, (uint32_t)(((uintptr_t)p - s->base) >> 3),
                      (uint32_t)((size < old ? size : old) >> 3)};
    q = alloc_object_copy(size, KIND_TYPED, all_pointers_type(), &copy);
  } else if (kind == KIND_TYPED) {
    q = alloc_object(size, KIND_CONSERVATIVE, NULL);
  } else {
    q = alloc_object(size, kind, NULL);
  }
  if (q == NULL) return NULL;
  gogc_memmove(q, p, size < old ? size : old);
  return q;
}

GOGC_API void gogc_free(void *p) {
  if (p == NULL) return;
  gogc_runtime *rt = gogc_rt;
  gogc_thread *t = gogc_self;
  if (rt == NULL || (t == NULL && (t = thread_slow()) == NULL))
    gogc_fatal("gogc_free(%p): pointer was not allocated by gogc", p);
  uint32_t idx;
  uintptr_t base;
  /* One critical section from the lookup to the end: no cycle in between. */
  gogc_critical_enter(t);
  gogc_span *s = gogc_object_find((uintptr_t)p, &idx, &base);
  if (s == NULL) {
    gogc_span *any = gogc_span_of((uintptr_t)p);
    gogc_fatal("gogc_free(%p): %s", p,
               any ? "object is not allocated (double free, or never allocated)"
                   : "pointer was not allocated by gogc");
  }
  if (s->arena_state != 0)
    gogc_fatal("gogc_free(%p): points into an arena (an arena is freed whole, with "
               "gogc_arena_free)", p);
  if (base != (uintptr_t)p)
    gogc_fatal("gogc_free(%p): interior pointer (object starts at %p)", p, (void *)base);
  /* Marking may be reading this object; freeing now would be unsafe. An
   * object with a finalizer, cleanups or weak handles is left to the
   * collector, which runs them. */
  if (atomic_load_relaxed(&rt->phase) != PHASE_OFF ||
      (s->specials != NULL && gogc_specials_has(s, base - s->base))) {
    gogc_critical_leave(t);
    return;
  }
  gogc_mcentral *c = &rt->central[s->spanclass];
  if (spanclass_sizeclass(s->spanclass) == 0) {
    gogc_lock(&c->lock);
    bool mine = s->list != LIST_NONE && s->cache_owner == NULL &&
                atomic_load_relaxed(&s->state) == SPAN_INUSE;
    if (mine) gogc_central_unlink(c, s);
    pthread_mutex_unlock(&c->lock);
    if (mine) {
      uintptr_t bytes = s->npages * PAGE_SIZE;
      atomic_sub_relaxed(&rt->heap_live, bytes);
      atomic_add_relaxed(&rt->large_frees, 1);
      atomic_add_relaxed(&rt->large_free_bytes, bytes);
      gogc_heap_free_span(s);
    }
    gogc_critical_leave(t);
    return;
  }
  /* Small object: the slot can be reused only by whoever owns the span's
   * allocation state: this thread's cache, or the mcentral when uncached.
   * A span cached by another thread keeps the object until the sweep. */
  bool owner = s->cache_owner == t;
  if (!owner) {
    gogc_lock(&c->lock);
    if (s->cache_owner != NULL || s->list == LIST_NONE) {
      pthread_mutex_unlock(&c->lock);
      gogc_critical_leave(t);
      return;
    }
  }
  /* Make "i < freeindex means allocated" explicit in the bits, then clear
   * the slot and move freeindex back to it. */
  for (uint32_t w = 0; w < (s->freeindex + 63) / 64; w++) {
    uint32_t lo = w * 64, hi = lo + 64 < s->freeindex ? lo + 64 : s->freeindex;
    uint64_t m = (hi - lo == 64) ? ~(uint64_t)0 : (((uint64_t)1 << (hi - lo)) - 1);
    s->allocbits[w] |= m;
  }
  gogc_bit_clear(s->allocbits, idx);
  gogc_mem_poison(base, s->elemsize);
  if (idx < s->freeindex) atomic_store_relaxed(&s->freeindex, idx);
  gogc_span_refill_cache(s);
  s->alloc_count--;
  s->needzero = 1;
  uint32_t sc = spanclass_sizeclass(s->spanclass);
  atomic_add_relaxed(&rt->small_nfree[sc], 1);
  if (owner) {
    /* The slot was counted in heap_live at refill and is free again; it
     * stays counted until the span is uncached, like any free slot. */
    if (s->alloc_count < s->alloc_count_at_cache) s->alloc_count_at_cache--;
    else t->local_nmalloc[sc]++;
  } else {
    atomic_sub_relaxed(&rt->heap_live, s->elemsize);
    if (s->list == LIST_FULL0 || s->list == LIST_FULL1) {
      bool swept = s->sweepgen == atomic_load_relaxed(&rt->sweepgen);
      gogc_central_unlink(c, s);
      gogc_central_push(c, s, swept);
    }
    pthread_mutex_unlock(&c->lock);
  }
  gogc_critical_leave(t);
}
