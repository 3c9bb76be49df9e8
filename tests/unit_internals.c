/* unit_internals: white-box tests of the allocator's parts, against the
 * internal headers: size classes and their magic division, the page
 * allocator's first fit and coalescing, span slot bookkeeping
 * (freeindex / alloc_cache), the span verifier, the scavenger's choice of
 * pages and the release of span metadata pages. */
#include "internal.h"

#include <stdio.h>

#include "check.h"
#include "testutil.h"

/* When the heap cannot grow for a small object, the allocator collects
 * once and retries: garbage makes room, so the allocation succeeds. */
static void *volatile g_sink;
static void test_oom_retry(void) {
  int old = gogc_set_percent(-1);
  gogc_collect();
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  uint32_t gcs = ms.num_gc;
  uint64_t sys = ms.heap_sys;
  /* Fill the mapped heap with garbage (the heap grows as needed)...
   * Under gcstress/gcstressslow the garbage is collected as it is made and
   * the heap never grows: 20000 objects (a collection each, at most), then
   * the same allocations with the OS failing every request. */
  size_t n = 0, most = tu_stressed() ? 20000 : 4000000;
  for (; n < most; n++) {
    gogc_store((void *)&g_sink, gogc_alloc(1024));
    if (g_sink == NULL) break;
    gogc_read_memstats(&ms);
    if (ms.heap_sys > sys + ARENA_SIZE) break;
  }
  /* ...then make every request to the OS fail while allocating more. */
  gogc_os_fail_nth(1);
  int ok = 1;
  for (size_t i = 0; i < 2 * n && ok; i++) { void *q = gogc_alloc(1024); gogc_store((void *)&g_sink, q); ok = q != NULL; }
  gogc_os_fail_nth(0);
  gogc_read_memstats(&ms);
  CHECK(ok);
  CHECK(ms.num_gc > gcs);
  gogc_set_percent(old);
}

static void test_size_classes(void) {
  /* Every size maps to the smallest class that holds it. */
  for (size_t size = 0; size <= MAX_SMALL_SIZE; size++) {
    uint32_t c = gogc_size_to_class(size);
    CHECK(c >= 1 && c < NUM_SIZE_CLASSES);
    CHECK(gogc_class_size[c] >= size);
    CHECK(c == 1 || gogc_class_size[c - 1] < size || size == 0);
  }
  /* Tail waste per span is at most 1/8 of the span, and magic division is
   * exact for every offset inside a span. */
  for (int c = 1; c < NUM_SIZE_CLASSES; c++) {
    uint64_t span = (uint64_t)gogc_class_npages[c] * PAGE_SIZE;
    uint32_t size = gogc_class_size[c];
    CHECK(span % size <= span / 8);
    CHECK(span / size <= MAX_OBJS_PER_SPAN);
    int bad = 0;
    for (uint64_t off = 0; off < span; off++)
      if ((uint32_t)((off * gogc_class_divmagic[c]) >> 32) != off / size) bad++;
    CHECK(bad == 0);
    CHECK(size % 8 == 0 && (size < 32 || size % 16 == 0));
  }
}

static void *volatile g_keep;

static void test_pages(void) {
  gogc_runtime *rt = gogc_rt;
  CHECK(g_keep != NULL); /* an arena is mapped (main allocated it) */
  pthread_mutex_lock(&rt->heap_lock);
  /* First fit: two runs, free the first, the next fitting request reuses
   * the lowest address; freeing neighbours coalesces. */
  uintptr_t dirty;
  uintptr_t a = gogc_pages_alloc(3, 1, &dirty), b = gogc_pages_alloc(5, 1, &dirty),
            c = gogc_pages_alloc(2, 1, &dirty);
  CHECK(a != UINTPTR_MAX && b != UINTPTR_MAX && c != UINTPTR_MAX);
  CHECK(gogc_pages_is_valid());
  gogc_pages_free(a, 3);
  uintptr_t d = gogc_pages_alloc(2, 1, &dirty);
  CHECK(d == a);
  gogc_pages_free(d, 2);
  gogc_pages_free(b, 5);
  uintptr_t e = gogc_pages_alloc(8, 1, &dirty); /* a's 3 + b's 5, coalesced */
  CHECK(e == a);
  CHECK(gogc_pages_is_valid());
  gogc_pages_free(e, 8);
  gogc_pages_free(c, 2);
  CHECK(gogc_pages_is_valid());
  /* Aligned (arena chunks): the run starts on a multiple of align, and
   * the free pages skipped before it stay free for the next request. */
  uintptr_t f = gogc_pages_alloc(3, 1, &dirty);
  uintptr_t g = gogc_pages_alloc(256, 256, &dirty);
  CHECK(f != UINTPTR_MAX && g != UINTPTR_MAX && g % 256 == 0 && g > f);
  uintptr_t h = gogc_pages_alloc(1, 1, &dirty);
  CHECK(g == f + 3 || h == f + 3); /* unless f's end was aligned already */
  CHECK(gogc_pages_is_valid());
  gogc_pages_free(h, 1);
  gogc_pages_free(g, 256);
  gogc_pages_free(f, 3);
  CHECK(gogc_pages_is_valid());
  pthread_mutex_unlock(&rt->heap_lock);
}

