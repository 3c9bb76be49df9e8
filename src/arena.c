/* gogc: arenas (Go's GOEXPERIMENT=arenas, runtime/arena.go).
 *
 * An arena hands out objects from 2 MiB chunks by bumping a pointer and is
 * freed in one call. Each chunk is one large conservative object of the
 * heap, so the collector needs nothing new to keep things alive:
 *   - the arena handle is a collected object whose `chunks` word starts a
 *     chain through each chunk's first word: a live handle keeps its
 *     chunks, and objects in them keep what they point to (the chunk is
 *     scanned, up to arena_lo: pointerful objects are bumped up from the
 *     bottom, pointer-free ones down from the top, which is never read);
 *   - a pointer from anywhere into a chunk keeps the whole chunk.
 * Requests above a quarter of a chunk come from the heap, as in Go.
 *
 * Free. Every chunk is made inaccessible at once (PROT_NONE, contents
 * dropped), so any later read or write faults; a SIGSEGV handler,
 * installed with the first arena, recognises addresses of freed chunks and
 * says so before the process dies. A marker may be scanning the chunk at
 * that moment: markers announce themselves in arena_scanning and skip
 * chunks already freed, and the freer waits for the count to drop before
 * protecting (mark.c, scan_arena_chunk). The freed chunk stays a heap
 * object, quarantined: a pointer into it still marks it. Only when a
 * cycle finds it unmarked does the sweep keep it for a new arena (up to
 * ARENA_READY_MAX; beyond, its pages go back to the heap)
 * (gogc_arena_sweep_dead), so the address range is reused only once
 * nothing can point into it.
 *
 * Recycling. Chunks keep their pages in quarantine, up to a budget
 * (ARENA_RESIDENT_MAX of used bytes, all of a huge chunk, recycled ones
 * included): where touching a fresh page costs microseconds, zeroing a
 * used one is far cheaper. System calls are the other cost (several
 * microseconds each on a virtual machine, and on it each resident small
 * page adds about 0.15 us to every change of protection), so the sweep
 * makes none for a kept chunk: it stays protected on the ready list
 * until a batch makes the list accessible, one mprotect per run of
 * adjacent chunks (gogc_arena_unprotect_ready: the background sweeper for
 * large arenas, which zeroes the chunks too, else the thread that needs a
 * chunk).
 * Otherwise a recycled chunk is zeroed lazily, a block ahead of the
 * bump, only where an earlier arena may have left data (the clean range:
 * note_dirt, extend_zeroed). Freeing a small arena thus costs one system
 * call. Pages that arenas have long left unused are returned on free
 * (trim_chunk).
 *
 * Huge pages. Changing the protection of small pages costs per resident
 * page (on a virtual machine about 0.15 us a page and call: 15 us to
 * protect and unprotect 320 KiB, against 1.3 us for one 2 MiB huge page
 * whatever is used of it). So a chunk is aligned to 2 MiB and, while
 * arenas use ARENA_HUGE_ON or more on average, backed by one huge page
 * (MADV_HUGEPAGE); below ARENA_HUGE_OFF, by small pages (MADV_NOHUGEPAGE,
 * also where the system gives huge pages to everything: a small arena in
 * a huge chunk would keep 2 MiB resident in quarantine). A recycled chunk
 * of the other kind drops its pages when taken (gogc_arena_chunk_fit). A
 * huge chunk counts as 2 MiB resident against ARENA_RESIDENT_MAX and in
 * the recycling weight, and is never trimmed (that would split its page).
 * GODEBUG=disablethp=1, a system setting of "never" or a kernel without
 * huge pages keeps every chunk small.
 *
 * Mappings. The kernel keeps a mapping (VMA) per run of pages with the
 * same protection and advice, so protecting a chunk in the middle of
 * accessible memory splits a mapping in three, and unprotecting it merges
 * them again, each time allocating or freeing mapping records: half the
 * cost of a small chunk's protection change. Each chunk is therefore given
 * a mapping of its own when it first serves an arena (gogc_os_isolate: a
 * harmless advice tag that alternates with the chunk's address, so no two
 * neighbouring chunks share one, nor a chunk and the heap), and loses it
 * when its pages go back to the heap. Freeing a small arena measured 6%
 * faster for it (requests of 1,000 nodes).
 *
 * A freed chunk leaves heap_live at once (as in Go: arena churn is not
 * heap growth); instead every ARENA_RECYCLE_CHUNKS chunks freed start a
 * cycle, which bounds the address space in quarantine (a chunk counts for
 * more in proportion to how much of it was used, ARENA_RECYCLE_UNIT, so
 * that chunks full of resident pages come back before the budget for
 * them runs out).
 *
 * An arena dropped without gogc_arena_free is simply garbage: its chunks
 * are freed by the sweep like any large object.
 *
 * Threads. One thread at a time per arena (Go's rule). Debug builds
 * (GOGC_DEBUG >= 1) check it on every call and abort on a violation.
 */
#define _GNU_SOURCE /* gettid */
#include "internal.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>


