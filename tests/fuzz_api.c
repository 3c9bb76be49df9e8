/* fuzz_api: a libFuzzer harness for the public API, checked against a model.
 *
 * An input is a program of operations, 6 bytes each (an opcode byte, taken
 * modulo the number of operations, and 5 argument bytes; missing bytes read
 * as 0), at most MAX_OPS of them. The program works on a table of NSLOTS
 * slots (a global array, so a root; every store through gogc_store) and
 * keeps a model of what it built:
 *
 *  - every object it allocated (conservative, noscan, typed with one layout,
 *    in an arena, or by a helper thread): its address (hidden from the
 *    scanner), the size asked for, a seed from which its contents derive,
 *    and where its pointer fields point (edges; interior pointers too);
 *  - the slots' contents, the live arenas, weak pointers, cleanups and
 *    finalizers it set.
 *
 * An object reachable from the slots or from a live arena (walking the
 * model's edges) must be intact: every data word as its seed says, every
 * pointer field as the model says, gogc_size >= the size asked for, and
 * gogc_base of interior pointers the base (for arena objects: a range that
 * covers the object). A weak pointer to a reachable object returns it; to
 * one the model dropped, NULL or the object, nothing else. A finalizer
 * checks its object's header and marks it: a reachable object with the mark
 * was finalized while reachable. A cleanup's argument object must be intact
 * when the cleanup runs. Objects are freed with gogc_free only when the
 * model proves nothing else refers to them. Nothing is ever expected to be
 * freed (the stacks are scanned conservatively).
 *
 * The model is checked every VERIFY_EVERY operations, after every
 * collection and at the end; a mismatch prints what differed and the last
 * operations, then aborts. At the end of an input every slot is cleared,
 * live arenas are freed and the settings restored, so inputs are
 * independent.
 *
 * Built with -fsanitize=fuzzer and -DGOGC_FUZZ_LIBFUZZER (scripts/fuzz.sh)
 * this is a libFuzzer target; otherwise it has a main that replays files or
 * directories of inputs (the fuzz_replay test replays tests/fuzz/corpus),
 * prints how many ran and fails only if none could be read.
 * GOGC_FUZZ_TRACE=1 prints every operation on stderr.
 *
 * The corpus depends on the encoding: tests/fuzz/make_corpus.py reads the
 * opcodes from k_op_name below. Add operations at the end of the list and
 * keep the meaning of existing argument bytes, or the committed inputs
 * (tests/fuzz/corpus) lose what they covered.
 */
#include <gogc.h>

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checking loops carry no coverage instrumentation under libFuzzer:
 * their branches say nothing about the input, and instrumented they took a
 * fifth of the time. */
#if defined(GOGC_FUZZ_LIBFUZZER) && defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

#define NSLOTS 64
#define NFIELDS 4
#define OP_BYTES 6
#define MAX_OPS 200
#define MAX_OBJS 2048
#define MAX_BYTES ((size_t)8 << 20)
#define VERIFY_EVERY 8
#define NWEAK 32
#define NCLEAN 32
#define NARENAS 4
#define NHELD 8
#define NTHREAD_OBJS 8
#define POOL_OBJ_SIZE 96
#define TOP ((uint64_t)1 << 63)      /* set in every seed: not a plausible pointer */
#define FIN_MARK ((uint64_t)1 << 62) /* xored into a header by the finalizer */
#define FULL_VERIFY_MAX ((size_t)64 << 10)

/* The typed layout: four pointers, then data. */
struct tobj {
  void *f[NFIELDS];
  uint64_t d[12];
};
#define TWORDS (sizeof(struct tobj) / 8)

enum { K_CONS, K_NOSCAN, K_TYPED };
enum { S_NONE, S_LIVE, S_DEAD, S_FREED, S_ARENA_FREED };
static const char *const k_kind_name[] = {"conservative", "noscan", "typed"};
static const char *const k_state_name[] = {"none", "live", "dead", "freed", "in a freed arena"};

struct ref {
  int32_t id; /* < 0: NULL */
  uint32_t off;
};

struct mobj {
  uintptr_t enc; /* address ^ TU_MASK: the model does not keep objects alive */
  size_t size;   /* bytes asked for */
  uint64_t seed; /* TOP set; low 3 bits: nf (where the header is) */
  uint32_t count; /* typed: elements */
  uint8_t kind, state, nf, has_fin, reach;
  int8_t arena; /* index into g_arenas while it lives, -1: heap */
  struct ref f[NFIELDS];
};

/* ---------------------------------------------------------------------------
 * State. Roots the collector scans: g_slots, g_weak, g_arenas, g_pool,
 * g_held, g_thr_out.
 * ------------------------------------------------------------------------- */
static void *g_slots[NSLOTS];
static struct ref g_slot_ref[NSLOTS];
static struct mobj g_obj[MAX_OBJS];
static int32_t g_nobj;
static int32_t g_reach[MAX_OBJS], g_nreach; /* reachable objects, by id */
static int32_t g_scanl[MAX_OBJS], g_nscan;  /* those with pointer fields */
static int32_t g_heapl[MAX_OBJS], g_nheap;  /* reachable heap objects */
static int32_t g_stack[MAX_OBJS * NFIELDS + NSLOTS + MAX_OBJS];

static gogc_weak *g_weak[NWEAK];
static int32_t g_weak_target[NWEAK];

static gogc_cleanup g_clean[NCLEAN];
static int32_t g_clean_target[NCLEAN];
static uint8_t g_clean_stopped[NCLEAN];

static gogc_arena *g_arenas[NARENAS];
static int g_narenas_live;

static gogc_pool *g_pool;
static void *g_held[NHELD];

static const gogc_type *g_type;
static int g_base_percent, g_percent;
static int64_t g_limit;
static size_t g_bytes;     /* allocated by this input */
static uint64_t g_seedctr; /* per input */
static uint32_t g_last_numgc;
static int g_trace;

/* Finalizers and cleanups, all time (they may run during a later input). */
static uint64_t g_fin_set, g_fin_ran, g_clean_set, g_clean_ran;

/* The helper thread. */
struct thr_obj {
  uint64_t seed;
  size_t size;
  uint8_t kind, nf;
};
static pthread_t g_thr;
static int g_thr_running;
static int g_thr_n, g_thr_collect;
static struct thr_obj g_thr_info[NTHREAD_OBJS];
static void *g_thr_out;

/* Diagnostics: the operation being run and the last ones. */
static int g_opno;
static const char *g_opname = "start";
#define HIST 24
static char g_hist[HIST][96];
static int g_nhist;

