/* gogc: start-up, messages and metadata memory.
 *
 * Initialisation runs once, from a constructor when the library is loaded
 * or from the first entry point that needs it, whichever comes first
 * (init_state: 0 not started or failed, 1 running, 2 done). It reads the
 * options, reserves the heap, installs the suspend signal handler and
 * registers the calling thread. Marker and sweeper threads start with the
 * first collection.
 *
 * Metadata (span structs, bitmaps, thread structs, work buffers, root
 * tables) comes from the OS, never from malloc: the collector must be
 * able to allocate it while other threads are stopped, possibly inside
 * malloc. Small pieces are carved from 1 MiB chunks and recycled by their
 * owners' free lists; large ones are mapped directly.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

gogc_runtime *gogc_rt;
static uint32_t init_state;

GOGC_API const char *gogc_version(void) {
#define GOGC_STR2(x) #x
#define GOGC_STR(x) GOGC_STR2(x)
  return GOGC_STR(GOGC_VERSION_MAJOR) "." GOGC_STR(GOGC_VERSION_MINOR) "." GOGC_STR(GOGC_VERSION_PATCH);
}

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */
static void vmessage(const char *prefix, const char *fmt, va_list ap) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "gogc: %s", prefix);
  if (n < 0) n = 0;
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  if (m < 0) m = 0;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  gogc_os_write_err(buf, len);
}

void gogc_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage("fatal error: ", fmt, ap);
  va_end(ap);
  abort();
}

void gogc_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage("", fmt, ap);
  va_end(ap);
}

void gogc_assert_fail(const char *expr, const char *file, int line) {
  gogc_fatal("assertion failed: %s (%s:%d)", expr, file, line);
}

/* ---------------------------------------------------------------------------
 * Metadata
 * ------------------------------------------------------------------------- */
#define META_CHUNK ((size_t)1 << 20)
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t meta_cur, meta_end;
static uint64_t meta_total;

/* Objects of a cache line or more start on a line and fill whole lines:
 * the metadata that threads write all the time (each thread's mark state
 * and work buffers, its gogc_thread) must not share a line with another
 * thread's. Packed at 16 bytes, two threads' mark states shared one, and
 * binary-trees with 2 threads spent twice the mark CPU per cycle of
 * 1 thread, much of it stalled on that line. Smaller objects (specials,
 * read-mostly layouts) stay packed. */
#define META_LINE ((size_t)64)
static size_t meta_round(size_t size) {
  return size >= META_LINE ? (size + META_LINE - 1) & ~(META_LINE - 1) : (size + 15) & ~(size_t)15;
}
static uintptr_t meta_align(uintptr_t cur, size_t size) {
  return size >= META_LINE ? (cur + META_LINE - 1) & ~(uintptr_t)(META_LINE - 1) : cur;
}

void *gogc_meta_alloc(size_t size) {
  size = meta_round(size);
  if (size >= META_CHUNK / 4) {
    size_t ps = gogc_os_page_size();
    size_t bytes = (size + ps - 1) & ~(ps - 1);
    void *p = gogc_os_alloc(bytes);
    if (p) __atomic_add_fetch(&meta_total, bytes, __ATOMIC_RELAXED);
    return p;
  }
  /* meta_lock is taken with the world stopped (root and work buffers):
   * a registered thread holds it only inside a critical section. */
  gogc_thread *t = gogc_self;
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&meta_lock);
  uintptr_t at = meta_align(meta_cur, size);
  if (at > meta_end || meta_end - at < size) {
    void *c = gogc_os_alloc(META_CHUNK);
    if (c == NULL) {
      pthread_mutex_unlock(&meta_lock);
      if (t != NULL) gogc_critical_leave(t);
      return NULL;
    }
    __atomic_add_fetch(&meta_total, META_CHUNK, __ATOMIC_RELAXED);
    meta_cur = (uintptr_t)c;
    meta_end = meta_cur + META_CHUNK;
  }
  meta_cur = meta_align(meta_cur, size);
  void *p = (void *)meta_cur;
  meta_cur += size;
  pthread_mutex_unlock(&meta_lock);
  if (t != NULL) gogc_critical_leave(t);
  return p;
}

