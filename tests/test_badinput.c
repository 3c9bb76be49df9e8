/* test_badinput: program errors are caught with a message and abort();
 * harmless misuse returns an error code. Every public entry point is given
 * NULL, foreign pointers (malloc, stack, global), freed objects, interior
 * and misaligned pointers and sizes that overflow, with the documented
 * result checked (include/gogc.h). GODEBUG=invalidptr=1 catches dangling
 * pointers stored into the heap or found in typed slots; under
 * AddressSanitizer a read of an object the collector freed is caught.
 *
 * Each abort case runs in a child (fork + exec of this executable with the
 * case name as argv[1]) with stdout/stderr captured. The child prints the
 * pointer it is about to pass as "ptr=<%p>" on stdout first, so the parent
 * can check that the message names it.
 */
#include <gogc.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static char g_global[64];

#define announce(p) announce_((uintptr_t)(p))

static void announce_(uintptr_t p) {
  printf("ptr=%p\n", (void *)p);
  fflush(stdout);
}

static int child_main(const char *mode) {
  if (strcmp(mode, "free_malloc") == 0) {
    void *p = malloc(64);
    announce(p);
    gogc_free(p);
  } else if (strcmp(mode, "free_stack") == 0) {
    char local[64] = {0};
    announce(local);
    gogc_free(local);
    __asm__ volatile("" : : "r"(local) : "memory");
  } else if (strcmp(mode, "free_global") == 0) {
    announce(g_global);
    gogc_free(g_global);
  } else if (strcmp(mode, "free_interior") == 0) {
    char *p = gogc_alloc(64);
    announce(p + 8);
    gogc_free(p + 8);
  } else if (strcmp(mode, "free_interior_large") == 0) {
    char *p = gogc_alloc(1 << 20);
    announce(p + 4096);
    gogc_free(p + 4096);
  } else if (strcmp(mode, "double_free_small") == 0) {
    void *p = gogc_alloc(64);
    announce(p);
    gogc_free(p);
    gogc_free(p);
  } else if (strcmp(mode, "double_free_large") == 0) {
    void *p = gogc_alloc(1 << 20);
    announce(p);
    gogc_free(p);
    gogc_free(p);
  } else if (strcmp(mode, "realloc_interior") == 0) {
    char *p = gogc_alloc(64);
    announce(p + 8);
    void *q = gogc_realloc(p + 8, 128);
    printf("realloc returned %p\n", q);
  } else if (strcmp(mode, "realloc_malloc") == 0) {
    void *p = malloc(64);
    announce(p);
    void *q = gogc_realloc(p, 128);
    printf("realloc returned %p\n", q);
  } else if (strcmp(mode, "free_tiny") == 0) {
    /* Small noscan objects, possibly packed together: each one is still an
     * object the program may free. */
    char *a = gogc_alloc_noscan(4), *b = gogc_alloc_noscan(4), *c = gogc_alloc_noscan(4);
    memcpy(a, "aaa", 4);
    memcpy(c, "ccc", 4);
    gogc_free(b);
    char *d = gogc_alloc_noscan(4);
    memcpy(d, "ddd", 4);
    printf("%s\n", strcmp(a, "aaa") == 0 && strcmp(c, "ccc") == 0 ? "survived" : "corrupted");
  } else if (strcmp(mode, "realloc_freed") == 0) {
    void *p = gogc_alloc(64);
    announce(p);
    gogc_free(p);
    void *q = gogc_realloc(p, 128);
    printf("realloc returned %p\n", q);
  } else if (strcmp(mode, "pool_put_foreign") == 0) {
    void *p = malloc(64);
    announce(p);
    gogc_pool_put((gogc_pool *)p, gogc_alloc(16));
  } else if (strcmp(mode, "pool_get_not_pool") == 0) {
    void *p = gogc_alloc(sizeof(void *) * 8);
    announce(p);
    (void)gogc_pool_get((gogc_pool *)p);
  } else if (strcmp(mode, "store_freed_value") == 0) { /* GODEBUG=invalidptr=1 */
    void **holder = gogc_alloc(16), *p = gogc_alloc(64);
    gogc_free(p);
    announce(p);
    gogc_store(&holder[0], p);
  } else if (strcmp(mode, "store_into_freed") == 0) {
    void **p = gogc_alloc(64);
    gogc_free(p);
    announce(&p[1]);
    gogc_store(&p[1], NULL);
  } else if (strcmp(mode, "atomic_freed_value") == 0) {
    void **holder = gogc_alloc(16), *p = gogc_alloc(1 << 20);
    gogc_free(p);
    announce(p);
    gogc_atomic_store(&holder[0], p);
  } else if (strcmp(mode, "memmove_into_freed") == 0) {
    char *p = gogc_alloc(256), src[32] = {0};
    gogc_free(p);
    announce(p);
    gogc_memmove(p, src, sizeof src);
  } else if (strcmp(mode, "typed_slot_freed") == 0) {
    struct tnode { struct tnode *next; long v; };
    const gogc_type *t = GOGC_TYPE(struct tnode, offsetof(struct tnode, next));
    static struct tnode *volatile root;
    root = gogc_alloc_typed(t);
    struct tnode *dead = gogc_alloc_typed(t);
    gogc_free(dead);
    announce(dead);
    root->next = dead; /* a plain store hides it from the barrier's check */
    gogc_collect();
  } else if (strcmp(mode, "asan_read_freed") == 0) {
    /* Freed explicitly, then read: the slot is poisoned. */
    long *p = gogc_alloc(3000);
    p[0] = 1;
    gogc_free(p);
    announce(p);
    printf("read %ld\n", ((volatile long *)p)[1]);
  } else if (strcmp(mode, "asan_read_collected") == 0) {
    /* Freed by the collector: an object of a size class nothing else in
     * this process uses, reached afterwards through a hidden address. */
    uintptr_t h = tu_enc(gogc_alloc(2688));
    for (int i = 0; i < 5; i++) gogc_collect();
    long *p = (long *)tu_dec(h);
    announce(p);
    printf("read %ld\n", ((volatile long *)p)[0]);
  } else if (strcmp(mode, "free_null") == 0) {
    gogc_free(NULL);
    gogc_collect();
    printf("survived\n");
  } else if (strcmp(mode, "free_ok") == 0) {
    /* Legitimate frees of every kind do not abort. */
    gogc_free(gogc_alloc(64));
    gogc_free(gogc_alloc_noscan(64));
    gogc_free(gogc_alloc(1 << 20));
    gogc_free(gogc_strdup("a string of more than sixteen bytes"));
    void *p = gogc_alloc(100);
    gogc_collect();
    gogc_free(p);
    gogc_collect();
    printf("survived\n");
  } else {
    return 3;
  }
  fflush(stdout);
  return 0;
}

