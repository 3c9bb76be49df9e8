/* test_env: GOGC / GOMEMLIMIT / GODEBUG parsing, gogc_set_percent and
 * gogc_set_memory_limit.
 *
 * Each environment case runs this executable again with a crafted
 * environment (see tu_run_child) and inspects its stdout/stderr and exit
 * status. Child modes:
 *   percent  print "percent=<gogc_set_percent(100)>" and
 *            "memstats=<gc_percent>"
 *   trace    run one gogc_collect() and a little allocation
 *   limit    print "limit=<gogc_set_memory_limit(-1)>", churn 64 MiB with
 *            2 MiB live, print the collections and memstats' limit
 *   thp      print "flags=<hg|nh|none>": how the mapping holding a heap
 *            object is marked for transparent huge pages (/proc/self/smaps
 *            VmFlags: hg for MADV_HUGEPAGE, nh for MADV_NOHUGEPAGE)
 */
#include <gogc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

/* The huge-page advice on the mapping holding p: "hg" (MADV_HUGEPAGE),
 * "nh" (MADV_NOHUGEPAGE), "none", or "?" when smaps cannot be read or has
 * no such mapping. */
static const char *mapping_hugepage_flag(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (f == NULL)
    return "?";
  char line[512];
  int inside = 0;
  const char *result = "?";
  uintptr_t a = (uintptr_t)p;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
      inside = a >= lo && a < hi;
    } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
      result = strstr(line, " hg") ? "hg" : strstr(line, " nh") ? "nh" : "none";
      break;
    }
  }
  fclose(f);
  return result;
}

static int child_main(const char *mode) {
  if (strcmp(mode, "thp") == 0) {
    void *p = gogc_alloc(4096);
    printf("alloc=%s\nflags=%s\n", p ? "ok" : "null", p ? mapping_hugepage_flag(p) : "?");
    return 0;
  }
  if (strcmp(mode, "percent") == 0) {
    gogc_memstats *ms = malloc(sizeof *ms);
    if (!ms)
      return 2;
    gogc_read_memstats(ms);
    int old = gogc_set_percent(100);
    printf("percent=%d\nmemstats=%d\n", old, ms->gc_percent);
    void *p = gogc_alloc(100); /* the library works */
    printf("alloc=%s\n", p ? "ok" : "null");
    free(ms);
    return 0;
  }
  if (strcmp(mode, "limit") == 0) {
    /* The limit in force, then a program that keeps 2 MiB live and churns
     * 64 MiB: it must finish (a tiny limit must not stop it). */
    printf("limit=%lld\n", (long long)gogc_set_memory_limit(-1));
    void **live = gogc_alloc(2048 * sizeof(void *));
    for (int i = 0; i < 65536 && live; i++) {
      void *p = gogc_alloc(1024);
      if (i % 32 == 0)
        gogc_store(&live[(i / 32) % 2048], p);
    }
    gogc_memstats *ms = malloc(sizeof *ms);
    if (!ms)
      return 2;
    gogc_read_memstats(ms);
    printf("alloc=%s\nnum_gc=%u\nmemstats_limit=%lld\n", live ? "ok" : "null", ms->num_gc,
           (long long)ms->memory_limit);
    free(ms);
    return 0;
  }
  if (strcmp(mode, "trace") == 0) {
    void *keep = gogc_alloc(1 << 20);
    gogc_collect();
    printf("alloc=%s\n", keep ? "ok" : "null");
    return 0;
  }
  return 3;
}

/* Parsed output of a "percent" child. */
struct result {
  int status;
  int percent;
  int memstats;
  int have_percent;
  char *out;
  char *err;
};

static void run(const char *mode, const char *env1, const char *env2, struct result *r) {
  const char *env[3] = {env1, env2, NULL};
  memset(r, 0, sizeof *r);
  r->status = tu_run_child(mode, env, &r->out, &r->err);
  if (r->out == NULL)
    r->out = strdup("");
  if (r->err == NULL)
    r->err = strdup("");
  const char *p = strstr(r->out, "percent=");
  if (p && sscanf(p, "percent=%d", &r->percent) == 1)
    r->have_percent = 1;
  p = strstr(r->out, "memstats=");
  if (p)
    sscanf(p, "memstats=%d", &r->memstats);
}