/* ---------------------------------------------------------------------------
 * Failure
 * ------------------------------------------------------------------------- */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "fuzz_api: FAILED at op %d (%s): ", g_opno, g_opname);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nfuzz_api: the last operations (oldest first):\n");
  int first = g_nhist > HIST ? g_nhist - HIST : 0;
  for (int i = first; i < g_nhist; i++) fprintf(stderr, "  %s\n", g_hist[i % HIST]);
  fflush(stderr);
  abort();
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
  char *line = g_hist[g_nhist % HIST];
  int n = snprintf(line, sizeof g_hist[0], "#%d ", g_opno);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof g_hist[0] - (size_t)n, fmt, ap);
  va_end(ap);
  g_nhist++;
  if (g_trace) fprintf(stderr, "fuzz_api: %s\n", line);
}

/* ---------------------------------------------------------------------------
 * Object contents. Word w of an object is one of: a pointer field (the
 * model says what it holds), a pointer word that stays NULL (typed arrays
 * past element 0), the header (the seed, at word nf, when the word is
 * whole), or data (tu_mix(seed + w)). A partial last word holds the low
 * bytes of its data word.
 * ------------------------------------------------------------------------- */
enum { W_FIELD, W_ZERO, W_HDR, W_DATA };

NOCOV static int word_class(int kind, unsigned nf, size_t w) {
  if (kind == K_TYPED) {
    size_t r = w % TWORDS;
    if (r < NFIELDS) return w < TWORDS ? W_FIELD : W_ZERO;
    return w == NFIELDS ? W_HDR : W_DATA;
  }
  if (w < nf) return W_FIELD;
  return w == nf ? W_HDR : W_DATA;
}

static unsigned nfields_for(int kind, size_t size) {
  if (kind == K_TYPED) return NFIELDS;
  if (kind == K_NOSCAN || size < 16) return 0;
  size_t n = size / 8 - 1;
  return n < NFIELDS ? (unsigned)n : NFIELDS;
}

static int has_header(const struct mobj *o) { return o->size >= ((size_t)o->nf + 1) * 8; }

static uint64_t make_seed(unsigned nf) {
  uint64_t s = tu_mix(++g_seedctr * 0x100000001b3ULL);
  return (s & ~(uint64_t)7 & ~FIN_MARK) | TOP | nf;
}

NOCOV static void fill(void *p, int kind, unsigned nf, size_t size, uint64_t seed) {
  uint64_t *w = (uint64_t *)p;
  size_t nw = size / 8;
  for (size_t i = 0; i < nw; i++) {
    int c = word_class(kind, nf, i);
    if (c == W_HDR) w[i] = seed;
    else if (c == W_DATA) w[i] = tu_mix(seed + i);
  }
  if (size % 8) {
    uint64_t v = tu_mix(seed + nw);
    unsigned char *b = (unsigned char *)p + nw * 8;
    for (size_t i = 0; i < size % 8; i++) b[i] = (unsigned char)(v >> (i * 8));
  }
}

static void *dec(uintptr_t e) { return (void *)(e ^ TU_MASK); }
static char *obj_addr(int32_t id) { return (char *)dec(g_obj[id].enc); }
static void *ref_ptr(struct ref r) { return r.id < 0 ? NULL : obj_addr(r.id) + r.off; }
static const struct ref k_null = {-1, 0};

static void describe(char *buf, size_t n, int32_t id) {
  const struct mobj *o = &g_obj[id];
  snprintf(buf, n, "object %d (%s%s, %zu bytes%s, %s, seed %016llx) at %p", (int)id,
           o->arena >= 0 ? "arena " : "", k_kind_name[o->kind], o->size,
           o->kind == K_TYPED && o->count > 1 ? " typed array" : "", k_state_name[o->state],
           (unsigned long long)o->seed, (void *)obj_addr(id));
}

/* Check one word; a mismatch fails. */
NOCOV static void check_word(int32_t id, const uint64_t *w, size_t i) {
  const struct mobj *o = &g_obj[id];
  uint64_t want, got = w[i];
  int c = word_class(o->kind, o->nf, i);
  if (c == W_FIELD) want = (uint64_t)(uintptr_t)ref_ptr(o->f[i]);
  else if (c == W_ZERO) want = 0;
  else if (c == W_HDR) want = o->seed;
  else want = tu_mix(o->seed + i);
  if (got == want) return;
  char d[256];
  describe(d, sizeof d, id);
  if (c == W_HDR && got == (o->seed ^ FIN_MARK))
    fail("%s: its finalizer ran while it was reachable", d);
  fail("%s: word %zu (byte offset %zu, a %s word) is %016llx, expected %016llx", d, i, i * 8,
       c == W_FIELD ? "pointer field" : c == W_ZERO ? "NULL pointer" : c == W_HDR ? "header" : "data",
       (unsigned long long)got, (unsigned long long)want);
}

static void check_zero(const void *p, size_t size, const char *what) {
  if (!tu_all_zero(p, size)) fail("new %s object %p of %zu bytes is not zeroed", what, p, size);
}

NOCOV static void verify_obj(int32_t id, int full) {
  const struct mobj *o = &g_obj[id];
  char *p = obj_addr(id);
  char d[256];
  /* Size and base first: reading a freed object would only confuse. */
  if (o->arena < 0) {
    size_t gs = gogc_size(p);
    if (gs < o->size || gs == 0) {
      describe(d, sizeof d, id);
      fail("%s: gogc_size is %zu", d, gs);
    }
    if (gogc_base(p) != p) {
      describe(d, sizeof d, id);
      fail("%s: gogc_base of the base is %p", d, gogc_base(p));
    }
    if (o->size > 1) {
      size_t offs[2] = {o->size / 2, o->size - 1};
      for (int k = 0; k < 2; k++) {
        void *b = gogc_base(p + offs[k]);
        if (b != p || gogc_size(p + offs[k]) != gs) {
          describe(d, sizeof d, id);
          fail("%s: gogc_base(base + %zu) is %p, gogc_size %zu", d, offs[k], b,
               gogc_size(p + offs[k]));
        }
      }
    }
  } else {
    char *b = (char *)gogc_base(p);
    size_t gs = gogc_size(p);
    if (b == NULL || b > p || p + o->size > b + gs) {
      describe(d, sizeof d, id);
      fail("%s: gogc_base %p, gogc_size %zu do not cover it", d, (void *)b, gs);
    }
  }
  const uint64_t *w = (const uint64_t *)p;
  size_t nw = o->size / 8;
  if (full || o->size <= FULL_VERIFY_MAX) {
    for (size_t i = 0; i < nw; i++) check_word(id, w, i);
  } else {
    /* Large: the first and last 4 KiB, and one word in every 512 bytes. */
    for (size_t i = 0; i < 512; i++) check_word(id, w, i);
    for (size_t i = 512; i + 512 < nw; i += 64) check_word(id, w, i);
    for (size_t i = nw - 512; i < nw; i++) check_word(id, w, i);
  }
  if (o->size % 8) {
    uint64_t v = tu_mix(o->seed + nw);
    const unsigned char *b = (const unsigned char *)p + nw * 8;
    for (size_t i = 0; i < o->size % 8; i++)
      if (b[i] != (unsigned char)(v >> (i * 8))) {
        describe(d, sizeof d, id);
        fail("%s: byte %zu is %02x, expected %02x", d, nw * 8 + i, b[i],
             (unsigned)(unsigned char)(v >> (i * 8)));
      }
  }
}

