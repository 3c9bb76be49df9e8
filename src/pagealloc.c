/* gogc: the page allocator.
 *
 * The heap is one contiguous reservation, committed from its low end in
 * 64 MiB arenas as it grows (mheap.c). This file hands out runs of 8 KiB
 * pages from the committed part:
 *
 *   page_inuse   one bit per page, 1 = part of a span;
 *   chunk_free   free pages in each 512-page (4 MiB) chunk, so full
 *                chunks are skipped a chunk at a time;
 *   search_page  no page below it is free (a hint, Go's searchAddr);
 *   chunk_use    per chunk, the most pages in use after an allocation in
 *                this cycle and the last: what the scavenger may release.
 *
 * Allocation is address-ordered first fit: scan up from search_page a
 * 64-bit word at a time (a zero word is 64 free pages, an all-ones word
 * none), so low addresses are reused before high ones and free runs
 * coalesce by construction. Go keeps a radix tree of run summaries to make
 * the search logarithmic; a linear scan over the chunk counters is enough
 * for heaps of a few GiB (a 4 GiB heap is 1024 chunks) and is the place to
 * grow into that tree later.
 *
 * Scavenged pages. page_scav has one bit per page: 1 = free and holding
 * no memory (returned to the OS with MADV_DONTNEED, or committed and never
 * touched). Such a page reads as zero, so a span made only of scavenged
 * pages needs no zeroing. Allocation clears the bits of the run it takes;
 * the scavenger (scavenge.c) sets them, highest addresses first, so the
 * low pages that first fit reuses stay backed and whole chunks at the top
 * of the heap go back to the OS.
 *
 * Invariants (gogc_pages_is_valid): chunk_free[c] == number of zero bits
 * of chunk c within the mapped pages; no free page below search_page; a
 * scavenged page is free; pages_scav == number of scavenged pages.
 * All functions run with mheap.lock held.
 */
#include "internal.h"

#define WORD_PAGES 64
#define CHUNK_WORDS (CHUNK_PAGES / WORD_PAGES)

static uintptr_t mapped_pages(void) {
  return gogc_rt->pages_mapped;
}

static void mark_range(uintptr_t page, uintptr_t npages, bool inuse) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t end = page + npages;
  while (page < end) {
    uintptr_t w = page / WORD_PAGES, bit = page % WORD_PAGES;
    uintptr_t n = WORD_PAGES - bit;
    if (n > end - page) n = end - page;
    uint64_t m = (n == 64) ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1) << bit;
    if (inuse) {
      gogc_assert_internal((rt->page_inuse[w] & m) == 0);
      rt->page_inuse[w] |= m;
      rt->chunk_free[page / CHUNK_PAGES] -= (uint32_t)n;
    } else {
      gogc_assert_internal((rt->page_inuse[w] & m) == m);
      rt->page_inuse[w] &= ~m;
      rt->chunk_free[page / CHUNK_PAGES] += (uint32_t)n;
    }
    page += n;
  }
}

/* Clear the scavenged bits of [page, page + n); returns how many pages of
 * the run were not scavenged (may hold old data). */
static uintptr_t scav_clear(uintptr_t page, uintptr_t n) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t end = page + n, dirty = n;
  while (page < end) {
    uintptr_t w = page / WORD_PAGES, bit = page % WORD_PAGES;
    uintptr_t k = WORD_PAGES - bit;
    if (k > end - page) k = end - page;
    uint64_t m = (k == 64) ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1) << bit;
    uintptr_t c = (uintptr_t)__builtin_popcountll(rt->page_scav[w] & m);
    rt->page_scav[w] &= ~m;
    atomic_store_relaxed(&rt->pages_scav, rt->pages_scav - c); /* [heap_lock]; racy readers */
    dirty -= c;
    page += k;
  }
  return dirty;
}

/* chunk_use of chunk c, moved to the current cycle. A chunk not
 * allocated from in the cycle before has no maximum for it (0): every page
 * it held free then stayed free for a whole cycle. */
static gogc_chunk_use *chunk_use(uintptr_t c) {
  gogc_runtime *rt = gogc_rt;
  gogc_chunk_use *u = &rt->chunk_use[c];
  uint32_t gen = atomic_load_relaxed(&rt->scav_gen);
  if (u->gen != gen) {
    u->prev_max_inuse = u->gen + 1 == gen ? u->max_inuse : 0;
    u->max_inuse = (uint16_t)(CHUNK_PAGES - rt->chunk_free[c]);
    u->gen = gen;
  }
  return u;
}

