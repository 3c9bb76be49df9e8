/* test_alloc: the allocation API in isolation.
 *
 * Sizes 0, 1..64, every size-class boundary and large sizes: memory is
 * zeroed (also when reused), writable over its whole usable size,
 * gogc_size/gogc_base agree for interior pointers, alignment rules hold.
 * Overflowing and impossible requests return NULL. gogc_strdup,
 * gogc_realloc (contents and kind kept), gogc_type_new validation,
 * gogc_size/gogc_base on foreign memory, gogc_version.
 */
#include <gogc.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static int g_global_int = 42;
static char g_global_buf[256];

static gogc_memstats g_ms;

/* Smallest size class >= n (0 if n is above every class). */
static size_t class_for(size_t n) {
  for (int i = 1; i < GOGC_NUM_SIZE_CLASSES; i++)
    if (g_ms.by_size[i].size >= n)
      return g_ms.by_size[i].size;
  return 0;
}

enum { K_SCAN, K_NOSCAN };

/* All the checks on one freshly allocated object of requested size n. */
static void check_object(void *p, size_t n, int kind) {
  const char *kn = kind == K_SCAN ? "gogc_alloc" : "gogc_alloc_noscan";
  CHECKF(p != NULL, "%s(%zu) returned NULL", kn, n);
  if (p == NULL)
    return;
  CHECKF((uintptr_t)p % 8 == 0, "%s(%zu) = %p not 8-aligned", kn, n, p);
  if (n >= 32)
    CHECKF((uintptr_t)p % 16 == 0, "%s(%zu) = %p not 16-aligned", kn, n, p);

  size_t us = gogc_size(p);
  CHECKF(us >= n, "%s(%zu): gogc_size = %zu", kn, n, us);
  if (us < n)
    us = n;
  if (kind == K_SCAN && n > 0 && n <= 32768) {
    size_t c = class_for(n);
    CHECKF(c == 0 || us == c, "%s(%zu): gogc_size = %zu, size class is %zu", kn, n, us, c);
  }
  CHECKF(tu_all_zero(p, us), "%s(%zu) = %p not zeroed over its %zu usable bytes", kn, n, p,
         us);

  /* Writable over the whole usable size. */
  memset(p, 0xA5, us);
  int ok = 1;
  for (size_t i = 0; i < us; i++)
    if (((unsigned char *)p)[i] != 0xA5) {
      ok = 0;
      break;
    }
  CHECKF(ok, "%s(%zu): write/read back failed", kn, n);

  /* Base and size through interior pointers. Small noscan objects may be
   * packed into a shared block (Go's tiny allocator), so for those only
   * require that the base is at or below p. */
  int exact_base = kind == K_SCAN || n >= 16;
  if (n == 0)
    return;
  size_t offs[] = {0, 1, 7, 8, n / 2, n - 1, us - 1};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    size_t k = offs[i];
    if (k >= us)
      continue;
    char *q = (char *)p + k;
    void *b = gogc_base(q);
    if (exact_base) {
      CHECKF(b == p, "%s(%zu): gogc_base(p+%zu) = %p, want %p", kn, n, k, b, p);
      CHECKF(gogc_size(q) == gogc_size(p), "%s(%zu): gogc_size(p+%zu) = %zu, want %zu", kn,
             n, k, gogc_size(q), gogc_size(p));
    } else {
      CHECKF(b != NULL && (char *)b <= (char *)p, "%s(%zu): gogc_base(p+%zu) = %p (p = %p)",
             kn, n, k, b, p);
    }
  }
}

static void test_size(size_t n) {
  void *p = gogc_alloc(n);
  check_object(p, n, K_SCAN);
  void *q = gogc_alloc_noscan(n);
  check_object(q, n, K_NOSCAN);
  if (p && q)
    CHECKF(p != q, "two live objects share address %p", p);

  /* Explicit free and immediate reallocation: the reused memory (most
   * likely the same slot) must be zeroed again. p was dirtied above. */
  if (p != NULL && n > 0) {
    gogc_free(p);
    void *r = gogc_alloc(n);
    CHECKF(r != NULL, "gogc_alloc(%zu) after free returned NULL", n);
    if (r) {
      size_t us = gogc_size(r);
      CHECKF(tu_all_zero(r, us >= n ? us : n), "gogc_alloc(%zu) after gogc_free not zeroed",
             n);
    }
  }
}