static void release(struct result *r) {
  free(r->out);
  free(r->err);
}

static int exited_ok(const struct result *r) {
  return r->status != -1 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 &&
         strstr(r->out, "alloc=ok") != NULL;
}

/* Find a line of `text` starting with `prefix` that contains all of the
 * given strings (NULL-terminated list). */
static int has_line(const char *text, const char *prefix, const char *const *needles) {
  const char *line = text;
  while (line && *line) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char *buf = malloc(len + 1);
    if (!buf)
      return 0;
    memcpy(buf, line, len);
    buf[len] = '\0';
    int ok = strncmp(buf, prefix, strlen(prefix)) == 0;
    for (int i = 0; ok && needles && needles[i]; i++)
      if (strstr(buf, needles[i]) == NULL)
        ok = 0;
    free(buf);
    if (ok)
      return 1;
    line = nl ? nl + 1 : NULL;
  }
  return 0;
}

#define DESCRIBE(r)                                                                  \
  "status %s, stdout:\n%s--- stderr:\n%s---", tu_status_str((r)->status, sbuf, sizeof sbuf), \
      (r)->out, (r)->err

static void test_gogc_values(void) {
  struct result r;
  char sbuf[64];

  run("percent", "GOGC=50", NULL, &r);
  CHECKF(exited_ok(&r), DESCRIBE(&r));
  CHECKF(r.have_percent && r.percent == 50, "GOGC=50: " DESCRIBE(&r));
  CHECKF(r.memstats == 50, "GOGC=50: memstats gc_percent %d", r.memstats);
  CHECKF(strstr(r.err, "gogc: ") == NULL, "GOGC=50 printed a message: %s", r.err);
  release(&r);

  run("percent", "GOGC=off", NULL, &r);
  CHECKF(exited_ok(&r), DESCRIBE(&r));
  CHECKF(r.have_percent && r.percent < 0, "GOGC=off: " DESCRIBE(&r));
  CHECKF(r.memstats < 0, "GOGC=off: memstats gc_percent %d", r.memstats);
  CHECKF(strstr(r.err, "gogc: ") == NULL, "GOGC=off printed a message: %s", r.err);
  release(&r);

  run("percent", "GOGC=100", NULL, &r);
  CHECKF(exited_ok(&r) && r.have_percent && r.percent == 100, "GOGC=100: " DESCRIBE(&r));
  release(&r);

  run("percent", "GOGC=250", NULL, &r);
  CHECKF(exited_ok(&r) && r.have_percent && r.percent == 250, "GOGC=250: " DESCRIBE(&r));
  release(&r);

  /* No GOGC at all: default. */
  run("percent", NULL, NULL, &r);
  CHECKF(exited_ok(&r) && r.have_percent && r.percent == 100, "no GOGC: " DESCRIBE(&r));
  CHECKF(strstr(r.err, "gogc: ") == NULL, "no GOGC printed a message: %s", r.err);
  release(&r);

  /* Empty: default. */
  run("percent", "GOGC=", NULL, &r);
  CHECKF(exited_ok(&r), DESCRIBE(&r));
  CHECKF(r.have_percent && r.percent == 100, "GOGC= (empty): " DESCRIBE(&r));
  release(&r);

  /* Invalid values: a message naming GOGC and the value, default used. */
  const char *bad[] = {"garbage", "12abc", "99999999999999999999", "1.5", "0x10"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char var[128];
    snprintf(var, sizeof var, "GOGC=%s", bad[i]);
    run("percent", var, NULL, &r);
    CHECKF(exited_ok(&r), "%s: " DESCRIBE(&r), var);
    CHECKF(r.have_percent && r.percent == 100, "%s: " DESCRIBE(&r), var);
    const char *needles[] = {"GOGC", bad[i], NULL};
    CHECKF(has_line(r.err, "gogc: ", needles),
           "%s: no stderr line starting with \"gogc: \" naming GOGC and the value: " DESCRIBE(&r),
           var);
    release(&r);
  }
}

