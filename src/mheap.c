/* gogc: the page heap (Go's mheap).
 *
 * Address space. At start-up the heap reserves HEAP_RESERVE bytes of
 * address space (PROT_NONE, no memory) aligned to an arena, or half as
 * much, down to 1 GiB, where the address space is limited (heap_reserve). It commits
 * that space from the bottom, one 64 MiB arena at a time, as spans need
 * pages; the committed prefix [heap_base, heap_base + heap_mapped) only
 * grows. Keeping the heap contiguous makes the pointer test in the
 * scanner a subtraction and one compare, and the span table a flat array:
 *
 *   spans[(p - heap_base) >> PAGE_SHIFT]  is the span holding p, or NULL
 *
 * set for every page of an in-use span, so interior pointers into large
 * objects find their span in O(1). The span table and the page bitmap are
 * reserved for the whole reservation and committed with each arena.
 *
 * Spans. A span struct describes a run of pages; structs and their
 * bitmaps are metadata from fixalloc.c's pools, which return pages to the
 * OS once every item on them is free. A span struct's memory is only ever
 * a span struct (or zeros), so a racing reader of a stale spans[] entry
 * still reads valid memory.
 *
 * Zeroing. Scavenged pages (never touched since they were committed, or
 * returned to the OS since) read as zero (pagealloc.c). A span with any
 * other page has needzero set, and its objects are cleared on allocation.
 *
 * Memory returned. The scavenger (scavenge.c) gives free pages back to
 * the OS; an allocation that takes them faults them back in, zeroed. What
 * the heap holds is heap_mapped minus the scavenged pages
 * (gogc_heap_read_memory), the number the memory limit is checked against.
 *
 * Huge pages. By default the heap takes whatever the system's THP
 * setting gives (as Go does). GODEBUG=hugepages=1 marks each arena
 * MADV_HUGEPAGE as it is committed, GODEBUG=disablethp=1 (Go's name)
 * MADV_NOHUGEPAGE. Measured on the 1 GiB latency workload, on a 2-vCPU
 * virtual machine whose setting is "madvise":
 *   - for: with 4 KiB pages the marker misses the TLB on almost every
 *     object (the mark loop's prefetch stalls on page walks); huge pages
 *     took the GC CPU fraction under a 1.5 GiB limit from 0.45 to
 *     0.40-0.41, and after the live set was dropped RSS reached its
 *     target in 2.1 s instead of 3.9 s (one run each);
 *   - against: there the kernel spent about 5 ms clearing each fresh
 *     2 MiB page (clear_page_erms was 40% of all samples: the host backs
 *     the guest's memory as it is touched), 6 s more system time a run,
 *     and 20-30% more wall time. And khugepaged may fill back a
 *     huge page the scavenger released in part, so RSS can creep above
 *     what the heap counts as held (whole huge pages released stay
 *     released); that is why a system whose setting is "always" may want
 *     disablethp=1 for a program that runs near a memory limit for hours.
 * So it stays a choice. */
#include "internal.h"

static int table_commit(uintptr_t table, uintptr_t *committed, uintptr_t need) {
  size_t ps = gogc_os_page_size();
  need = (need + ps - 1) & ~(uintptr_t)(ps - 1);
  if (need <= *committed) return 0;
  int rc = gogc_os_commit((void *)(table + *committed), need - *committed);
  if (rc == 0) {
    atomic_add_relaxed(&gogc_rt->metadata_bytes, need - *committed);
    *committed = need;
  }
  return rc;
}

static uintptr_t spans_committed, inuse_committed, scav_committed, specials_committed;

/* The reservation: HEAP_RESERVE, or less where the address space is
 * limited (ulimit -v, valgrind's 64 GiB): halved down to 1 GiB. */
int gogc_heap_init(void) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t size = HEAP_RESERVE;
  void *heap = NULL;
  for (; size >= ((uintptr_t)1 << 30) && heap == NULL; size /= 2)
    heap = gogc_os_reserve(size, ARENA_SIZE);
  if (heap == NULL) return -1;
  size *= 2; /* undo the loop's last halving */
  uintptr_t pages = size >> PAGE_SHIFT;
  void *spans = gogc_os_reserve(pages * sizeof(gogc_span *), gogc_os_page_size());
  void *inuse = gogc_os_reserve(pages / 8, gogc_os_page_size());
  void *scav = gogc_os_reserve(pages / 8, gogc_os_page_size());
  void *specials = gogc_os_reserve(pages / 8, gogc_os_page_size());
  void *chunks = gogc_meta_alloc(NUM_CHUNKS * sizeof(uint32_t));
  gogc_chunk_use *use = gogc_meta_alloc(NUM_CHUNKS * sizeof(gogc_chunk_use));
  if (spans == NULL || inuse == NULL || scav == NULL || specials == NULL || chunks == NULL ||
      use == NULL) {
    gogc_os_release(heap, size);
    if (spans) gogc_os_release(spans, pages * sizeof(gogc_span *));
    if (inuse) gogc_os_release(inuse, pages / 8);
    if (scav) gogc_os_release(scav, pages / 8);
    if (specials) gogc_os_release(specials, pages / 8);
    return -1;
  }
  rt->heap_reserve = size;
  rt->heap_base = (uintptr_t)heap;
  rt->spans = spans;
  rt->page_inuse = inuse;
  rt->page_scav = scav;
  rt->page_specials = specials;
  rt->chunk_free = chunks;
  rt->chunk_use = use; /* zeroed: no use yet */
  pthread_mutex_init(&rt->heap_lock, NULL);
  return 0;
}

