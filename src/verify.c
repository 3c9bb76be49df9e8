/* gogc: the heap verifier (GODEBUG=gcverify=1; on by default in debug
 * builds). Runs with the world stopped after marking and aborts with a
 * report on the first violation. It checks:
 *   - every in-use span (gogc_span_is_valid): geometry, the spans[] entries
 *     of all its pages, allocation count equal to a recount of the slots,
 *     no cached span left (mark termination flushed them all), sweepgen;
 *     an arena chunk aligned to its size;
 *   - the span's finalizer, cleanup and weak records (special.c);
 *   - no mark bit on a free slot;
 *   - the mark is closed: every candidate pointer in a marked scannable
 *     object that points at an allocated object points at a marked one
 *     (the same rule the marker uses, re-applied by a slow, independent
 *     walk: the stop-the-world analogue of Go's checkmark);
 *   - page accounting: pages_inuse equals the pages of the spans found,
 *     and the page allocator's own invariants.
 */
#include "internal.h"

bool gogc_span_is_valid(const gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&s->state) != SPAN_INUSE) return false;
  if (s->base < rt->heap_base || (s->base - rt->heap_base) % PAGE_SIZE != 0) return false;
  uintptr_t page = (s->base - rt->heap_base) >> PAGE_SHIFT;
  for (uint32_t i = 0; i < s->npages; i++)
    if (rt->spans[page + i] != s) return false;
  uint32_t sc = spanclass_sizeclass(s->spanclass);
  if (sc != 0) {
    if (s->elemsize != gogc_class_size[sc] || s->npages != gogc_class_npages[sc]) return false;
    if (s->nelems != s->npages * PAGE_SIZE / s->elemsize) return false;
  } else if (s->nelems != 1 || s->elemsize != s->npages * PAGE_SIZE) {
    return false;
  }
  if (s->limit != s->base + s->nelems * s->elemsize) return false;
  if (s->freeindex > s->nelems) return false;
  /* An arena chunk: one large object of ARENA_CHUNK bytes aligned to its
   * size (a huge page can back it); arena_huge says which pages do. */
  if (atomic_load_relaxed(&s->arena_state) != 0 &&
      (sc != 0 || s->npages * PAGE_SIZE != ARENA_CHUNK || (s->base & (ARENA_CHUNK - 1)) != 0 ||
       s->arena_huge > ARENA_HUGE_UNSET))
    return false;
  uint32_t n = 0;
  for (uint32_t i = 0; i < s->nelems; i++) n += gogc_span_is_allocated(s, i);
  return n == s->alloc_count;
}

static GOGC_COLD void verify_fail(const char *when, const char *what, const gogc_span *s,
                                  uintptr_t obj, uintptr_t slot, uintptr_t target) {
  gogc_fatal("heap verification failed %s: %s (span %p class %u; object %p; slot +%lu; target %p)",
             when, what, s ? (void *)s->base : NULL, s ? spanclass_sizeclass(s->spanclass) : 0,
             (void *)obj, (unsigned long)(slot - obj), (void *)target);
}

/* The marker's pointer test, written again plainly. */
static gogc_span *object_of(uintptr_t p, uint32_t *idx) {
  gogc_span *s = gogc_span_of(p);
  if (s == NULL || p >= s->limit) return NULL;
  *idx = (uint32_t)((p - s->base) / s->elemsize);
  return gogc_span_is_allocated(s, *idx) ? s : NULL;
}

static GOGC_NO_SANITIZE void verify_object(const char *when, gogc_span *s, uint32_t i) {
  uintptr_t obj = s->base + (uintptr_t)i * s->elemsize;
  int kind = spanclass_kind(s->spanclass);
  if (kind == KIND_NOSCAN) return;
  uintptr_t end = obj + s->elemsize;
  if (s->arena_state != 0 && s->arena_state != ARENA_LIVE) return; /* nothing to read */
  if (s->arena_state == ARENA_LIVE) end = s->arena_lo;
  for (uintptr_t a = obj; a < end; a += 8) {
    uintptr_t w = (a - obj) >> 3;
    if (kind == KIND_TYPED) {
      bool ptr = s->heapbits ? gogc_bit_get(s->heapbits, (uint32_t)((a - s->base) >> 3))
                             : gogc_bit_get(s->large_type->mask, (uint32_t)(w % s->large_type->nwords));
      if (!ptr) continue;
    }
    uintptr_t v = *(const uintptr_t *)a;
    uint32_t j;
    gogc_span *t = object_of(v, &j);
    if (t && !gogc_bit_get(t->markbits, j)) verify_fail(when, "marked object points to an unmarked one", s, obj, a, v);
  }
}

void gogc_heap_verify(const char *when) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t npages = atomic_load_relaxed(&rt->heap_mapped) >> PAGE_SHIFT;
  uint64_t pages = 0;
  for (uintptr_t p = 0; p < npages;) {
    gogc_span *s = rt->spans[p];
    if (s == NULL) {
      p++;
      continue;
    }
    if (!gogc_span_is_valid(s)) verify_fail(when, "invalid span", s, s->base, s->base, 0);
    if (s->cache_owner != NULL) verify_fail(when, "span still cached at mark termination", s, s->base, s->base, 0);
    if (!gogc_specials_is_valid(s)) verify_fail(when, "invalid finalizer/cleanup/weak records", s, s->base, s->base, 0);
    for (uint32_t i = 0; i < s->nelems; i++) {
      if (!gogc_bit_get(s->markbits, i)) continue;
      uintptr_t obj = s->base + (uintptr_t)i * s->elemsize;
      if (!gogc_span_is_allocated(s, i)) verify_fail(when, "marked free slot", s, obj, obj, 0);
      verify_object(when, s, i);
    }
    pages += s->npages;
    p += s->npages;
  }
  if (pages != rt->pages_inuse) verify_fail(when, "pages_inuse differs from the spans found", NULL, 0, 0, pages);
  gogc_lock(&rt->heap_lock);
  bool ok = gogc_pages_is_valid();
  bool fix_ok = gogc_fixpool_is_valid(&rt->fix_spans) && gogc_fixpool_is_valid(&rt->fix_bits);
  pthread_mutex_unlock(&rt->heap_lock);
  if (!fix_ok) gogc_fatal("heap verify (%s): span metadata pools inconsistent (fixalloc.c)", when);
  if (!ok) verify_fail(when, "page allocator invariants", NULL, 0, 0, 0);
}