/* The scavenger returns free pages highest first, their memory is gone
 * (RSS falls, contents read as zero), the accounting follows, and an
 * allocation that takes them back reports them as clean (no zeroing). */
static void test_scavenge(void) {
  gogc_runtime *rt = gogc_rt;
  enum { NP = 256 }; /* 2 MiB */
  /* The test holds scav_lock throughout, so no other scavenger touches
   * these pages. The background scavenger is busy right now, giving back
   * the garbage test_oom_retry left, and wakes from its paced sleeps on its
   * own; setting its goals out of reach is not enough either, as the
   * background sweeper recomputes them once its last sweep ends, which can
   * come after gogc_collect returned. Clean-clone CI runs failed twice
   * when it released 1 MiB (one pass) of the pages freed below before the
   * test's own scavenge: reproduced with a sleep between the two. */
  pthread_mutex_lock(&rt->scav_lock);
  gogc_scavenge_locked(UINT64_MAX, SCAV_ANY); /* start from nothing free and backed */
  pthread_mutex_lock(&rt->heap_lock);
  uintptr_t dirty = 0;
  uintptr_t a = gogc_pages_alloc(NP, 1, &dirty);
  uint64_t scav_before = rt->pages_scav;
  pthread_mutex_unlock(&rt->heap_lock);
  CHECK(a != UINTPTR_MAX);
  if (a == UINTPTR_MAX) {
    pthread_mutex_unlock(&rt->scav_lock);
    return;
  }
  unsigned char *mem = (unsigned char *)(rt->heap_base + a * PAGE_SIZE);
  gogc_mem_unpoison(mem, NP * PAGE_SIZE); /* free pages are poisoned under ASan */
  memset(mem, 0xA5, NP * PAGE_SIZE);      /* now backed */
  long rss0 = (tu_rss_bytes() / 1024);
  pthread_mutex_lock(&rt->heap_lock);
  gogc_pages_free(a, NP);
  pthread_mutex_unlock(&rt->heap_lock);
  gogc_heap_memory m0, m1;
  gogc_heap_read_memory(&m0);
  CHECK(m0.free >= (uint64_t)NP * PAGE_SIZE);
  uint64_t got = gogc_scavenge_locked((uint64_t)NP * PAGE_SIZE, SCAV_ANY);
  gogc_heap_read_memory(&m1);
  CHECKF(got == (uint64_t)NP * PAGE_SIZE, "released %llu of %llu bytes", (unsigned long long)got,
         (unsigned long long)NP * PAGE_SIZE);
  CHECK(m1.released == m0.released + got && m1.free == m0.free - got);
  long rss1 = (tu_rss_bytes() / 1024);
  CHECKF(rss0 - rss1 >= NP * (long)(PAGE_SIZE / 1024) / 2, "RSS %ld -> %ld KiB", rss0, rss1);
  pthread_mutex_lock(&rt->heap_lock);
  CHECK(gogc_pages_is_valid());
  CHECK(rt->pages_scav == scav_before + NP);
  uintptr_t b = gogc_pages_alloc(NP, 1, &dirty);
  CHECK(b == a);
  CHECKF(dirty == 0, "%lu dirty pages after scavenging", (unsigned long)dirty);
  pthread_mutex_unlock(&rt->heap_lock);
  size_t nonzero = 0;
  for (size_t i = 0; i < NP * PAGE_SIZE; i += 512) nonzero += mem[i] != 0;
  CHECK(nonzero == 0);
  pthread_mutex_lock(&rt->heap_lock);
  gogc_pages_free(b, NP);
  CHECK(gogc_pages_is_valid());
  pthread_mutex_unlock(&rt->heap_lock);
  pthread_mutex_unlock(&rt->scav_lock);
}

/* The background scavenger (SCAV_SPARSE) leaves a chunk alone while it
 * was nearly full in this cycle or the last, and then releases only the
 * pages that stayed free at its fullest; SCAV_NOT_FULL (over the memory
 * limit's goal) looks at the chunk as it is now. gc_lock held, so no cycle
 * ends (and moves the generation) behind the test's back. */