static void test_sizes(void) {
  gogc_read_memstats(&g_ms);
  CHECK(g_ms.by_size[0].size == 0);
  int mono = 1;
  for (int i = 2; i < GOGC_NUM_SIZE_CLASSES; i++)
    if (g_ms.by_size[i].size <= g_ms.by_size[i - 1].size)
      mono = 0;
  CHECKF(mono, "by_size[].size not strictly increasing");
  CHECKF(g_ms.by_size[1].size == 8, "smallest class is %u", (unsigned)g_ms.by_size[1].size);
  CHECKF(g_ms.by_size[GOGC_NUM_SIZE_CLASSES - 1].size == 32768, "largest class is %u",
         (unsigned)g_ms.by_size[GOGC_NUM_SIZE_CLASSES - 1].size);

  /* 0: a unique minimal object. */
  void *z1 = gogc_alloc(0), *z2 = gogc_alloc(0);
  CHECK(z1 != NULL && z2 != NULL);
  CHECK(z1 != z2);
  CHECK((uintptr_t)z1 % 8 == 0);
  void *z3 = gogc_alloc_noscan(0);
  CHECK(z3 != NULL);

  for (size_t n = 0; n <= 64; n++)
    test_size(n);
  for (int i = 1; i < GOGC_NUM_SIZE_CLASSES; i++) {
    size_t c = g_ms.by_size[i].size;
    if (c == 0)
      continue;
    test_size(c - 1);
    test_size(c);
    test_size(c + 1);
  }
  size_t big[] = {32769, 40000, 65536, 100000, (size_t)1 << 20, ((size_t)1 << 20) + 1,
                  (size_t)16 << 20};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
    test_size(big[i]);
}

/* Memory reused after a collection (not an explicit free) is zeroed. */
__attribute__((noinline)) static void dirty_garbage(void) {
  for (size_t n = 8; n <= 4096; n += 24) {
    for (int j = 0; j < 8; j++) {
      void *p = gogc_alloc(n);
      if (p)
        memset(p, 0xFF, n);
      void *q = gogc_alloc_noscan(n);
      if (q)
        memset(q, 0xFF, n);
    }
  }
  for (int j = 0; j < 4; j++) {
    void *p = gogc_alloc(100000);
    if (p)
      memset(p, 0xFF, 100000);
  }
}

static void test_zero_after_gc(void) {
  dirty_garbage();
  tu_clobber_stack();
  gogc_collect();
  int bad = 0;
  for (size_t n = 8; n <= 4096; n += 24) {
    for (int j = 0; j < 8; j++) {
      void *p = gogc_alloc(n);
      void *q = gogc_alloc_noscan(n);
      if (!p || !tu_all_zero(p, n) || !q || !tu_all_zero(q, n))
        bad++;
      if (p)
        memset(p, 0x11, n); /* dirty for the next iteration's reuse */
    }
  }
  for (int j = 0; j < 4; j++) {
    void *p = gogc_alloc(100000);
    if (!p || !tu_all_zero(p, 100000))
      bad++;
  }
  CHECKF(bad == 0, "%d objects not zeroed after reuse of collected memory", bad);
}

/* Spans that are partly live when a thread takes them again: their free
 * slots are cleared when the span is cached (alloc.c, zero_free_slots), in
 * runs between live slots. Objects of several classes are dirtied, some
 * kept in an irregular pattern (runs of every length, across the 64-slot
 * words of the bitmaps), the rest dropped; after a collection, new objects
 * of those classes must be zero and the kept ones intact. */
enum { ZP_N = 3000 };
static void **g_zp_keep;

static int zp_kept(int i) { return (i * 37 % 11) < 3 || (i / 70) % 3 == 0; }

__attribute__((noinline)) static void zp_fill(size_t n, int kind, int count) {
  for (int i = 0; i < count; i++) {
    unsigned char *p = kind == K_SCAN ? gogc_alloc(n) : gogc_alloc_noscan(n);
    if (p == NULL) continue;
    memset(p, 0xA5, n);
    p[0] = (unsigned char)i;
    if (zp_kept(i)) gogc_store(&g_zp_keep[i], p);
  }
}

