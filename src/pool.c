/* gogc: object pools (Go's sync.Pool, src/sync/pool.go and poolqueue.go).
 *
 * A pool is a collected object. It has one slot per thread slot index
 * (gogc_thread.pool_idx: small integers handed out at registration and
 * reused after a thread exits, Go's P ids). Slots live in pages of
 * POOL_PAGE, found through a directory; the directory grows by copying
 * page pointers, so a slot never moves and growing loses nothing (Go, which
 * reallocates its per-P array when GOMAXPROCS changes, drops the old one;
 * threads come and go far more often than that). A slot has
 *   private  one object, touched only by the slot's thread;
 *   ring     a lock-free single-producer, multi-consumer deque (Go's
 *            poolDequeue): the slot's thread pushes and pops at the head,
 *            other threads steal at the tail; head and tail share one
 *            64-bit word changed by CAS; a slot is free again only once
 *            the stealer that took it has cleared it.
 * Put fills private, then the head of the ring (a full ring drops the
 * object: a pool may drop anything). Get takes private, then the head of
 * its ring, then steals from the other slots' tails, then from the victim
 * directory, then calls the constructor.
 *
 * The collector. At the start of each cycle, with the world stopped and
 * before marking (gogc_pools_cleanup): every pool used since the last
 * cycle moves its directory (local) to victim, dropping the previous
 * victim; pools not used for a whole cycle drop their victim. So an object
 * nobody takes survives at most two cycles in a pool, and pools the
 * program no longer uses cost nothing after two. Everything a pool holds
 * is reachable through the pool object itself (pool -> directories ->
 * pages -> objects); the registries (pools_all: used this cycle;
 * pools_old: victims to drop next time) are roots, so a pool stays alive
 * until what it holds is gone.
 *
 * Synchronisation. Get and Put run inside an allocator critical section
 * (Go's procPin): no stop, hence no cleanup, falls inside one, and the
 * slot index is stable. Every store or removal of an object pointer in the
 * arrays runs the write barrier by hand (the hybrid barrier: the new value
 * and the removed one), inside that same section. Directories and pages
 * are installed under pool_lock, with release stores (local_size after
 * local; a page pointer after the page is zeroed) read with acquires.
 *
 * Debugging (GODEBUG=poolcheck=1): Put fills the object with 0xdb bytes
 * (the barrier first shades what it pointed to) and Get aborts if any byte
 * changed, catching writes after Put; and one Put in four drops its
 * object, catching code that counts on getting back what it put.
 */
#include "internal.h"

#include <limits.h>

#define POISON 0xdb

static int pool_check;       /* GODEBUG=poolcheck: the fast paths are off */
static uint32_t pool_epoch = 1; /* [world stopped] bumped by each cleanup; a new
                                   thread (epoch 0) never matches */

void gogc_pools_init(void) {
  pthread_mutex_init(&gogc_rt->pool_lock, NULL);
  pool_check = gogc_rt->opt_poolcheck;
}

/* ---------------------------------------------------------------------------
 * Thread slot indexes [threads_lock]
 * ------------------------------------------------------------------------- */
uint32_t gogc_pool_index_alloc(void) {
  gogc_runtime *rt = gogc_rt;
  for (uint32_t w = 0; w < GOGC_POOL_MAX_THREADS / 64; w++) {
    uint64_t free = ~rt->pool_idx_used[w];
    if (free == 0) continue;
    uint32_t idx = w * 64 + (uint32_t)__builtin_ctzll(free);
    rt->pool_idx_used[w] |= (uint64_t)1 << (idx & 63);
    if (idx + 1 > atomic_load_relaxed(&rt->pool_nidx)) atomic_store_relaxed(&rt->pool_nidx, idx + 1);
    return idx;
  }
  return UINT32_MAX; /* no slot: this thread's puts drop, its gets steal */
}

void gogc_pool_index_free(uint32_t idx) {
  if (idx < GOGC_POOL_MAX_THREADS) gogc_rt->pool_idx_used[idx >> 6] &= ~((uint64_t)1 << (idx & 63));
}