/* ---------------------------------------------------------------------------
 * The model
 * ------------------------------------------------------------------------- */
static int room(size_t bytes) { return g_nobj < MAX_OBJS && g_bytes + bytes <= MAX_BYTES; }

static int32_t new_obj(void *p, int kind, size_t size, uint32_t count, uint64_t seed, int arena) {
  int32_t id = g_nobj++;
  struct mobj *o = &g_obj[id];
  memset(o, 0, sizeof *o);
  o->enc = (uintptr_t)p ^ TU_MASK;
  o->size = size;
  o->seed = seed;
  o->count = count;
  o->kind = (uint8_t)kind;
  o->nf = (uint8_t)nfields_for(kind, size);
  o->state = S_LIVE;
  o->arena = (int8_t)arena;
  for (int i = 0; i < NFIELDS; i++) o->f[i] = k_null;
  g_bytes += size;
  return id;
}

/* Which objects are reachable from the slots and the live arenas' objects;
 * live heap objects that are not become dead for good. */
static void recompute(void) {
  int32_t sp = 0;
  for (int32_t i = 0; i < g_nobj; i++) {
    g_obj[i].reach = 0;
    if (g_obj[i].state == S_LIVE && g_obj[i].arena >= 0) g_stack[sp++] = i;
  }
  for (int s = 0; s < NSLOTS; s++)
    if (g_slot_ref[s].id >= 0 && g_obj[g_slot_ref[s].id].state == S_LIVE) g_stack[sp++] = g_slot_ref[s].id;
  while (sp > 0) {
    struct mobj *o = &g_obj[g_stack[--sp]];
    if (o->reach) continue;
    o->reach = 1;
    for (int f = 0; f < o->nf; f++) {
      int32_t t = o->f[f].id;
      if (t >= 0 && g_obj[t].state == S_LIVE && !g_obj[t].reach) g_stack[sp++] = t;
    }
  }
  g_nreach = g_nscan = g_nheap = 0;
  for (int32_t i = 0; i < g_nobj; i++) {
    struct mobj *o = &g_obj[i];
    if (o->state != S_LIVE) continue;
    if (!o->reach) {
      o->state = S_DEAD;
      continue;
    }
    g_reach[g_nreach++] = i;
    if (o->nf > 0) g_scanl[g_nscan++] = i;
    if (o->arena < 0) g_heapl[g_nheap++] = i;
  }
}

static int32_t pick(const int32_t *list, int32_t n, uint8_t b) { return n > 0 ? list[b % n] : -1; }

static uint32_t pick_off(int32_t id, uint8_t b) {
  return (uint32_t)((size_t)b * g_obj[id].size / 256);
}

/* A reference to a reachable object (or NULL when b says so). */
static struct ref pick_ref(uint8_t b, uint8_t offb) {
  struct ref r = k_null;
  if (b % 8 == 7 || g_nreach == 0) return r;
  r.id = pick(g_reach, g_nreach, b);
  r.off = pick_off(r.id, offb);
  return r;
}

static void set_slot(int s, struct ref r) {
  gogc_store(&g_slots[s], ref_ptr(r));
  g_slot_ref[s] = r;
}

static void **field_addr(int32_t id, unsigned f) { return (void **)obj_addr(id) + f; }

static void verify_weak(void) {
  for (int k = 0; k < NWEAK; k++) {
    if (g_weak[k] == NULL) continue;
    int32_t t = g_weak_target[k];
    void *got = gogc_weak_get(g_weak[k]);
    void *want = obj_addr(t);
    char d[256];
    if (g_obj[t].state == S_LIVE && g_obj[t].reach) {
      if (got != want) {
        describe(d, sizeof d, t);
        fail("weak pointer %d (handle %p) to reachable %s returned %p", k, (void *)g_weak[k], d, got);
      }
    } else if (got != NULL && got != want) {
      describe(d, sizeof d, t);
      fail("weak pointer %d (handle %p) to dropped %s returned %p, neither NULL nor the object", k,
           (void *)g_weak[k], d, got);
    }
  }
}

static void verify_all(int full) {
  for (int s = 0; s < NSLOTS; s++) {
    void *want = ref_ptr(g_slot_ref[s]);
    if (g_slots[s] != want) fail("slot %d holds %p, expected %p", s, g_slots[s], want);
  }
  for (int32_t i = 0; i < g_nreach; i++) verify_obj(g_reach[i], full);
  verify_weak();
  for (int k = 0; k < NHELD; k++)
    if (g_held[k] != NULL && (gogc_size(g_held[k]) < POOL_OBJ_SIZE || gogc_base(g_held[k]) != g_held[k]))
      fail("pool object %p held in %d: gogc_size %zu, gogc_base %p", g_held[k], k,
           gogc_size(g_held[k]), gogc_base(g_held[k]));
  uint64_t fr = __atomic_load_n(&g_fin_ran, __ATOMIC_RELAXED);
  uint64_t cr = __atomic_load_n(&g_clean_ran, __ATOMIC_RELAXED);
  if (fr > g_fin_set) fail("%llu finalizers ran, %llu were set", (unsigned long long)fr, (unsigned long long)g_fin_set);
  if (cr > g_clean_set) fail("%llu cleanups ran, %llu were added", (unsigned long long)cr, (unsigned long long)g_clean_set);
}

/* ---------------------------------------------------------------------------
 * Finalizers and cleanups (on the finalizer thread, maybe during a later
 * input: they check only what the object or argument carries itself).
 * ------------------------------------------------------------------------- */
static void fin_fn(void *obj, void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg;
  uint64_t *w = (uint64_t *)obj;
  unsigned nf = (unsigned)(seed & 7);
  if (gogc_base(obj) != obj || gogc_size(obj) < (nf + 1) * 8) {
    fprintf(stderr, "fuzz_api: finalizer called with %p: gogc_base %p, gogc_size %zu\n", obj,
            gogc_base(obj), gogc_size(obj));
    abort();
  }
  uint64_t h = __atomic_load_n(&w[nf], __ATOMIC_RELAXED);
  if (h != seed) {
    fprintf(stderr, "fuzz_api: finalizer of %p: header %016llx, expected %016llx%s\n", obj,
            (unsigned long long)h, (unsigned long long)seed,
            h == (seed ^ FIN_MARK) ? " (finalized twice)" : "");
    abort();
  }
  __atomic_store_n(&w[nf], seed ^ FIN_MARK, __ATOMIC_RELAXED);
  __atomic_fetch_add(&g_fin_ran, 1, __ATOMIC_RELAXED);
}

