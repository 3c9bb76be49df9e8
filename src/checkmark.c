/* gogc: checkmark verification (GODEBUG=gccheckmark=1; Go's mcheckmark.go).
 *
 * After a concurrent mark, with the world stopped, mark the heap again
 * from scratch, from the same kinds of roots, with the parallel
 * stop-the-world marker, into fresh mark bits. Every object the re-mark
 * reaches is reachable now, so the concurrent mark must have marked it:
 * an object marked by the re-mark and not by the concurrent mark is a
 * lost object (a missing barrier, a race in the collector). It aborts
 * with the object, an object or root that points to it, and the slot.
 *
 * The re-mark starts from the globals and added ranges as they are now
 * and from each thread's stack as its concurrent scan saw it (a copy kept
 * in this mode; see gogc_roots_add_threads_checkmark for why not the
 * stacks as they are now). So it checks everything the barrier must
 * guarantee about the heap and the globals; a pointer a thread acquired
 * after its stack was scanned is covered only through where it came from.
 *
 * The concurrent mark's bits are saved aside and put back afterwards
 * (they also hold objects allocated black during the mark, which may be
 * unreachable now: that is allowed, the opposite is not).
 */
#include "internal.h"

#include <stdio.h>

typedef struct saved_bits {
  uint64_t *words;
  size_t n;
} saved_bits;

/* Visit every in-use span in address order. */
#define FOR_EACH_SPAN(s, body)                                                      \
  do {                                                                              \
    gogc_runtime *rt_ = gogc_rt;                                                    \
    uintptr_t np_ = atomic_load_relaxed(&rt_->heap_mapped) >> PAGE_SHIFT;          \
    for (uintptr_t p_ = 0; p_ < np_;) {                                             \
      gogc_span *s = rt_->spans[p_];                                                \
      if (s == NULL) {                                                              \
        p_++;                                                                       \
        continue;                                                                   \
      }                                                                             \
      body;                                                                         \
      p_ += s->npages;                                                              \
    }                                                                               \
  } while (0)

/* Does the word at a (in an object of span s, or a root when s is NULL)
 * hold a pointer into [lo, hi)? Typed objects: only pointer words. */
static GOGC_NO_SANITIZE bool word_points(const gogc_span *s, uintptr_t obj, uintptr_t a,
                                         uintptr_t lo, uintptr_t hi) {
  if (s != NULL && spanclass_kind(s->spanclass) == KIND_TYPED) {
    bool ptr = s->heapbits ? gogc_bit_get(s->heapbits, (uint32_t)((a - s->base) >> 3))
                           : gogc_bit_get(s->large_type->mask,
                                          (uint32_t)(((a - obj) >> 3) % s->large_type->nwords));
    if (!ptr) return false;
  }
  uintptr_t v = *(const uintptr_t *)a;
  gogc_mem_launder(v);
  return v >= lo && v < hi;
}

/* Find who points at the lost object [lo, hi): a re-marked object, or a
 * root range. */
static const saved_bits *g_saved;

/* Was obj marked by the concurrent mark? */
static bool was_marked(uintptr_t obj) {
  size_t k = 0;
  bool res = false, done = false;
  FOR_EACH_SPAN(s, {
    if (!done && obj >= s->base && obj < s->limit) {
      uint32_t i = (uint32_t)((obj - s->base) / s->elemsize);
      res = gogc_bit_get(g_saved->words + k, i);
      done = true;
    }
    k += s->bitwords;
  });
  return res;
}