/* Extract the hex digits of the "ptr=0x..." line. */
static void announced_hex(const char *out, char *hex, size_t n) {
  hex[0] = '\0';
  const char *p = strstr(out, "ptr=");
  if (!p)
    return;
  p += 4;
  if (p[0] == '0' && p[1] == 'x')
    p += 2;
  size_t i = 0;
  while (i + 1 < n && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
    hex[i++] = *p++;
  hex[i] = '\0';
}

static void expect_abort_env(const char *mode, const char *env, const char *what);

/* The child aborts with a message naming gogc, func and the pointer. */
static void expect_abort(const char *mode, const char *func) {
  expect_abort_env(mode, NULL, func);
}

static void expect_exit0(const char *mode) {
  char *out = NULL, *err = NULL, sbuf[64];
  int st = tu_run_child(mode, NULL, &out, &err);
  if (!out)
    out = strdup("");
  if (!err)
    err = strdup("");
  CHECKF(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "survived"),
         "%s: want exit 0, got %s; stdout:\n%s--- stderr:\n%s---", mode,
         tu_status_str(st, sbuf, sizeof sbuf), out, err);
  free(out);
  free(err);
}

/* The child, with env (a "GODEBUG=..." setting, or NULL) in its
 * environment, aborts with a message that names gogc, contains `what` and
 * names the pointer the child announced. */
