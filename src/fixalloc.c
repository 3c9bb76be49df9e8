/* gogc: span metadata that goes back to the OS (Go's fixalloc, plus a
 * release step Go does not have).
 *
 * Every span owns a span struct and two or three bitmaps (allocation and
 * mark bits; heap bits for a typed small span): about 4% of the heap for
 * 64-byte objects. They used to come from bump-allocated metadata chunks
 * and be recycled through free lists, so after the heap shrank they stayed
 * resident at the size of the peak heap: 137 MiB after a 3 GiB heap fell
 * to 300 MiB on the latency workload. This file allocates them from pages
 * that can be given back once every item on them is free.
 *
 * Layout. A pool (one for span structs, one for bitmaps) maps chunks of
 * FIX_CHUNK bytes aligned to their size. The first FIX_HDR_PAGES pages of a
 * chunk hold its header: one descriptor per page. Every other page holds
 * items of one size (a multiple of 8, at most a page), so an item never
 * crosses a page; the descriptor of the page holding p is found from p
 * alone (chunk = p rounded down, page = offset >> 12).
 *
 * A page is in one of these states, each but FRESH and FULL on a list of
 * the pool:
 *   FRESH     never touched (not resident)
 *   PARTIAL   some items free         partial[size / 8]
 *   FULL      no item free
 *   EMPTY     every item free, still resident   empty
 *   RELEASING being returned (no list; its descriptor is the releaser's)
 *   RELEASED  returned to the OS, reads as zero  released
 * Allocation takes a PARTIAL page of its size, else an EMPTY one, else a
 * RELEASED one (faulted back in), else a FRESH one, else a new chunk; an
 * EMPTY or RELEASED page may change item size. Items inside a page come
 * from its free list (linked through their first two bytes) or, never
 * used yet, from its bump offset.
 *
 * Release (gogc_fix_release: the background scavenger while memory is
 * over one of its goals, and gogc_free_os_memory): EMPTY pages beyond a
 * small reserve are taken off their list under the heap lock, given back
 * with MADV_DONTNEED without it (adjacent pages in one call), and put on
 * the released list.
 *
 * Racing readers. A marker may read a span struct through a stale spans[]
 * entry. Span structs have their own pool, so a span struct's memory is
 * only ever reused as a span struct at the same address
 * or reads as zero (released): either way the reader sees a span struct's
 * fields, as before. (Every page of that pool has the one item size, so
 * the items sit at the same offsets in every page.)
 *
 * Locking: [heap] for everything but the purge system call.
 * Counters: resident pages, in rt->fix_bytes, are part of
 * gogc_meta_bytes (counted against the memory limit, reported as gc_sys).
 */
#include "internal.h"

#define FIX_PAGE ((uintptr_t)4096)
#define FIX_PAGE_SHIFT 12
#define FIX_PAGES (FIX_CHUNK / FIX_PAGE)
#define FIX_HDR_PAGES ((sizeof(gogc_fixpage) * FIX_PAGES + FIX_PAGE - 1) / FIX_PAGE)
#define FIX_RESERVE_PAGES 64 /* EMPTY pages kept resident for reuse */

enum { FIX_FRESH = 0, FIX_PARTIAL, FIX_FULL, FIX_EMPTY, FIX_RELEASING, FIX_RELEASED };

typedef struct gogc_fixchunk {
  gogc_fixpage page[FIX_PAGES]; /* [0, FIX_HDR_PAGES) describe the header itself: unused */
} gogc_fixchunk;

_Static_assert(sizeof(gogc_fixchunk) <= FIX_HDR_PAGES * FIX_PAGE, "header fits its pages");

static inline gogc_fixchunk *chunk_of(uintptr_t p) {
  return (gogc_fixchunk *)(p & ~(uintptr_t)(FIX_CHUNK - 1));
}
static inline uintptr_t page_addr(gogc_fixpage *pg) {
  uintptr_t c = (uintptr_t)pg & ~(uintptr_t)(FIX_CHUNK - 1);
  return c + (((uintptr_t)pg - c) / sizeof(gogc_fixpage)) * FIX_PAGE;
}
static inline gogc_fixpage *page_of(uintptr_t p) {
  return &chunk_of(p)->page[(p & (FIX_CHUNK - 1)) >> FIX_PAGE_SHIFT];
}

