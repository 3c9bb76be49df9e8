/* gogc: every shared data structure, in one place.
 *
 * Glossary (Go's words, used with one meaning each):
 *   page        8 KiB, the heap's unit of allocation (the OS page is 4 KiB:
 *               "OS page" when that one is meant).
 *   span        a run of pages holding objects of one size class (small
 *               span) or one object (large span).
 *   size class  one of 67 object sizes from 8 B to 32 KiB; class 0 = large.
 *   span class  size class and kind: (sizeclass << 2) | kind, where kind
 *               is noscan (never scanned), conservative (every word may be
 *               a pointer) or typed (heap bits say which words are).
 *   mcache      a thread's private cache of one span per span class.
 *   mcentral    the shared lists of spans of one span class.
 *   mheap       the page heap: address space, page allocator, span table.
 *   shade/grey  set an object's mark bit and queue it for scanning.
 *   sweep       turn mark bits into allocation bits after a cycle.
 *
 * Protection, stated at each field:
 *   [owner]   only the thread that owns the struct touches it;
 *   [heap]    mheap.lock; [central] the mcentral's lock;
 *   [gc]      the collector, with the world stopped or under gc.lock;
 *   [atomic]  atomics with the order named at each use;
 *   [init]    written once during initialisation, read-only after.
 *
 * Nothing here may live in memory the collector scans: all of it is
 * allocated from the OS (os/os.h) and reached from one pointer, gogc_rt,
 * so no heap address is ever a root by accident.
 */
#ifndef GOGC_TYPES_H
#define GOGC_TYPES_H

#ifndef GOGC_IMPL
#error "types.h is internal to the gogc library"
#endif

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gogc.h"

/* ---------------------------------------------------------------------------
 * Variants (the only compile-time knobs; see CMakeLists.txt)
 *   GOGC_DEBUG      0..3 assertion level
 *   GOGC_INTERPOSE  export pthread_create to register new threads
 * ------------------------------------------------------------------------- */
#ifndef GOGC_DEBUG
#define GOGC_DEBUG 0
#endif
#ifndef GOGC_INTERPOSE
#define GOGC_INTERPOSE 1
#endif

/* ---------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------- */
#define PAGE_SHIFT 13
#define PAGE_SIZE ((uintptr_t)1 << PAGE_SHIFT)
#define NUM_SIZE_CLASSES 68
#define MAX_SMALL_SIZE 32768
#define MAX_OBJS_PER_SPAN 2048

#define KIND_NOSCAN 0
#define KIND_CONSERVATIVE 1
#define KIND_TYPED 2
#define NUM_KINDS 3
#define NUM_SPAN_CLASSES (NUM_SIZE_CLASSES << 2)
#define spanclass_make(sc, kind) ((uint16_t)(((sc) << 2) | (kind)))
#define spanclass_sizeclass(spc) ((spc) >> 2)
#define spanclass_kind(spc) ((spc) & 3)

#define ARENA_SIZE ((uintptr_t)64 << 20)          /* heap grows by this */
#define HEAP_RESERVE ((uintptr_t)128 << 30)       /* address space reserved */
#define HEAP_PAGES (HEAP_RESERVE >> PAGE_SHIFT)
#define CHUNK_PAGES 512                           /* page-allocator chunk */
#define NUM_CHUNKS (HEAP_PAGES / CHUNK_PAGES)

#define OBLET_BYTES ((uintptr_t)4 << 10)   /* large objects scanned in pieces: one
                                              piece is a short, bounded step */
#define DRAIN_CLOCK_BYTES ((uint64_t)4 << 10) /* a drain with a short deadline reads the clock at
                                              least this often (scan work), oblets included */
#define DRAIN_SLICE_CLOCK_BYTES ((uint64_t)32 << 10) /* a long one (worker slices) at least this
                                                       often, and every 256 objects */
#define DRAIN_FINE_NS ((uint64_t)50000)    /* short: at most this far ahead (mark.c) */
#define WBUF_ENTRIES 253                   /* work buffer: 2 KiB */
#define WB_ENTRIES 512                     /* write-barrier buffer (Go's wbBuf) */
#define HEAP_MINIMUM ((uint64_t)4 << 20)   /* x GOGC/100 */

/* ---------------------------------------------------------------------------
 * Layouts (gogc_type)
 * ------------------------------------------------------------------------- */
struct gogc_type {
  const char *name; /* [init] for messages */
  size_t size;      /* [init] bytes of one element, a multiple of 8 */
  size_t nwords;    /* [init] size / 8 */
  size_t nptrs;     /* [init] pointer words */
  uint8_t kind;     /* [init] KIND_NOSCAN (no pointers), KIND_CONSERVATIVE
                       (every word a pointer) or KIND_TYPED */
  uint8_t has_rep;  /* [init] nwords divides 64: rep is valid */
  uint16_t fast_spc; /* [init] span class of one element if small (alloc_fast); 0: large */
  uint64_t rep;     /* [init] mask repeated over 64 words (heap bits fast path) */
  uint64_t mask[];  /* [init] bit i set: word i holds a pointer */
};