static void test_godebug(void) {
  struct result r;
  char sbuf[64];

  /* gctrace=1: a Go-style trace line for the forced cycle. */
  run("trace", "GODEBUG=gctrace=1", NULL, &r);
  CHECKF(exited_ok(&r), "gctrace=1: " DESCRIBE(&r));
  {
    const char *needles[] = {" MB goal", "(forced)", NULL};
    CHECKF(has_line(r.err, "gc 1 @", needles),
           "gctrace=1: no line \"gc 1 @... MB goal ... (forced)\": " DESCRIBE(&r));
  }
  release(&r);

  /* Without gctrace: no trace line. */
  run("trace", NULL, NULL, &r);
  CHECKF(exited_ok(&r), DESCRIBE(&r));
  CHECKF(!has_line(r.err, "gc 1 @", NULL), "trace printed without gctrace: %s", r.err);
  release(&r);

  /* gctrace in a comma-separated list (Go's GODEBUG syntax). */
  run("trace", "GODEBUG=gcverify=1,gctrace=1", NULL, &r);
  CHECKF(exited_ok(&r), "gcverify=1,gctrace=1: " DESCRIBE(&r));
  {
    const char *needles[] = {" MB goal", "(forced)", NULL};
    CHECKF(has_line(r.err, "gc 1 @", needles),
           "GODEBUG=gcverify=1,gctrace=1: no trace line: " DESCRIBE(&r));
  }
  release(&r);

  /* Bad value for a known option. */
  run("percent", "GODEBUG=gctrace=bogus", NULL, &r);
  CHECKF(exited_ok(&r), "gctrace=bogus: " DESCRIBE(&r));
  {
    const char *needles[] = {"GODEBUG", "gctrace", "bogus", NULL};
    CHECKF(has_line(r.err, "gogc: ", needles),
           "gctrace=bogus: no message naming GODEBUG, gctrace and the value: " DESCRIBE(&r));
  }
  release(&r);

  run("percent", "GODEBUG=gctrace=x", NULL, &r);
  CHECKF(exited_ok(&r), "gctrace=x: " DESCRIBE(&r));
  {
    const char *needles[] = {"GODEBUG", "gctrace", NULL};
    CHECKF(has_line(r.err, "gogc: ", needles),
           "gctrace=x: no message naming GODEBUG and gctrace: " DESCRIBE(&r));
  }
  release(&r);

  /* Unknown option: a warning, nothing else changes. */
  run("percent", "GODEBUG=nosuchoption=1", NULL, &r);
  CHECKF(exited_ok(&r), "nosuchoption=1: " DESCRIBE(&r));
  CHECKF(r.have_percent && r.percent == 100, "nosuchoption=1: " DESCRIBE(&r));
  {
    const char *needles[] = {"nosuchoption", NULL};
    CHECKF(has_line(r.err, "gogc: ", needles), "nosuchoption=1: no warning: " DESCRIBE(&r));
  }
  release(&r);

  /* Both variables at once, and junk that must not crash. */
  run("percent", "GOGC=75", "GODEBUG=gctrace=0", &r);
  CHECKF(exited_ok(&r) && r.have_percent && r.percent == 75, "GOGC=75 GODEBUG=gctrace=0: " DESCRIBE(&r));
  release(&r);
  const char *junk[] = {"GODEBUG=", "GODEBUG=,,,", "GODEBUG==", "GODEBUG=gctrace",
                        "GODEBUG=gctrace=99999999999999999999999", "GODEBUG=a=b=c,=,x"};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
    run("trace", junk[i], NULL, &r);
    CHECKF(exited_ok(&r), "%s: " DESCRIBE(&r), junk[i]);
    CHECKF(!has_line(r.err, "gc 1 @", NULL), "%s turned the trace on: " DESCRIBE(&r), junk[i]);
    release(&r);
  }

  /* What each kind of item does: empty ones are skipped without a word; a
   * name without '=' is a known name with an empty value (reported); each
   * unknown name is reported once, the empty name too; a trailing comma
   * ends the list. */
  run("trace", "GODEBUG=,,,", NULL, &r);
  CHECKF(!has_line(r.err, "gogc: ", NULL), "GODEBUG=,,, printed a message: " DESCRIBE(&r));
  release(&r);
  run("trace", "GODEBUG=gctrace", NULL, &r);
  {
    const char *needles[] = {"GODEBUG", "gctrace", "not a number", NULL};
    CHECKF(has_line(r.err, "gogc: ", needles), "GODEBUG=gctrace: no message: " DESCRIBE(&r));
  }
  release(&r);
  run("trace", "GODEBUG=a=b=c,=,x", NULL, &r);
  {
    const char *na[] = {"unknown setting \"a\"", NULL}, *ne[] = {"unknown setting \"\"", NULL},
               *nx[] = {"unknown setting \"x\"", NULL};
    CHECKF(has_line(r.err, "gogc: ", na) && has_line(r.err, "gogc: ", ne) &&
               has_line(r.err, "gogc: ", nx),
           "GODEBUG=a=b=c,=,x: not each of a, the empty name and x reported: " DESCRIBE(&r));
  }
  release(&r);
  run("trace", "GODEBUG=gcverify=0,,gctrace=1,", NULL, &r);
  CHECKF(exited_ok(&r) && has_line(r.err, "gc 1 @", NULL) && !has_line(r.err, "gogc: ", NULL),
         "GODEBUG=gcverify=0,,gctrace=1,: no trace line, or a message: " DESCRIBE(&r));
  release(&r);
}