static void list_push(gogc_fixpage **head, gogc_fixpage *pg) {
  pg->prev = NULL;
  pg->next = *head;
  if (*head) (*head)->prev = pg;
  *head = pg;
}
static void list_unlink(gogc_fixpage **head, gogc_fixpage *pg) {
  if (pg->prev) pg->prev->next = pg->next;
  else *head = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  pg->next = pg->prev = NULL;
}

/* Put every page of the singly linked chain pg on *head in state st. */
static void push_all(gogc_fixpage *pg, uint8_t st, gogc_fixpage **head, uint32_t *count) {
  while (pg) {
    gogc_fixpage *nx = pg->next;
    pg->state = st;
    list_push(head, pg);
    (*count)++;
    pg = nx;
  }
}

static void resident_add(int64_t pages) {
  atomic_add_relaxed(&gogc_rt->fix_bytes, (uint64_t)(pages * (int64_t)FIX_PAGE));
}

/* A page to hold items of `size` bytes, or NULL (no memory). */
static gogc_fixpage *page_take(gogc_fixpool *pool) {
  gogc_fixpage *pg = pool->empty;
  if (pg) {
    list_unlink(&pool->empty, pg);
    pool->nempty--;
    return pg;
  }
  pg = pool->released;
  if (pg) {
    list_unlink(&pool->released, pg);
    pool->nreleased--;
    resident_add(1);
    return pg;
  }
  if (pool->cur == NULL || pool->cur_fresh == FIX_PAGES) {
    void *c = gogc_os_reserve(FIX_CHUNK, FIX_CHUNK);
    if (c == NULL) return NULL;
    if (gogc_os_commit(c, FIX_CHUNK) != 0) {
      gogc_os_release(c, FIX_CHUNK);
      return NULL;
    }
    pool->cur = c;
    pool->cur_fresh = FIX_HDR_PAGES;
    pool->nchunks++;
    resident_add((int64_t)FIX_HDR_PAGES);
  }
  pg = &pool->cur->page[pool->cur_fresh++];
  resident_add(1);
  return pg;
}

void *gogc_fix_alloc(gogc_fixpool *pool, uint32_t size) {
  gogc_assert(size >= 8 && size % 8 == 0 && size <= FIX_PAGE);
  uint32_t cls = size / 8;
  gogc_fixpage *pg = pool->partial[cls];
  if (pg == NULL) {
    pg = page_take(pool);
    if (pg == NULL) return NULL;
    pg->size = (uint16_t)size;
    pg->nfree = (uint16_t)(FIX_PAGE / size);
    pg->free_head = 0;
    pg->bump = 0;
    pg->state = FIX_PARTIAL;
    list_push(&pool->partial[cls], pg);
  }
  uintptr_t base = page_addr(pg), item;
  if (pg->free_head != 0) {
    item = base + (uintptr_t)(pg->free_head - 1) * 8;
    pg->free_head = *(uint16_t *)item;
  } else {
    item = base + pg->bump;
    pg->bump = (uint16_t)(pg->bump + size);
  }
  if (--pg->nfree == 0) {
    list_unlink(&pool->partial[cls], pg);
    pg->state = FIX_FULL;
  }
  pool->inuse_bytes += size;
  memset((void *)item, 0, size);
  return (void *)item;
}

void gogc_fix_free(gogc_fixpool *pool, void *p, uint32_t size) {
  uintptr_t item = (uintptr_t)p;
  gogc_fixpage *pg = page_of(item);
  gogc_assert(pg->size == size && (pg->state == FIX_PARTIAL || pg->state == FIX_FULL));
  uint32_t cls = size / 8;
  *(uint16_t *)item = pg->free_head;
  pg->free_head = (uint16_t)((item - page_addr(pg)) / 8 + 1);
  pool->inuse_bytes -= size;
  uint32_t cap = (uint32_t)(FIX_PAGE / size);
  if (++pg->nfree == cap) {
    if (pg->state == FIX_PARTIAL) list_unlink(&pool->partial[cls], pg);
    pg->state = FIX_EMPTY;
    list_push(&pool->empty, pg);
    pool->nempty++;
  } else if (pg->state == FIX_FULL) {
    pg->state = FIX_PARTIAL;
    list_push(&pool->partial[cls], pg);
  }
}

/* Sort a batch (linked through next) by address, highest first: merge
 * sort, the descriptors being in the same order as their pages. */