static void expect_abort_env(const char *mode, const char *env, const char *what) {
  const char *envs[] = {env, NULL};
  char *out = NULL, *err = NULL, sbuf[64], hex[32];
  int st = tu_run_child(mode, env ? envs : NULL, &out, &err);
  if (!out)
    out = strdup("");
  if (!err)
    err = strdup("");
  CHECKF(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
         "%s: want SIGABRT, got %s; stdout:\n%s--- stderr:\n%s---", mode,
         tu_status_str(st, sbuf, sizeof sbuf), out, err);
  CHECKF(strstr(err, "gogc") != NULL && strstr(err, what) != NULL,
         "%s: stderr does not name gogc and say %s:\n%s---", mode, what, err);
  announced_hex(out, hex, sizeof hex);
  CHECKF(hex[0] != '\0' && strstr(err, hex) != NULL,
         "%s: stderr does not name the pointer %s:\n%s---", mode, hex, err);
  free(out);
  free(err);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifdef TEST_ASAN
/* AddressSanitizer stops the read of a freed slot (gogc poisons it). */
static void expect_asan(const char *mode) {
  char *out = NULL, *err = NULL, sbuf[64];
  int st = tu_run_child(mode, NULL, &out, &err);
  CHECKF(st != 0 && err != NULL && strstr(err, "AddressSanitizer: use-after-poison") != NULL &&
             (out == NULL || strstr(out, "read ") == NULL),
         "%s: want an AddressSanitizer report, got %s; stdout:\n%s--- stderr:\n%.2000s---", mode,
         tu_status_str(st, sbuf, sizeof sbuf), out ? out : "", err ? err : "");
  free(out);
  free(err);
}
#endif

/* The documented results of bad input that is not a program error. */
static int g_calls;
static void fin_nop(void *obj, void *arg) { (void)obj, (void)arg; }
static void cleanup_nop(void *arg) { (void)arg; }
static void *unregister_twice(void *arg) {
  (void)arg;
  gogc_unregister_thread();
  gogc_unregister_thread();
  gogc_leave_blocking(); /* unbalanced: ignored */
  return gogc_alloc(8);  /* registers again */
}

static void test_api_errors(void) {
  char local[32];
  void *m = malloc(64);
  char *p = gogc_alloc(100);
  /* Lookups: 0 / NULL for anything that is not a live object. */
  CHECK(gogc_size(NULL) == 0 && gogc_base(NULL) == NULL);
  CHECK(gogc_size(m) == 0 && gogc_base(m) == NULL);
  CHECK(gogc_size(local) == 0 && gogc_base(local) == NULL);
  CHECK(gogc_size(g_global) == 0 && gogc_base(g_global) == NULL);
  CHECK(gogc_size(p + 3) >= 100 && gogc_base(p + 3) == p); /* interior, misaligned */
  char *f = gogc_alloc(100);
  gogc_free(f);
  CHECK(gogc_size(f) == 0 && gogc_base(f) == NULL);
  /* Sizes that cannot be met or overflow: NULL with ENOMEM, no abort. */
  errno = 0;
  CHECK(gogc_alloc(SIZE_MAX) == NULL && errno == ENOMEM);
  CHECK(gogc_alloc_noscan((size_t)1 << 62) == NULL);
  CHECK(gogc_calloc(SIZE_MAX / 2 + 1, 2) == NULL);
  struct pair { void *a; long b; };
  const gogc_type *pt = GOGC_TYPE(struct pair, offsetof(struct pair, a));
  CHECK(pt != NULL);
  CHECK(gogc_alloc_typed_array(pt, SIZE_MAX / 8) == NULL);
  memset(p, 7, 100);
  CHECK(gogc_realloc(p, SIZE_MAX) == NULL && p[99] == 7); /* p unchanged */
  void *z1 = gogc_alloc(0), *z2 = gogc_alloc(0);
  CHECK(z1 != NULL && z2 != NULL && z1 != z2);
  /* Invalid layouts: NULL with a message. */
  CHECK(gogc_type_new("misaligned", 16, 1, (const size_t[]){3}) == NULL);
  CHECK(gogc_type_new("outside", 16, 1, (const size_t[]){16}) == NULL);
  CHECK(gogc_type_new("empty", 0, 0, NULL) == NULL);
  CHECK(gogc_type_new("no offsets", 16, 2, NULL) == NULL);
  CHECK(gogc_type_new(NULL, 16, 0, NULL) != NULL); /* unnamed is fine */
  /* Finalizers, cleanups, weak pointers: -1 / empty handle / NULL. */
  CHECK(gogc_set_finalizer(NULL, fin_nop, NULL) == -1);
  CHECK(gogc_set_finalizer(m, fin_nop, NULL) == -1);
  CHECK(gogc_set_finalizer(local, fin_nop, NULL) == -1);
  CHECK(gogc_set_finalizer(p + 8, fin_nop, NULL) == -1);
  CHECK(gogc_set_finalizer(f, fin_nop, NULL) == -1);
  CHECK(gogc_set_finalizer(p, fin_nop, NULL) == 0);
  CHECK(gogc_set_finalizer(p, fin_nop, NULL) == -1); /* already set */
  CHECK(gogc_set_finalizer(p, NULL, NULL) == 0);     /* removed */
  CHECK(gogc_add_cleanup(NULL, cleanup_nop, NULL).id == 0);
  CHECK(gogc_add_cleanup(m, cleanup_nop, NULL).id == 0);
  CHECK(gogc_add_cleanup(f, cleanup_nop, NULL).id == 0);
  CHECK(gogc_cleanup_stop((gogc_cleanup){0, 0}) == 0);
  CHECK(gogc_cleanup_stop((gogc_cleanup){0x1234, 99}) == 0); /* not a handle */
  CHECK(gogc_weak_make(NULL) == NULL && gogc_weak_make(m) == NULL);
  CHECK(gogc_weak_make(local) == NULL && gogc_weak_make(f) == NULL);
  CHECK(gogc_weak_get(NULL) == NULL);
  /* Pools: a NULL pool is ignored, a NULL object is not put. */
  CHECK(gogc_pool_get(NULL) == NULL);
  gogc_pool_put(NULL, p);
  gogc_pool *pool = gogc_pool_new(NULL, NULL);
  gogc_pool_put(pool, NULL);
  CHECK(gogc_pool_get(pool) == NULL);
  /* Bulk operations of zero bytes touch nothing. */
  CHECK(gogc_memmove(NULL, NULL, 0) == NULL);
  gogc_memclr(NULL, 0);
  /* Settings: extreme values are clamped or read, never misread. */
  int old = gogc_set_percent(INT_MIN);
  CHECK(gogc_set_percent(old) < 0);
  int64_t lim = gogc_set_memory_limit(-1);
  CHECK(gogc_set_memory_limit(-12345) == lim);
  /* Tracing: -1 with a message. */
  CHECK(gogc_trace_start(NULL) == -1);
  CHECK(gogc_trace_start("/nonexistent-dir/gogc/trace.json") == -1);
  gogc_read_memstats(NULL);
  /* Threads: unregistering twice, leaving a blocking section never
   * entered, then allocating again, all harmless. */
  pthread_t th;
  void *r = NULL;
  CHECK(pthread_create(&th, NULL, unregister_twice, NULL) == 0);
  pthread_join(th, &r);
  CHECK(r != NULL);
  gogc_leave_blocking();
  gogc_collect();
  CHECK(p[0] == 7 && gogc_size(p) >= 100);
  gogc_keep_alive(p);
  g_calls++;
  free(m);
}

static void test_roots(void) {
  void **blk = calloc(16, sizeof(void *));
  if (!blk)
    return;
  /* lo > hi */
  CHECK(gogc_add_roots(blk + 16, blk) == -1);
  /* unknown ranges */
  CHECK(gogc_remove_roots(blk, blk + 16) == -1);
  CHECK(gogc_remove_roots(NULL, NULL) == -1);
  /* add / remove with exactly the same bounds */
  CHECK(gogc_add_roots(blk, blk + 16) == 0);
  CHECK(gogc_remove_roots(blk, blk + 8) == -1); /* not the same bounds */
  CHECK(gogc_remove_roots(blk + 1, blk + 16) == -1);
  gogc_collect();
  CHECK(gogc_remove_roots(blk, blk + 16) == 0);
  CHECK(gogc_remove_roots(blk, blk + 16) == -1); /* already removed */
  /* and again, after removal */
  CHECK(gogc_add_roots(blk, blk + 16) == 0);
  CHECK(gogc_remove_roots(blk, blk + 16) == 0);
  /* empty range lo == hi is not bad input */
  int r = gogc_add_roots(blk, blk);
  CHECK(r == 0);
  if (r == 0)
    CHECK(gogc_remove_roots(blk, blk) == 0);
  gogc_collect();
  free(blk);
}

int main(int argc, char **argv) {
  if (argc > 1)
    return child_main(argv[1]);
  expect_abort("free_malloc", "gogc_free");
  expect_abort("free_stack", "gogc_free");
  expect_abort("free_global", "gogc_free");
  expect_abort("free_interior", "gogc_free");
  expect_abort("free_interior_large", "gogc_free");
  expect_abort("double_free_small", "gogc_free");
  expect_abort("double_free_large", "gogc_free");
  expect_abort("realloc_interior", "gogc_realloc");
  expect_abort("realloc_malloc", "gogc_realloc");
  expect_abort("realloc_freed", "gogc_realloc");
  expect_abort("pool_put_foreign", "gogc_pool_put");
  expect_abort("pool_get_not_pool", "gogc_pool_get");
  /* GODEBUG=invalidptr=1 */
  const char *ip = "GODEBUG=invalidptr=1";
  expect_abort_env("store_freed_value", ip, "gogc_store: value");
  expect_abort_env("store_into_freed", ip, "gogc_store: slot");
  expect_abort_env("atomic_freed_value", ip, "gogc_atomic_store: value");
  expect_abort_env("memmove_into_freed", ip, "gogc_memmove: destination");
  expect_abort_env("typed_slot_freed", ip, "invalid pointer");
#ifdef TEST_ASAN
  expect_asan("asan_read_freed");
  expect_asan("asan_read_collected");
#endif
  test_api_errors();
  expect_exit0("free_null");
  expect_exit0("free_ok");
  expect_exit0("free_tiny");
  test_roots();
  return check_done();
}