/* Commit enough arenas for npages more pages. [heap] */
static bool heap_grow(uintptr_t npages) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t bytes = (npages * PAGE_SIZE + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1);
  uintptr_t mapped = rt->heap_mapped;
  if (bytes > rt->heap_reserve - mapped) return false;
  uintptr_t new_pages = (mapped + bytes) >> PAGE_SHIFT;
  if (table_commit((uintptr_t)rt->spans, &spans_committed,
                   new_pages * sizeof(gogc_span *)) != 0 ||
      table_commit((uintptr_t)rt->page_inuse, &inuse_committed, new_pages / 8) != 0 ||
      table_commit((uintptr_t)rt->page_scav, &scav_committed, new_pages / 8) != 0 ||
      table_commit((uintptr_t)rt->page_specials, &specials_committed, new_pages / 8) != 0)
    return false;
  if (gogc_os_commit((void *)(rt->heap_base + mapped), bytes) != 0) return false;
  if (rt->opt_disablethp || rt->opt_hugepages)
    (void)gogc_os_hugepage((void *)(rt->heap_base + mapped), bytes, !rt->opt_disablethp);
  gogc_pages_grow(mapped >> PAGE_SHIFT, bytes >> PAGE_SHIFT);
  /* Publish: markers and gogc_span_of read heap_mapped without the lock. */
  atomic_store_release(&rt->heap_mapped, mapped + bytes);
  return true;
}

/* ---------------------------------------------------------------------------
 * Metadata free lists: span structs and bitmaps. [heap]
 * ------------------------------------------------------------------------- */
static gogc_span *span_struct_alloc(void) {
  return gogc_fix_alloc(&gogc_rt->fix_spans, SPAN_STRIDE);
}

static void span_struct_free(gogc_span *s) { gogc_fix_free(&gogc_rt->fix_spans, s, SPAN_STRIDE); }

uint64_t *gogc_bits_alloc(uint32_t words) {
  return gogc_fix_alloc(&gogc_rt->fix_bits, words * (uint32_t)sizeof(uint64_t));
}

void gogc_bits_free(uint64_t *bits, uint32_t words) {
  gogc_fix_free(&gogc_rt->fix_bits, bits, words * (uint32_t)sizeof(uint64_t));
}

/* ---------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------- */
gogc_span *gogc_heap_alloc_span(uintptr_t npages, uintptr_t align, uint16_t spanclass,
                                uintptr_t elemsize, uint32_t nelems) {
  gogc_runtime *rt = gogc_rt;
  gogc_lock(&rt->heap_lock);
  uintptr_t dirty = 0;
  uintptr_t page = gogc_pages_alloc(npages, align, &dirty);
  uintptr_t grown = 0;
  if (page == UINTPTR_MAX) {
    uintptr_t before = rt->heap_mapped;
    if (!heap_grow(npages + align - 1) ||
        (page = gogc_pages_alloc(npages, align, &dirty)) == UINTPTR_MAX) {
      pthread_mutex_unlock(&rt->heap_lock);
      return NULL;
    }
    grown = rt->heap_mapped - before;
  }
  gogc_span *s = span_struct_alloc();
  uint64_t *a = NULL, *m = NULL;
  uint32_t words = (nelems + 63) / 64;
  if (s) {
    a = gogc_bits_alloc(words);
    m = gogc_bits_alloc(words);
  }
  if (s == NULL || a == NULL || m == NULL) {
    if (a) gogc_bits_free(a, words);
    if (m) gogc_bits_free(m, words);
    if (s) span_struct_free(s);
    gogc_pages_free(page, npages); /* its pages count as not scavenged now: harmless */
    pthread_mutex_unlock(&rt->heap_lock);
    return NULL;
  }
  s->base = rt->heap_base + page * PAGE_SIZE;
  s->npages = (uint32_t)npages;
  s->elemsize = elemsize;
  s->nelems = nelems;
  s->limit = s->base + (uintptr_t)nelems * elemsize;
  s->divmagic = spanclass_sizeclass(spanclass) ? gogc_class_divmagic[spanclass_sizeclass(spanclass)] : 0;
  s->spanclass = spanclass;
  s->bitwords = (uint8_t)words;
  atomic_store_relaxed(&s->allocbits, a);
  s->markbits = m;
  s->heapbits = NULL; /* typed small spans: made when a second type arrives (alloc.c) */
  s->needzero = dirty != 0;
  atomic_store_relaxed(&s->freeindex, 0);
  s->alloc_count = 0;
  s->alloc_cache = ~(uint64_t)0;
  s->sweepgen = atomic_load_relaxed(&rt->sweepgen);
  atomic_store_relaxed(&rt->pages_inuse, rt->pages_inuse + npages); /* [heap_lock]; racy readers */
  for (uintptr_t i = 0; i < npages; i++) atomic_store_release(&rt->spans[page + i], s);
  atomic_store_release(&s->state, SPAN_INUSE);
  pthread_mutex_unlock(&rt->heap_lock);
  /* Memory checkers: a large object is accessible at once, the slots of
   * a small span only as they are allocated. */
  if (spanclass_sizeclass(spanclass) == 0) gogc_mem_unpoison(s->base, npages * PAGE_SIZE);
  else gogc_mem_poison(s->base, npages * PAGE_SIZE);
  if (grown != 0 && gogc_events_on()) {
    gogc_event e = {.kind = GOGC_EVENT_HEAP_GROW, .bytes = grown};
    gogc_event_emit(&e);
  }
  /* Pages faulted back in may take the process over the memory limit:
   * return as much elsewhere (Go's allocSpan). */
  if (dirty < npages) gogc_scavenge_for_limit();
  return s;
}

