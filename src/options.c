/* gogc: run-time options, all in one table.
 *
 * Environment variables, parsed as Go parses them:
 *   GOGC         percent or "off" (default 100). Go's readGOGC.
 *   GODEBUG      comma-separated name=value settings from the table below.
 *   GOMAXPROCS   number of threads that mark in parallel (default: CPUs).
 *   GOGC_SUSPEND_SIGNAL  signal number used to stop threads (default SIGPWR).
 * A malformed value is reported on stderr with the variable and the value,
 * and the default is used: never a crash, never a silent misread. Unknown
 * GODEBUG names are reported and ignored.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>

/* name, field, default, min, max, meaning */
#define GOGC_GODEBUG_OPTIONS(X)                                                  \
  X("gctrace", opt_gctrace, 0, 0, 2, "print one line per cycle on stderr")    \
  X("gcstoptheworld", opt_gcstoptheworld, 0, 0, 2,                            \
    "1: mark with the world stopped; 2: sweep with it stopped too")           \
  X("gcverify", opt_gcverify, GOGC_DEBUG >= 2, 0, 1,                          \
    "verify the heap after every cycle (abort on a violation)")                \
  X("gccheckmark", opt_gccheckmark, 0, 0, 1,                                   \
    "re-mark with the world stopped after each concurrent mark and abort "     \
    "if an object reachable then was not marked")

static bool parse_long(const char *s, size_t n, long lo, long hi, long *out) {
  if (n == 0 || n > 30) return false;
  char buf[32];
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno != 0 || *end != 0 || end == buf || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static void parse_godebug(gogc_runtime *rt, const char *s) {
  while (*s) {
    const char *item = s;
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    s = comma ? comma + 1 : s + len;
    if (len == 0) continue;
    const char *eq = memchr(item, '=', len);
    size_t klen = eq ? (size_t)(eq - item) : len;
    const char *val = eq ? eq + 1 : "";
    size_t vlen = eq ? len - klen - 1 : 0;
    bool known = false;
#define X(name, field, def, min, max, doc)                                       \
  if (klen == sizeof(name) - 1 && memcmp(item, name, klen) == 0) {              \
    known = true;                                                               \
    long v;                                                                     \
    if (parse_long(val, vlen, min, max, &v)) rt->field = (int)v;                \
    else                                                                        \
      gogc_warn("GODEBUG: %s=\"%.*s\" is not a number from %d to %d; using %d", \
                name, (int)vlen, val, min, max, rt->field);                     \
  }
    GOGC_GODEBUG_OPTIONS(X)
#undef X
    if (!known) gogc_warn("GODEBUG: unknown setting \"%.*s\" ignored", (int)klen, item);
  }
}

void gogc_options_init(void) {
  gogc_runtime *rt = gogc_rt;
#define X(name, field, def, min, max, doc) rt->field = (def);
  GOGC_GODEBUG_OPTIONS(X)
#undef X
  rt->gc_percent = 100;
  const char *v = getenv("GOGC");
  if (v != NULL && *v != 0) {
    long p;
    if (strcmp(v, "off") == 0) rt->gc_percent = -1;
    else if (parse_long(v, strlen(v), INT_MIN, INT_MAX, &p)) rt->gc_percent = p < 0 ? -1 : (int)p;
    else gogc_warn("GOGC=\"%s\" is not a percentage or \"off\"; using 100", v);
  }
  if ((v = getenv("GODEBUG")) != NULL) parse_godebug(rt, v);
  rt->opt_procs = (int)rt->ncpu;
  if ((v = getenv("GOMAXPROCS")) != NULL && *v != 0) {
    long n;
    if (parse_long(v, strlen(v), 1, 1024, &n)) rt->opt_procs = (int)n;
    else gogc_warn("GOMAXPROCS=\"%s\" is not a number from 1 to 1024; using %u", v, rt->ncpu);
  }
  rt->suspend_signal = SIGPWR;
  if ((v = getenv("GOGC_SUSPEND_SIGNAL")) != NULL && *v != 0) {
    long n;
    if (parse_long(v, strlen(v), 1, SIGRTMAX, &n) && n != SIGKILL && n != SIGSTOP &&
        n != SIGSEGV && n != SIGBUS)
      rt->suspend_signal = (int)n;
    else gogc_warn("GOGC_SUSPEND_SIGNAL=\"%s\" is not a usable signal number; using %d", v, SIGPWR);
  }
}