static void test_zero_partial_spans(void) {
  static const size_t sizes[] = {8, 16, 48, 112, 640, 3072};
  /* A collection at every allocation (gcstress=1, gcstressslow): 40
   * objects a class still leave runs of free slots; 3000 took the UBSan
   * build past its 5-minute limit. */
  const int count = tu_stress_heavy() ? 40 : ZP_N;
  g_zp_keep = gogc_alloc(ZP_N * sizeof(void *));
  CHECK(g_zp_keep != NULL);
  if (g_zp_keep == NULL) return;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    for (int kind = K_SCAN; kind <= K_NOSCAN; kind++) {
      size_t n = sizes[k];
      zp_fill(n, kind, count);
      tu_clobber_stack();
      gogc_collect();
      gogc_collect(); /* the first cycle's sweep may leave spans for the next */
      int bad_new = 0, bad_kept = 0;
      for (int i = 0; i < 2 * count; i++) {
        unsigned char *p = kind == K_SCAN ? gogc_alloc(n) : gogc_alloc_noscan(n);
        if (p == NULL || !tu_all_zero(p, n)) bad_new++;
      }
      for (int i = 0; i < count; i++) {
        const unsigned char *p = g_zp_keep[i];
        if (!zp_kept(i)) continue;
        int ok = p != NULL && p[0] == (unsigned char)i;
        for (size_t b = 1; ok && b < n; b++) ok = p[b] == 0xA5;
        if (!ok) bad_kept++;
      }
      CHECKF(bad_new == 0, "%d of %d new %zu-byte %s objects not zeroed in partly live spans",
             bad_new, 2 * count, n, kind == K_SCAN ? "scanned" : "noscan");
      CHECKF(bad_kept == 0, "%d kept %zu-byte objects damaged by the clearing of free slots",
             bad_kept, n);
      gogc_memclr(g_zp_keep, ZP_N * sizeof(void *));
    }
  }
}

struct tstruct {
  uint64_t a;
  void *p1;
  uint64_t b;
  void *p2;
};

static void test_overflow(void) {
  void *p;
  p = gogc_calloc(SIZE_MAX / 2, 3);
  CHECK(p == NULL);
  p = gogc_calloc(3, SIZE_MAX / 2);
  CHECK(p == NULL);
  p = gogc_calloc((size_t)1 << 32, (size_t)1 << 32);
  CHECK(p == NULL);
  p = gogc_alloc((size_t)1 << 60);
  CHECK(p == NULL);
  p = gogc_alloc(SIZE_MAX);
  CHECK(p == NULL);
  p = gogc_alloc(SIZE_MAX - 8);
  CHECK(p == NULL);
  p = gogc_alloc_noscan((size_t)1 << 60);
  CHECK(p == NULL);

  const gogc_type *t = GOGC_TYPE(struct tstruct, offsetof(struct tstruct, p1),
                                 offsetof(struct tstruct, p2));
  CHECK(t != NULL);
  p = gogc_alloc_typed_array(t, SIZE_MAX / 8);
  CHECK(p == NULL);
  p = gogc_alloc_typed_array(t, SIZE_MAX / sizeof(struct tstruct) + 1);
  CHECK(p == NULL);
  p = gogc_alloc_typed_array(t, (size_t)1 << 58);
  CHECK(p == NULL);

  /* The allocator still works afterwards. */
  p = gogc_calloc(10, 8);
  CHECK(p != NULL && gogc_size(p) >= 80 && tu_all_zero(p, 80));
}