/* The heap lock for callers that may be outside a critical section: a
 * registered thread holds it only inside one, so a stop of the world never
 * finds it held by a stopped thread (the collector takes it with the world
 * stopped). */
void gogc_heap_lock(void) {
  gogc_thread *t = gogc_self;
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&gogc_rt->heap_lock);
}
void gogc_heap_unlock(void) {
  gogc_thread *t = gogc_self;
  pthread_mutex_unlock(&gogc_rt->heap_lock);
  if (t != NULL) gogc_critical_leave(t);
}

/* Any thread. */
void gogc_heap_read_memory(gogc_heap_memory *m) {
  gogc_runtime *rt = gogc_rt;
  gogc_heap_lock();
  uint64_t scav = rt->pages_scav * PAGE_SIZE;
  m->mapped = rt->pages_mapped * PAGE_SIZE;
  m->released = scav;
  m->ready = m->mapped - scav;
  m->inuse = rt->pages_inuse * PAGE_SIZE;
  m->free = m->mapped - m->inuse - scav;
  gogc_heap_unlock();
}

/* Return s's pages to the page allocator. The caller owns s: it is on no
 * list and cached nowhere. */
void gogc_heap_free_span(gogc_span *s) { gogc_heap_free_span_ex(s, false); }

/* released: the pages' memory was returned to the OS already (they read
 * as zero): the page allocator counts them scavenged. */
/* [heap_lock] */
static void free_span_locked(gogc_span *s, bool released) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t page = (s->base - rt->heap_base) >> PAGE_SHIFT;
  atomic_store_relaxed(&s->state, SPAN_FREE);
  for (uintptr_t i = 0; i < s->npages; i++) atomic_store_relaxed(&rt->spans[page + i], NULL);
  if (released) gogc_pages_scavenge_end(page, s->npages, true);
  else gogc_pages_free(page, s->npages);
  atomic_store_relaxed(&rt->pages_inuse, rt->pages_inuse - s->npages);
  gogc_bits_free(s->allocbits, s->bitwords);
  gogc_bits_free(s->markbits, s->bitwords);
  if (s->heapbits) gogc_bits_free(s->heapbits, s->npages * (uint32_t)(PAGE_SIZE / 512));
  s->allocbits = s->markbits = s->heapbits = NULL;
  span_struct_free(s);
}

void gogc_heap_free_span_ex(gogc_span *s, bool released) { gogc_heap_free_spans(&s, 1, released); }

/* n spans under one hold of the heap lock. */
void gogc_heap_free_spans(gogc_span **v, size_t n, bool released) {
  gogc_runtime *rt = gogc_rt;
  for (size_t i = 0; i < n; i++) {
    /* An object with specials is never freed while they are attached. */
    gogc_assert(v[i]->specials == NULL);
    gogc_mem_poison(v[i]->base, (uintptr_t)v[i]->npages * PAGE_SIZE);
  }
  gogc_lock(&rt->heap_lock);
  for (size_t i = 0; i < n; i++) free_span_locked(v[i], released);
  pthread_mutex_unlock(&rt->heap_lock);
}