static bool in_chunk(uintptr_t page, uintptr_t c) {
  return page != UINTPTR_MAX && page / CHUNK_PAGES == c;
}

static void test_scavenge_recent(void) {
  gogc_runtime *rt = gogc_rt;
  pthread_mutex_lock(&rt->scav_lock);
  pthread_mutex_lock(&rt->heap_lock);
  uintptr_t dirty = 0, n = 0;
  uintptr_t a = gogc_pages_alloc(2 * CHUNK_PAGES, 1, &dirty); /* holds one whole chunk, c */
  CHECK(a != UINTPTR_MAX);
  if (a == UINTPTR_MAX) goto out;
  uintptr_t c = (a + CHUNK_PAGES - 1) / CHUNK_PAGES, lo = c * CHUNK_PAGES, hi = lo + CHUNK_PAGES;
  CHECK(rt->chunk_use[c].gen == rt->scav_gen && rt->chunk_use[c].max_inuse == CHUNK_PAGES);
  gogc_pages_free(lo, CHUNK_PAGES); /* all free, none scavenged (the allocation cleared them) */
  uintptr_t p = gogc_pages_find_scavengable(hi, 64, SCAV_SPARSE, &n);
  CHECKF(!in_chunk(p, c), "page %lu released from a chunk full in this cycle", (unsigned long)p);
  p = gogc_pages_find_scavengable(hi, 64, SCAV_NOT_FULL, &n);
  CHECK(in_chunk(p, c) && p + n == hi && n == 64);
  rt->scav_gen++; /* a cycle ended: the chunk was full in the last one */
  p = gogc_pages_find_scavengable(hi, 64, SCAV_SPARSE, &n);
  CHECK(!in_chunk(p, c));
  CHECK(rt->chunk_use[c].prev_max_inuse == CHUNK_PAGES && rt->chunk_use[c].max_inuse == 0);
  rt->scav_gen++; /* and another, with no allocation from it */
  p = gogc_pages_find_scavengable(hi, 64, SCAV_SPARSE, &n);
  CHECK(in_chunk(p, c) && p + n == hi && n == 64);
  /* At its fullest this cycle the chunk had 100 pages free; 40 of them
   * are released already: 60 more may go, no more. */
  rt->chunk_use[c].max_inuse = CHUNK_PAGES - 100;
  for (uintptr_t q = hi - 40; q < hi; q++) gogc_bit_set(rt->page_scav, (uint32_t)q);
  p = gogc_pages_find_scavengable(hi - 40, 512, SCAV_SPARSE, &n);
  CHECKF(in_chunk(p, c) && p + n == hi - 40 && n == 60, "run %lu+%lu, want 60 pages below %lu",
         (unsigned long)p, (unsigned long)n, (unsigned long)(hi - 40));
  rt->chunk_use[c].max_inuse = CHUNK_PAGES - 40; /* as many free as are released: nothing more */
  p = gogc_pages_find_scavengable(hi - 40, 512, SCAV_SPARSE, &n);
  CHECK(!in_chunk(p, c));
  for (uintptr_t q = hi - 40; q < hi; q++) gogc_bit_clear(rt->page_scav, (uint32_t)q);
  gogc_pages_free(a, lo - a);
  gogc_pages_free(hi, a + 2 * CHUNK_PAGES - hi);
  CHECK(gogc_pages_is_valid());
out:
  pthread_mutex_unlock(&rt->heap_lock);
  pthread_mutex_unlock(&rt->scav_lock);
}

/* Span metadata release (fixalloc.c): EMPTY pages go back highest address
 * first, at most max_bytes of them, whatever order they were freed in;
 * released pages read as zero, the others keep their contents; `all`
 * releases the reserve too. A private pool: the runtime's own pools are
 * left alone. scav_lock held, as the scavenger holds it. */
