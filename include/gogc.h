/* gogc: Go's garbage collector as a C library.
 *
 * Copyright (c) 2026 the gogc authors. MIT license, see LICENSE.
 *
 * This header is the whole public API. Everything else in the library is
 * hidden (-fvisibility=hidden). Read docs/api.md for the rules a program
 * must follow; the short version:
 *
 *  - Allocate collected memory with gogc_alloc (scanned conservatively),
 *    gogc_alloc_noscan (never scanned: no pointers inside) or
 *    gogc_alloc_typed (scanned precisely, from a layout built with
 *    GOGC_TYPE / gogc_type_new).
 *  - Every store of a pointer into a collected object or into a global goes
 *    through gogc_store(&slot, value); bulk copies of memory that may hold
 *    pointers go through gogc_memmove. Stores to a thread's own locals need
 *    no barrier. The collector marks while the program runs, and relies on
 *    this rule; a program that cannot follow it sets
 *    GODEBUG=gcstoptheworld=1.
 *  - Roots are found without help: the data and bss of the executable and
 *    of every loaded shared library, and the stacks and registers of every
 *    thread that uses the collector. Memory the collector cannot see
 *    (malloc'd blocks, mmap'd regions, thread-local variables) must be added
 *    with gogc_add_roots if it holds the only reference to an object.
 *  - Threads created with pthread_create are registered automatically.
 */
#ifndef GOGC_H
#define GOGC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOGC_VERSION_MAJOR 0
#define GOGC_VERSION_MINOR 1
#define GOGC_VERSION_PATCH 0

#if defined(__GNUC__)
#define GOGC_API __attribute__((visibility("default")))
#define GOGC_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define GOGC_API
#define GOGC_MALLOC_ATTR
#endif

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
GOGC_API const char *gogc_version(void);

/* ---------------------------------------------------------------------------
 * Start-up
 * ------------------------------------------------------------------------- */

/* Initialise the collector. Optional: the library initialises itself from a
 * constructor when it is loaded, and every entry point initialises on first
 * use. Reads GOGC and GODEBUG (see docs/api.md). Idempotent, thread-safe.
 * Returns 0, or -1 if the heap could not be reserved (then every
 * allocation returns NULL). */
GOGC_API int gogc_init(void);

/* ---------------------------------------------------------------------------
 * Allocation. All memory returned is zeroed and at least 8-byte aligned
 * (16-byte for sizes >= 32, larger powers of two up to the object's size
 * class alignment). A request of 0 bytes returns a unique minimal object.
 * On exhaustion (after a collection) NULL is returned.
 * ------------------------------------------------------------------------- */

/* Scanned conservatively: every aligned word inside may be a pointer. */
GOGC_API GOGC_MALLOC_ATTR void *gogc_alloc(size_t size);

/* Pointer-free data ("noscan" in Go): never scanned. Pointers stored in
 * it do NOT keep their targets alive. */
GOGC_API GOGC_MALLOC_ATTR void *gogc_alloc_noscan(size_t size);

/* calloc-style conservative array; NULL if count*size overflows. */
GOGC_API GOGC_MALLOC_ATTR void *gogc_calloc(size_t count, size_t size);

/* A layout: which words of an object of `size` bytes hold pointers.
 * Build it once with gogc_type_new (or the GOGC_TYPE macro) and reuse it;
 * layouts are never freed. `ptr_offsets` are byte offsets (use offsetof),
 * each a multiple of sizeof(void *) and below `size`. Returns NULL and
 * prints the reason on stderr for an invalid layout. */
typedef struct gogc_type gogc_type;
GOGC_API const gogc_type *gogc_type_new(const char *name, size_t size,
                                        size_t nptrs,
                                        const size_t *ptr_offsets);

/* GOGC_TYPE(struct node, offsetof(struct node, left), offsetof(struct node, right)) */
#define GOGC_TYPE(T, ...)                                                     \
  gogc_type_new(#T, sizeof(T),                                                \
                sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t),       \
                (const size_t[]){__VA_ARGS__})