static void test_typed(void) {
  const gogc_type *t = GOGC_TYPE(struct tstruct, offsetof(struct tstruct, p1),
                                 offsetof(struct tstruct, p2));
  CHECK(t != NULL);
  if (!t)
    return;
  struct tstruct *s = gogc_alloc_typed(t);
  CHECK(s != NULL);
  if (s) {
    CHECK(gogc_size(s) >= sizeof *s);
    CHECK(tu_all_zero(s, sizeof *s));
    CHECK((uintptr_t)s % 16 == 0);
    CHECK(gogc_base((char *)s + 17) == s);
  }
  struct tstruct *arr = gogc_alloc_typed_array(t, 1000);
  CHECK(arr != NULL);
  if (arr) {
    CHECK(gogc_size(arr) >= 1000 * sizeof *arr);
    CHECK(tu_all_zero(arr, 1000 * sizeof *arr));
    CHECK(gogc_base(&arr[999].b) == arr);
  }
  struct tstruct *a1 = gogc_alloc_typed_array(t, 1);
  CHECK(a1 != NULL && gogc_size(a1) >= sizeof *a1);

  /* A layout without pointers. */
  const gogc_type *t0 = gogc_type_new("nopointers", 40, 0, NULL);
  CHECK(t0 != NULL);
  if (t0) {
    void *o = gogc_alloc_typed(t0);
    CHECK(o != NULL && gogc_size(o) >= 40 && tu_all_zero(o, 40));
  }

  /* Invalid layouts: NULL (and a message on stderr). */
  size_t mis[] = {8, 12};
  CHECK(gogc_type_new("misaligned", 32, 2, mis) == NULL);
  size_t past[] = {0, 32};
  CHECK(gogc_type_new("offset==size", 32, 2, past) == NULL);
  size_t far[] = {1000};
  CHECK(gogc_type_new("offset>size", 32, 1, far) == NULL);
  size_t ok[] = {0, 24};
  CHECK(gogc_type_new("ok", 32, 2, ok) != NULL);
}