static void clean_fn(void *arg) {
  uint64_t a = (uint64_t)(uintptr_t)arg;
  if (!(a & TOP)) { /* an argument object: it must have stayed intact */
    const uint64_t *w = (const uint64_t *)arg;
    if (gogc_base(arg) != arg || !(w[0] & TOP) || w[1] != tu_mix(w[0])) {
      fprintf(stderr, "fuzz_api: cleanup argument %p damaged or freed: gogc_base %p, words %016llx %016llx\n",
              arg, gogc_base(arg), (unsigned long long)w[0], (unsigned long long)w[1]);
      abort();
    }
  }
  __atomic_fetch_add(&g_clean_ran, 1, __ATOMIC_RELAXED);
}

static void *pool_new(void *arg) {
  (void)arg;
  return gogc_alloc(POOL_OBJ_SIZE);
}

/* ---------------------------------------------------------------------------
 * The helper thread: allocates a chain through field 0 and publishes its
 * head in g_thr_out.
 * ------------------------------------------------------------------------- */
static void *thr_main(void *arg) {
  (void)arg;
  void *prev = NULL;
  for (int i = 0; i < g_thr_n; i++) {
    const struct thr_obj *t = &g_thr_info[i];
    void *p = t->kind == K_TYPED ? gogc_alloc_typed(g_type) : gogc_alloc(t->size);
    if (p == NULL) {
      fprintf(stderr, "fuzz_api: thread: out of memory\n");
      abort();
    }
    check_zero(p, t->size, "thread");
    fill(p, t->kind, t->nf, t->size, t->seed);
    gogc_store(p, prev); /* field 0 */
    prev = p;
    tu_garbage(16u << 10, 16, 512, 2, t->seed);
    if (g_thr_collect && i == g_thr_n / 2) gogc_collect();
  }
  gogc_store(&g_thr_out, prev);
  return NULL;
}

static const size_t k_thr_sizes[] = {16, 24, 40, 64, 100, 256, 1000, 4096};

static void thread_start(const uint8_t *a) {
  if (g_thr_running) return;
  int n = 1 + a[0] % NTHREAD_OBJS;
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    struct thr_obj *t = &g_thr_info[i];
    uint8_t b = (uint8_t)(a[1] + i * 37);
    t->kind = (b & 0x80) ? K_TYPED : K_CONS;
    t->size = t->kind == K_TYPED ? sizeof(struct tobj) : k_thr_sizes[b % 8];
    t->nf = (uint8_t)nfields_for(t->kind, t->size);
    t->seed = make_seed(t->nf);
    bytes += t->size;
  }
  if (g_nobj + n > MAX_OBJS || g_bytes + bytes > MAX_BYTES) return;
  g_thr_n = n;
  g_thr_collect = a[2] & 1;
  if (pthread_create(&g_thr, NULL, thr_main, NULL) != 0) fail("pthread_create failed");
  g_thr_running = 1;
  note("thread start: %d objects%s", n, g_thr_collect ? ", collects" : "");
}

static void thread_join(int slot) {
  if (!g_thr_running) return;
  pthread_join(g_thr, NULL);
  g_thr_running = 0;
  void *ptrs[NTHREAD_OBJS];
  void *p = g_thr_out;
  for (int i = g_thr_n - 1; i >= 0; i--) {
    if (p == NULL) fail("thread chain ends after %d of %d objects", g_thr_n - 1 - i, g_thr_n);
    ptrs[i] = p;
    p = *(void **)p;
  }
  if (p != NULL) fail("thread chain longer than %d objects", g_thr_n);
  int32_t prev = -1;
  for (int i = 0; i < g_thr_n; i++) {
    const struct thr_obj *t = &g_thr_info[i];
    int32_t id = new_obj(ptrs[i], t->kind, t->size, 1, t->seed, -1);
    g_obj[id].f[0].id = prev;
    prev = id;
    verify_obj(id, 1);
  }
  struct ref r = {prev, 0};
  set_slot(slot, r);
  gogc_store(&g_thr_out, NULL);
  memset(ptrs, 0, sizeof ptrs);
  recompute();
  note("thread join into slot %d: head object %d", slot, (int)prev);
}

/* ---------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------- */
static const size_t k_sizes[] = {0,     1,     7,     8,     12,    16,     24,     31,
                                 32,    48,    64,    100,   128,   256,    513,    1024,
                                 2000,  4096,  8000,  16384, 32767, 32768,  32769,  40000,
                                 65536, 131072, 262145, 1048576};
#define NSIZES (sizeof k_sizes / sizeof k_sizes[0])
static const uint32_t k_counts[] = {1, 1, 1, 2, 3, 5, 16, 64, 255, 256, 257, 300, 1000, 2048};
#define NCOUNTS (sizeof k_counts / sizeof k_counts[0])
static const size_t k_arena_sizes[] = {0, 8, 16, 24, 40, 64, 100, 256, 1000, 4096, 30000, 262144, 300000, 524288, 600000};
#define NARENA_SIZES (sizeof k_arena_sizes / sizeof k_arena_sizes[0])
static const int k_percents[] = {1, 2, 5, 10, 25, 50, 100, 300, -1};
#define NPERCENTS (sizeof k_percents / sizeof k_percents[0])

enum {
  OP_ALLOC_CONS, OP_ALLOC_NOSCAN, OP_ALLOC_TYPED, OP_CALLOC, OP_COPY_SLOT, OP_DROP_SLOT,
  OP_LINK, OP_UNLINK, OP_MEMMOVE_FIELDS, OP_MEMCLR_FIELDS, OP_MEMMOVE_WHOLE, OP_ATOMIC_SWAP,
  OP_ATOMIC_CAS, OP_ATOMIC_STORE, OP_COLLECT, OP_SET_PERCENT, OP_FREE, OP_FINALIZER,
  OP_CLEANUP, OP_CLEANUP_STOP, OP_WEAK_MAKE, OP_WAIT_FINALIZERS, OP_RUN_FINALIZERS,
  OP_POOL_GET, OP_POOL_PUT, OP_ARENA_NEW, OP_ARENA_ALLOC, OP_ARENA_FREE, OP_ARENA_CLONE,
  OP_MEMLIMIT, OP_MEMSTATS, OP_THREAD_START, OP_THREAD_JOIN, OP_VERIFY, NOPS
};
static const char *const k_op_name[NOPS] = {
  "alloc", "alloc_noscan", "alloc_typed", "calloc", "copy_slot", "drop_slot",
  "link", "unlink", "memmove_fields", "memclr_fields", "memmove_whole", "atomic_swap",
  "atomic_cas", "atomic_store", "collect", "set_percent", "free", "finalizer",
  "cleanup", "cleanup_stop", "weak_make", "wait_finalizers", "run_finalizers",
  "pool_get", "pool_put", "arena_new", "arena_alloc", "arena_free", "arena_clone",
  "memlimit", "memstats", "thread_start", "thread_join", "verify"};