/* The collector's own metadata for a cycle in progress (mark work
 * buffers, the root table, a thread's mark state, finalizer queue
 * entries) cannot wait for memory: without it marking cannot finish and
 * no memory would ever be freed. When the OS refuses, it comes from a
 * reserve mapped at start-up (1 MiB: about 250 work buffers), refilled
 * when the OS gives memory again. Only an exhausted reserve is fatal. */
#define META_RESERVE ((size_t)1 << 20)
static uintptr_t reserve_cur, reserve_end;

static int meta_reserve_fill(void) {
  if (reserve_end - reserve_cur >= META_RESERVE / 2) return 0;
  void *c = gogc_os_alloc(META_RESERVE);
  if (c == NULL) return -1;
  __atomic_add_fetch(&meta_total, META_RESERVE, __ATOMIC_RELAXED);
  reserve_cur = (uintptr_t)c; /* what is left of the old one stays in use */
  reserve_end = reserve_cur + META_RESERVE;
  return 0;
}

void *gogc_meta_alloc_critical(size_t size, const char *what) {
  void *p = gogc_meta_alloc(size);
  if (p != NULL) return p;
  size = meta_round(size);
  gogc_thread *t = gogc_self;
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&meta_lock);
  uintptr_t at = meta_align(reserve_cur, size);
  if (at <= reserve_end && reserve_end - at >= size) {
    p = (void *)at;
    reserve_cur = at + size;
  }
  pthread_mutex_unlock(&meta_lock);
  if (t != NULL) gogc_critical_leave(t);
  if (p == NULL) gogc_fatal("out of memory for %s (the OS refused and the reserve is spent)", what);
  atomic_store_relaxed(&gogc_rt->meta_reserve_used, 1);
  atomic_add_relaxed(&gogc_rt->meta_reserve_draws, 1);
  return p;
}

/* After a cycle that used the reserve: map a new one if the OS lets us. */
void gogc_meta_reserve_refill(void) {
  if (!atomic_load_relaxed(&gogc_rt->meta_reserve_used)) return;
  gogc_thread *t = gogc_self;
  if (t != NULL) gogc_critical_enter(t);
  gogc_lock(&meta_lock);
  if (meta_reserve_fill() == 0) atomic_store_relaxed(&gogc_rt->meta_reserve_used, 0);
  pthread_mutex_unlock(&meta_lock);
  if (t != NULL) gogc_critical_leave(t);
}

/* ---------------------------------------------------------------------------
 * Out of memory
 * ------------------------------------------------------------------------- */
static gogc_oom_fn oom_fn;
static void *oom_data;

GOGC_API void gogc_set_oom_handler(gogc_oom_fn fn, void *data) {
  __atomic_store_n(&oom_data, data, __ATOMIC_RELAXED);
  __atomic_store_n(&oom_fn, fn, __ATOMIC_RELEASE);
}

/* An allocation of size bytes failed after a collection: ask the
 * handler. true: try once more. false: errno is ENOMEM. */
bool gogc_oom_retry(size_t size) {
  gogc_oom_fn fn = __atomic_load_n(&oom_fn, __ATOMIC_ACQUIRE);
  if (fn != NULL && fn(size, __atomic_load_n(&oom_data, __ATOMIC_RELAXED)) != 0) return true;
  errno = ENOMEM;
  return false;
}

void gogc_meta_lock(void) {
  gogc_lock(&meta_lock);
}
void gogc_meta_unlock(void) {
  pthread_mutex_unlock(&meta_lock);
}

/* All collector metadata: these allocations and the span and page tables
 * committed with the heap (mheap.c). */
uint64_t gogc_meta_bytes(void) {
  return __atomic_load_n(&meta_total, __ATOMIC_RELAXED) +
         atomic_load_relaxed(&gogc_rt->metadata_bytes) + atomic_load_relaxed(&gogc_rt->fix_bytes);
}