/* ---------------------------------------------------------------------------
 * Spans
 *
 * State of a span, through its life:
 *   SPAN_FREE    pages belong to the page allocator; the struct is recycled.
 *   SPAN_INUSE   holds objects; reachable through mheap.spans[].
 *
 * sweepgen (Go's protocol), with h = mheap.sweepgen, which the collector
 * increments by 2 at each mark termination with the world stopped:
 *   h - 2  needs sweeping            h - 1  being swept by one sweeper
 *   h      swept, available          h + 3  swept, then cached in an mcache
 * (Go's "h + 1: cached before the sweep began" never arises here: mark
 * termination flushes every mcache with the world stopped.) A sweeper
 * acquires a span by taking it off an unswept list under its mcentral lock
 * and storing h - 1; it publishes with a release store of h after the
 * bitmap swap.
 *
 * Allocation state (Go's mspan):
 *   slot i is allocated  <=>  i < freeindex  ||  allocbits[i] == 1
 *   alloc_cache = ~allocbits shifted so bit 0 is slot freeindex (64 slots)
 *   alloc_count = number of allocated slots
 * Mark bits are a separate bitmap; sweeping makes them the new allocation
 * bits and gives the span a zeroed mark bitmap (the swap).
 * ------------------------------------------------------------------------- */
enum { SPAN_FREE = 0, SPAN_INUSE = 1 };

typedef struct gogc_span {
  uintptr_t base;     /* [heap] first byte; fixed while in use */
  uintptr_t limit;    /* [heap] base + nelems * elemsize */
  uint32_t npages;    /* [heap] */
  uintptr_t elemsize; /* [heap] object size (large: npages * PAGE_SIZE) */
  uint32_t nelems;    /* [heap] objects in the span (large: 1) */
  uint32_t divmagic;  /* [heap] (off * divmagic) >> 32 == off / elemsize */
  uint16_t spanclass; /* [heap] */
  uint8_t state;      /* [atomic] SPAN_FREE or SPAN_INUSE */
  uint8_t needzero;   /* [owner/central] slots may hold old data */
  uint8_t list;       /* [central] which mcentral list holds it (LIST_*) */
  uint8_t bitwords;   /* [heap] words in each of allocbits / markbits */

  /* Allocation state: owned by the mcache that caches the span, or by the
   * mcentral lock when uncached, or by the sweeper that acquired it. */
  uint32_t freeindex;
  uint32_t alloc_count;
  uint32_t alloc_count_at_cache; /* alloc_count when cached (stats) */
  uint32_t black_count0; /* alloc_count when the free slots were marked (black_free) */
  uint64_t alloc_cache;
  /* Allocate-black a span at a time: the first allocation from a cached
   * span while marking marks all its free slots at once, and those after
   * it mark nothing; the slots still free when the span leaves the cache
   * are unmarked (alloc.c, premark_free / unpremark_free). */
  uint8_t black_free; /* [owner] */
  struct gogc_thread *cache_owner; /* [central] thread caching it, or NULL */

  uint64_t *allocbits; /* see above; swapped by the sweeper */
  uint64_t *markbits;  /* [atomic] OR'ed by markers */
  uint64_t *heapbits;  /* [owner writes, markers read, atomic] typed small spans holding
                          objects of more than one type: 1 bit per word of the span */
  const struct gogc_type *large_type; /* [atomic] typed large object's layout; typed small
                          span without heap bits: the one type of all its objects */

  uint32_t sweepgen; /* [atomic] see the table above */
  struct gogc_span *next, *prev; /* [central] or [heap] list links */

  /* An arena chunk (arena.c): one large conservative object whose objects
   * are bump-allocated, pointerful ones up from arena_lo, pointer-free ones
   * down from arena_hi; only [base, arena_lo) is scanned. */
  uint32_t arena_state;    /* [atomic] 0: not a chunk; ARENA_LIVE, _FREEING, _FREED, _READY */
  uint32_t arena_scanning; /* [atomic] markers reading the chunk now */
  uint32_t arena_resident; /* [freer, sweeper, then the thread that takes it] bytes used (all
                              of a huge chunk), when freed with its pages kept: counted in
                              rt->arena_resident until a new arena takes the chunk, the
                              background sweeper clears it, or its pages go back */
  uint32_t arena_prot;     /* [freer, sweeper, unprotect_ready] 1: PROT_NONE with its pages kept */
  uint32_t arena_touch_lo; /* [freer, sweeper, the thread that takes it] offsets bounding the pages */
  uint32_t arena_touch_hi; /*   that may be resident: [0, lo) and [hi, ARENA_CHUNK) (arena.c) */
  uint32_t arena_underuse;  /* [freer] frees in a row that left many resident pages unused */
  uint32_t arena_huge;     /* [the thread that takes it; read by the freer and sweeper] 1: backed
                              by one huge page (MADV_HUGEPAGE), 0: by small pages (arena.c) */
  uint32_t arena_dirty_lo; /* [freer, sweeper, the thread that takes it] offsets: [lo, hi) is */
  uint32_t arena_dirty_hi; /*   zero, the rest may hold an earlier arena's data (extend_zeroed) */
  /* The bump pointers, also bumped by gogc.h's inline fast paths through
   * the handle's gogc_arena_bump_ pointer (hence the union). Recycled
   * chunks are zeroed lazily, a block ahead of the bumps:
   * [arena_lo, arena_lo_lim) and [arena_hi_lim, arena_hi) are zero, and
   * arena_lo <= arena_lo_lim <= arena_hi_lim <= arena_hi (arena.c). */
  union {
    gogc_arena_bump_ arena_bump;
    struct {
      uintptr_t arena_lo;     /* [arena's user; read by markers] */
      uintptr_t arena_lo_lim; /* [arena's user] */
      uintptr_t arena_hi_lim; /* [arena's user] */
      uintptr_t arena_hi;     /* [arena's user] */
    };
  };

  /* Finalizers, cleanups and weak handles of its objects (special.c),
   * sorted by object offset, then kind. */
  struct gogc_special *specials;      /* [specials_lock] */
  struct gogc_special *specials_last; /* [specials_lock] hint: last one added */
  uint32_t specials_lock;             /* [atomic] spin lock */
} gogc_span;