static GOGC_COLD void report_lost(gogc_span *ls, uintptr_t lo) {
  uintptr_t hi = lo + ls->elemsize;
  char who[320];
  snprintf(who, sizeof who, "no referrer found (a register or a since-overwritten slot)");
  bool found = false;
  FOR_EACH_SPAN(s, {
    if (!found && spanclass_kind(s->spanclass) != KIND_NOSCAN && (s->arena_state == 0 || s->arena_state == ARENA_LIVE)) {
      for (uint32_t i = 0; i < s->nelems && !found; i++) {
        if (!gogc_bit_get(s->markbits, i)) continue;
        uintptr_t obj = s->base + (uintptr_t)i * s->elemsize;
        for (uintptr_t a = obj; a + 8 <= obj + s->elemsize; a += 8) {
          if (word_points(s, obj, a, lo, hi)) {
            snprintf(who, sizeof who, "object %p (size %lu, %s) points to it from offset +%lu",
                     (void *)obj, (unsigned long)s->elemsize,
                     was_marked(obj) ? "marked" : "itself not marked", (unsigned long)(a - obj));
            found = true;
            break;
          }
        }
      }
    }
  });
  gogc_runtime *rt = gogc_rt;
  for (uint32_t r = 0; r < rt->nroots && !found; r++) {
    const gogc_root *root = &rt->roots[r];
    for (uintptr_t a = (root->lo + 7) & ~(uintptr_t)7; a + 8 <= root->hi; a += 8) {
      if (word_points(NULL, 0, a, lo, hi)) {
        snprintf(who, sizeof who, "a %s root word at %p points to it%s",
                 root->kind == ROOT_STACK ? "stack" : root->kind == ROOT_ADDED ? "added-range" : "data",
                 (void *)a, "");
        found = true;
        break;
      }
    }
  }
  gogc_warn("checkmark: object %p (size %lu, span class %u) is reachable but was not marked "
            "by the concurrent mark; %s",
            (void *)lo, (unsigned long)ls->elemsize, ls->spanclass, who);
}

void gogc_checkmark(void) {
  gogc_runtime *rt = gogc_rt;
  size_t total = 0;
  FOR_EACH_SPAN(s, total += s->bitwords);
  size_t bytes = (total * sizeof(uint64_t) + 4095) & ~(size_t)4095;
  saved_bits sv = {bytes ? gogc_os_alloc(bytes) : NULL, total};
  if (bytes && sv.words == NULL) {
    gogc_warn("checkmark: no memory for the saved mark bits; skipped");
    return;
  }
  size_t k = 0;
  FOR_EACH_SPAN(s, {
    memcpy(sv.words + k, s->markbits, s->bitwords * sizeof(uint64_t));
    memset(s->markbits, 0, s->bitwords * sizeof(uint64_t));
    k += s->bitwords;
  });
  g_saved = &sv;
  uint64_t marked = atomic_load_relaxed(&rt->bytes_marked);
  uint64_t scanned = atomic_load_relaxed(&rt->scan_work);
  uint64_t stacks = rt->stacks_scan;

  /* Re-mark from the roots as they are now: every thread is stopped. */
  atomic_store_relaxed(&rt->nroots, 0);
  gogc_roots_prepare_static();
  gogc_roots_add_threads_checkmark();
  gogc_mark_run();

  /* Report the first few misses with a referrer each (a miss whose
   * referrer was marked, or is a root, is where the chain broke). */
  k = 0;
  uint32_t nlost = 0;
  FOR_EACH_SPAN(s, {
    for (uint32_t w = 0; w < s->bitwords; w++) {
      uint64_t lost = s->markbits[w] & ~sv.words[k + w];
      while (lost) {
        uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(lost);
        lost &= lost - 1;
        if (nlost++ < 8) report_lost(s, s->base + (uintptr_t)i * s->elemsize);
      }
    }
    k += s->bitwords;
  });
  if (nlost) gogc_fatal("checkmark: %u reachable objects were not marked by the concurrent mark", nlost);

  k = 0;
  FOR_EACH_SPAN(s, {
    memcpy(s->markbits, sv.words + k, s->bitwords * sizeof(uint64_t));
    k += s->bitwords;
  });
  if (sv.words) gogc_os_free(sv.words, bytes);
  atomic_store_relaxed(&rt->bytes_marked, marked);
  atomic_store_relaxed(&rt->scan_work, scanned);
  rt->stacks_scan = stacks;
}