/* Scanned precisely: only the words the layout names are looked at. */
GOGC_API GOGC_MALLOC_ATTR void *gogc_alloc_typed(const gogc_type *type);

/* An array of `count` elements of `type`; NULL if the size overflows. */
GOGC_API GOGC_MALLOC_ATTR void *gogc_alloc_typed_array(const gogc_type *type,
                                                      size_t count);

/* Resize: like realloc, keeps the object's kind. Conservative and noscan
 * objects stay so. A typed array keeps its layout when it is resized
 * within its size class (the layout repeats to the end of the slot) and
 * when a large typed array is resized to a large size; otherwise it keeps
 * the layout of the bytes that are copied and bytes past the old size are
 * scanned conservatively (a small object's layout is not recorded per
 * object). To grow a typed
 * array precisely, allocate a new one with gogc_alloc_typed_array and
 * copy with gogc_memmove. gogc_realloc(NULL, n) is gogc_alloc(n). `p`
 * must be the base of an object (an interior pointer aborts with a
 * message). */
GOGC_API void *gogc_realloc(void *p, size_t size);

/* A noscan copy of a NUL-terminated string. */
GOGC_API GOGC_MALLOC_ATTR char *gogc_strdup(const char *s);

/* The usable size of the object containing p (interior pointers accepted),
 * or 0 when p does not point into a live collected object. */
GOGC_API size_t gogc_size(const void *p);

/* The base of the object containing p (interior pointers accepted), or
 * NULL when p does not point into a live collected object. */
GOGC_API void *gogc_base(const void *p);

/* Out of memory. When an allocation cannot be satisfied even after a
 * full collection, the handler (if one is set) is called with the size
 * asked for and `data`, with no lock of gogc held; it may free memory it
 * knows about, print and exit, or longjmp out. If it returns nonzero the
 * allocation is tried once more; if it returns 0 (or there is no
 * handler) the allocation returns NULL with errno set to ENOMEM. fn NULL
 * removes the handler. Also called when an arena cannot get a chunk. */
typedef int (*gogc_oom_fn)(size_t size, void *data);
GOGC_API void gogc_set_oom_handler(gogc_oom_fn fn, void *data);

/* Optional explicit free of memory the program knows to be dead (no other
 * reference may remain). NULL is ignored. A pointer that is not the base of
 * a live collected object (a foreign pointer, an interior pointer, an
 * object already freed) is a program error: gogc prints a message naming
 * the pointer and aborts. Large objects return their pages at once; small
 * objects are reused by their thread's cache or at the next sweep. */
GOGC_API void gogc_free(void *p);

/* ---------------------------------------------------------------------------
 * Write barrier (docs/api.md, "The write barrier"). While the collector
 * marks, concurrently with the program, it must see every pointer the
 * program writes into the heap or a global and every pointer it
 * overwrites there (Go's hybrid barrier). So every store of a pointer
 * into a collected object, a global, or a range added with gogc_add_roots
 * goes through one of these; stores to a thread's own locals need none.
 * A program that cannot follow the rule runs with
 * GODEBUG=gcstoptheworld=1 (marking with the world stopped).
 * ------------------------------------------------------------------------- */

/* Exported only for the inline fast path below; not API. */
GOGC_API extern volatile uint32_t gogc__wb_enabled;
GOGC_API void gogc__store_slow(void **slot, void *value);

/* *slot = value, with the write barrier. `slot` is the address of a
 * pointer-sized, pointer-aligned field. The fast path is one test of a
 * global flag. On x86-64 the test and the store form a restartable
 * sequence between two marker instructions: a thread stopped inside it by
 * the collector resumes at its start, so the test and the store always
 * see the same collector phase (see src/barrier.c). A second such
 * sequence serves the later part of a mark, when the flag is exactly 1
 * (marking, every thread's stack scanned): a store into a slot that holds
 * NULL then needs no barrier at all, so an unlocked compare-and-exchange
 * stores the value if the slot held NULL, and only a slot that held
 * something takes the call. */