/* GOMEMLIMIT: Go's byte counts; "off"; malformed values named on stderr,
 * no limit set; extreme values (0, 1 byte, more than the machine) work. */
static long long child_limit(const char *env, char **err, int *ok, unsigned *num_gc) {
  const char *envv[2] = {env, NULL};
  char *out = NULL;
  int st = tu_run_child("limit", envv, &out, err);
  long long v = -1;
  const char *p = out ? strstr(out, "limit=") : NULL;
  if (p) v = atoll(p + 6);
  const char *g = out ? strstr(out, "num_gc=") : NULL;
  *num_gc = g ? (unsigned)atoi(g + 7) : 0;
  const char *m = out ? strstr(out, "memstats_limit=") : NULL;
  *ok = st == 0 && out && strstr(out, "alloc=ok") && m && atoll(m + 15) == v;
  free(out);
  if (*err == NULL) *err = strdup("");
  return v;
}

static void test_gomemlimit(void) {
  static const struct {
    const char *env;
    long long want;
  } good[] = {
      {"GOMEMLIMIT=256MiB", 256ll << 20},
      {"GOMEMLIMIT=1GiB", 1ll << 30},
      {"GOMEMLIMIT=123456789", 123456789},
      {"GOMEMLIMIT=4096B", 4096},
      {"GOMEMLIMIT=8TiB", 8ll << 40},
      {"GOMEMLIMIT=off", INT64_MAX},
      {"GOMEMLIMIT=", INT64_MAX},
      {"GOMEMLIMIT=0", 0},
      {"GOMEMLIMIT=1", 1},
      {"GOMEMLIMIT=9223372036854775807", INT64_MAX},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char *err;
    int ok;
    unsigned ngc;
    long long v = child_limit(good[i].env, &err, &ok, &ngc);
    CHECKF(ok && v == good[i].want, "%s: limit %lld, want %lld, ok %d, stderr %s", good[i].env, v,
           good[i].want, ok, err);
    CHECKF(strstr(err, "gogc: ") == NULL, "%s printed a message: %s", good[i].env, err);
    /* a limit far below the program's needs: collections run, and it finishes */
    if (good[i].want <= 1) CHECKF(ngc >= 2, "%s: %u collections", good[i].env, ngc);
    free(err);
  }
  static const char *bad[] = {"1.5GiB", "100MB", "100mib", "-5", "abc", "1 GiB", "GiB",
                              "99999999999999999999", "9223372036854775808", "16777216TiB"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char var[64], *err;
    int ok;
    unsigned ngc;
    snprintf(var, sizeof var, "GOMEMLIMIT=%s", bad[i]);
    long long v = child_limit(var, &err, &ok, &ngc);
    CHECKF(ok && v == INT64_MAX, "%s: limit %lld (want none), ok %d", var, v, ok);
    const char *needles[] = {"GOMEMLIMIT", bad[i], NULL};
    CHECKF(has_line(err, "gogc: ", needles), "%s: no message naming GOMEMLIMIT and the value: %s",
           var, err);
    free(err);
  }
  /* gogc_set_memory_limit in this process: returns the old value; a
   * negative argument only reads. */
  int64_t old = gogc_set_memory_limit(-1);
  CHECK(gogc_set_memory_limit(64ll << 20) == old);
  CHECK(gogc_set_memory_limit(-1) == (64ll << 20));
  CHECK(gogc_set_memory_limit(-12345) == (64ll << 20));
  CHECK(gogc_set_memory_limit(old) == (64ll << 20));
  CHECK(gogc_set_memory_limit(-1) == old);
}