static gogc_fixpage *sort_down(gogc_fixpage *list, uint32_t n) {
  if (n < 2) return list;
  gogc_fixpage *b = list;
  for (uint32_t i = 1; i < n / 2; i++) b = b->next;
  gogc_fixpage *second = b->next;
  b->next = NULL;
  gogc_fixpage *x = sort_down(list, n / 2), *y = sort_down(second, n - n / 2);
  gogc_fixpage *head = NULL, **tail = &head;
  while (x && y) {
    gogc_fixpage **from = (uintptr_t)x > (uintptr_t)y ? &x : &y;
    *tail = *from;
    tail = &(*from)->next;
    *from = (*from)->next;
  }
  *tail = x ? x : y;
  return head;
}

/* Give back the EMPTY pages beyond FIX_RESERVE_PAGES (all of them if
 * all), at most max_bytes of them, highest addresses first. scav_lock
 * held (fork waits for it: no page is left off every list in a child);
 * takes the heap lock. Returns the bytes released.
 *
 * The batch is sorted so that adjacent pages go back in one system call.
 * In list order (the order spans were freed) nearly every page was a
 * call of its own: after latency-drop's live heap fell from 1 GiB to
 * 100 MiB, 40 MiB of span metadata took 10,000 calls and 80 ms, each a
 * TLB shootdown of the program's cores, and the scavenger, keeping to its
 * duty cycle, then slept 100 ms before it released any heap page. */
uint64_t gogc_fix_release(gogc_fixpool *pool, bool all, uint64_t max_bytes) {
  gogc_fixpage *batch = NULL;
  uint32_t n = 0;
  gogc_heap_lock();
  uint32_t keep = all ? 0 : FIX_RESERVE_PAGES;
  while (pool->nempty > keep) {
    gogc_fixpage *pg = pool->empty;
    list_unlink(&pool->empty, pg);
    pool->nempty--;
    pg->state = FIX_RELEASING;
    pg->next = batch;
    batch = pg;
    n++;
  }
  gogc_heap_unlock();
  if (n == 0) return 0;
  batch = sort_down(batch, n);
  /* Purge, one call per run of adjacent pages (runs go down). */
  gogc_fixpage *done = NULL, *failed = NULL;
  uint64_t released = 0;
  while (batch && released < max_bytes) {
    gogc_fixpage *first = batch, *last = batch;
    uintptr_t lo = page_addr(first), hi = lo + FIX_PAGE;
    batch = batch->next;
    while (batch && page_addr(batch) == lo - FIX_PAGE && hi - lo < max_bytes - released) {
      lo -= FIX_PAGE;
      last = batch;
      batch = batch->next;
    }
    gogc_fixpage *after = last->next; /* == batch */
    last->next = NULL;
    bool ok = gogc_os_purge((void *)lo, hi - lo) == 0;
    gogc_fixpage **to = ok ? &done : &failed;
    for (gogc_fixpage *pg = first; pg;) {
      gogc_fixpage *nx = pg->next;
      pg->next = *to;
      *to = pg;
      pg = nx;
    }
    if (ok) released += hi - lo;
    batch = after;
  }
  gogc_heap_lock();
  push_all(done, FIX_RELEASED, &pool->released, &pool->nreleased);
  push_all(failed, FIX_EMPTY, &pool->empty, &pool->nempty);
  push_all(batch, FIX_EMPTY, &pool->empty, &pool->nempty); /* past max_bytes */
  resident_add(-(int64_t)(released / FIX_PAGE));
  pool->released_total += released;
  gogc_heap_unlock();
  return released;
}

/* Debug builds: the pool's lists agree with its page states and counts.
 * [heap] lock held. */
bool gogc_fixpool_is_valid(const gogc_fixpool *pool) {
  uint32_t ne = 0, nr = 0;
  for (const gogc_fixpage *pg = pool->empty; pg; pg = pg->next) {
    if (pg->state != FIX_EMPTY || pg->nfree != FIX_PAGE / pg->size) return false;
    ne++;
  }
  for (const gogc_fixpage *pg = pool->released; pg; pg = pg->next) {
    if (pg->state != FIX_RELEASED) return false;
    nr++;
  }
  for (uint32_t c = 1; c < FIX_CLASSES; c++)
    for (const gogc_fixpage *pg = pool->partial[c]; pg; pg = pg->next) {
      if (pg->state != FIX_PARTIAL || pg->size != c * 8 || pg->nfree == 0 ||
          pg->nfree >= FIX_PAGE / pg->size)
        return false;
    }
  return ne == pool->nempty && nr == pool->nreleased;
}