static inline void gogc_store(void *slot, const void *value) {
#if defined(__x86_64__) && !defined(GOGC_NO_INLINE_BARRIER)
  __asm__ goto(".byte 0x0f,0x1f,0x84,0x00,0x67,0x6f,0x67,0x63\n\t" /* start marker */
               "cmpl $0, %0\n\t"
               "jne %l[marking]\n\t"
               "movq %1, (%2)\n\t"
               ".byte 0x0f,0x1f,0x84,0x00,0x47,0x4f,0x47,0x43" /* end marker */
               :
               : "m"(gogc__wb_enabled), "r"(value), "r"(slot)
               : "memory", "cc"
               : marking);
  return;
marking:
  __asm__ goto(".byte 0x0f,0x1f,0x84,0x00,0x67,0x6f,0x67,0x63\n\t" /* start marker */
               "cmpl $1, %0\n\t"
               "jne %l[slow]\n\t"
               "xorl %%eax, %%eax\n\t"
               "cmpxchgq %1, (%2)\n\t" /* the store, if the slot held 0 */
               ".byte 0x0f,0x1f,0x84,0x00,0x47,0x4f,0x47,0x43\n\t" /* end marker */
               "jne %l[slow]"
               :
               : "m"(gogc__wb_enabled), "r"(value), "r"(slot)
               : "rax", "memory", "cc"
               : slow);
  return;
slow:
#endif
  gogc__store_slow((void **)slot, (void *)value);
}

/* memmove for memory that may hold pointers to collected objects: the
 * barrier for every pointer-aligned word overwritten and copied. */
GOGC_API void *gogc_memmove(void *dst, const void *src, size_t n);

/* memset(dst, 0, n) for memory that may hold pointers: the barrier for
 * every pointer-aligned word cleared. */
GOGC_API void gogc_memclr(void *dst, size_t n);

/* Atomic pointer operations with the barrier (sequentially consistent),
 * for lock-free structures whose slots are in the heap or in globals. */
GOGC_API void gogc_atomic_store(void *slot, const void *value);
/* Stores value and returns the previous contents. */
GOGC_API void *gogc_atomic_swap(void *slot, const void *value);
/* If *slot == expected, stores desired and returns 1; otherwise returns 0. */
GOGC_API int gogc_atomic_cas(void *slot, const void *expected, const void *desired);

/* ---------------------------------------------------------------------------
 * Collection control
 * ------------------------------------------------------------------------- */

/* A full, blocking collection (Go's runtime.GC): returns after marking
 * and sweeping are complete. */
GOGC_API void gogc_collect(void);

/* Go's debug.SetGCPercent: sets GOGC, returns the previous value.
 * A negative value turns the collector off (gogc_collect still works). */
GOGC_API int gogc_set_percent(int percent);

/* Go's debug.SetMemoryLimit: a soft limit, in bytes, on all memory the
 * library holds (heap pages not returned to the OS, and its metadata).
 * Collections run as the limit nears, even with GOGC off, and free pages
 * are returned to the OS to stay under it; when the live heap itself does
 * not fit, the heap grows past the limit rather than collecting without
 * end (the GC CPU limiter holds the collector near half the CPU). Returns
 * the previous limit; a negative argument only reads it. INT64_MAX (the
 * default, or GOMEMLIMIT=off) means no limit. */
GOGC_API int64_t gogc_set_memory_limit(int64_t limit);

/* Go's debug.FreeOSMemory: a full collection, then every free page of the
 * heap returned to the OS. */
GOGC_API void gogc_free_os_memory(void);

/* ---------------------------------------------------------------------------
 * Roots and threads
 * ------------------------------------------------------------------------- */

/* Scan [lo, hi) conservatively as a root until removed. Ranges may not
 * overlap an existing range. Returns 0, or -1 on bad input (lo > hi). */
GOGC_API int gogc_add_roots(void *lo, void *hi);
/* Remove the range added with exactly these bounds; -1 if none. */
GOGC_API int gogc_remove_roots(void *lo, void *hi);

/* Register / unregister the calling thread. Threads created through
 * pthread_create after the library is loaded are registered for you, and
 * so is the main thread; call these only for threads created another way
 * (clone, a foreign runtime) or created before gogc was loaded.
 * gogc_register_thread is idempotent. */