/* gogc_set_percent in this process. */
static void test_set_percent(void) {
  gogc_memstats *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  if (!a || !b)
    return;
  int initial = gogc_set_percent(100);
  if (getenv("GOGC") == NULL)
    CHECKF(initial == 100, "initial GOGC %d", initial);
  CHECK(gogc_set_percent(50) == 100);
  gogc_read_memstats(a);
  CHECK(a->gc_percent == 50);
  CHECK(gogc_set_percent(-1) == 50);
  gogc_read_memstats(a);
  CHECK(a->gc_percent < 0);

  /* Off: 64 MiB of garbage runs no automatic collection. */
  gogc_collect();
  gogc_read_memstats(a);
  tu_garbage((size_t)64 << 20, 16, 4096, 2, 5);
  gogc_read_memstats(b);
  if (!tu_stressed()) {
    CHECKF(b->num_gc == a->num_gc, "GOGC off: %u collections ran", b->num_gc - a->num_gc);
    CHECK(b->heap_alloc >= a->heap_alloc + ((uint64_t)60 << 20));
  }
  /* gogc_collect still works. */
  gogc_read_memstats(a);
  tu_clobber_stack();
  gogc_collect();
  gogc_read_memstats(b);
  CHECK(b->num_gc == a->num_gc + 1);
  CHECK(b->num_forced_gc == a->num_forced_gc + 1);
  CHECKF(b->heap_alloc < ((uint64_t)16 << 20), "heap_alloc %llu after collect",
         (unsigned long long)b->heap_alloc);

  /* Back on: automatic collections again. */
  int old = gogc_set_percent(100);
  CHECKF(old < 0, "gogc_set_percent returned %d, want the negative 'off' value", old);
  gogc_read_memstats(a);
  tu_garbage((size_t)64 << 20, 16, 4096, 2, 6);
  gogc_read_memstats(b);
  CHECKF(b->num_gc > a->num_gc, "GOGC=100 again: no automatic collection");
  CHECK(tu_stressed() || b->num_forced_gc == a->num_forced_gc);
  CHECK(gogc_set_percent(100) == 100);
  free(a);
  free(b);
}

/* Huge pages: the heap leaves the system's setting alone by default,
 * asks for them with GODEBUG=hugepages=1 and refuses them with
 * disablethp=1, which wins. Where the kernel has no transparent huge
 * pages the advice fails and nothing is marked. */
static void test_hugepages(void) {
  struct result r;
  char sbuf[64];
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  int thp = f != NULL;
  if (f != NULL)
    fclose(f);
  static const struct {
    const char *env, *flags;
  } cases[] = {
      {NULL, "flags=none"},
      {"GODEBUG=hugepages=1", "flags=hg"},
      {"GODEBUG=disablethp=1", "flags=nh"},
      {"GODEBUG=hugepages=1,disablethp=1", "flags=nh"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run("thp", cases[i].env, NULL, &r);
    CHECKF(exited_ok(&r), "%s: " DESCRIBE(&r), cases[i].env ? cases[i].env : "(default)");
    const char *want = thp ? cases[i].flags : "flags=none";
    CHECKF(strstr(r.out, want) != NULL, "%s: want %s: " DESCRIBE(&r),
           cases[i].env ? cases[i].env : "(default)", want);
    release(&r);
  }
  if (!thp)
    fprintf(stderr, "test_env: no transparent huge pages in this kernel: only the default checked\n");
  run("thp", "GODEBUG=hugepages=2", NULL, &r);
  CHECKF(exited_ok(&r), "hugepages=2: " DESCRIBE(&r));
  CHECKF(strstr(r.err, "hugepages") != NULL, "hugepages=2 not reported: " DESCRIBE(&r));
  release(&r);
}

int main(int argc, char **argv) {
  if (argc > 1)
    return child_main(argv[1]);
  test_gogc_values();
  test_godebug();
  test_set_percent();
  test_gomemlimit();
  test_hugepages();
  return check_done();
}