/* Span structs are carved at this stride from pages that hold nothing
 * else, so a span struct's memory stays a span struct at the same address
 * (fixalloc.c). */
#define SPAN_STRIDE ((uint32_t)((sizeof(gogc_span) + 7) & ~(size_t)7))

/* ---------------------------------------------------------------------------
 * Fixed-size metadata pools (fixalloc.c): span structs and bitmaps on
 * 4 KiB pages that go back to the OS once all their items are free.
 * ------------------------------------------------------------------------- */
#define FIX_CHUNK ((uintptr_t)1 << 20) /* mapped at a time, aligned to its size */
#define FIX_CLASSES (4096 / 8 + 1)     /* item sizes 8, 16, ..., 4096 */

typedef struct gogc_fixpage { /* in the chunk's header, one per page */
  struct gogc_fixpage *next, *prev; /* [heap] the pool list its state puts it on */
  uint16_t size;                    /* [heap] item size (PARTIAL, FULL, EMPTY) */
  uint16_t nfree;                   /* [heap] free items */
  uint16_t free_head;               /* [heap] first free item's offset / 8 + 1; 0: none */
  uint16_t bump;                    /* [heap] offset of the first never-used item */
  uint8_t state;                    /* [heap] FIX_* (fixalloc.c) */
} gogc_fixpage;

typedef struct gogc_fixpool {
  gogc_fixpage *partial[FIX_CLASSES]; /* [heap] pages with free items, by size / 8 */
  gogc_fixpage *empty;                /* [heap] every item free, still resident */
  gogc_fixpage *released;             /* [heap] given back to the OS */
  struct gogc_fixchunk *cur;          /* [heap] chunk whose FRESH pages are handed out */
  uint32_t cur_fresh;                 /* [heap] next FRESH page of cur */
  uint32_t nempty, nreleased, nchunks; /* [heap] */
  uint64_t inuse_bytes;               /* [heap] bytes of allocated items */
  uint64_t released_total;            /* [heap] bytes given back, all time */
} gogc_fixpool;

/* ---------------------------------------------------------------------------
 * Arenas (arena.c). The handle is a collected object; its chunks are large
 * objects of ARENA_CHUNK bytes chained through their first word.
 * ------------------------------------------------------------------------- */
enum {
  ARENA_LIVE = 1,
  ARENA_FREED = 2,   /* quarantined: protected (or decommitted) until a cycle proves it unreferenced */
  ARENA_READY = 3,   /* recycled, kept for a new arena */
  ARENA_FREEING = 4, /* gogc_arena_free is protecting it: markers skip it, the sweep leaves it */
};
#define ARENA_CHUNK ((uintptr_t)2 << 20)          /* one huge page, and aligned to one */
#define ARENA_HUGE_UNSET 2                        /* span.arena_huge of a chunk not yet advised */
#define ARENA_CHUNK_HEADER 16                  /* next-chunk word, and alignment */
#define ARENA_MAX_OBJECT (ARENA_CHUNK / 4) /* larger: from the heap */
#define ARENA_RECYCLE_CHUNKS 256           /* freed since the last cycle: start one */
#define ARENA_RESIDENT_MAX ((uint64_t)64 << 20) /* memory freed chunks may keep in quarantine */
/* Used bytes (all of a huge chunk) that count as one more freed chunk. */
#define ARENA_RECYCLE_UNIT (ARENA_RESIDENT_MAX / 2 / ARENA_RECYCLE_CHUNKS)
#define ARENA_READY_MAX ARENA_RECYCLE_CHUNKS /* recycled chunks kept for new arenas: a cycle's worth */
#define ARENA_MAGIC GOGC_ARENA_MAGIC_ /* live handle */
#define ARENA_MAGIC_FREED 0x66726565676f6763ull
_Static_assert(ARENA_MAX_OBJECT == GOGC_ARENA_MAX_OBJECT_, "gogc.h's inline arena paths");

struct gogc_arena {
  /* What gogc.h's inline fast paths read: head.magic (ARENA_MAGIC or
   * ARENA_MAGIC_FREED) and head.bump ([user] &active->arena_bump; in
   * debug builds, and once freed, arena_no_room: every call comes in). */
  gogc_arena_head_ head;
  struct gogc_span *active;  /* [user] the chunk being filled, NULL once freed */
  void *chunks;              /* [user] newest chunk; each one's first word: the next */
  uint32_t owner;            /* [atomic] debug builds: a thread inside a call */
  uint32_t pad;
};

/* ---------------------------------------------------------------------------
 * Pools (pool.c): Go's sync.Pool. A pool is a collected object; its local
 * array has one gogc_pool_local per thread slot (gogc_thread.pool_idx).
 * ------------------------------------------------------------------------- */
#define GOGC_POOL_MAX_THREADS 65536 /* threads beyond this many get no slot */
#define POOL_RING 32                /* power of two */

typedef struct gogc_pool_local {
  void *private;            /* [the slot's thread, in critical; world stopped] */
  uint64_t head_tail;       /* [atomic] head << 32 | tail of ring */
  void *ring[POOL_RING];    /* [atomic] head: the slot's thread; tail: anyone */
  uintptr_t pad[6];         /* 320 bytes: no false sharing between slots */
} gogc_pool_local;

/* Slots come in pages, found through a directory that grows by copying
 * page pointers: a slot never moves, so a thread that grows the directory
 * never loses what others put meanwhile. */