GOGC_API void gogc_register_thread(void);
GOGC_API void gogc_unregister_thread(void);

/* Bracket a long blocking call (read, poll, pthread_cond_wait, ...). In
 * between, the thread must not touch collected memory; the collector does
 * not stop it, so a collection never waits for it. Locals that hold
 * references stay roots. Calls nest. */
GOGC_API void gogc_enter_blocking(void);
GOGC_API void gogc_leave_blocking(void);

/* ---------------------------------------------------------------------------
 * Finalizers, cleanups and weak pointers (Go's runtime.SetFinalizer,
 * runtime.AddCleanup and package weak; docs/api.md, "Finalizers").
 *
 * Each is attached to an object, keyed by the object's base address. They
 * run on a dedicated finalizer thread, never under a collector lock: a
 * finalizer or cleanup may allocate, store, block and collect. Nothing is
 * run at exit. gogc_free of an object that has any of them does nothing
 * (the collector runs them when the object dies); gogc_realloc does not
 * carry them to the new object.
 * ------------------------------------------------------------------------- */

typedef void (*gogc_finalizer_fn)(void *obj, void *arg);
typedef void (*gogc_cleanup_fn)(void *arg);

/* After obj becomes unreachable, fn(obj, arg) is called once, on the
 * finalizer thread. Until then obj and everything it references (and arg)
 * stay allocated; obj is freed at a later collection unless fn stored it
 * somewhere (it may also set a new finalizer). A NULL fn removes the
 * finalizer. obj must be the base of a live collected object with no
 * finalizer yet. arg is a root until fn has run, so it must not reference
 * obj (or obj is never finalized). Returns 0, or -1 with a message on
 * stderr (NULL, not a collected object, interior pointer, a finalizer
 * already set, arg pointing into obj).
 * As in Go: if obj can reach itself through finalizable objects (a cycle)
 * its finalizer never runs; if A references B and both have finalizers,
 * B's runs only after A is gone; an object may be finalized while a
 * function still uses it: gogc_keep_alive(obj) after the last use. */
GOGC_API int gogc_set_finalizer(void *obj, gogc_finalizer_fn fn, void *arg);

/* A cleanup's handle. The object's address is stored hidden, so a handle
 * kept in collected memory does not keep the object alive. id 0: none. */
typedef struct gogc_cleanup {
  uintptr_t obj_hidden;
  uint64_t id;
} gogc_cleanup;

/* After obj (any pointer into a live collected object) is unreachable,
 * fn(arg) is called once on the finalizer thread; obj itself is never
 * passed and never resurrected. An object may have several cleanups; they
 * run in no set order, after the object's finalizer if it has one (once
 * the object is unreachable again). arg is a root until then, so arg must
 * not reference obj, directly or through other objects, or obj is never
 * collected; an arg pointing into obj is refused. Returns a handle with
 * id 0 and a message on stderr on bad input. */
GOGC_API gogc_cleanup gogc_add_cleanup(void *obj, gogc_cleanup_fn fn, void *arg);

/* Cancel a cleanup that has not been queued to run yet: returns 1 if it
 * was removed, 0 if it had already been queued or run (or c is empty).
 * The caller must keep the object reachable across the call. */
GOGC_API int gogc_cleanup_stop(gogc_cleanup c);

/* A weak pointer: gogc_weak_get returns the object while it is reachable
 * and NULL once it is not. gogc_weak_make returns the same handle for
 * every pointer into the same object (compare handles to compare
 * objects), until the object dies; NULL for NULL, or for a pointer that is
 * not into a live collected object (with a message). Handles are small
 * collected objects: keep them like any reference, never gogc_free them.
 * A weak pointer is cleared before its object's finalizer runs, and stays
 * NULL if the finalizer resurrects the object. */
typedef struct gogc_weak gogc_weak;
GOGC_API gogc_weak *gogc_weak_make(const void *obj);
GOGC_API void *gogc_weak_get(const gogc_weak *w);

/* Run the finalizers and cleanups that are due, on the calling thread;
 * returns how many ran. */
