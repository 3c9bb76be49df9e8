/* test_badinput: program errors are caught with a message and abort();
 * harmless misuse returns an error code.
 *
 * Each abort case runs in a child (fork + exec of this executable with the
 * case name as argv[1]) with stdout/stderr captured. The child prints the
 * pointer it is about to pass as "ptr=<%p>" on stdout first, so the parent
 * can check that the message names it.
 */
#include <gogc.h>

#include <signal.h>
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

static void expect_abort(const char *mode, const char *func) {
  char *out = NULL, *err = NULL, sbuf[64], hex[32];
  int st = tu_run_child(mode, NULL, &out, &err);
  if (!out)
    out = strdup("");
  if (!err)
    err = strdup("");
  CHECKF(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
         "%s: want SIGABRT, got %s; stdout:\n%s--- stderr:\n%s---", mode,
         tu_status_str(st, sbuf, sizeof sbuf), out, err);
  CHECKF(strstr(err, "gogc") != NULL && strstr(err, func) != NULL,
         "%s: stderr does not name gogc and %s:\n%s---", mode, func, err);
  announced_hex(out, hex, sizeof hex);
  CHECKF(hex[0] != '\0' && strstr(err, hex) != NULL,
         "%s: stderr does not name the pointer %s:\n%s---", mode, hex, err);
  free(out);
  free(err);
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
  expect_exit0("free_null");
  expect_exit0("free_ok");
  expect_exit0("free_tiny");
  test_roots();
  return check_done();
}