static void test_fix_release(void) {
  gogc_runtime *rt = gogc_rt;
  enum { NPG = 200, KEEP = 64, MAXPG = 40 };
  static gogc_fixpool pool;
  static unsigned char *page[NPG];
  pthread_mutex_lock(&rt->scav_lock);
  gogc_heap_lock();
  for (int i = 0; i < NPG; i++) {
    page[i] = gogc_fix_alloc(&pool, 4096);
    CHECK(page[i] != NULL);
    if (page[i] == NULL) {
      gogc_heap_unlock();
      pthread_mutex_unlock(&rt->scav_lock);
      return;
    }
    memset(page[i], 0x5A, 4096);
  }
  /* Freed in a scrambled order (the empty list is LIFO). */
  for (int k = 0; k < NPG; k++) gogc_fix_free(&pool, page[(k * 77) % NPG], 4096);
  CHECK(pool.nempty == NPG && gogc_fixpool_is_valid(&pool));
  gogc_heap_unlock();
  /* all: the reserve (the pages freed last) is not held back here */
  uint64_t got = gogc_fix_release(&pool, true, (uint64_t)MAXPG * 4096);
  CHECKF(got == (uint64_t)MAXPG * 4096, "released %llu bytes, want %d pages",
         (unsigned long long)got, MAXPG);
  /* page[] is in address order (fresh pages are handed out upwards). */
  int zero_high = 0, kept_low = 0;
  for (int i = 0; i < NPG; i++) {
    /* (the first bytes of a free item link the page's free list) */
    bool z = page[i][100] == 0 && page[i][4095] == 0;
    if (i >= NPG - MAXPG) zero_high += z;
    else kept_low += page[i][100] == 0x5A && page[i][4095] == 0x5A;
  }
  CHECKF(zero_high == MAXPG && kept_low == NPG - MAXPG,
         "%d of the %d highest pages released, %d of the rest kept", zero_high, MAXPG, kept_low);
  gogc_heap_lock();
  CHECK(pool.nreleased == MAXPG && pool.nempty == NPG - MAXPG && gogc_fixpool_is_valid(&pool));
  gogc_heap_unlock();
  got = gogc_fix_release(&pool, false, UINT64_MAX); /* down to the reserve */
  CHECK(got == (uint64_t)(NPG - MAXPG - KEEP) * 4096);
  got = gogc_fix_release(&pool, true, UINT64_MAX);
  CHECK(got == (uint64_t)KEEP * 4096);
  gogc_heap_lock();
  CHECK(pool.nreleased == NPG && pool.nempty == 0 && gogc_fixpool_is_valid(&pool));
  gogc_heap_unlock();
  for (int i = 0; i < NPG; i++) CHECK(page[i][100] == 0);
  pthread_mutex_unlock(&rt->scav_lock);
}

static void test_span_slots(void) {
  /* A span of the 48-byte class: take every slot, free some through the
   * bitmap as a sweep would, and check freeindex/alloc_cache hand out
   * exactly the free slots. */
  uint16_t spc = spanclass_make(5, KIND_NOSCAN);
  uint32_t size = gogc_class_size[5], npages = gogc_class_npages[5];
  uint32_t n = (uint32_t)(npages * PAGE_SIZE / size);
  gogc_span *s = gogc_heap_alloc_span(npages, 1, spc, size, n);
  CHECK(s != NULL);
  if (!s) return;
  gogc_span_refill_cache(s);
  uint32_t got = 0;
  while (gogc_span_next_free(s) < n) got++;
  CHECK(got == n && s->alloc_count == n);
  for (uint32_t i = 0; i < s->bitwords; i++) s->allocbits[i] = ~(uint64_t)0;
  uint32_t freed[] = {0, 5, 63, 64, 100, n - 1};
  for (size_t i = 0; i < sizeof freed / sizeof freed[0]; i++) gogc_bit_clear(s->allocbits, freed[i]);
  s->freeindex = 0;
  s->alloc_count = n - 6;
  gogc_span_refill_cache(s);
  for (size_t i = 0; i < sizeof freed / sizeof freed[0]; i++) CHECK(gogc_span_next_free(s) == freed[i]);
  CHECK(gogc_span_next_free(s) == n);
  CHECK(gogc_span_is_valid(s));
  gogc_heap_free_span(s);
}

/* Tests that take heap_lock or build spans by hand run inside an
 * allocator critical section, as the library's own code does: a
 * concurrent cycle (the OOM test leaves the collector on) must not stop
 * this thread holding the lock, nor verify the heap halfway through. */
static void in_critical(void (*fn)(void)) {
  gogc_thread *t = gogc_thread_register_self();
  gogc_critical_enter(t);
  fn();
  gogc_critical_leave(t);
}

int main(void) {
  CHECK(gogc_init() == 0);
  test_oom_retry();
  test_size_classes();
  g_keep = gogc_alloc(1); /* no allocation inside the critical sections below */
  in_critical(test_pages);
  in_critical(test_span_slots);
  in_critical(test_fix_release);
  gogc_collect();
  in_critical(test_scavenge);
  pthread_mutex_lock(&gogc_rt->gc_lock);
  in_critical(test_scavenge_recent);
  pthread_mutex_unlock(&gogc_rt->gc_lock);
  return check_done();
}