/* ---------------------------------------------------------------------------
 * The fault handler
 * ------------------------------------------------------------------------- */
static struct sigaction old_segv;
static uint32_t segv_installed;

static size_t fmt_hex(char *b, uintptr_t v) {
  char tmp[18];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  b[0] = '0';
  b[1] = 'x';
  for (size_t i = 0; i < n; i++) b[2 + i] = tmp[n - 1 - i];
  return n + 2;
}

static void segv_handler(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  gogc_span *s = gogc_rt != NULL ? gogc_span_of(a) : NULL;
  uint32_t st = s != NULL ? atomic_load_relaxed(&s->arena_state) : 0;
  /* Freed, or recycled but still protected (not yet taken by a new arena). */
  if ((st == ARENA_FREED || st == ARENA_FREEING ||
       (st == ARENA_READY && atomic_load_relaxed(&s->arena_prot))) &&
      a >= s->base && a < s->base + ARENA_CHUNK) {
    char msg[200];
    size_t n = 0;
    const char *p1 = "gogc: fatal error: access to ";
    const char *p2 = ", in memory of an arena freed by gogc_arena_free (chunk ";
    const char *p3 = ")\n";
    memcpy(msg + n, p1, strlen(p1)), n += strlen(p1);
    n += fmt_hex(msg + n, a);
    memcpy(msg + n, p2, strlen(p2)), n += strlen(p2);
    n += fmt_hex(msg + n, s->base);
    msg[n++] = '-';
    n += fmt_hex(msg + n, s->base + ARENA_CHUNK);
    memcpy(msg + n, p3, strlen(p3)), n += strlen(p3);
    gogc_os_write_err(msg, n);
    signal(SIGSEGV, SIG_DFL); /* the access is retried and kills the process */
    return;
  }
  /* Not ours: whatever was there before. */
  if (old_segv.sa_flags & SA_SIGINFO) {
    if (old_segv.sa_sigaction != NULL) {
      old_segv.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN &&
             old_segv.sa_handler != NULL) {
    old_segv.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
}

static void install_handler(void) {
  uint32_t zero = 0;
  if (atomic_load_acquire(&segv_installed) ||
      !__atomic_compare_exchange_n(&segv_installed, &zero, 1, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_RELAXED))
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
    gogc_warn("cannot install the handler that reports accesses to freed arenas");
}

void gogc_arenas_init(void) {
  pthread_mutex_init(&gogc_rt->arena_lock, NULL);
  /* Where the program or the system asks for no huge pages, chunks stay
   * small (and are counted and trimmed as such). */
  if (gogc_rt->opt_disablethp || !gogc_os_hugepages_possible())
    atomic_store_relaxed(&gogc_rt->arena_no_thp, 1);
}

/* ---------------------------------------------------------------------------
 * Handles and the thread rule
 * ------------------------------------------------------------------------- */

/* The arena behind a handle, or an abort naming the misuse. */
static gogc_arena *checked(const char *fn, gogc_arena *a, bool freed_ok) {
  if (a == NULL) gogc_fatal("%s(NULL): no arena", fn);
  if (gogc_base(a) != a || gogc_size(a) < sizeof *a ||
      (a->head.magic != ARENA_MAGIC && a->head.magic != ARENA_MAGIC_FREED))
    gogc_fatal("%s(%p): not an arena (not a handle from gogc_arena_new)", fn, (void *)a);
  if (a->head.magic == ARENA_MAGIC_FREED && !freed_ok)
    gogc_fatal("%s(%p): the arena was freed by gogc_arena_free", fn, (void *)a);
  return a;
}

#if GOGC_DEBUG >= 1
static void enter(gogc_arena *a) {
  uint32_t me = (uint32_t)gettid(), zero = 0;
  if (!__atomic_compare_exchange_n(&a->owner, &zero, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    gogc_fatal("arena %p used by two threads at once (threads %u and %u): an arena is for one "
               "thread at a time",
               (void *)a, zero, me);
}
static void leave(gogc_arena *a) { atomic_store_release(&a->owner, 0); }
#else
static inline void enter(gogc_arena *a) { (void)a; }
static inline void leave(gogc_arena *a) { (void)a; }
#endif

/* ---------------------------------------------------------------------------
 * Chunks
 * ------------------------------------------------------------------------- */

/* The bump pointers of no chunk: no room, so gogc.h's inline fast paths
 * call the library (debug builds, freed arenas). Never written. */
static gogc_arena_bump_ arena_no_room;

/* A new chunk for a, made active. false when out of memory. */
static bool new_chunk(gogc_arena *a) {
  gogc_runtime *rt = gogc_rt;
  uintptr_t *c = gogc_alloc_arena_chunk(); /* zeroed, conservative, large */
  if (c == NULL) return false;
  gogc_span *s = gogc_span_of((uintptr_t)c);
  gogc_assert(s != NULL && s->base == (uintptr_t)c && s->arena_state == ARENA_LIVE);
  gogc_store(&c[0], a->chunks);
  gogc_store(&a->chunks, c);
  a->active = s;
  a->head.bump = GOGC_DEBUG >= 1 ? &arena_no_room : &s->arena_bump;
  atomic_add_relaxed(&rt->arena_bytes, ARENA_CHUNK);
  return true;
}

static void set_touch(gogc_span *s, uintptr_t lo, uintptr_t hi) {
  s->arena_touch_lo = (uint32_t)lo;
  s->arena_touch_hi = (uint32_t)hi;
}

/* [lo, hi) (offsets) of the chunk is zero; the rest may not be. */
static void set_clean(gogc_span *s, uintptr_t lo, uintptr_t hi) {
  s->arena_dirty_lo = (uint32_t)lo;
  s->arena_dirty_hi = (uint32_t)hi;
}

/* Nothing resident, all of it zero: a fresh or decommitted chunk. */
void gogc_arena_chunk_zero(gogc_span *s) {
  set_touch(s, 0, ARENA_CHUNK);
  set_clean(s, 0, ARENA_CHUNK);
}

/* The arena that used the chunk is done: what may hold data now is what it
 * allocated, and what it left of the earlier dirt by not zeroing that far
 * (the part of [lo_lim, hi_lim) outside the old clean range). */
static void note_dirt(gogc_span *s) {
  uintptr_t lo = s->arena_lo - s->base, hi = s->arena_hi - s->base;
  uintptr_t llim = s->arena_lo_lim - s->base, hlim = s->arena_hi_lim - s->base;
  uintptr_t d0 = s->arena_dirty_lo, d1 = s->arena_dirty_hi;
  uintptr_t n0 = lo, n1 = hi;
  if (llim < d0) {
    uintptr_t x = hlim < d0 ? hlim : d0;
    if (x > n0) n0 = x;
  }
  if (hlim > d1) {
    uintptr_t x = llim > d1 ? llim : d1;
    if (x < n1) n1 = x;
  }
  set_clean(s, n0, n1);
}

/* A chunk keeps its pages from one arena to the next, but protecting and
 * unprotecting costs per resident page (on this VM, 0.3 us a page for the
 * pair: a chunk with 320 KiB resident costs 32 us per free against 10 us
 * with 32 KiB). So resident pages well beyond what arenas use (they are
 * zero) go back to the OS, once ARENA_TRIM_AFTER frees in a row have left
 * them unused: faulting a page in again costs about ten times as much, and
 * arenas of one phase of a program tend to be of similar sizes. */
#define ARENA_TRIM_SLACK ((uintptr_t)64 << 10)
#define ARENA_TRIM_AFTER 4
static void trim_chunk(gogc_span *s) {
  uintptr_t lo = ((s->arena_lo - s->base) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  uintptr_t hi = (s->arena_hi - s->base) & ~(PAGE_SIZE - 1);
  if (hi < lo) hi = lo; /* the two ends share a page */
  /* Resident beyond the used ends, never into the other end's objects. */
  uintptr_t tlo = s->arena_touch_lo > lo ? s->arena_touch_lo : lo;
  uintptr_t thi = s->arena_touch_hi < hi ? s->arena_touch_hi : hi;
  if (tlo > hi) tlo = hi;
  if (thi < lo) thi = lo;
  bool under = tlo > lo + ARENA_TRIM_SLACK || hi > thi + ARENA_TRIM_SLACK;
  s->arena_underuse = under ? s->arena_underuse + 1 : 0;
  /* Never a part of a huge page (it would be split). */
  if (s->arena_underuse >= ARENA_TRIM_AFTER && s->arena_huge != 1) {
    s->arena_underuse = 0;
    if (tlo > lo && gogc_os_purge((void *)(s->base + lo), tlo - lo) == 0) tlo = lo;
    if (hi > thi && gogc_os_purge((void *)(s->base + thi), hi - thi) == 0) thi = hi;
  }
  set_touch(s, tlo, thi);
}

/* Huge pages (see the top of the file). The average is over the last
 * eight or so arenas freed; updates race harmlessly. Measured with
 * requests that build trees of 32-byte nodes, huge chunks against small:
 * 2,000 nodes (64 KB) the same speed, 4,000 14% faster (6 MB more RSS),
 * 8,000 12%, 10,000 25%. */
#define ARENA_HUGE_ON ((uint64_t)128 << 10)
#define ARENA_HUGE_OFF ((uint64_t)64 << 10)
static void note_use(uint64_t used) {
  gogc_runtime *rt = gogc_rt;
  uint64_t avg = atomic_load_relaxed(&rt->arena_avg_used);
  avg = avg - avg / 8 + used / 8;
  atomic_store_relaxed(&rt->arena_avg_used, avg);
  uint32_t want = atomic_load_relaxed(&rt->arena_want_huge);
  if (!want && avg >= ARENA_HUGE_ON && !atomic_load_relaxed(&rt->arena_no_thp))
    atomic_store_relaxed(&rt->arena_want_huge, 1);
  else if (want && avg < ARENA_HUGE_OFF)
    atomic_store_relaxed(&rt->arena_want_huge, 0);
}

/* Chunk s, about to serve a new arena (fresh, or recycled and on no
 * list), backed as new arenas want now. One that changes kind drops its
 * pages first: the kernel neither splits a huge page nor collapses small
 * ones on advice alone. */
void gogc_arena_chunk_fit(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  uint32_t want = atomic_load_relaxed(&rt->arena_want_huge);
  if (s->arena_huge == want) return;
  /* A mapping of its own, whatever its neighbours (see "Mappings"). */
  if (s->arena_huge == ARENA_HUGE_UNSET)
    (void)gogc_os_isolate((void *)s->base, ARENA_CHUNK, (int)((s->base / ARENA_CHUNK) & 1));
  if (gogc_os_purge((void *)s->base, ARENA_CHUNK) != 0) return; /* stays as it is */
  gogc_arena_chunk_zero(s);
  if (gogc_os_hugepage((void *)s->base, ARENA_CHUNK, want != 0) != 0 && want) {
    /* No huge pages here: small ones from now on. */
    atomic_store_relaxed(&rt->arena_no_thp, 1);
    atomic_store_relaxed(&rt->arena_want_huge, 0);
    (void)gogc_os_hugepage((void *)s->base, ARENA_CHUNK, false);
    want = 0;
  }
  s->arena_huge = want;
}

/* A chunk's pages go back to the heap: advised as the heap's are
 * (mheap.c, "Huge pages"). Without GODEBUG=hugepages or disablethp the
 * heap gives no advice, which madvise cannot restore: those pages keep
 * MADV_NOHUGEPAGE, the same thing where the system setting is
 * "madvise" (the common default). */
static void chunk_to_heap(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  uint32_t heap_huge = rt->opt_hugepages && !rt->opt_disablethp;
  if (s->arena_huge != heap_huge)
    (void)gogc_os_hugepage((void *)s->base, ARENA_CHUNK, heap_huge != 0);
  (void)gogc_os_isolate((void *)s->base, ARENA_CHUNK, -1);
  s->arena_huge = ARENA_HUGE_UNSET;
}

static void hide_chunk(void *s) {
  atomic_store_seqcst(&((gogc_span *)s)->arena_state, (uint32_t)ARENA_FREEING);
}

/* Bytes an arena used of chunk s: pointerful objects at the bottom,
 * pointer-free ones at the top. */
static uintptr_t chunk_used(const gogc_span *s) {
  return (s->arena_lo - s->base) + (s->base + ARENA_CHUNK - s->arena_hi);
}

/* Make the chunk inaccessible, once no marker is reading it. While the
 * chunks in quarantine keep less than ARENA_RESIDENT_MAX of used memory,
 * this one keeps its pages (touching fresh pages again costs far more
 * than clearing the used part when it is recycled); beyond, it gives them
 * back now. Returns the bytes the chunk holds resident now (all of a huge
 * one). */
static uintptr_t fault_chunk(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  /* The chunk's words stop being scanned at once: a deletion of all of
   * them, so while marking they are shaded (with the next-chunk word,
   * which keeps the chunks still to be freed reachable: without it a
   * marker that skipped this chunk left the rest of the chain unmarked,
   * and the sweep released chunks this loop was about to read). */
  gogc_hide_range(s->base, s->arena_lo, hide_chunk, s);
  while (atomic_load_seqcst(&s->arena_scanning) != 0) sched_yield();
  uintptr_t held = s->arena_huge == 1 ? ARENA_CHUNK : chunk_used(s);
  bool keep = atomic_add_relaxed(&rt->arena_resident, held) <= ARENA_RESIDENT_MAX;
  if (!keep) atomic_sub_relaxed(&rt->arena_resident, held);
  if (keep) {
    note_dirt(s);
    trim_chunk(s);
  } else { /* decommitted below */
    gogc_arena_chunk_zero(s);
  }
  s->arena_resident = keep ? (uint32_t)held : 0;
  int rc = keep ? gogc_os_protect((void *)s->base, ARENA_CHUNK, false)
                : gogc_os_decommit((void *)s->base, ARENA_CHUNK);
  atomic_store_relaxed(&s->arena_prot, (uint32_t)(keep && rc == 0));
  if (rc != 0 && !keep) { /* the pages may still hold data: all zeroed when reused */
    atomic_add_relaxed(&rt->arena_resident, held);
    s->arena_resident = (uint32_t)held;
    /* Nothing known to be zero or untouched: clean_range joins the two
     * ranges, so both must say so. */
    set_touch(s, ARENA_CHUNK, ARENA_CHUNK);
    set_clean(s, ARENA_CHUNK, ARENA_CHUNK);
  }
  if (rc != 0)
    gogc_warn("arena chunk %p could not be protected; accesses after free will not fault",
              (void *)s->base);
  atomic_add_relaxed(&rt->arena_quarantined, 1);
  /* Done with it: a sweep that finds it unmarked may recycle it now (it
   * left it alone while FREEING: a cycle can run between the hiding and
   * the protection, and the sweep then made the chunk accessible, pushed
   * it for reuse, and this thread protected it after). */
  atomic_store_release(&s->arena_state, (uint32_t)ARENA_FREED);
  return held;
}

/* A recycled chunk onto the ready list (prot: the protected one), unless
 * it is full. The chunk becomes ARENA_READY as it is linked. In a critical
 * section. */
static bool ready_push(gogc_span *s, bool prot) {
  gogc_runtime *rt = gogc_rt;
  bool kept = false;
  gogc_lock(&rt->arena_lock);
  if (rt->arena_nready < ARENA_READY_MAX) {
    /* Still a chunk while it waits: a marker that reaches it through a
     * stray word must go through the chunk protocol (it skips it). */
    atomic_store_release(&s->arena_state, (uint32_t)ARENA_READY);
    gogc_span **head = prot ? &rt->arena_ready_prot : &rt->arena_ready;
    s->next = *head;
    *head = s;
    atomic_store_relaxed(&rt->arena_nready, rt->arena_nready + 1);
    if (prot) atomic_store_relaxed(&rt->arena_nready_prot, rt->arena_nready_prot + 1);
    kept = true;
  }
  pthread_mutex_unlock(&rt->arena_lock);
  return kept;
}

/* An accessible recycled chunk, off the list, or NULL. The caller resets
 * it (gogc_arena_reset_recycled) before it is published. In a critical
 * section. */
gogc_span *gogc_arena_ready_pop(void) {
  gogc_runtime *rt = gogc_rt;
  if (atomic_load_relaxed(&rt->arena_nready) == atomic_load_relaxed(&rt->arena_nready_prot))
    return NULL;
  gogc_lock(&rt->arena_lock);
  gogc_span *s = rt->arena_ready;
  if (s != NULL) {
    rt->arena_ready = s->next;
    s->next = NULL;
    atomic_store_relaxed(&rt->arena_nready, rt->arena_nready - 1);
  }
  pthread_mutex_unlock(&rt->arena_lock);
  return s;
}

/* The chunk's kept pages no longer count against ARENA_RESIDENT_MAX. */
static void uncount_resident(gogc_span *s) {
  if (s->arena_resident) atomic_sub_relaxed(&gogc_rt->arena_resident, s->arena_resident);
  s->arena_resident = 0;
}

/* A recycled chunk is about to serve a new arena: stop counting its kept
 * pages, and clear its header (the rest is zeroed a block at a time as
 * the new arena reaches it: extend_zeroed). Off every list, outside
 * critical sections: the chunk is READY, so markers, the verifier and
 * checkmark never read it. */
void gogc_arena_reset_recycled(gogc_span *s) {
  memset((void *)s->base, 0, ARENA_CHUNK_HEADER);
  uncount_resident(s);
}

/* The part of chunk s known to be zero, as addresses: [dirty_lo,
 * dirty_hi) (note_dirt), widened by the pages nothing touched since they
 * were last zeroed, [touch_lo, touch_hi) (trim_chunk), where the two
 * ranges meet. */
static void clean_range(const gogc_span *s, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t d0 = s->arena_dirty_lo, d1 = s->arena_dirty_hi;
  uintptr_t t0 = s->arena_touch_lo, t1 = s->arena_touch_hi;
  if ((d0 > t0 ? d0 : t0) <= (d1 < t1 ? d1 : t1)) {
    if (t0 < d0) d0 = t0;
    if (t1 > d1) d1 = t1;
  }
  *lo = s->base + d0;
  *hi = s->base + d1;
}

/* Zero [a, b) where an earlier arena may have left data: all but
 * [clean_lo, clean_hi) (clean_range). A fresh chunk has nothing to zero. */
static void zero_dirty(uintptr_t a, uintptr_t b, uintptr_t clean_lo, uintptr_t clean_hi) {
  if (a < clean_lo) memset((void *)a, 0, (b < clean_lo ? b : clean_lo) - a);
  if (b > clean_hi) {
    uintptr_t x = a > clean_hi ? a : clean_hi;
    memset((void *)x, 0, b - x);
  }
}

/* Make room for r bytes at the bottom (pointerful objects) or the top
 * (pointer-free ones) of the active chunk's free gap [arena_lo,
 * arena_hi), by moving the zero frontiers (arena_lo_lim, arena_hi_lim).
 * false when r bytes do not fit.
 *
 * Where the gap may still hold an earlier arena's data, the requesting
 * end's frontier moves on at least ARENA_ZERO_BLOCK, zeroing what it
 * passes: zeroing just ahead of the bump, rather than all an earlier
 * arena used when a recycled chunk is taken, zeroes only what this arena
 * uses, while the allocations that follow still find it in cache.
 *
 * Where the whole gap is zero (a fresh chunk, one the sweeper zeroed, or
 * once the dirt is behind the frontiers), nothing is zeroed and the gap
 * is shared out at once: the requesting end gets all but what the other
 * end already holds, or, when that is not enough, half of what is left
 * after r. An arena of one kind of object thus comes here once per
 * chunk, and one that mixes both kinds a few times.
 *
 * The fence orders the zeroing before the bump that publishes the memory
 * to markers (they load arena_lo with acquire). */
#define ARENA_ZERO_BLOCK ((uintptr_t)8 << 10)
static bool extend_zeroed(gogc_span *s, uintptr_t r, bool noscan) {
  uintptr_t lo = s->arena_lo, hi = s->arena_hi;
  if (r > hi - lo) return false;
  uintptr_t c0, c1;
  clean_range(s, &c0, &c1);
  if (s->arena_lo_lim >= c0 && s->arena_hi_lim <= c1) { /* [lo, hi) is zero */
    uintptr_t m;
    if (!noscan) {
      m = s->arena_hi_lim;
      if (m < lo + r) m = lo + r + (hi - lo - r) / 2;
    } else {
      m = s->arena_lo_lim;
      if (m > hi - r) m = hi - r - (hi - r - lo) / 2;
    }
    s->arena_lo_lim = s->arena_hi_lim = m;
  } else if (!noscan) {
    uintptr_t x = s->arena_lo_lim + ARENA_ZERO_BLOCK;
    if (x < lo + r) x = lo + r;
    if (x > hi) x = hi;
    /* Beyond arena_hi_lim the top end zeroed it already. */
    uintptr_t end = x < s->arena_hi_lim ? x : s->arena_hi_lim;
    if (end > s->arena_lo_lim) zero_dirty(s->arena_lo_lim, end, c0, c1);
    s->arena_lo_lim = x;
    if (s->arena_hi_lim < x) s->arena_hi_lim = x;
  } else {
    uintptr_t x = s->arena_hi_lim - lo > ARENA_ZERO_BLOCK ? s->arena_hi_lim - ARENA_ZERO_BLOCK : lo;
    if (x > hi - r) x = hi - r;
    /* Below arena_lo_lim the bottom end zeroed it already. */
    uintptr_t start = x > s->arena_lo_lim ? x : s->arena_lo_lim;
    if (start < s->arena_hi_lim) zero_dirty(start, s->arena_hi_lim, c0, c1);
    s->arena_hi_lim = x;
    if (s->arena_lo_lim > x) s->arena_lo_lim = x;
  }
  atomic_fence_release();
  return true;
}

static int by_base(const void *x, const void *y) {
  uintptr_t a = (*(gogc_span *const *)x)->base, b = (*(gogc_span *const *)y)->base;
  return a < b ? -1 : a > b;
}

/* Make protected recycled chunks accessible: sorted by address, one
 * mprotect per run of adjacent chunks. Recycling a chunk one call at a
 * time cost as much as protecting it on free (about 5 us a call on a
 * virtual machine); chunks freed together sit together, so a batch
 * usually takes a handful of calls. Outside critical sections: while the
 * batch is off the lists the world may stop (the chunks are READY: nobody
 * reads them). A chunk that cannot be made accessible goes back to wait
 * for the next batch.
 *
 * Who does it. A thread that wants a chunk and finds only protected ones
 * takes the whole list (bg false). The background sweeper, when it has
 * swept a cycle, takes the list too, and zeroes the chunks (bg true), if
 * their last arenas used ARENA_BG_CLEAR_MIN or more on average: then the
 * per-page work of changing protection and clearing is worth moving off
 * the program's threads. For small arenas it is not: a system call that
 * changes protection while another of the process's threads runs must
 * interrupt that thread's core to flush its TLB (on a virtual machine,
 * about 9 us a call), and the two threads' calls contend for the
 * address-space lock; requests that each built a tree of 1000 objects in
 * an arena ran 25% slower with the sweeper unprotecting their chunks.
 * (Sorting chunks by size instead, the sweeper taking the large ones,
 * lost: the small ones, taken last, came back as large arenas' chunks and
 * were faulted in page by page.) */
#define ARENA_BG_CLEAR_MIN ((uint64_t)128 << 10)
void gogc_arena_unprotect_ready(gogc_thread *t, bool bg) {
  gogc_runtime *rt = gogc_rt;
  gogc_span *batch[ARENA_READY_MAX];
  size_t n = 0;
  gogc_critical_enter(t);
  gogc_lock(&rt->arena_lock);
  uint64_t used = 0, count = 0;
  if (bg)
    for (gogc_span *s = rt->arena_ready_prot; s != NULL; s = s->next) used += s->arena_resident, count++;
  while (rt->arena_ready_prot != NULL && n < ARENA_READY_MAX && used >= count * ARENA_BG_CLEAR_MIN) {
    gogc_span *s = rt->arena_ready_prot;
    rt->arena_ready_prot = s->next;
    s->next = NULL;
    batch[n++] = s;
  }
  /* They stay counted in arena_nready: their places on the list are kept. */
  atomic_store_relaxed(&rt->arena_nready_prot, rt->arena_nready_prot - n);
  pthread_mutex_unlock(&rt->arena_lock);
  gogc_critical_leave(t);
  if (n == 0) return;
  qsort(batch, n, sizeof batch[0], by_base);
  bool ok[ARENA_READY_MAX];
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && batch[j]->base == batch[j - 1]->base + ARENA_CHUNK; j++) {
    }
    bool rw = gogc_os_protect((void *)batch[i]->base, (j - i) * ARENA_CHUNK, true) == 0;
    for (size_t k = i; k < j; k++) {
      ok[k] = rw;
      if (!rw) continue;
      gogc_span *s = batch[k];
      atomic_store_relaxed(&s->arena_prot, 0);
      if (bg) { /* all of it zero again, and no longer counted (as when taken) */
        uintptr_t c0, c1;
        clean_range(s, &c0, &c1);
        zero_dirty(s->base, s->base + ARENA_CHUNK, c0, c1);
        set_clean(s, 0, ARENA_CHUNK);
        uncount_resident(s);
      }
    }
  }
  gogc_critical_enter(t);
  gogc_lock(&rt->arena_lock);
  for (size_t k = 0; k < n; k++) {
    gogc_span **head = ok[k] ? &rt->arena_ready : &rt->arena_ready_prot;
    batch[k]->next = *head;
    *head = batch[k];
    if (!ok[k]) atomic_store_relaxed(&rt->arena_nready_prot, rt->arena_nready_prot + 1);
  }
  pthread_mutex_unlock(&rt->arena_lock);
  gogc_critical_leave(t);
}

/* The sweep found a freed chunk unmarked: nothing points into it. Keep it
 * for the next arena (a chunk that kept its pages stays protected until a
 * batch makes it accessible), or make it ordinary memory again so the
 * heap may reuse the pages. The sweep makes no system call for a kept
 * chunk. */
int gogc_arena_sweep_dead(gogc_span *s) {
  gogc_runtime *rt = gogc_rt;
  uint32_t st = atomic_load_acquire(&s->arena_state);
  if (st == ARENA_FREEING) return 0; /* gogc_arena_free is not done with it: next cycle */
  if (st == ARENA_LIVE) { /* an arena dropped without a free */
    atomic_sub_relaxed(&rt->arena_bytes, ARENA_CHUNK);
    s->arena_state = 0;
    chunk_to_heap(s);
    return 1;
  }
  void *p = (void *)s->base;
  bool prot = atomic_load_relaxed(&s->arena_prot);
  if (!prot && s->arena_resident == 0) {
    /* Decommitted when freed: fresh zero pages once committed. */
    if (gogc_os_commit(p, ARENA_CHUNK) != 0) return 0; /* try next cycle */
    gogc_arena_chunk_zero(s);
    s->arena_lo = s->base;
    s->arena_hi = s->base + ARENA_CHUNK;
  }
  if (ready_push(s, prot)) {
    atomic_sub_relaxed(&rt->arena_quarantined, 1);
    return 3;
  }
  /* No room: accessible again, and the pages go back to the heap. */
  if (prot) {
    if (gogc_os_protect(p, ARENA_CHUNK, true) != 0) return 0; /* try next cycle */
    atomic_store_relaxed(&s->arena_prot, 0);
  }
  if (s->arena_resident) atomic_sub_relaxed(&rt->arena_resident, s->arena_resident);
  s->arena_resident = 0;
  atomic_sub_relaxed(&rt->arena_quarantined, 1);
  s->arena_state = 0;
  gogc_os_purge(p, ARENA_CHUNK);
  chunk_to_heap(s);
  return 2; /* zero pages, memory returned: no need to clear them again */
}

/* ---------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------- */

GOGC_API gogc_arena *gogc_arena_new(void) {
  if (gogc_ensure_init() != 0) return NULL;
  install_handler();
  gogc_arena *a = gogc_alloc(sizeof *a);
  if (a == NULL) return NULL;
  a->head.magic = ARENA_MAGIC;
  if (!new_chunk(a)) return NULL;
  atomic_add_relaxed(&gogc_rt->arenas_live, 1);
  return a;
}

/* Out of zeroed room in the active chunk (or a misuse): zero the next
 * block, or take a new chunk, or use the heap for a large request. */
static GOGC_NOINLINE void *alloc_slow(gogc_arena *a, size_t n, bool noscan) {
  /* The fast path came here for want of zeroed room, or for a misuse or a
   * large request (the handle fully checked, then). */
  if (a == NULL || a->head.magic != ARENA_MAGIC || n > ARENA_MAX_OBJECT) {
    checked(noscan ? "gogc_arena_alloc_noscan" : "gogc_arena_alloc", a, false);
    if (n > ARENA_MAX_OBJECT) return noscan ? gogc_alloc_noscan(n) : gogc_alloc(n);
  }
  enter(a);
  void *p = NULL;
  uintptr_t r = gogc_arena_round_(n);
  uintptr_t need = r + (gogc_arena_align16_(r) ? 8 : 0); /* wherever it must start */
  if (extend_zeroed(a->active, need, noscan) ||
      (new_chunk(a) && extend_zeroed(a->active, need, noscan))) {
    gogc_span *s = a->active;
    if (noscan) {
      s->arena_hi = gogc_arena_down_(s->arena_hi, r);
      p = (void *)s->arena_hi;
    } else {
      uintptr_t x = gogc_arena_up_(s->arena_lo, r);
      p = (void *)x;
      atomic_store_relaxed(&s->arena_lo, x + r);
    }
  }
  leave(a);
  return p;
}

/* The fast paths: a bump within the zeroed part of the active chunk.
 * Aligned as gogc.h says (gogc_arena_up_, gogc_arena_down_), zeroed
 * (never reused within an arena). */
GOGC_API void *gogc_arena_alloc(gogc_arena *a, size_t n) {
  if (likely(a != NULL && a->head.magic == ARENA_MAGIC && n <= ARENA_MAX_OBJECT)) {
    enter(a);
    gogc_span *s = a->active;
    uintptr_t r = gogc_arena_round_(n), p = gogc_arena_up_(s->arena_lo, r);
    if (likely(p + r <= s->arena_lo_lim)) {
      atomic_store_relaxed(&s->arena_lo, p + r);
      leave(a);
      return (void *)p;
    }
    leave(a);
  }
  return alloc_slow(a, n, false);
}

GOGC_API void *gogc_arena_alloc_noscan(gogc_arena *a, size_t n) {
  if (likely(a != NULL && a->head.magic == ARENA_MAGIC && n <= ARENA_MAX_OBJECT)) {
    enter(a);
    gogc_span *s = a->active;
    uintptr_t r = gogc_arena_round_(n), p = gogc_arena_down_(s->arena_hi, r);
    if (likely(gogc_arena_fits_down_(p, s->arena_hi, s->arena_hi_lim))) {
      s->arena_hi = p;
      leave(a);
      return (void *)p;
    }
    leave(a);
  }
  return alloc_slow(a, n, true);
}

GOGC_API void *gogc_arena_alloc_typed(gogc_arena *a, const gogc_type *type) {
  if (type == NULL) gogc_fatal("gogc_arena_alloc_typed: NULL layout");
  return type->kind == KIND_NOSCAN ? gogc_arena_alloc_noscan(a, type->size)
                                   : gogc_arena_alloc(a, type->size);
}

GOGC_API void gogc_arena_free(gogc_arena *a) {
  checked("gogc_arena_free", a, true);
  if (a->head.magic == ARENA_MAGIC_FREED)
    gogc_fatal("gogc_arena_free(%p): arena already freed", (void *)a);
  enter(a);
  gogc_runtime *rt = gogc_rt;
  a->head.magic = ARENA_MAGIC_FREED;
  a->head.bump = &arena_no_room;
  a->active = NULL;
  uintptr_t *c = a->chunks;
  gogc_store(&a->chunks, NULL);
  uint64_t used_all = 0;
  while (c != NULL) {
    uintptr_t *next = (uintptr_t *)c[0]; /* read before the chunk faults */
    gogc_span *s = gogc_span_of((uintptr_t)c);
    used_all += chunk_used(s);
    uintptr_t held = fault_chunk(s);
    atomic_sub_relaxed(&rt->arena_bytes, ARENA_CHUNK);
    /* Freed as far as pacing goes (Go does the same): churning arenas
     * must not run the collector as if the heap grew. */
    atomic_sub_relaxed(&rt->heap_live, ARENA_CHUNK);
    /* A chunk counts more the more of it was used: the pages that
     * quarantine keeps come back (resident) only through a cycle. */
    atomic_add_relaxed(&rt->arena_freed_since, 1 + held / ARENA_RECYCLE_UNIT);
    c = next;
  }
  atomic_sub_relaxed(&rt->arenas_live, 1);
  note_use(used_all);
  leave(a);
  /* The address space comes back only through a cycle: start one after
   * every ARENA_RECYCLE_CHUNKS freed chunks. */
  if (atomic_load_relaxed(&rt->arena_freed_since) >= ARENA_RECYCLE_CHUNKS &&
      atomic_load_relaxed(&rt->phase) == PHASE_OFF)
    gogc_gc(TRIGGER_ARENA);
}

GOGC_API void *gogc_arena_clone(const void *p, size_t n) {
  if (p == NULL) return NULL;
  gogc_span *s = gogc_rt != NULL ? gogc_span_of((uintptr_t)p) : NULL;
  uint32_t st = s != NULL ? atomic_load_relaxed(&s->arena_state) : 0;
  if (st == 0) return (void *)p; /* not in an arena: as it is (Go's Clone) */
  if (st != ARENA_LIVE) gogc_fatal("gogc_arena_clone(%p): the arena was freed", p);
  if ((uintptr_t)p + n > s->base + ARENA_CHUNK)
    gogc_fatal("gogc_arena_clone(%p, %zu): runs past the end of its arena chunk", p, n);
  /* Pointer-free objects live above arena_lo. */
  bool noscan = (uintptr_t)p >= atomic_load_relaxed(&s->arena_lo);
  void *q = noscan ? gogc_alloc_noscan(n) : gogc_alloc(n);
  if (q == NULL) return NULL;
  if (noscan) memcpy(q, p, n);
  else gogc_memmove(q, p, n);
  return q;
}