/* A new heap object of the given kind into slot s. */
static void op_alloc(int op, const uint8_t *a) {
  int s = a[0] % NSLOTS;
  int kind = op == OP_ALLOC_NOSCAN ? K_NOSCAN : op == OP_ALLOC_TYPED ? K_TYPED : K_CONS;
  size_t size;
  uint32_t count = 1;
  if (kind == K_TYPED) {
    count = k_counts[a[1] % NCOUNTS];
    size = count * sizeof(struct tobj);
  } else if (op == OP_CALLOC) {
    count = 1 + a[1] % 64;
    size = count * (size_t)(1 + a[2] % 64);
  } else {
    size = k_sizes[a[1] % NSIZES];
  }
  if (!room(size)) return;
  void *p;
  if (kind == K_TYPED) p = count == 1 && (a[2] & 1) ? gogc_alloc_typed(g_type) : gogc_alloc_typed_array(g_type, count);
  else if (kind == K_NOSCAN) p = gogc_alloc_noscan(size);
  else if (op == OP_CALLOC) p = gogc_calloc(count, size / count);
  else p = gogc_alloc(size);
  if (p == NULL) fail("%s of %zu bytes returned NULL", k_op_name[op], size);
  check_zero(p, size, k_kind_name[kind]);
  unsigned nf = nfields_for(kind, size);
  uint64_t seed = make_seed(nf);
  fill(p, kind, nf, size, seed);
  int32_t id = new_obj(p, kind, size, count, seed, -1);
  if (gogc_size(p) < size) fail("new object %p: gogc_size %zu < %zu", p, gogc_size(p), size);
  struct ref r = {id, 0};
  set_slot(s, r);
  note("%s %zu bytes (count %u) -> object %d in slot %d", k_op_name[op], size, count, (int)id, s);
  p = NULL;
  recompute();
}

static void op_link(int op, const uint8_t *a) {
  int32_t x = pick(g_scanl, g_nscan, a[0]);
  if (x < 0) return;
  unsigned f = a[1] % g_obj[x].nf;
  struct ref r = pick_ref(a[2], a[3]);
  void **slot = field_addr(x, f);
  struct ref old = g_obj[x].f[f];
  if (op == OP_UNLINK) r = k_null;
  if (op == OP_ATOMIC_STORE) {
    gogc_atomic_store(slot, ref_ptr(r));
  } else if (op == OP_ATOMIC_SWAP) {
    void *got = gogc_atomic_swap(slot, ref_ptr(r));
    if (got != ref_ptr(old)) fail("gogc_atomic_swap on object %d field %u returned %p, expected %p", (int)x, f, got, ref_ptr(old));
  } else if (op == OP_ATOMIC_CAS) {
    /* Expect the value it holds, or another one. */
    struct ref e = (a[4] & 1) ? old : pick_ref((uint8_t)(a[4] >> 1), a[3]);
    int same = ref_ptr(e) == ref_ptr(old);
    int got = gogc_atomic_cas(slot, ref_ptr(e), ref_ptr(r));
    if (got != same)
      fail("gogc_atomic_cas on object %d field %u (holding %p, expected %p) returned %d", (int)x, f, ref_ptr(old), ref_ptr(e), got);
    if (!same) r = old;
  } else {
    gogc_store(slot, ref_ptr(r));
  }
  g_obj[x].f[f] = r;
  note("%s object %d field %u = object %d + %u", k_op_name[op], (int)x, f, (int)r.id, r.off);
  recompute();
}

static void op_memmove_fields(const uint8_t *a) {
  int32_t x = pick(g_scanl, g_nscan, a[0]), y = pick(g_scanl, g_nscan, a[2]);
  if (x < 0) return;
  unsigned fa = a[1] % g_obj[x].nf, fb = a[3] % g_obj[y].nf;
  unsigned max = g_obj[x].nf - fa < g_obj[y].nf - fb ? g_obj[x].nf - fa : g_obj[y].nf - fb;
  unsigned n = 1 + a[4] % max;
  struct ref tmp[NFIELDS];
  memcpy(tmp, &g_obj[x].f[fa], n * sizeof tmp[0]);
  gogc_memmove(field_addr(y, fb), field_addr(x, fa), n * sizeof(void *));
  memcpy(&g_obj[y].f[fb], tmp, n * sizeof tmp[0]);
  note("memmove %u fields: object %d [%u..] -> object %d [%u..]", n, (int)x, fa, (int)y, fb);
  recompute();
}

static void op_memclr_fields(const uint8_t *a) {
  int32_t x = pick(g_scanl, g_nscan, a[0]);
  if (x < 0) return;
  unsigned fa = a[1] % g_obj[x].nf;
  unsigned n = 1 + a[2] % (g_obj[x].nf - fa);
  gogc_memclr(field_addr(x, fa), n * sizeof(void *));
  for (unsigned i = 0; i < n; i++) g_obj[x].f[fa + i] = k_null;
  note("memclr %u fields of object %d from %u", n, (int)x, fa);
  recompute();
}

/* Copy a whole object over another of the same layout and size. */
static void op_memmove_whole(const uint8_t *a) {
  int32_t x = pick(g_reach, g_nreach, a[0]);
  if (x < 0) return;
  const struct mobj *ox = &g_obj[x];
  int32_t y = -1;
  for (int32_t k = 0; k < g_nreach; k++) {
    int32_t c = g_reach[(a[1] + k) % g_nreach];
    const struct mobj *oc = &g_obj[c];
    if (c != x && oc->kind == ox->kind && oc->size == ox->size && oc->count == ox->count && !oc->has_fin) {
      y = c;
      break;
    }
  }
  if (y < 0) return;
  gogc_memmove(obj_addr(y), obj_addr(x), ox->size);
  g_obj[y].seed = ox->seed;
  memcpy(g_obj[y].f, ox->f, sizeof ox->f);
  note("memmove whole object %d (%zu bytes) over object %d", (int)x, ox->size, (int)y);
  recompute();
}

static void op_collect(void) {
  tu_clobber_stack();
  gogc_collect();
  note("collect");
  verify_all(0);
}

static void op_set_percent(const uint8_t *a) {
  int v = k_percents[a[0] % NPERCENTS];
  int prev = gogc_set_percent(v);
  if (prev != g_percent) fail("gogc_set_percent returned %d, expected %d", prev, g_percent);
  g_percent = v;
  note("set_percent %d", v);
}

/* Free an object only the slot refers to (nothing in the model points to
 * it: not a live, dropped or freed object's field, no other slot). */
static void op_free(const uint8_t *a) {
  for (int k = 0; k < NSLOTS; k++) {
    int s = (a[0] + k) % NSLOTS;
    int32_t id = g_slot_ref[s].id;
    if (id < 0 || g_obj[id].state != S_LIVE || g_obj[id].arena >= 0) continue;
    int refs = 0;
    for (int t = 0; t < NSLOTS; t++) refs += g_slot_ref[t].id == id;
    for (int32_t i = 0; i < g_nobj && refs == 1; i++)
      for (int f = 0; f < g_obj[i].nf; f++) refs += g_obj[i].f[f].id == id;
    if (refs != 1) continue;
    set_slot(s, k_null);
    gogc_free(obj_addr(id));
    g_obj[id].state = S_FREED;
    note("free object %d from slot %d", (int)id, s);
    recompute();
    return;
  }
}