/* ---------------------------------------------------------------------------
 * Initialisation
 * ------------------------------------------------------------------------- */
int gogc_thread_key_init(void);

/* Start-up. A failure (no memory, no address space) leaves nothing
 * mapped but the runtime struct, which a later attempt reuses: every
 * entry point tries again, so a program that gets memory back later
 * gets a working collector. */
static int init_steps(void);

static int init_once(void) {
  static gogc_runtime *kept; /* from a failed attempt */
  gogc_runtime *rt = kept != NULL ? kept : gogc_meta_alloc(sizeof(gogc_runtime));
  if (rt == NULL) return -1;
  memset(rt, 0, sizeof *rt);
  gogc_rt = rt;
  int rc = init_steps();
  if (rc != 0) { /* nothing may see a half-made runtime */
    kept = rt;
    gogc_rt = NULL;
  }
  return rc;
}

static int init_steps(void) {
  static bool key_made;
  gogc_runtime *rt = gogc_rt;
  rt->start_ns = gogc_os_nanotime();
  rt->ncpu = (uint32_t)gogc_os_ncpu();
  gogc_options_init();
  gogc_sizeclass_init();
  pthread_mutex_init(&rt->gc_lock, NULL);
  pthread_mutex_init(&rt->roots_lock, NULL);
  gogc_specials_init();
  gogc_pools_init();
  gogc_arenas_init();
  if (gogc_threads_init() != 0) return -1;
  /* The key outlives a failed attempt (memset above cleared rt's copy). */
  static pthread_key_t key;
  if (!key_made) {
    if (gogc_thread_key_init() != 0) return -1;
    key = rt->thread_key;
    key_made = true;
  }
  rt->thread_key = key;
  gogc_lock(&meta_lock);
  int rc = meta_reserve_fill();
  pthread_mutex_unlock(&meta_lock);
  if (rc != 0) return -1;
  if (gogc_heap_init() != 0) {
    static bool warned; /* every entry point retries: say it once */
    if (!warned) gogc_warn("cannot reserve 1 GiB of address space for the heap");
    warned = true;
    return -1;
  }
  for (int i = 0; i < NUM_SPAN_CLASSES; i++) gogc_central_init(&rt->central[i], (uint16_t)i);
  rt->sweepgen = 4; /* so that h - 2 never wraps */
  rt->sweep_done = 1;
  gogc_fork_init();
  pthread_mutex_init(&gogc_rt->limiter_lock, NULL);
  pthread_mutex_init(&gogc_rt->scav_lock, NULL);
  gogc_rt->scav_sweep_goal = UINT64_MAX;
  gogc_pacer_init(&gogc_rt->pacer, gogc_rt->gc_percent, gogc_rt->mem_limit, gogc_rt->opt_procs);
  gogc_limiter_init(&gogc_rt->limiter, gogc_rt->opt_procs, gogc_os_nanotime());
  gogc_pacer_update();
  return 0;
}

int gogc_ensure_init(void) {
  uint32_t st = atomic_load_acquire(&init_state);
  if (likely(st == 2)) return 0;
  if (st == 3) return -1;
  uint32_t zero = 0;
  if (__atomic_compare_exchange_n(&init_state, &zero, 1, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    static bool tried;
    if (!tried) gogc_options_fault_init(); /* GODEBUG=failmem: before any request */
    tried = true;
    int rc = init_once();
    atomic_store_release(&init_state, rc == 0 ? 2 : 0); /* 0: the next call tries again */
    if (rc == 0) {
      gogc_thread_register_self();
      gogc_events_init(); /* GOGC_TRACE: after init, it uses the API */
    }
    return rc;
  }
  while ((st = atomic_load_acquire(&init_state)) == 1) sched_yield();
  return st == 2 ? 0 : -1;
}

GOGC_API int gogc_init(void) {
  return gogc_ensure_init();
}

__attribute__((constructor)) static void gogc_constructor(void) {
  gogc_ensure_init();
}