GOGC_API size_t gogc_run_finalizers(void);

/* Wait until every finalizer and cleanup queued so far has run (by the
 * finalizer thread or by gogc_run_finalizers). After gogc_collect this
 * runs the ones that collection found. From a finalizer, it runs the
 * queue itself instead of waiting for itself. */
GOGC_API void gogc_wait_finalizers(void);

/* Go's runtime.KeepAlive: p stays reachable (in a register the collector
 * scans) at least until this point of the calling function. */
static inline void gogc_keep_alive(const void *p) {
#if defined(__GNUC__)
  __asm__ volatile("" : : "r"(p) : "memory");
#else
  volatile const void *sink = p;
  (void)sink;
#endif
}

/* ---------------------------------------------------------------------------
 * Pools (Go's sync.Pool; docs/api.md, "Pools"): sets of temporary objects
 * that threads share and reuse instead of allocating afresh. Any object
 * in a pool may be dropped at any collection (an object nobody takes
 * survives at most two), and there is no promise that a get returns what
 * was put. One pool holds one kind of object.
 * ------------------------------------------------------------------------- */
typedef struct gogc_pool gogc_pool;

/* A new pool. new_fn(arg), when not NULL, makes an object when the pool is
 * empty. The pool is a collected object: keep it reachable (a global) as
 * long as it is used. Returns NULL when out of memory. */
GOGC_API gogc_pool *gogc_pool_new(void *(*new_fn)(void *arg), void *arg);

/* Any object from the pool (removed from it), else new_fn(arg), else
 * NULL. Lock-free. Contents are as the last user left them. */
GOGC_API void *gogc_pool_get(gogc_pool *pool);

/* Give obj (a collected object) to the pool. NULL is ignored. obj must
 * not be used after the call (GODEBUG=poolcheck=1 catches writes). */
GOGC_API void gogc_pool_put(gogc_pool *pool, void *obj);

/* ---------------------------------------------------------------------------
 * Arenas (Go's GOEXPERIMENT=arenas; docs/api.md, "Arenas"): objects
 * allocated together by bumping a pointer and freed in one call. After
 * gogc_arena_free every access to the arena's memory faults, with a
 * message saying so. An arena is for one thread at a time.
 * ------------------------------------------------------------------------- */
typedef struct gogc_arena gogc_arena;

/* A new arena (a collected object: an arena dropped without being freed
 * is reclaimed like any garbage). NULL when out of memory. */
GOGC_API gogc_arena *gogc_arena_new(void);

/* Zeroed objects, aligned to 16 bytes, or to 8 for sizes up to 8 and
 * from 17 to 24 (these take their size rounded to 8, with no gap).
 * Conservatively scanned; noscan: never scanned (no pointers); typed:
 * sized by the layout, scanned conservatively unless it has no
 * pointers. Objects may point to
 * collected objects (which they keep alive) and be pointed to from the
 * heap (which keeps the arena's memory, not its objects' contents, from
 * being reused). Requests above 512 KiB come from the heap. Pointer
 * stores into arena objects use gogc_store like any other. NULL when out
 * of memory. A freed arena or a handle that is not an arena aborts with a
 * message. In C built by gcc or clang, gogc_arena_alloc and
 * gogc_arena_alloc_noscan are inline: a bump of a pointer, calling the
 * library only when the chunk is full (below). */
GOGC_API void *gogc_arena_alloc(gogc_arena *arena, size_t size);
GOGC_API void *gogc_arena_alloc_noscan(gogc_arena *arena, size_t size);
GOGC_API void *gogc_arena_alloc_typed(gogc_arena *arena, const gogc_type *type);

/* The inline forms: a bump of the arena's pointer, and the call above
 * only when the chunk's zeroed room is used up, the size is above 512 KiB
 * or the handle is not a live arena (which the call reports). The two
 * types and constants below are the library's, shown only for that; their
 * layout may change with any version. GOGC_NO_INLINE_ARENA before
 * including this header keeps the calls. The library's debug builds leave
 * the inline paths no room, so every allocation is checked there. */