#define POOL_PAGE 8
typedef struct gogc_pool_page {
  gogc_pool_local slot[POOL_PAGE];
} gogc_pool_page;

#define POOL_MAGIC 0x706f6f6cu /* "pool" */
struct gogc_pool {
  gogc_pool_page **local;   /* [pool_lock to change; critical sections; world stopped] */
  uint32_t local_size;      /* [atomic] pages the directory has room for */
  uint32_t registered;      /* [pool_lock] in pools_all */
  gogc_pool_page **victim;  /* [critical sections; world stopped] last cycle's local */
  uint32_t victim_size;     /* [atomic] 0 once found empty */
  uint32_t magic;           /* [init] POOL_MAGIC */
  void *(*new_fn)(void *);  /* [init] */
  void *new_arg;            /* [init] */
};

/* ---------------------------------------------------------------------------
 * Specials (special.c): records attached to an object through its span.
 * A finalizer keeps what the object references alive (the object itself
 * stays white) and resurrects the object for one more cycle when it dies;
 * a cleanup runs after the object is gone; a weak handle is a noscan cell
 * holding the object's address, cleared when the object dies.
 * ------------------------------------------------------------------------- */
enum { SPECIAL_FINALIZER = 1, SPECIAL_WEAK = 2, SPECIAL_CLEANUP = 3 };

typedef struct gogc_special {
  struct gogc_special *next; /* [span's specials_lock] */
  uint32_t offset;           /* of the object in its span */
  uint32_t kind;             /* SPECIAL_* */
  void (*fn)(void);          /* finalizer or cleanup function (cast back to call) */
  void *arg;                 /* its argument (a root); for a weak handle: the cell */
  uint64_t id;               /* cleanup id */
} gogc_special;

/* A finalizer or cleanup that is due (the finalizer queue, special.c).
 * obj is NULL for a cleanup. Entries are roots until their function has
 * been called. */
typedef struct gogc_fin_entry {
  struct gogc_fin_entry *next; /* [fin_lock] */
  void (*fn)(void);
  void *obj, *arg;
} gogc_fin_entry;

/* ---------------------------------------------------------------------------
 * mcentral: one per span class. Four intrusive lists: partial (has free
 * slots) and full, each in a swept and an unswept generation. Index
 * sweepgen/2 % 2 is the swept one; the roles swap when sweepgen += 2, so
 * a single increment makes every listed span "unswept".
 * ------------------------------------------------------------------------- */
enum { LIST_NONE = 0, LIST_PARTIAL0, LIST_PARTIAL1, LIST_FULL0, LIST_FULL1 };

typedef struct gogc_mcentral {
  pthread_mutex_t lock;
  uint16_t spanclass;
  gogc_span *partial[2]; /* [central] */
  gogc_span *full[2];    /* [central] */
  uint64_t nfree;        /* [central] objects freed by sweeps (stats) */
  char pad[64];
} gogc_mcentral;

/* ---------------------------------------------------------------------------
 * Threads and their caches (mcache).
 *
 * Thread states:
 *   THREAD_RUNNING   may touch the heap; stopped with a signal for STW.
 *   THREAD_BLOCKING  inside gogc_enter_blocking: never signalled, scanned
 *                    from saved_sp with its registers in regs[].
 *
 * in_critical is the allocator's "do not stop me here" counter: the
 * suspend signal handler, seeing it non-zero, only sets suspend_pending,
 * and the thread suspends itself when it leaves the section. It is a plain
 * field shared with the thread's own signal handler, ordered by compiler
 * signal fences.
 *
 * A thread acknowledges a full stop only if ack_wanted is set, and clears
 * it as it does: one ack per signal sent, however late the signal comes.
 * (Under ThreadSanitizer a signal can arrive long after the stop it was
 * sent for, when the thread already stopped itself at a safepoint.)
 * ------------------------------------------------------------------------- */
enum { THREAD_RUNNING = 0, THREAD_BLOCKING = 1 };