static void op_finalizer(const uint8_t *a) {
  int32_t x = pick(g_heapl, g_nheap, a[0]);
  if (x < 0) return;
  struct mobj *o = &g_obj[x];
  if (o->has_fin && (a[1] & 1)) {
    if (gogc_set_finalizer(obj_addr(x), NULL, NULL) != 0) fail("removing the finalizer of object %d failed", (int)x);
    o->has_fin = 0;
    g_fin_set--; /* it will not run */
    note("finalizer removed from object %d", (int)x);
    return;
  }
  /* Small objects only: a cycle of finalizable objects is never collected
   * (as in Go), and what it holds would pile up over a long fuzzing run. */
  if (o->has_fin || !has_header(o) || o->size > 4096) return;
  if (gogc_set_finalizer(obj_addr(x), fin_fn, (void *)(uintptr_t)o->seed) != 0)
    fail("gogc_set_finalizer on object %d (%p) failed", (int)x, (void *)obj_addr(x));
  o->has_fin = 1;
  g_fin_set++;
  note("finalizer on object %d", (int)x);
}

static void op_cleanup(const uint8_t *a) {
  int32_t x = pick(g_heapl, g_nheap, a[0]);
  if (x < 0) return;
  int k = a[2] % NCLEAN;
  void *arg;
  uint64_t tag = make_seed(0);
  if (a[3] & 1) {
    uint64_t *w = gogc_alloc_noscan(16);
    if (w == NULL) fail("out of memory");
    w[0] = tag;
    w[1] = tu_mix(tag);
    arg = w;
  } else {
    arg = (void *)(uintptr_t)tag;
  }
  gogc_cleanup c = gogc_add_cleanup(obj_addr(x) + pick_off(x, a[1]), clean_fn, arg);
  if (c.id == 0) fail("gogc_add_cleanup on object %d failed", (int)x);
  g_clean_set++;
  g_clean[k] = c;
  g_clean_target[k] = x;
  g_clean_stopped[k] = 0;
  note("cleanup %d on object %d (argument %s)", k, (int)x, (a[3] & 1) ? "an object" : "a tag");
}

static void op_cleanup_stop(const uint8_t *a) {
  int k = a[0] % NCLEAN;
  if (g_clean[k].id == 0) return;
  int32_t t = g_clean_target[k];
  if (g_obj[t].state != S_LIVE || !g_obj[t].reach) return; /* must be kept reachable across */
  int r = gogc_cleanup_stop(g_clean[k]);
  if (r != !g_clean_stopped[k])
    fail("gogc_cleanup_stop of cleanup %d on reachable object %d returned %d (%s)", k, (int)t, r,
         g_clean_stopped[k] ? "already stopped" : "not stopped before");
  if (!g_clean_stopped[k]) g_clean_set--;
  g_clean_stopped[k] = 1;
  note("cleanup_stop %d on object %d", k, (int)t);
}

static void op_weak_make(const uint8_t *a) {
  int32_t x = pick(g_heapl, g_nheap, a[0]);
  if (x < 0) return;
  int k = a[2] % NWEAK;
  gogc_weak *w = gogc_weak_make(obj_addr(x) + pick_off(x, a[1]));
  if (w == NULL) fail("gogc_weak_make on object %d failed", (int)x);
  for (int j = 0; j < NWEAK; j++)
    if (g_weak[j] != NULL && g_weak_target[j] == x && g_weak[j] != w)
      fail("two weak handles for object %d: %p and %p", (int)x, (void *)g_weak[j], (void *)w);
  if (gogc_weak_get(w) != obj_addr(x)) fail("weak pointer to object %d returned %p", (int)x, gogc_weak_get(w));
  gogc_store(&g_weak[k], w);
  g_weak_target[k] = x;
  note("weak %d on object %d", k, (int)x);
}

static void op_pool(int op, const uint8_t *a) {
  int k = a[0] % NHELD;
  if (op == OP_POOL_GET) {
    if (g_held[k] != NULL) return;
    void *p = gogc_pool_get(g_pool);
    if (p == NULL || gogc_size(p) < POOL_OBJ_SIZE || gogc_base(p) != p)
      fail("gogc_pool_get returned %p (gogc_size %zu, gogc_base %p)", p, p ? gogc_size(p) : 0,
           p ? gogc_base(p) : NULL);
    memset(p, 0x11 + a[1] % 16, POOL_OBJ_SIZE);
    gogc_store(&g_held[k], p);
    note("pool_get into %d", k);
  } else if (g_held[k] != NULL) {
    gogc_pool_put(g_pool, g_held[k]);
    gogc_store(&g_held[k], NULL);
    note("pool_put from %d", k);
  } else {
    void *p = gogc_alloc(POOL_OBJ_SIZE);
    if (p == NULL) fail("out of memory");
    gogc_pool_put(g_pool, p);
    note("pool_put a new object");
  }
}

static void op_arena_new(const uint8_t *a) {
  int i = a[0] % NARENAS;
  if (g_arenas[i] != NULL) return;
  gogc_arena *ar = gogc_arena_new();
  if (ar == NULL) fail("gogc_arena_new returned NULL");
  gogc_store(&g_arenas[i], ar);
  g_narenas_live++;
  note("arena_new %d", i);
}

static void op_arena_alloc(const uint8_t *a) {
  int i = a[0] % NARENAS;
  if (g_arenas[i] == NULL) return;
  int kind = a[1] % 3;
  size_t size = kind == K_TYPED ? sizeof(struct tobj) : k_arena_sizes[a[2] % NARENA_SIZES];
  int s = a[3] % NSLOTS;
  if (!room(size)) return;
  char *p = kind == K_TYPED    ? gogc_arena_alloc_typed(g_arenas[i], g_type)
            : kind == K_NOSCAN ? gogc_arena_alloc_noscan(g_arenas[i], size)
                               : gogc_arena_alloc(g_arenas[i], size);
  if (p == NULL) fail("arena allocation of %zu bytes returned NULL", size);
  /* Aligned as on the heap: 16 bytes, but 8 for rooms of 8 and 24. */
  size_t room = (size + 7 + (size == 0)) & ~(size_t)7, align = room == 8 || room == 24 ? 8 : 16;
  if (((uintptr_t)p & (align - 1)) != 0)
    fail("arena object %p of %zu bytes is not %zu-byte aligned", (void *)p, size, align);
  check_zero(p, size, "arena");
  if (size == 0) {
    /* Not kept: a 0-byte arena object has 8 bytes of room but no
     * contents to check. */
    note("arena_alloc %s 0 bytes in arena %d: %p", k_kind_name[kind], i, (void *)p);
    return;
  }
  /* Above a quarter of a chunk it comes from the heap, as an ordinary
   * object; otherwise it lies in a chunk after its header. */
  int heap = size > 524288;
  if (heap != (gogc_base(p) == p))
    fail("arena object %p of %zu bytes: gogc_base %p (expected %s)", (void *)p, size, gogc_base(p),
         heap ? "a heap object" : "in an arena chunk");
  unsigned nf = nfields_for(kind, size);
  uint64_t seed = make_seed(nf);
  fill(p, kind, nf, size, seed);
  int32_t id = new_obj(p, kind, size, 1, seed, heap ? -1 : i);
  struct ref r = {id, 0};
  set_slot(s, r);
  p = NULL;
  note("arena_alloc %s %zu bytes in arena %d -> object %d in slot %d", k_kind_name[kind], size, i, (int)id, s);
  recompute();
}