typedef struct gogc_arena_bump_ {
  uintptr_t lo, lo_lim; /* conservative objects: [lo, lo_lim) zeroed, bumped up */
  uintptr_t hi_lim, hi; /* pointer-free objects: [hi_lim, hi) zeroed, bumped down */
} gogc_arena_bump_;
typedef struct gogc_arena_head_ {
  uint64_t magic;         /* GOGC_ARENA_MAGIC_ while the arena lives */
  gogc_arena_bump_ *bump; /* its active chunk's bump pointers */
} gogc_arena_head_;
#define GOGC_ARENA_MAGIC_ 0x61726e61676f6763ull
#define GOGC_ARENA_MAX_OBJECT_ ((size_t)512 << 10)
/* An object's room in a chunk: its size rounded up to 8 bytes (a request
 * of 0 gets 8: a distinct object, as on the heap). Rooms of 8 and 24
 * bytes are 8-byte aligned, all others 16 (as on the heap). The bumps
 * stay 8-byte aligned, so only a 16-aligned room after an odd number of
 * words is moved, by 8: a test beside the bump's chain of additions, not
 * an add-and-mask in it (which doubled the cost of a run of allocations). */
static inline uintptr_t gogc_arena_round_(size_t size) {
  return ((uintptr_t)size + 7 + (size == 0)) & ~(uintptr_t)7;
}
static inline int gogc_arena_align16_(uintptr_t room) {
  return room != 8 && room != 24;
}
/* Where a room r starts, going up from lo, or down from hi. */
static inline uintptr_t gogc_arena_up_(uintptr_t lo, uintptr_t r) {
  if (gogc_arena_align16_(r) && __builtin_expect((lo & 8) != 0, 0)) lo += 8;
  return lo;
}
static inline uintptr_t gogc_arena_down_(uintptr_t hi, uintptr_t r) {
  uintptr_t p = hi - r;
  if (gogc_arena_align16_(r) && __builtin_expect((p & 8) != 0, 0)) p -= 8;
  return p;
}
/* Does the room at p = gogc_arena_down_(hi, r) lie in the zeroed part,
 * hi_lim <= p < hi? One comparison (p wraps above hi when hi < r). */
static inline int gogc_arena_fits_down_(uintptr_t p, uintptr_t hi, uintptr_t hi_lim) {
  return p - hi_lim < hi - hi_lim;
}

#if defined(__GNUC__) && !defined(GOGC_IMPL) && !defined(GOGC_NO_INLINE_ARENA)
static inline void *gogc_arena_alloc_inline_(gogc_arena *arena, size_t size) {
  const gogc_arena_head_ *h = (const gogc_arena_head_ *)(void *)arena;
  if (__builtin_expect(h != NULL && h->magic == GOGC_ARENA_MAGIC_ && size <= GOGC_ARENA_MAX_OBJECT_, 1)) {
    gogc_arena_bump_ *b = h->bump;
    uintptr_t r = gogc_arena_round_(size), p = gogc_arena_up_(b->lo, r);
    if (__builtin_expect(p + r <= b->lo_lim, 1)) {
      __atomic_store_n(&b->lo, p + r, __ATOMIC_RELAXED); /* markers read it */
      return (void *)p;
    }
  }
  return (gogc_arena_alloc)(arena, size);
}
static inline void *gogc_arena_alloc_noscan_inline_(gogc_arena *arena, size_t size) {
  const gogc_arena_head_ *h = (const gogc_arena_head_ *)(void *)arena;
  if (__builtin_expect(h != NULL && h->magic == GOGC_ARENA_MAGIC_ && size <= GOGC_ARENA_MAX_OBJECT_, 1)) {
    gogc_arena_bump_ *b = h->bump;
    uintptr_t r = gogc_arena_round_(size), p = gogc_arena_down_(b->hi, r);
    if (__builtin_expect(gogc_arena_fits_down_(p, b->hi, b->hi_lim), 1)) {
      b->hi = p;
      return (void *)p;
    }
  }
  return (gogc_arena_alloc_noscan)(arena, size);
}
#define gogc_arena_alloc(arena, size) gogc_arena_alloc_inline_((arena), (size))
#define gogc_arena_alloc_noscan(arena, size) gogc_arena_alloc_noscan_inline_((arena), (size))
#endif