typedef struct gogc_thread {
  gogc_span *alloc[NUM_SPAN_CLASSES]; /* [owner] (flushed by gc in STW) */
  uint64_t local_large_alloc;         /* [owner] bytes, not yet published */
  uint32_t in_critical;               /* [owner + own signal handler] */
  volatile uint32_t suspend_pending;  /* [atomic] owner, own signal handler, collector
                                         (stop_poke: stop at the section's end) */
  volatile uint32_t in_suspend;       /* [owner + own signal handler] inside gogc_suspend_self */
  volatile uint32_t signals_seen;     /* [own signal handler] suspend signals handled (debugging) */
  volatile uint32_t ack_wanted;       /* [atomic] set by the collector before it signals
                                         for a full stop; cleared by the one ack */
  uint32_t state;                     /* [atomic] THREAD_* */
  uint32_t blocking_depth;            /* [owner] */
  uint32_t registered_by_pthread;     /* [owner] created through our wrapper */
  pthread_t tid;                      /* [init] */
  uintptr_t stack_lo, stack_hi;       /* [init] */
  volatile uintptr_t saved_sp;        /* written before the ack / blocking */
  uintptr_t roots_sp;                 /* [atomic; owner writes] inside gogc_collect:
                                         the program's frames end here, the
                                         collector's below hold no roots; 0 outside */
  uintptr_t regs[32];                 /* callee-saved registers when blocking */
  uint64_t local_nmalloc[NUM_SIZE_CLASSES]; /* [owner] small objects */
  uint64_t new_marked;                /* [atomic; owner adds] bytes of small objects allocated
                                         black, not yet in gc.bytes_marked (flushed with the
                                         cache: at mark termination at the latest) */
  struct gogc_thread *next, *prev;    /* [threads_lock] */

  /* --- concurrent marking (mark.c, barrier.c) --- */
  uint32_t need_scan;                 /* [threads_lock] stack not yet scanned this cycle */
  uint32_t stack_grey;                /* [atomic; owner reads in a critical section] the barrier's
                                         insertion half is on: set at registration and at
                                         mark start (world stopped), cleared once the stack
                                         is scanned (the thread stopped, or by itself) */
  uintptr_t *cm_snap;                 /* [threads_lock] checkmark: the words the
                                         concurrent stack scan saw */
  size_t cm_words, cm_cap;            /* [threads_lock] */
  volatile uint32_t suspend_req;      /* [atomic] futex: stop this thread alone */
  volatile uint32_t suspended;        /* [atomic] futex: it stopped (single stop) */
  /* [threads_lock] how the collector's last stop found it: 1 = in a
   * blocking section, not signalled (scan t->regs and from saved_sp);
   * 0 = signalled (registers spilled on its stack). Recorded at the stop,
   * never re-read from state: a thread leaving a blocking section during
   * a stop shows RUNNING for a moment before it sees the stop and waits,
   * and a scan that read that would miss its saved registers. */
  uint32_t stopped_blocking;
  uint32_t wb_n;                      /* [owner, in critical; collector when stopped] */
  uint32_t pool_idx;                  /* [threads_lock] its slot in every pool (pool.c) */
  uint64_t os_tid;                    /* [init] the Linux thread id (events) */
  uint64_t stress_allocs;             /* [owner] GODEBUG=gcstress count */
  uint32_t pool_epoch;                /* [owner] pool_slot is valid while pool.c's epoch equals it */
  struct gogc_pool *pool_last;        /* [owner] the pool it used last ... */
  struct gogc_pool_local *pool_slot;  /* [owner] ... and its slot there */
  int64_t assist_credit;              /* [owner] allocation bytes paid for by marking */
  struct gogc_gcwork *gcw;            /* [owner] assists and barrier flushes */
  uintptr_t wb[WB_ENTRIES];           /* [owner, in critical; collector when stopped]
                                         write-barrier buffer: shaded at flush */
} gogc_thread;

/* ---------------------------------------------------------------------------
 * Marking: work buffers of object addresses (Go's workbufs), a per-worker
 * pair of them (Go's gcWork), and a global list of full buffers.
 * ------------------------------------------------------------------------- */
typedef struct gogc_wbuf {
  struct gogc_wbuf *next;
  uint32_t n;
  uint32_t pad;
  uintptr_t obj[WBUF_ENTRIES];
} gogc_wbuf;

#define GCW_PF_DEPTH 8 /* grey objects in flight between prefetch and scan (mark.c) */
typedef struct gogc_gcwork {
  gogc_wbuf *primary, *secondary;
  uint64_t bytes_marked; /* flushed to gc.bytes_marked at the end */
  uint64_t scan_work;    /* bytes scanned */
  uint32_t active;       /* counted in gc.nactive: may hold grey objects */
  uint32_t pf_head, pf_n; /* the prefetch ring (mark.c) */
  uintptr_t pf[GCW_PF_DEPTH]; /* grey objects popped, prefetched, not yet scanned */
  uint32_t idle;         /* an idle worker: takes no root jobs (no thread stops) */
} gogc_gcwork;

/* A root range to scan conservatively: a data segment shard, an added
 * range, or a thread's stack (with its saved registers). */
typedef struct gogc_root {
  uintptr_t lo, hi;
  const uintptr_t *regs; /* optional extra words (saved registers) */
  uint32_t nregs;
  uint32_t kind; /* ROOT_* */
} gogc_root;
enum { ROOT_DATA = 0, ROOT_ADDED, ROOT_STACK, ROOT_THREAD /* lo: the gogc_thread */,
       ROOT_SPECIALS /* finalizers, cleanups, weak handles, the finalizer queue */ };

typedef struct gogc_root_range {
  uintptr_t lo, hi;
} gogc_root_range;

/* ---------------------------------------------------------------------------
 * Pacer and GC CPU limiter (pacer.c). Plain structs of numbers: the
 * collector owns rt->pacer under gc_lock and publishes goal and trigger
 * through rt->next_gc and rt->trigger; tests drive their own copies.
 * ------------------------------------------------------------------------- */
typedef struct gogc_pacer {
  /* settings */
  int gc_percent;          /* GOGC; negative: off */
  int64_t mem_limit;       /* bytes; INT64_MAX: no limit */
  int procs;               /* GOMAXPROCS */
  /* measured, at the end of a cycle */
  uint64_t heap_marked;    /* live heap the last mark found */
  uint64_t last_heap_scan; /* heap scan work of the last mark */
  uint64_t stack_scan;     /* stack bytes scanned by the last mark */
  uint64_t globals_scan;   /* bytes of data segments and added roots */
  double cons_mark;        /* max of cons_hist */
  double cons_hist[4];     /* the last measurements, newest first */
  uint32_t cycles_measured;
  /* memory counted against the limit, read at each commit */
  uint64_t mapped_ready;   /* everything mapped and not returned to the OS */
  uint64_t heap_free;      /* free heap pages not returned to the OS */
  uint64_t heap_alloc;     /* bytes in allocated objects */
  /* outputs of gogc_pacer_commit */
  uint64_t goal;           /* heap goal, UINT64_MAX: none */
  uint64_t trigger;        /* heap_live that starts the next cycle */
  bool limit_bound;        /* the memory limit set the goal */
} gogc_pacer;