/* ---------------------------------------------------------------------------
 * The ring (Go's poolDequeue). Callers are inside a critical section.
 * ------------------------------------------------------------------------- */
static inline uint64_t pack(uint32_t head, uint32_t tail) { return (uint64_t)head << 32 | tail; }

static GOGC_NOINLINE void barrier_on(gogc_thread *t, void *v) { gogc_wb_put(t, (uintptr_t)v); }

static inline void barrier(gogc_thread *t, void *v) {
  if (unlikely(gogc_wb_marking())) barrier_on(t, v);
}


/* The slot's thread: false if the ring is full. */
static bool push_head(gogc_thread *t, gogc_pool_local *l, void *x) {
  uint64_t ht = atomic_load_acquire(&l->head_tail);
  uint32_t head = (uint32_t)(ht >> 32), tail = (uint32_t)ht;
  if ((uint32_t)(tail + POOL_RING) == head) return false;
  void **slot = &l->ring[head & (POOL_RING - 1)];
  /* A stealer that took this slot may not have cleared it yet. */
  if (atomic_load_acquire(slot) != NULL) return false;
  barrier(t, x);
  atomic_store_relaxed(slot, x);
  __atomic_add_fetch(&l->head_tail, (uint64_t)1 << 32, __ATOMIC_RELEASE);
  return true;
}