/* Pages [page, page + n) were allocated: note how full their chunks are. */
static void note_use(uintptr_t page, uintptr_t n) {
  for (uintptr_t c = page / CHUNK_PAGES; c <= (page + n - 1) / CHUNK_PAGES; c++) {
    gogc_chunk_use *u = chunk_use(c);
    uint16_t inuse = (uint16_t)(CHUNK_PAGES - gogc_rt->chunk_free[c]);
    if (inuse > u->max_inuse) u->max_inuse = inuse;
  }
}

uintptr_t gogc_pages_alloc(uintptr_t npages, uintptr_t align, uintptr_t *dirty) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t limit = mapped_pages();
  uintptr_t page = rt->search_page;
  uintptr_t run_start = 0, run_len = 0;
  bool seen_free = false;
#define PAD(start) ((0 - (start)) & (align - 1)) /* to the first aligned page */
  while (page < limit) {
    uintptr_t chunk = page / CHUNK_PAGES;
    if (page % CHUNK_PAGES == 0 && rt->chunk_free[chunk] == 0) {
      run_len = 0;
      page += CHUNK_PAGES;
      continue;
    }
    uint64_t w = rt->page_inuse[page / WORD_PAGES];
    uintptr_t bit = page % WORD_PAGES;
    w >>= bit; /* bit 0 is `page` now; bits past the word read as free */
    uintptr_t avail = WORD_PAGES - bit;
    if (w == 0) {
      if (run_len == 0) run_start = page;
      if (!seen_free) {
        seen_free = true;
        rt->search_page = page;
      }
      run_len += avail;
      page += avail;
    } else {
      /* Walk the mixed word one run at a time. */
      uintptr_t done = 0;
      while (done < avail) {
        if ((w & 1) == 0) {
          uintptr_t z = w ? (uintptr_t)__builtin_ctzll(w) : avail - done;
          if (z > avail - done) z = avail - done;
          if (run_len == 0) run_start = page + done;
          if (!seen_free) {
            seen_free = true;
            rt->search_page = page + done;
          }
          run_len += z;
          if (run_len >= npages + PAD(run_start)) break;
          done += z;
          w = (z >= 64) ? 0 : w >> z;
        } else {
          uintptr_t o = ~w ? (uintptr_t)__builtin_ctzll(~w) : 64; /* ctz(0) is undefined */
          if (o > avail - done) o = avail - done;
          run_len = 0;
          done += o;
          w = (o >= 64) ? 0 : w >> o;
        }
      }
      page += avail;
    }
    if (run_len >= npages + PAD(run_start)) {
      uintptr_t start = run_start + PAD(run_start);
      if (start + npages > limit) return UINTPTR_MAX;
      mark_range(start, npages, true);
      note_use(start, npages);
      if (rt->search_page == start) rt->search_page = start + npages;
      *dirty = scav_clear(start, npages);
      return start;
    }
  }
#undef PAD
  if (!seen_free) rt->search_page = limit;
  return UINTPTR_MAX;
}

void gogc_pages_free(uintptr_t page, uintptr_t npages) {
  mark_range(page, npages, false);
  if (page < gogc_rt->search_page) gogc_rt->search_page = page;
}

/* Pages [first, first + npages) were just committed: make them free. */
void gogc_pages_grow(uintptr_t first, uintptr_t npages) {
  gogc_runtime *rt = gogc_rt;
  gogc_assert(first == rt->pages_mapped);
  for (uintptr_t c = first / CHUNK_PAGES; c < (first + npages + CHUNK_PAGES - 1) / CHUNK_PAGES; c++) {
    uintptr_t lo = c * CHUNK_PAGES, hi = lo + CHUNK_PAGES;
    if (lo < first) lo = first;
    if (hi > first + npages) hi = first + npages;
    rt->chunk_free[c] += (uint32_t)(hi - lo);
  }
  rt->pages_mapped = first + npages;
  if (first < rt->search_page) rt->search_page = first;
  /* Fresh pages hold no memory until touched: scavenged. */
  for (uintptr_t p = first; p < first + npages; p++) gogc_bit_set(rt->page_scav, (uint32_t)p);
  atomic_store_relaxed(&rt->pages_scav, rt->pages_scav + npages);
}

/* The scavenger's search: the highest run of free, unscavenged pages below
 * page `below`, at most max_pages long, in a chunk `which` allows (SCAV_*).
 * A chunk at least 31/32 in use is skipped unless SCAV_ANY: its free pages
 * are likely reused soon, and releasing them would split huge pages.
 * SCAV_SPARSE releases from a chunk only the pages that stayed free at its
 * fullest in this cycle and the last (chunk_use; Go's scavenger index
 * skips chunks that were dense in either): in a heap that holds its size,
 * the pages a sweep frees are the ones the next cycle allocates again, and
 * releasing them between the two only makes the program fault them back
 * in (binary-trees: 150 MiB a run, each purge a TLB shootdown of the
 * program's cores). Allocation takes the lowest free pages and the
 * scavenger the highest, so the count is enough. Returns the first page
 * of the run (and its length in *n), or UINTPTR_MAX. */