static void test_strdup(void) {
  const char *s = "hello, collected world";
  char *d = gogc_strdup(s);
  CHECK(d != NULL);
  if (d) {
    CHECK(strcmp(d, s) == 0);
    CHECK(d != s);
    CHECK(gogc_size(d) >= strlen(s) + 1);
    CHECK(gogc_base(d + 5) == d);
  }
  char *e = gogc_strdup("");
  CHECK(e != NULL && e[0] == '\0');
  char big[5000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char *f = gogc_strdup(big);
  CHECK(f != NULL && strcmp(f, big) == 0);
}

struct elem {
  void *ptr;
  uint64_t data;
  uint64_t more;
};

/* Fill a holder with a pointer to a fresh large object in slot `slot` and
 * return the large object's encoding. */
static uintptr_t stash_large(void *holder, size_t off, uint64_t seed) {
  uintptr_t e = tu_make_large(seed);
  tu_stash((char *)holder + off, e);
  return e;
}

static void test_realloc(void) {
  /* Grow and shrink keep contents. */
  unsigned char *p = gogc_alloc(100);
  CHECK(p != NULL);
  if (!p)
    return;
  tu_fill(p, 100, 7);
  unsigned char *q = gogc_realloc(p, 5000);
  CHECK(q != NULL);
  if (!q)
    return;
  CHECK(gogc_size(q) >= 5000);
  CHECK(tu_verify(q, 100, 7) == 0);
  memset(q + 100, 0x3c, 4900);
  unsigned char *r = gogc_realloc(q, 40);
  CHECK(r != NULL);
  if (!r)
    return;
  CHECK(gogc_size(r) >= 40);
  CHECK(tu_verify(r, 40, 7) == 0);
  unsigned char *big = gogc_realloc(r, 300000);
  CHECK(big != NULL && gogc_size(big) >= 300000 && tu_verify(big, 40, 7) == 0);
  if (big) {
    tu_fill(big, 300000, 9);
    unsigned char *sm = gogc_realloc(big, 1000);
    CHECK(sm != NULL && gogc_size(sm) >= 1000 && tu_verify(sm, 1000, 9) == 0);
  }

  /* realloc(NULL, n) is alloc(n). */
  void *n = gogc_realloc(NULL, 64);
  CHECK(n != NULL && gogc_size(n) >= 64 && tu_all_zero(n, 64));

  /* Kind is kept. A conservative object keeps what it points to alive... */
  void **c = gogc_alloc(64);
  CHECK(c != NULL);
  void **c2 = gogc_realloc(c, 4096);
  CHECK(c2 != NULL);
  /* ...a noscan object does not... */
  void **ns = gogc_alloc_noscan(64);
  CHECK(ns != NULL);
  void **ns2 = gogc_realloc(ns, 4096);
  CHECK(ns2 != NULL);
  /* ...and a typed array is resized to whole elements and stays precise. */
  const gogc_type *et = GOGC_TYPE(struct elem, offsetof(struct elem, ptr));
  struct elem *ta = gogc_alloc_typed_array(et, 4);
  CHECK(ta != NULL);
  if (!c2 || !ns2 || !ta || !et)
    return;
  for (int i = 0; i < 4; i++)
    ta[i].data = tu_mix((uint64_t)i);
  struct elem *ta2 = gogc_realloc(ta, 100); /* 100 bytes -> 5 elements */
  CHECK(ta2 != NULL);
  if (!ta2)
    return;
  CHECKF(gogc_size(ta2) >= 100, "typed realloc to 100 bytes: size %zu", gogc_size(ta2));
  int ok = 1;
  for (int i = 0; i < 4; i++)
    if (ta2[i].data != tu_mix((uint64_t)i))
      ok = 0;
  CHECK(ok);

  uintptr_t e_c = stash_large(c2, 3000, 100);
  uintptr_t e_ns = stash_large(ns2, 3000, 200);
  uintptr_t e_tp = stash_large(ta2, 4 * sizeof(struct elem) + offsetof(struct elem, ptr), 300);
  uintptr_t e_td = stash_large(ta2, 4 * sizeof(struct elem) + offsetof(struct elem, data), 400);
  /* The same in an element that was copied from the old array. */
  uintptr_t e_tp1 = stash_large(ta2, 1 * sizeof(struct elem) + offsetof(struct elem, ptr), 500);
  uintptr_t e_td1 = stash_large(ta2, 1 * sizeof(struct elem) + offsetof(struct elem, more), 600);

  CHECKF(tu_dies(e_ns, 5), "object referenced only from a realloc'd noscan object survived");
  /* Bytes past the old size of a moved small typed object are scanned
   * conservatively (docs: gogc_realloc), so e_td may live; e_td1, in a
   * copied element, must not. */
  (void)e_td;
  CHECKF(tu_dies(e_td1, 5),
         "object referenced only from a non-pointer field of a copied element of a realloc'd "
         "typed array survived");
  CHECKF(tu_large_intact(e_tp1, 500),
         "object referenced from a pointer field of a copied element of a realloc'd typed array "
         "was freed");
  CHECKF(tu_large_intact(e_c, 100),
         "object referenced from a realloc'd conservative object was freed");
  CHECKF(tu_large_intact(e_tp, 300),
         "object referenced from a pointer field of a realloc'd typed array was freed");
  /* The holders themselves are alive. */
  CHECK(gogc_base(c2) == c2 && gogc_base(ns2) == ns2 && gogc_base(ta2) == ta2);
}

static void test_foreign(void) {
  int local = 1;
  void *m = malloc(100);
  CHECK(gogc_size(NULL) == 0);
  CHECK(gogc_base(NULL) == NULL);
  CHECK(gogc_size(m) == 0);
  CHECK(gogc_base(m) == NULL);
  CHECK(gogc_size((char *)m + 50) == 0);
  CHECK(gogc_size(&local) == 0);
  CHECK(gogc_base(&local) == NULL);
  CHECK(gogc_size(&g_global_int) == 0);
  CHECK(gogc_base(&g_global_int) == NULL);
  CHECK(gogc_size(g_global_buf + 100) == 0);
  CHECK(gogc_base(g_global_buf + 100) == NULL);
  CHECK(gogc_size((void *)test_foreign) == 0);
  CHECK(gogc_size((void *)(uintptr_t)0x1000) == 0);
  CHECK(gogc_base((void *)(uintptr_t)0x1000) == NULL);
  CHECK(gogc_size((void *)(uintptr_t)-64) == 0);
  free(m);

  /* Just past the end of a large object. */
  char *big = gogc_alloc(1 << 20);
  CHECK(big != NULL);
  if (big) {
    size_t us = gogc_size(big);
    CHECK(gogc_base(big + us - 1) == big);
    void *after = gogc_base(big + us);
    CHECK(after != big);
  }
}

static void test_version(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", GOGC_VERSION_MAJOR, GOGC_VERSION_MINOR,
           GOGC_VERSION_PATCH);
  const char *v = gogc_version();
  CHECK(v != NULL);
  CHECKF(v && strcmp(v, want) == 0, "gogc_version() = \"%s\", header says %s", v ? v : "(null)",
         want);
  CHECK(gogc_init() == 0);
  CHECK(gogc_init() == 0); /* idempotent */
}

int main(void) {
  test_version();
  test_sizes();
  test_zero_after_gc();
  test_zero_partial_spans();
  test_overflow();
  test_typed();
  test_strdup();
  test_realloc();
  test_foreign();
  return check_done();
}