static void op_arena_free(const uint8_t *a) {
  int i = a[0] % NARENAS;
  if (g_arenas[i] == NULL) return;
  gogc_arena_free(g_arenas[i]);
  gogc_store(&g_arenas[i], NULL);
  g_narenas_live--;
  for (int32_t k = 0; k < g_nobj; k++)
    if (g_obj[k].arena == i && g_obj[k].state == S_LIVE) {
      g_obj[k].state = S_ARENA_FREED;
      g_obj[k].arena = -2;
    }
  note("arena_free %d", i);
  recompute();
}

static void op_arena_clone(const uint8_t *a) {
  int32_t x = -1;
  for (int32_t k = 0; k < g_nreach; k++) {
    int32_t c = g_reach[(a[0] + k) % g_nreach];
    if (g_obj[c].arena >= 0) {
      x = c;
      break;
    }
  }
  if (x < 0 || !room(g_obj[x].size)) return;
  const struct mobj *o = &g_obj[x];
  /* The copy is conservative (noscan for noscan); a typed object's layout
   * is the conservative one of its size. */
  int kind = o->kind == K_NOSCAN ? K_NOSCAN : K_CONS;
  char *q = gogc_arena_clone(obj_addr(x), o->size);
  if (q == NULL || gogc_base(q) != q || q == obj_addr(x))
    fail("gogc_arena_clone of object %d returned %p (gogc_base %p)", (int)x, (void *)q, q ? gogc_base(q) : NULL);
  int32_t id = new_obj(q, kind, o->size, 1, o->seed, -1);
  if (g_obj[id].nf != o->nf) fail("harness: clone layout differs");
  memcpy(g_obj[id].f, o->f, sizeof o->f);
  struct ref r = {id, 0};
  set_slot(a[1] % NSLOTS, r);
  q = NULL;
  note("arena_clone object %d -> object %d in slot %d", (int)x, (int)id, a[1] % NSLOTS);
  recompute();
  verify_obj(id, 1);
}

static void op_memlimit(const uint8_t *a) {
  int64_t v = g_limit == INT64_MAX ? ((int64_t)1 + a[0] % 4) << 30 : INT64_MAX;
  int64_t prev = gogc_set_memory_limit(v);
  if (prev != g_limit) fail("gogc_set_memory_limit returned %lld, expected %lld", (long long)prev, (long long)g_limit);
  if (gogc_set_memory_limit(-1) != v) fail("gogc_set_memory_limit(-1) did not read back %lld", (long long)v);
  g_limit = v;
  note("memlimit %lld", (long long)v);
}

static gogc_memstats g_ms;

static void op_memstats(void) {
  gogc_read_memstats(&g_ms);
  note("memstats");
  if (g_ms.gc_percent != g_percent) fail("memstats gc_percent %d, expected %d", g_ms.gc_percent, g_percent);
  if (g_ms.memory_limit != g_limit) fail("memstats memory_limit %lld, expected %lld", (long long)g_ms.memory_limit, (long long)g_limit);
  if (g_ms.arenas_live != (uint64_t)g_narenas_live)
    fail("memstats arenas_live %llu, expected %d", (unsigned long long)g_ms.arenas_live, g_narenas_live);
  if (g_ms.num_gc < g_last_numgc) fail("memstats num_gc went back from %u to %u", g_last_numgc, g_ms.num_gc);
  g_last_numgc = g_ms.num_gc;
  if (g_ms.heap_inuse > g_ms.heap_sys || g_ms.frees > g_ms.mallocs || g_ms.finalizers_run > g_ms.finalizers_queued ||
      g_ms.cleanups_run > g_ms.cleanups_queued)
    fail("memstats inconsistent: heap_inuse %llu heap_sys %llu mallocs %llu frees %llu finalizers %llu/%llu cleanups %llu/%llu",
         (unsigned long long)g_ms.heap_inuse, (unsigned long long)g_ms.heap_sys, (unsigned long long)g_ms.mallocs,
         (unsigned long long)g_ms.frees, (unsigned long long)g_ms.finalizers_run,
         (unsigned long long)g_ms.finalizers_queued, (unsigned long long)g_ms.cleanups_run,
         (unsigned long long)g_ms.cleanups_queued);
  /* Every reachable object with a weak pointer has a live handle. */
  uint64_t distinct = 0;
  for (int k = 0; k < NWEAK; k++) {
    if (g_weak[k] == NULL || g_obj[g_weak_target[k]].state != S_LIVE || !g_obj[g_weak_target[k]].reach) continue;
    int first = 1;
    for (int j = 0; j < k; j++)
      if (g_weak[j] != NULL && g_weak_target[j] == g_weak_target[k]) first = 0;
    distinct += (uint64_t)first;
  }
  if (g_ms.weak_live < distinct)
    fail("memstats weak_live %llu, but %llu reachable objects have weak pointers", (unsigned long long)g_ms.weak_live,
         (unsigned long long)distinct);
}

static void op_wait_finalizers(void) {
  tu_clobber_stack();
  gogc_collect();
  gogc_wait_finalizers();
  note("collect and wait_finalizers");
  verify_all(0);
}

/* ---------------------------------------------------------------------------
 * One input
 * ------------------------------------------------------------------------- */
static void init_once(void) {
  static int done;
  if (done) return;
  done = 1;
  if (gogc_init() != 0) fail("gogc_init failed");
  g_type = GOGC_TYPE(struct tobj, offsetof(struct tobj, f[0]), offsetof(struct tobj, f[1]),
                     offsetof(struct tobj, f[2]), offsetof(struct tobj, f[3]));
  if (g_type == NULL) fail("gogc_type_new failed");
  gogc_pool *p = gogc_pool_new(pool_new, NULL);
  if (p == NULL) fail("gogc_pool_new failed");
  gogc_store(&g_pool, p);
  g_base_percent = gogc_set_percent(100);
  gogc_set_percent(g_base_percent);
  g_percent = g_base_percent;
  g_limit = gogc_set_memory_limit(-1);
  const char *t = getenv("GOGC_FUZZ_TRACE");
  g_trace = t != NULL && t[0] != '\0' && t[0] != '0';
}