/* Heap memory by state, bytes (gogc_heap_read_memory). */
typedef struct gogc_heap_memory {
  uint64_t mapped;   /* committed address space */
  uint64_t ready;    /* mapped minus released: memory the heap holds */
  uint64_t inuse;    /* pages of spans */
  uint64_t free;     /* free pages still holding memory */
  uint64_t released; /* free pages returned to the OS (or never touched) */
} gogc_heap_memory;

/* What one mark measured (input to gogc_pacer_end_cycle). */
typedef struct gogc_mark_stats {
  uint64_t heap_triggered;  /* heap_live when the mark started */
  uint64_t heap_end;        /* heap_live when it ended */
  uint64_t heap_marked;     /* bytes marked */
  uint64_t scan_work;       /* bytes scanned, roots included */
  uint64_t root_scan_work;  /* of which stacks and globals */
  uint64_t stack_scan;
  uint64_t mark_ns;         /* wall time of the concurrent mark */
  uint64_t bg_cpu_ns, assist_cpu_ns, idle_cpu_ns;
} gogc_mark_stats;

typedef struct gogc_limiter {
  uint64_t bucket;         /* GC CPU ns in the bucket */
  uint64_t capacity;       /* procs x 1 s */
  uint64_t last;           /* clock of the last update */
  uint64_t times_enabled;  /* transitions to on */
  bool enabled;
} gogc_limiter;

/* ---------------------------------------------------------------------------
 * The runtime: one instance, allocated from the OS at initialisation.
 * ------------------------------------------------------------------------- */
enum { PHASE_OFF = 0, PHASE_MARK = 1, PHASE_MARKTERM = 2 };

/* How full a page-allocator chunk got in the current cycle and the one
 * before (pagealloc.c). Allocation raises max_inuse; the first look in a
 * new cycle moves it to prev_max_inuse. The background scavenger releases
 * only pages above the larger of the two. All zero is the initial state
 * (the array is never written for chunks the heap does not reach). */
typedef struct gogc_chunk_use {
  uint32_t gen;            /* the cycle (rt->scav_gen) max_inuse belongs to */
  uint16_t max_inuse;      /* most pages in use after an allocation in cycle gen */
  uint16_t prev_max_inuse; /* the same for cycle gen - 1; 0: none */
} gogc_chunk_use;