uintptr_t gogc_pages_find_scavengable(uintptr_t below, uintptr_t max_pages, int which,
                                      uintptr_t *n) {
  gogc_runtime *rt = gogc_rt;
  if (below > rt->pages_mapped) below = rt->pages_mapped;
  const uint32_t dense = CHUNK_PAGES / 32;
  while (below > 0) {
    uintptr_t chunk = (below - 1) / CHUNK_PAGES;
    uintptr_t clo = chunk * CHUNK_PAGES;
    uint32_t cfree = rt->chunk_free[chunk];
    bool skip = cfree == 0 || (which != SCAV_ANY && cfree < dense);
    uintptr_t most = max_pages;
    if (!skip && which == SCAV_SPARSE) {
      const gogc_chunk_use *u = chunk_use(chunk);
      uint32_t peak = u->max_inuse > u->prev_max_inuse ? u->max_inuse : u->prev_max_inuse;
      uint32_t spare = CHUNK_PAGES - peak; /* pages free at the chunk's fullest */
      uint32_t scav = 0;
      for (uintptr_t w = clo / WORD_PAGES; w < (clo + CHUNK_PAGES) / WORD_PAGES; w++)
        scav += (uint32_t)__builtin_popcountll(rt->page_scav[w]);
      skip = spare < dense || spare <= scav;
      if (!skip && spare - scav < most) most = spare - scav;
    }
    if (skip) {
      below = clo;
      continue;
    }
    /* Highest candidate page in [clo, below). */
    uintptr_t p = below;
    while (p > clo) {
      uintptr_t w = (p - 1) / WORD_PAGES, wlo = w * WORD_PAGES;
      if (wlo < clo) wlo = clo;
      uint64_t cand = ~rt->page_inuse[w] & ~rt->page_scav[w];
      uintptr_t top = p - w * WORD_PAGES; /* bits [0, top) are below p */
      if (top < 64) cand &= ((uint64_t)1 << top) - 1;
      if (cand == 0) {
        p = wlo;
        continue;
      }
      uintptr_t hi = w * WORD_PAGES + 63 - (uintptr_t)__builtin_clzll(cand) + 1; /* run end */
      uintptr_t lo = hi - 1;
      while (lo > clo && hi - lo < most && !gogc_bit_get(rt->page_inuse, (uint32_t)(lo - 1)) &&
             !gogc_bit_get(rt->page_scav, (uint32_t)(lo - 1)))
        lo--;
      *n = hi - lo;
      return lo;
    }
    below = clo;
  }
  return UINTPTR_MAX;
}

/* Take [page, page + n) out of circulation while its memory is returned
 * (the heap lock is dropped for the system call), then give it back. */
void gogc_pages_scavenge_begin(uintptr_t page, uintptr_t n) {
  mark_range(page, n, true);
}
void gogc_pages_scavenge_end(uintptr_t page, uintptr_t n, bool released) {
  gogc_runtime *rt = gogc_rt;
  mark_range(page, n, false);
  if (released) {
    for (uintptr_t p = page; p < page + n; p++) gogc_bit_set(rt->page_scav, (uint32_t)p);
    atomic_store_relaxed(&rt->pages_scav, rt->pages_scav + n);
  }
  if (page < rt->search_page) rt->search_page = page;
}

bool gogc_pages_is_valid(void) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t limit = mapped_pages();
  for (uintptr_t c = 0; c * CHUNK_PAGES < limit; c++) {
    uint32_t free_pages = 0;
    for (uintptr_t p = c * CHUNK_PAGES; p < (c + 1) * CHUNK_PAGES && p < limit; p++)
      if (!gogc_bit_get(rt->page_inuse, (uint32_t)p)) {
        free_pages++;
        if (p < rt->search_page) return false;
      }
    if (free_pages != rt->chunk_free[c]) return false;
    if (rt->chunk_use[c].max_inuse > CHUNK_PAGES || rt->chunk_use[c].prev_max_inuse > CHUNK_PAGES)
      return false;
  }
  uint64_t scav = 0;
  for (uintptr_t p = 0; p < limit; p++) {
    if (!gogc_bit_get(rt->page_scav, (uint32_t)p)) continue;
    if (gogc_bit_get(rt->page_inuse, (uint32_t)p)) return false;
    scav++;
  }
  return scav == rt->pages_scav;
}