/* Free the arena: every later access to its memory faults. Freeing twice
 * or a handle that is not an arena aborts with a message. */
GOGC_API void gogc_arena_free(gogc_arena *arena);

/* A copy of the size bytes at p (an object in a live arena) in the
 * collected heap (Go's arena.Clone); p itself if it is not in an arena. */
GOGC_API void *gogc_arena_clone(const void *p, size_t size);

/* ---------------------------------------------------------------------------
 * Events and tracing (docs/api.md, "Events and tracing").
 * ------------------------------------------------------------------------- */
typedef enum gogc_event_kind {
  GOGC_EVENT_CYCLE_START = 1, /* a cycle begins (the trigger, or a forced one) */
  GOGC_EVENT_PAUSE_START,     /* the world is about to stop (detail: 0 sweep
                                 termination, 1 mark termination, 2 a whole
                                 stop-the-world cycle) */
  GOGC_EVENT_PAUSE_END,       /* the world runs again; duration: the pause */
  GOGC_EVENT_MARK_START,      /* concurrent marking begins */
  GOGC_EVENT_MARK_END,        /* marking is over (after the last pause) */
  GOGC_EVENT_CYCLE_END,       /* the cycle is over; sweeping begins */
  GOGC_EVENT_SWEEP_DONE,      /* the cycle's sweep is complete */
  GOGC_EVENT_STACK_SCAN,      /* a thread's stack was scanned; thread: which,
                                 duration: how long it was stopped */
  GOGC_EVENT_ASSIST,          /* a mark assist; thread, duration */
  GOGC_EVENT_SCAVENGE,        /* memory returned to the OS; bytes, duration */
  GOGC_EVENT_HEAP_GROW,       /* the heap mapped more address space */
  GOGC_EVENT_WORKER           /* a mark worker's slice of work; thread,
                                 duration; detail 0 background, 1 idle */
} gogc_event_kind;

typedef struct gogc_event {
  gogc_event_kind kind;
  uint32_t cycle;        /* the cycle it belongs to (num_gc after it ends) */
  uint32_t detail;       /* see the kinds */
  uint64_t time_ns;      /* CLOCK_MONOTONIC, at the end of what it reports */
  uint64_t duration_ns;  /* PAUSE_END, STACK_SCAN, ASSIST, SCAVENGE */
  uint64_t thread;       /* the thread (Linux tid) the event concerns */
  uint64_t bytes;        /* SCAVENGE: released; HEAP_GROW: added */
  uint64_t heap_live;    /* heap figures at the event */
  uint64_t heap_goal;
  uint64_t heap_mapped;
  uint64_t memory_held;
} gogc_event;

/* Called for every event, on whichever thread the event happens (a
 * collector thread or an allocating one), never while the world is
 * stopped. It must not call into gogc, allocate collected memory or block:
 * copy what it needs and return. One listener at a time; NULL removes it.
 * When gogc_set_event_listener returns, the listener it replaced is not
 * running on any thread and will not be called again, so its data may be
 * read or freed. */
typedef void (*gogc_event_fn)(const gogc_event *event, void *data);
GOGC_API void gogc_set_event_listener(gogc_event_fn fn, void *data);

/* Write a trace of the collector's work to path, in the Chrome
 * trace-event JSON format (Perfetto, chrome://tracing; scripts/trace_report.py
 * turns it into an HTML report). GOGC_TRACE=path does the same from the
 * start of the program to its exit. Returns 0, or -1 with a message. */
GOGC_API int gogc_trace_start(const char *path);
/* Finish the trace file (also done at exit when started by GOGC_TRACE). */
GOGC_API void gogc_trace_stop(void);

/* ---------------------------------------------------------------------------
 * Statistics (the fields of Go's runtime.MemStats that apply)
 * ------------------------------------------------------------------------- */