typedef struct gogc_runtime {
  /* --- heap (mheap) --- */
  uintptr_t heap_base;           /* [init] start of the reservation */
  uintptr_t heap_reserve;        /* [init] its size: HEAP_RESERVE or less */
  gogc_span **spans;             /* [init] page -> span, for every page */
  uintptr_t heap_mapped;         /* [atomic] bytes committed from heap_base */
  pthread_mutex_t heap_lock;
  uint64_t *page_inuse;          /* [heap] 1 bit per page: allocated */
  uint32_t *chunk_free;          /* [heap] free pages per 512-page chunk */
  gogc_chunk_use *chunk_use;     /* [heap] per chunk: how full it got lately */
  uintptr_t search_page;         /* [heap] no free page below this one */
  uint64_t *page_scav;           /* [heap] 1 bit per page: free, memory returned */
  uint64_t *page_specials;       /* [atomic] 1 bit per span's first page: it has specials */
  uint64_t pages_scav;           /* [heap] */
  uintptr_t scav_cursor;         /* [heap] the scavenger searches below this page */

  /* --- scavenger (scavenge.c) --- */
  pthread_mutex_t scav_lock;     /* one scavenger at a time */
  uint64_t scav_retained_goal;   /* [atomic] heap bytes held above it are released */
  uint64_t scav_limit_goal;      /* [atomic] all bytes held above it are released */
  uint64_t scav_base_goal;       /* [gc_lock] heap goal set at the last cycle's end */
  uint64_t scav_prev_goal;       /* [gc_lock] the goal that cycle ran to */
  uint64_t scav_prev_inuse;      /* [gc_lock] heap pages in use when it ended */
  uint32_t scav_gen;             /* [atomic] cycles ended: the generation of chunk_use */
  uint64_t scav_sweep_goal;      /* [gc_lock] retained goal from the last sweep's end */
  uint32_t scav_seq;             /* [atomic] futex: goals changed */
  uint32_t scav_exit;            /* [atomic] futex word for the scavenger's sleeps */
  uint64_t scav_released_total;  /* [atomic] bytes released, all time */
  uint64_t scav_bg_ns;           /* [atomic] background scavenger CPU time */
  uint64_t scav_assist_ns;       /* [atomic] synchronous scavenging time */
  uint64_t scav_released_bg;     /* [atomic] bytes, by the background scavenger */
  uint64_t scav_released_sync;   /* [atomic] bytes, at the limit */
  uint64_t scav_trace_bg, scav_trace_sync; /* [gc_lock] at the last scavtrace line */
  uint64_t pages_inuse;          /* [heap] */
  uint64_t pages_mapped;         /* [heap] */
  gogc_fixpool fix_spans;        /* [heap] span structs (fixalloc.c) */
  gogc_fixpool fix_bits;         /* [heap] allocation, mark and heap bitmaps */
  uint32_t sweepgen;             /* [atomic] written with the world stopped */
  gogc_mcentral central[NUM_SPAN_CLASSES];

  /* --- threads --- */
  pthread_mutex_t threads_lock;
  gogc_thread *threads;          /* [threads_lock] */
  uint32_t nthreads;             /* [threads_lock] */
  uint32_t grey_stacks;          /* [threads_lock] while marking: threads whose stack_grey
                                    is set; WB_GREY_STACKS is on while it is not 0 (barrier.c) */
  uintptr_t *stack_copy;         /* [threads_lock] a stopped thread's stack, copied to be
                                    scanned once it runs (mark.c, scan_thread) */
  size_t stack_copy_cap;         /* [threads_lock] bytes */
  uint32_t nrunning;             /* [atomic] registered threads not blocking */
  pthread_key_t thread_key;      /* [init] destructor unregisters */
  int suspend_signal;            /* [init] */
  volatile uint32_t world_stopping; /* [atomic] STW requested or in force */
  volatile uint32_t stw_seq;     /* [atomic] futex: bumped to restart */
  volatile uint32_t stw_acks;    /* [atomic] futex: threads stopped */

  /* --- roots --- */
  pthread_mutex_t roots_lock;
  gogc_root_range *added;        /* [roots_lock] */
  uint32_t nadded, added_cap;    /* [roots_lock] */
  gogc_root *roots;              /* [gc] snapshot for the current cycle */
  uint32_t nroots, roots_cap;    /* [gc] */
  uint32_t root_next;            /* [atomic] next root job */

  /* --- collector --- */
  pthread_mutex_t gc_lock;       /* one cycle at a time */
  uint32_t phase;                /* [atomic] PHASE_* */
  uint32_t cycles;               /* [atomic] completed cycles */
  uint64_t bytes_marked;         /* [atomic] during mark */
  uint32_t assist_finishing;     /* [atomic] an assist is trying mark termination */
  uint64_t scan_work;            /* [atomic] during mark */
  pthread_mutex_t work_lock;
  pthread_cond_t work_cond;
  gogc_wbuf *work_full;          /* [work_lock] */
  gogc_wbuf *work_empty;         /* [work_lock] */
  uint32_t nworkers;             /* [gc] markers taking part this cycle */
  uint32_t nwaiting;             /* [work_lock, read atomically] */
  uint32_t mark_done;            /* [work_lock] */
  uint32_t nmarkers;             /* [init] helper marker threads */
  pthread_t *marker_tids;        /* [init] */
  uint32_t marker_seq;           /* [atomic] futex: start a mark phase */
  uint32_t marker_exit;          /* [atomic] */

  /* --- concurrent mark (mgc.c, mark.c) --- */
  uint32_t nactive;              /* [work_lock] gcworks that may hold grey objects */
  uint32_t work_seq;             /* [atomic] futex: work was published */
  uint32_t bg_seq;               /* [atomic] futex: a concurrent mark started */
  uint32_t nsleeping;            /* [atomic] idle mark workers waiting for work */
  uint32_t idle_seq;             /* [atomic] futex: a registered thread entered a blocking
                                    section while helpers waited for a free core */
  uint32_t idle_parked;          /* [atomic] idle workers and the sweeper waiting on idle_seq */
  uint64_t mark_start_ns;        /* [gc] */
  uint64_t assist_cpu_ns;        /* [atomic] this cycle */
  uint64_t bg_cpu_ns;            /* [atomic] this cycle, fractional worker */
  uint64_t idle_cpu_ns;          /* [atomic] this cycle, idle workers */
  int64_t bg_credit;             /* [atomic] background scan work not yet used by assists */
  uint64_t trigger;              /* [atomic] heap_live that starts a concurrent cycle */
  uint64_t max_stack_pause_ns;   /* [threads_lock] longest single-thread stop */
  uint64_t cycle_stack_pause_ns; /* [threads_lock] longest one this cycle */
  uint64_t max_stw_pause_ns;     /* [gc] longest stop-the-world pause */
  uint64_t cycle_pause_ns;       /* [gc] stop-the-world time of this cycle so far */
  uint64_t assists;              /* [atomic] mark assists run */
  uint32_t test_hold;            /* [atomic] tests: no marking until cleared */
  uint32_t test_hold_sweep;      /* [atomic] tests: no background sweeping while set */
  uint32_t test_stop_policy;     /* [atomic] tests: stops poke first (1) or signal at
                                    once (2); 0: as the cores allow (stw.c) */
  uint32_t threads_started;      /* [gc_lock] markers, sweeper, workers running */

  /* --- sweeper --- */
  uint32_t sweep_central;        /* [atomic] next mcentral to sweep */
  uint32_t sweepers_active;      /* [atomic] sweepers running */
  uint32_t sweep_done;           /* [atomic] nothing left this cycle */
  uint64_t sweep_pages_total;    /* [gc] pages in use when the sweep began */
  uint64_t pages_swept;          /* [atomic] pages swept since */
  uint64_t sweep_live_basis;     /* [gc] heap_live when the sweep began */
  uint32_t sweeper_seq;          /* [atomic] futex: wake background sweeper */
  pthread_t sweeper_tid;

  /* --- specials and the finalizer queue (special.c) --- */
  pthread_mutex_t special_lock;  /* the record free list; in critical sections only */
  gogc_special *special_free;    /* [special_lock] */
  uint64_t cleanup_next_id;      /* [atomic] */
  uint64_t nspecial_spans;       /* [atomic] spans with specials */
  pthread_mutex_t fin_lock;      /* the queue; in critical sections only */
  gogc_fin_entry *fin_head, *fin_tail, *fin_free; /* [fin_lock] */
  uint64_t fin_pending;          /* [atomic] queued or running */
  uint32_t fin_seq;              /* [atomic] futex: entries queued */
  uint32_t fin_done_seq;         /* [atomic] futex: entries finished */
  uint32_t fin_started;          /* [atomic] the finalizer thread exists */
  uint32_t fin_sleeping;         /* [atomic] it waits on fin_seq */
  gogc_thread *fin_thread;       /* [atomic] its thread struct */
  uint64_t fin_queued, fin_run;  /* [atomic] finalizers, all time */
  uint64_t cleanup_queued, cleanup_run; /* [atomic] cleanups, all time */
  uint64_t weak_live;            /* [atomic] weak handles of live objects */

  /* --- arenas (arena.c) --- */
  uint64_t arenas_live;          /* [atomic] made and not freed */
  uint64_t arena_bytes;          /* [atomic] chunk bytes of those */
  uint64_t arena_quarantined;    /* [atomic] freed chunks no cycle has proven unreferenced */
  uint64_t arena_freed_since;    /* [atomic] chunks freed since the last cycle started, weighted */
  uint64_t arena_resident;       /* [atomic] resident bytes of quarantined chunks that kept their pages */
  uint64_t arena_avg_used;       /* [atomic, racy updates] moving average of the bytes an arena used */
  uint32_t arena_want_huge;      /* [atomic] new chunks get a huge page (arena.c, note_use) */
  uint32_t arena_no_thp;         /* [atomic] never huge chunks: disablethp=1, the system setting
                                    "never", or MADV_HUGEPAGE refused */
  pthread_mutex_t arena_lock;    /* the ready list; in critical sections only */
  struct gogc_span *arena_ready; /* [arena_lock] recycled chunks, accessible (cleared when taken) */
  struct gogc_span *arena_ready_prot; /* [arena_lock] recycled chunks still PROT_NONE, pages kept:
                                         made accessible in a batch (gogc_arena_unprotect_ready) */
  uint64_t arena_nready;         /* [arena_lock, read atomically] on both lists */
  uint64_t arena_nready_prot;    /* [arena_lock, read atomically] on arena_ready_prot */

  /* --- pools (pool.c) --- */
  pthread_mutex_t pool_lock;     /* the registries; in critical sections only */
  struct gogc_pool **pools_all;  /* [pool_lock; world stopped] pools with a local array */
  struct gogc_pool **pools_old;  /* [world stopped] pools whose victim arrays may hold objects */
  uint32_t npools_all, npools_old, pools_all_cap, pools_old_cap;
  uint32_t pool_nidx;            /* [atomic] 1 + the highest thread slot in use */
  uint64_t pool_idx_used[GOGC_POOL_MAX_THREADS / 64]; /* [threads_lock] */

  /* --- pacing and statistics --- */
  int gc_percent;                /* [atomic] GOGC; negative: off */
  uint64_t heap_live;            /* [atomic] marked + allocated since */
  uint64_t heap_marked;          /* [gc] live heap at the last cycle */
  uint64_t next_gc;              /* [atomic] the heap goal */
  int64_t mem_limit;             /* [atomic] GOMEMLIMIT; INT64_MAX: none */
  gogc_pacer pacer;              /* [gc_lock] */
  gogc_limiter limiter;          /* [limiter_lock] */
  pthread_mutex_t limiter_lock;
  uint32_t limiter_on;           /* [atomic] copy of limiter.enabled */
  uint64_t limiter_gc_seen;      /* [limiter_lock] gc_cpu_ns at the last update */
  uint64_t limiter_idle_seen;    /* [limiter_lock] idle_cpu_total at the last update */
  uint64_t idle_cpu_total;       /* [atomic] idle marking, all cycles */
  uint64_t heap_triggered;       /* [gc] heap_live when this cycle's mark began */
  uint64_t heap_scan_max;        /* [gc] scannable heap when this cycle began */
  uint64_t globals_scan;         /* [gc] bytes of data segments */
  uint64_t stacks_scan;          /* [gc] stack bytes scanned last cycle */
  uint64_t large_allocs, large_frees;   /* [atomic] objects */
  uint64_t large_free_bytes;     /* [atomic] */
  uint64_t large_alloc_bytes;    /* [atomic] */
  uint64_t small_nmalloc[NUM_SIZE_CLASSES]; /* [atomic] published */
  uint64_t small_nfree[NUM_SIZE_CLASSES];   /* [atomic] */
  uint64_t num_gc, num_forced_gc;           /* [gc] */
  uint64_t last_gc_unix;                    /* [gc] */
  uint64_t pause_total_ns;                  /* [gc] */
  uint64_t pause_ns[GOGC_PAUSE_RING], pause_end[GOGC_PAUSE_RING]; /* [gc] */
  uint64_t gc_cpu_ns;            /* [gc] CPU spent by the collector */
  uint64_t start_ns;             /* [init] */
  uint64_t metadata_bytes;       /* [atomic] */
  uint64_t fix_bytes;            /* [atomic] resident pages of fix_spans and fix_bits */
  uint32_t meta_reserve_used;    /* [atomic] the critical reserve was drawn on */
  uint64_t meta_reserve_draws;   /* [atomic] allocations served by it (tests) */
  uint32_t ncpu;                 /* [init] */

  /* --- options (src/options.c) --- */
  int opt_gctrace;
  int opt_gcstoptheworld;
  int opt_gcverify;
  int opt_gccheckmark;
  int opt_scavtrace;
  int opt_poolcheck;
  int opt_gcstress;
  int opt_invalidptr;
  int opt_failmem;        /* informational: applied by gogc_options_fault_init */
  int opt_failmempersist;
  int opt_hugepages;      /* the heap's arenas are marked MADV_HUGEPAGE */
  int opt_disablethp;     /* ... MADV_NOHUGEPAGE (wins) */
  int opt_gcstressslow;
  int opt_procs;
} gogc_runtime;

#endif
