/* gogc: central span lists, one per span class (Go's mcentral).
 *
 * Each mcentral keeps four intrusive doubly linked lists: spans with free
 * slots (partial) and without (full), each in two generations. With
 * h = sweepgen, list index (h/2)%2 holds swept spans and the other index
 * unswept ones; the collector's "h += 2" at mark termination swaps the
 * roles, so one store makes every listed span unswept (Go's spanSet pair).
 *
 * A span is on at most one list, and only while no mcache caches it and no
 * sweeper owns it: taking a span off a list (under the lock) is how a
 * cache or a sweeper acquires it. This is why sweepers need no CAS on
 * sweepgen here: the lock hands out ownership.
 *
 * cache_span (an mcache needs a span with free slots):
 *   1. a swept partial span;
 *   2. unswept spans, partial then full, swept on the spot (lazy sweep),
 *      keeping the first that ends up with a free slot; at most 100;
 *   3. a new span from the heap (under a memory limit, after sweeping a
 *      few spans of other classes, so their garbage pages are reused).
 */
#include "internal.h"

void gogc_central_init(gogc_mcentral *c, uint16_t spanclass) {
  pthread_mutex_init(&c->lock, NULL);
  c->spanclass = spanclass;
}

static gogc_span **list_head(gogc_mcentral *c, uint8_t list) {
  switch (list) {
  case LIST_PARTIAL0: return &c->partial[0];
  case LIST_PARTIAL1: return &c->partial[1];
  case LIST_FULL0: return &c->full[0];
  default: return &c->full[1];
  }
}

/* [central] */
void gogc_central_unlink(gogc_mcentral *c, gogc_span *s) {
  gogc_assert(s->list != LIST_NONE);
  gogc_span **head = list_head(c, s->list);
  if (s->prev) s->prev->next = s->next;
  else *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->list = LIST_NONE;
}

/* [central] Put s on the list matching its fullness, in the swept or the
 * unswept generation. */
void gogc_central_push(gogc_mcentral *c, gogc_span *s, bool swept) {
  gogc_assert(s->list == LIST_NONE && s->cache_owner == NULL);
  int idx = gogc_swept_index(atomic_load_relaxed(&gogc_rt->sweepgen));
  if (!swept) idx ^= 1;
  bool full = s->alloc_count == s->nelems;
  uint8_t list = (uint8_t)((full ? LIST_FULL0 : LIST_PARTIAL0) + idx);
  gogc_span **head = list_head(c, list);
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
  s->list = list;
}

static gogc_span *pop(gogc_mcentral *c, gogc_span **head) {
  gogc_span *s = *head;
  if (s) gogc_central_unlink(c, s);
  return s;
}

static void uncache_locked(gogc_mcentral *c, gogc_span *s) {
  gogc_assert(s->cache_owner != NULL);
  s->cache_owner = NULL;
  atomic_store_relaxed(&s->sweepgen, atomic_load_relaxed(&gogc_rt->sweepgen));
  gogc_central_push(c, s, true);
}

/* A span with free slots for t's cache; old (t's used-up span of this
 * class, or NULL) is given back under the same lock: one lock round trip
 * per refill, the hottest lock of an allocation-heavy program. */
gogc_span *gogc_central_cache_span(gogc_mcentral *c, gogc_thread *t, gogc_span *old) {
  gogc_runtime *rt = gogc_rt;
  gogc_span *s;
  gogc_lock(&c->lock);
  if (old != NULL) uncache_locked(c, old);
  uint32_t h = atomic_load_relaxed(&rt->sweepgen);
  int sw = gogc_swept_index(h);
  if ((s = pop(c, &c->partial[sw])) != NULL) goto have;
  for (int budget = 100; budget > 0; budget--) {
    s = pop(c, &c->partial[sw ^ 1]);
    if (s == NULL) s = pop(c, &c->full[sw ^ 1]);
    if (s == NULL) break;
    atomic_store_relaxed(&s->sweepgen, h - 1);
    atomic_add_relaxed(&rt->sweepers_active, 1);
    pthread_mutex_unlock(&c->lock);
    bool kept = gogc_sweep_span(s, true);
    atomic_sub_relaxed(&rt->sweepers_active, 1);
    gogc_lock(&c->lock);
    gogc_assert(kept);
    (void)kept;
    if (s->alloc_count < s->nelems) goto have;
    gogc_central_push(c, s, true);
  }
  pthread_mutex_unlock(&c->lock);

  /* Under a memory limit, pages held by unswept garbage of other classes
   * are reused before new memory is touched: sweep a few spans first (each
   * empty one goes back to the page heap, where first fit finds it). */
  if (atomic_load_relaxed(&rt->mem_limit) != INT64_MAX && !atomic_load_relaxed(&rt->sweep_done)) {
    for (int i = 0; i < 32; i++)
      if (!gogc_sweep_one()) {
        gogc_sweep_set_done();
        break;
      }
  }

  uint32_t sc = spanclass_sizeclass(c->spanclass);
  uint32_t npages = gogc_class_npages[sc], size = gogc_class_size[sc];
  s = gogc_heap_alloc_span(npages, 1, c->spanclass, size,
                           (uint32_t)(npages * PAGE_SIZE / size));
  if (s == NULL) return NULL;
  gogc_lock(&c->lock);
have:
  s->cache_owner = t;
  atomic_store_relaxed(&s->sweepgen, atomic_load_relaxed(&rt->sweepgen) + 3);
  pthread_mutex_unlock(&c->lock);
  s->alloc_count_at_cache = s->alloc_count;
  gogc_span_refill_cache(s);
  return s;
}

/* Give a cached span back. Caller: its owner, or the collector with the
 * world stopped. */
void gogc_central_uncache_span(gogc_mcentral *c, gogc_span *s) {
  gogc_lock(&c->lock);
  uncache_locked(c, s);
  pthread_mutex_unlock(&c->lock);
}