#define GOGC_NUM_SIZE_CLASSES 68 /* class 0 is "large" */
#define GOGC_PAUSE_RING 256

typedef struct gogc_memstats {
  uint64_t heap_alloc;    /* bytes of allocated objects (incl. unswept dead) */
  uint64_t heap_sys;      /* bytes of heap address space mapped */
  uint64_t heap_idle;     /* bytes in spans with no objects */
  uint64_t heap_inuse;    /* bytes in spans with at least one object */
  uint64_t heap_released; /* bytes returned to the OS */
  uint64_t heap_objects;  /* allocated objects */
  uint64_t total_alloc;   /* cumulative bytes allocated */
  uint64_t mallocs;       /* cumulative objects allocated */
  uint64_t frees;         /* cumulative objects freed */
  uint64_t sys;           /* all bytes mapped: heap + metadata */
  uint64_t gc_sys;        /* bytes of collector metadata */
  uint64_t next_gc;       /* heap goal of the next cycle */
  uint64_t last_gc;       /* end of the last cycle, Unix ns (0: never) */
  uint64_t pause_total_ns;
  uint64_t pause_ns[GOGC_PAUSE_RING];  /* recent pauses, latest at (num_gc+255)%256 */
  uint64_t pause_end[GOGC_PAUSE_RING]; /* their end times, Unix ns */
  uint32_t num_gc;
  uint32_t num_forced_gc;
  double gc_cpu_fraction; /* GC CPU / available CPU since start */
  int gc_percent;         /* current GOGC (negative: off) */
  int concurrent;         /* 1: marking runs beside the program; 0: GODEBUG=gcstoptheworld */
  uint64_t pause_max_ns;  /* longest stop-the-world pause so far */
  uint64_t stack_pause_max_ns; /* longest stop of one thread for its stack scan */
  uint64_t mark_assists;  /* mark assists run by allocating threads */
  /* Memory limit and scavenger (Go's runtime/metrics names in brackets). */
  int64_t memory_limit;   /* [/gc/gomemlimit:bytes] INT64_MAX: none */
  uint64_t heap_goal;     /* [/gc/heap/goal:bytes] same as next_gc */
  uint64_t heap_live_goal_limit; /* goal the memory limit alone would set (UINT64_MAX: none) */
  uint64_t memory_held;   /* [/memory/classes/total - heap/released] counted against the limit */
  uint64_t heap_free;     /* [/memory/classes/heap/free:bytes] free, not returned */
  uint64_t scavenged_total; /* bytes returned to the OS, all time */
  uint64_t scav_bg_cpu_ns;     /* [/cpu/classes/scavenge/background:cpu-seconds] */
  uint64_t scav_assist_cpu_ns; /* [/cpu/classes/scavenge/assist:cpu-seconds] */
  uint32_t limiter_enabled; /* the GC CPU limiter is on now */
  uint32_t limiter_times_enabled; /* times it turned on */
  /* Finalizers, cleanups, weak pointers (all-time counts unless noted). */
  uint64_t finalizers_queued; /* objects found dead with a finalizer */
  uint64_t finalizers_run;
  uint64_t cleanups_queued;
  uint64_t cleanups_run;
  uint64_t finalizers_pending; /* now: queued or running, finalizers and cleanups */
  uint64_t weak_live;     /* now: weak handles of objects not yet found dead */
  /* Arenas (now). */
  uint64_t arenas_live;   /* made and not freed */
  uint64_t arena_bytes;   /* chunk memory of those arenas */
  uint64_t arena_chunks_quarantined; /* freed chunks waiting for a cycle to prove them unreferenced */
  uint64_t arena_chunks_ready; /* recycled chunks kept for new arenas */
  struct {
    uint32_t size; /* largest object size in the class (0 for class 0) */
    uint64_t mallocs;
    uint64_t frees;
  } by_size[GOGC_NUM_SIZE_CLASSES];
} gogc_memstats;

/* Fill *stats. Stops the world briefly for a consistent snapshot. */
GOGC_API void gogc_read_memstats(gogc_memstats *stats);

#ifdef __cplusplus
}
#endif

#endif /* GOGC_H */