/* The slot's thread: the newest object, or NULL. */
static void *pop_head(gogc_thread *t, gogc_pool_local *l) {
  uint64_t ht = atomic_load_acquire(&l->head_tail);
  uint32_t head;
  for (;;) {
    head = (uint32_t)(ht >> 32);
    uint32_t tail = (uint32_t)ht;
    if (head == tail) return NULL;
    head--;
    if (__atomic_compare_exchange_n(&l->head_tail, &ht, pack(head, tail), false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
      break;
  }
  void **slot = &l->ring[head & (POOL_RING - 1)];
  void *x = atomic_load_relaxed(slot);
  barrier(t, x);
  atomic_store_relaxed(slot, NULL);
  return x;
}

/* Any thread: the oldest object, or NULL. */
static void *pop_tail(gogc_thread *t, gogc_pool_local *l) {
  uint64_t ht = atomic_load_acquire(&l->head_tail);
  uint32_t tail;
  for (;;) {
    uint32_t head = (uint32_t)(ht >> 32);
    tail = (uint32_t)ht;
    if (head == tail) return NULL;
    if (__atomic_compare_exchange_n(&l->head_tail, &ht, pack(head, tail + 1), false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      break;
  }
  void **slot = &l->ring[tail & (POOL_RING - 1)];
  void *x = atomic_load_acquire(slot);
  barrier(t, x);
  atomic_store_release(slot, NULL); /* hands the slot back to the pusher */
  return x;
}

/* ---------------------------------------------------------------------------
 * Directories and pages
 * ------------------------------------------------------------------------- */

/* Slot idx of a directory of size pages, or NULL. */
static inline gogc_pool_local *slot_of(gogc_pool_page **dir, uint32_t size, uint32_t idx) {
  uint32_t i = idx / POOL_PAGE;
  if (i >= size) return NULL;
  gogc_pool_page *page = atomic_load_acquire(&dir[i]);
  return page != NULL ? &page->slot[idx % POOL_PAGE] : NULL;
}

/* The calling thread's slot, or NULL when its page is missing. Inside a
 * critical section. Each thread remembers the slot of the pool it used
 * last, until the next cleanup (which bumps pool_epoch): the slot's page
 * stays reachable from the pool's directory until then, and the pool
 * from the registry, so the address cannot be reused meanwhile. */
static inline gogc_pool_local *pin(gogc_pool *p, gogc_thread *t) {
  if (likely(t->pool_last == p && t->pool_epoch == pool_epoch)) return t->pool_slot;
  uint32_t size = atomic_load_acquire(&p->local_size);
  gogc_pool_local *l = slot_of(atomic_load_relaxed(&p->local), size, t->pool_idx);
  if (l != NULL) {
    t->pool_last = p;
    t->pool_slot = l;
    t->pool_epoch = pool_epoch;
  }
  return l;
}

/* Give p a directory with t's page. Called outside a critical section (it
 * allocates); returns inside one, with t's slot or NULL (no memory, or a
 * thread beyond GOGC_POOL_MAX_THREADS). */
static GOGC_NOINLINE gogc_pool_local *pin_slow(gogc_pool *p, gogc_thread *t) {
  gogc_runtime *rt = gogc_rt;
  if (t->pool_idx == UINT32_MAX) {
    gogc_critical_enter(t);
    return NULL;
  }
  uint32_t need = t->pool_idx / POOL_PAGE + 1;
  uint32_t want = (atomic_load_relaxed(&rt->pool_nidx) + POOL_PAGE - 1) / POOL_PAGE;
  uint32_t cap = 4;
  while (cap < need || cap < want) cap *= 2;
  gogc_pool_page **dir = NULL;
  if (atomic_load_acquire(&p->local_size) < need) dir = gogc_alloc(cap * sizeof *dir);
  gogc_pool_page *page = gogc_alloc(sizeof *page);
  gogc_critical_enter(t);
  gogc_pool_local *l = pin(p, t);
  if (l != NULL || page == NULL) return l; /* another thread did it */
  gogc_lock(&rt->pool_lock);
  uint32_t size = atomic_load_relaxed(&p->local_size);
  gogc_pool_page **cur = atomic_load_relaxed(&p->local);
  if (size < need && dir != NULL) { /* grow: same pages, more room */
    for (uint32_t i = 0; i < size; i++) {
      gogc_pool_page *pg = atomic_load_relaxed(&cur[i]);
      barrier(t, pg);
      atomic_store_relaxed(&dir[i], pg);
    }
    barrier(t, cur);
    barrier(t, dir);
    atomic_store_relaxed(&p->local, dir);
    atomic_store_release(&p->local_size, cap);
    cur = dir;
    size = cap;
  }
  if (size >= need && atomic_load_relaxed(&cur[need - 1]) == NULL) {
    barrier(t, page);
    atomic_store_release(&cur[need - 1], page);
  }
  if (!p->registered && size >= need) {
    if (rt->npools_all == rt->pools_all_cap) {
      uint32_t c = rt->pools_all_cap ? rt->pools_all_cap * 2 : 64;
      gogc_pool **a = gogc_meta_alloc(c * sizeof *a);
      if (a == NULL) gogc_fatal("out of memory for the pool registry");
      if (rt->npools_all) memcpy(a, rt->pools_all, rt->npools_all * sizeof *a);
      rt->pools_all = a; /* the old table stays: it may be a root being scanned */
      rt->pools_all_cap = c;
    }
    rt->pools_all[rt->npools_all++] = p;
    barrier(t, p); /* appended after this cycle's roots were taken */
    p->registered = 1;
  }
  pthread_mutex_unlock(&rt->pool_lock);
  return pin(p, t);
}

void gogc_pools_cleanup(void) {
  gogc_runtime *rt = gogc_rt;
  for (uint32_t i = 0; i < rt->npools_old; i++) {
    gogc_pool *p = rt->pools_old[i];
    p->victim = NULL;
    p->victim_size = 0;
  }
  for (uint32_t i = 0; i < rt->npools_all; i++) {
    gogc_pool *p = rt->pools_all[i];
    p->victim = p->local;
    p->victim_size = p->local_size;
    p->local = NULL;
    p->local_size = 0;
    p->registered = 0;
  }
  pool_epoch++; /* every thread's remembered slot is stale */
  gogc_pool **t = rt->pools_old;
  uint32_t cap = rt->pools_old_cap;
  rt->pools_old = rt->pools_all;
  rt->pools_old_cap = rt->pools_all_cap;
  rt->npools_old = rt->npools_all;
  rt->pools_all = t;
  rt->pools_all_cap = cap;
  rt->npools_all = 0;
}

void gogc_pools_push_roots(void) {
  gogc_runtime *rt = gogc_rt;
  if (rt->npools_all)
    gogc_roots_push_range((uintptr_t)rt->pools_all, (uintptr_t)(rt->pools_all + rt->npools_all),
                          ROOT_DATA);
  if (rt->npools_old)
    gogc_roots_push_range((uintptr_t)rt->pools_old, (uintptr_t)(rt->pools_old + rt->npools_old),
                          ROOT_DATA);
}

/* ---------------------------------------------------------------------------
 * poolcheck
 * ------------------------------------------------------------------------- */
static size_t checked_size(const char *fn, void *x) {
  size_t n = gogc_size(x);
  if (n == 0 || gogc_base(x) != x)
    gogc_fatal("%s(%p): not the base of a live object allocated by gogc", fn, x);
  return n;
}

static void poison(void *x) {
  size_t n = checked_size("gogc_pool_put", x);
  gogc_memclr(x, n); /* the barrier for the pointers overwritten */
  memset(x, POISON, n);
}

static void check_poison(void *x) {
  size_t n = checked_size("gogc_pool_get", x);
  const unsigned char *b = x;
  for (size_t i = 0; i < n; i++)
    if (b[i] != POISON)
      gogc_fatal("pool object %p was written after gogc_pool_put (byte %zu is 0x%02x, not 0x%02x)",
                 x, i, b[i], POISON);
}

static bool drop_one_in_four(void) {
  static uint32_t seed = 12345;
  uint32_t s = __atomic_add_fetch(&seed, 0x9e3779b9u, __ATOMIC_RELAXED);
  s ^= s >> 15;
  s *= 0x2c1b3c6du;
  return (s >> 28) % 4 == 0;
}

/* ---------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------- */

static GOGC_NOINLINE gogc_thread *pool_thread(void) {
  gogc_thread *t = gogc_self;
  if (t == NULL && (gogc_ensure_init() != 0 || (t = gogc_thread_register_self()) == NULL))
    gogc_fatal("a pool call from a thread that cannot be registered");
  return t;
}

GOGC_API gogc_pool *gogc_pool_new(void *(*new_fn)(void *arg), void *arg) {
  if (gogc_ensure_init() != 0) return NULL;
  gogc_pool *p = gogc_alloc(sizeof *p);
  if (p == NULL) return NULL;
  p->magic = POOL_MAGIC;
  p->new_fn = new_fn;
  gogc_store(&p->new_arg, arg);
  return p;
}

/* A handle that is not a pool is a program error (a fast path never
 * sees one: it only matches a pool a slow path has checked). */
static void pool_checked(const char *fn, gogc_pool *p) {
  if (gogc_base(p) != p || gogc_size(p) < sizeof *p || p->magic != POOL_MAGIC)
    gogc_fatal("%s(%p): not a pool (not a handle from gogc_pool_new)", fn, (void *)p);
}

static GOGC_NOINLINE void pool_put_slow(gogc_pool *p, void *x) {
  if (p == NULL || x == NULL) return; /* documented: ignored */
  pool_checked("gogc_pool_put", p);
  gogc_thread *t = gogc_self;
  if (unlikely(t == NULL)) t = pool_thread();
  if (unlikely(pool_check)) {
    poison(x);
    if (drop_one_in_four()) return;
  }
  gogc_critical_enter(t);
  gogc_pool_local *l = pin(p, t);
  if (unlikely(l == NULL)) {
    gogc_critical_leave(t);
    l = pin_slow(p, t);
  }
  if (likely(l != NULL)) {
    if (l->private == NULL) {
      barrier(t, x);
      l->private = x;
    } else {
      push_head(t, l, x); /* full: dropped */
    }
  }
  gogc_critical_leave(t);
}

/* Steal from every ring of dir (size pages), starting after slot idx. */
static void *steal(gogc_thread *t, gogc_pool_page **dir, uint32_t size, uint32_t idx) {
  /* Slots past the highest thread slot ever handed out are empty. */
  uint32_t n = size * POOL_PAGE, used = atomic_load_relaxed(&gogc_rt->pool_nidx);
  if (used < n) n = used;
  if (n == 0) return NULL;
  for (uint32_t i = 1; i <= n; i++) {
    gogc_pool_local *l = slot_of(dir, size, (idx + i) % n);
    if (l == NULL) continue;
    void *x = pop_tail(t, l);
    if (x != NULL) return x;
  }
  return NULL;
}

/* Steal from the other slots, then take from the victim directory. In a
 * critical section. */
static GOGC_NOINLINE void *get_slow(gogc_pool *p, gogc_thread *t) {
  uint32_t idx = t->pool_idx == UINT32_MAX ? 0 : t->pool_idx;
  uint32_t size = atomic_load_acquire(&p->local_size);
  void *x = steal(t, atomic_load_relaxed(&p->local), size, idx);
  if (x != NULL) return x;
  uint32_t vsize = atomic_load_acquire(&p->victim_size);
  if (vsize == 0) return NULL;
  gogc_pool_page **victim = atomic_load_relaxed(&p->victim);
  gogc_pool_local *l = slot_of(victim, vsize, t->pool_idx);
  if (l != NULL && (x = l->private) != NULL) {
    barrier(t, x);
    l->private = NULL;
    return x;
  }
  x = steal(t, victim, vsize, idx);
  if (x == NULL) atomic_store_relaxed(&p->victim_size, 0); /* empty: later gets skip it */
  return x;
}

static GOGC_NOINLINE void *pool_get_slow(gogc_pool *p) {
  if (p == NULL) return NULL;
  pool_checked("gogc_pool_get", p);
  gogc_thread *t = gogc_self;
  if (unlikely(t == NULL)) t = pool_thread();
  gogc_critical_enter(t);
  gogc_pool_local *l = pin(p, t);
  if (unlikely(l == NULL)) {
    gogc_critical_leave(t);
    l = pin_slow(p, t);
  }
  void *x = NULL;
  if (likely(l != NULL) && (x = l->private) != NULL) {
    barrier(t, x);
    l->private = NULL;
  } else {
    if (l != NULL) x = pop_head(t, l);
    if (x == NULL) x = get_slow(p, t);
  }
  gogc_critical_leave(t);
  if (x == NULL) {
    if (p->new_fn != NULL) x = p->new_fn(p->new_arg);
  } else if (unlikely(pool_check)) {
    check_poison(x);
  }
  return x;
}

/* The fast paths: the thread's remembered slot, its private object, the
 * barrier off. Small enough to need no saved registers: everything else
 * is a tail call. */
static GOGC_NOINLINE void *suspend_then(gogc_thread *t, void *x) {
  gogc_suspend_self(t);
  return x;
}

GOGC_API void *gogc_pool_get(gogc_pool *p) {
  gogc_thread *t = gogc_self;
  if (likely(t != NULL && !pool_check)) {
    gogc_critical_enter(t);
    if (likely(t->pool_last == p && t->pool_epoch == pool_epoch &&
               !gogc_wb_marking())) {
      gogc_pool_local *l = t->pool_slot;
      void *x = l->private;
      if (likely(x != NULL)) {
        l->private = NULL;
        atomic_signal_fence();
        t->in_critical--;
        atomic_signal_fence();
        if (gogc_stop_due(t) && t->in_critical == 0) return suspend_then(t, x);
        return x;
      }
    }
    gogc_critical_leave(t);
  }
  return pool_get_slow(p);
}

GOGC_API void gogc_pool_put(gogc_pool *p, void *x) {
  gogc_thread *t = gogc_self;
  if (likely(t != NULL && x != NULL && !pool_check)) {
    gogc_critical_enter(t);
    if (likely(t->pool_last == p && t->pool_epoch == pool_epoch &&
               !gogc_wb_marking())) {
      gogc_pool_local *l = t->pool_slot;
      if (likely(l->private == NULL)) {
        l->private = x;
        atomic_signal_fence();
        t->in_critical--;
        atomic_signal_fence();
        if (gogc_stop_due(t) && t->in_critical == 0) suspend_then(t, NULL);
        return;
      }
    }
    gogc_critical_leave(t);
  }
  pool_put_slow(p, x);
}