static void reset(void) {
  if (g_thr_running) {
    pthread_join(g_thr, NULL);
    g_thr_running = 0;
  }
  gogc_store(&g_thr_out, NULL);
  for (int i = 0; i < NARENAS; i++)
    if (g_arenas[i] != NULL) {
      gogc_arena_free(g_arenas[i]);
      gogc_store(&g_arenas[i], NULL);
    }
  g_narenas_live = 0;
  for (int s = 0; s < NSLOTS; s++) set_slot(s, k_null);
  for (int k = 0; k < NWEAK; k++) gogc_store(&g_weak[k], NULL);
  memset(g_clean, 0, sizeof g_clean);
  for (int k = 0; k < NHELD; k++)
    if (g_held[k] != NULL) {
      gogc_pool_put(g_pool, g_held[k]);
      gogc_store(&g_held[k], NULL);
    }
  if (g_percent != g_base_percent) gogc_set_percent(g_base_percent);
  g_percent = g_base_percent;
  if (g_limit != INT64_MAX) gogc_set_memory_limit(INT64_MAX);
  g_limit = INT64_MAX;
  memset(g_obj, 0, sizeof(g_obj[0]) * (size_t)g_nobj);
  g_nobj = g_nreach = g_nscan = g_nheap = 0;
  g_bytes = 0;
}

static void run_op(const uint8_t *op) {
  int code = op[0] % NOPS;
  const uint8_t *a = op + 1;
  g_opname = k_op_name[code];
  switch (code) {
  case OP_ALLOC_CONS:
  case OP_ALLOC_NOSCAN:
  case OP_ALLOC_TYPED:
  case OP_CALLOC: op_alloc(code, a); break;
  case OP_COPY_SLOT:
    if (g_nreach > 0) {
      struct ref r;
      r.id = pick(g_reach, g_nreach, a[1]);
      r.off = pick_off(r.id, a[2]);
      set_slot(a[0] % NSLOTS, r);
      note("copy_slot %d = object %d + %u", a[0] % NSLOTS, (int)r.id, r.off);
      recompute();
    }
    break;
  case OP_DROP_SLOT:
    set_slot(a[0] % NSLOTS, k_null);
    note("drop_slot %d", a[0] % NSLOTS);
    recompute();
    break;
  case OP_LINK:
  case OP_UNLINK:
  case OP_ATOMIC_SWAP:
  case OP_ATOMIC_CAS:
  case OP_ATOMIC_STORE: op_link(code, a); break;
  case OP_MEMMOVE_FIELDS: op_memmove_fields(a); break;
  case OP_MEMCLR_FIELDS: op_memclr_fields(a); break;
  case OP_MEMMOVE_WHOLE: op_memmove_whole(a); break;
  case OP_COLLECT: op_collect(); break;
  case OP_SET_PERCENT: op_set_percent(a); break;
  case OP_FREE: op_free(a); break;
  case OP_FINALIZER: op_finalizer(a); break;
  case OP_CLEANUP: op_cleanup(a); break;
  case OP_CLEANUP_STOP: op_cleanup_stop(a); break;
  case OP_WEAK_MAKE: op_weak_make(a); break;
  case OP_WAIT_FINALIZERS: op_wait_finalizers(); break;
  case OP_RUN_FINALIZERS:
    gogc_run_finalizers();
    note("run_finalizers");
    break;
  case OP_POOL_GET:
  case OP_POOL_PUT: op_pool(code, a); break;
  case OP_ARENA_NEW: op_arena_new(a); break;
  case OP_ARENA_ALLOC: op_arena_alloc(a); break;
  case OP_ARENA_FREE: op_arena_free(a); break;
  case OP_ARENA_CLONE: op_arena_clone(a); break;
  case OP_MEMLIMIT: op_memlimit(a); break;
  case OP_MEMSTATS: op_memstats(); break;
  case OP_THREAD_START: thread_start(a); break;
  case OP_THREAD_JOIN: thread_join(a[0] % NSLOTS); break;
  case OP_VERIFY:
    note("verify");
    verify_all(a[0] & 1);
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  g_seedctr = 0;
  g_nhist = 0;
  for (int s = 0; s < NSLOTS; s++) g_slot_ref[s] = k_null;
  size_t nops = (size + OP_BYTES - 1) / OP_BYTES;
  if (nops > MAX_OPS) nops = MAX_OPS;
  for (size_t i = 0; i < nops; i++) {
    uint8_t op[OP_BYTES] = {0};
    size_t n = size - i * OP_BYTES < OP_BYTES ? size - i * OP_BYTES : OP_BYTES;
    memcpy(op, data + i * OP_BYTES, n);
    g_opno = (int)i;
    run_op(op);
    if ((i + 1) % VERIFY_EVERY == 0) {
      g_opname = "periodic verify";
      verify_all(0);
    }
  }
  g_opno = (int)nops;
  g_opname = "final verify";
  if (g_thr_running) thread_join(0);
  verify_all(1);
  g_opname = "reset";
  reset();
  return 0;
}

/* ---------------------------------------------------------------------------
 * Replay: run files, or every file of directories, through the harness.
 * ------------------------------------------------------------------------- */
#ifndef GOGC_FUZZ_LIBFUZZER
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  static uint8_t *buf; /* malloc'd: not scanned */
  if (buf == NULL && (buf = malloc(1 << 20)) == NULL) {
    fclose(f);
    return -1;
  }
  size_t n = fread(buf, 1, 1 << 20, f);
  fclose(f);
  if (getenv("GOGC_FUZZ_TRACE")) fprintf(stderr, "fuzz_api: input %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(buf, n);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int run_path(const char *path, long *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (run_file(path) != 0) return -1;
    ++*count;
    return 0;
  }
  DIR *d = opendir(path);
  if (d == NULL) {
    perror(path);
    return -1;
  }
  size_t n = 0, cap = 64;
  char **names = malloc(cap * sizeof *names);
  for (struct dirent *e; names != NULL && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap *= 2;
      char **nn = realloc(names, cap * sizeof *names);
      if (nn == NULL) break;
      names = nn;
    }
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    if (names[n] == NULL) break;
    snprintf(names[n], len, "%s/%s", path, e->d_name);
    n++;
  }
  closedir(d);
  if (names == NULL) return -1;
  qsort(names, n, sizeof *names, cmp_str); /* the same order everywhere */
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(names[i]) != 0) rc = -1;
      else ++*count;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...  (replays fuzz_api inputs)\n", argv[0]);
    return 2;
  }
  double t0 = tu_now();
  long count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++)
    if (run_path(argv[i], &count) != 0) rc = 1;
  printf("fuzz_api: %ld inputs ran in %.2f s (finalizers %llu of %llu set ran, cleanups %llu of %llu)\n",
         count, tu_now() - t0, (unsigned long long)g_fin_ran, (unsigned long long)g_fin_set,
         (unsigned long long)g_clean_ran, (unsigned long long)g_clean_set);
  if (count == 0) {
    fprintf(stderr, "fuzz_api: no inputs found\n");
    rc = 1;
  }
  return rc;
}
#endif
