/* gogc: run-time options, all in one table.
 *
 * Environment variables, parsed as Go parses them:
 *   GOGC         percent or "off" (default 100). Go's readGOGC.
 *   GOMEMLIMIT   soft memory limit: a byte count with an optional B, KiB,
 *                MiB, GiB or TiB suffix, or "off" (default). Go's
 *                parseByteCount: digits only, binary units only.
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
  X("scavtrace", opt_scavtrace, 0, 0, 1,                                       \
    "print one line per cycle on what the scavenger returned to the OS")       \
  X("gccheckmark", opt_gccheckmark, 0, 0, 1,                                   \
    "re-mark with the world stopped after each concurrent mark and abort "     \
    "if an object reachable then was not marked")                              \
  X("gcstress", opt_gcstress, 0, 0, 1000000000,                                \
    "a full collection at every Nth allocation of each thread (1: at every "   \
    "one)")                                                                    \
  X("gcstressslow", opt_gcstressslow, 0, 0, 1,                                 \
    "a full collection on the first try of every allocation slow path "        \
    "(a new span, a large object)")                                            \
  X("poolcheck", opt_poolcheck, 0, 0, 1,                                       \
    "pools: poison objects put in a pool and abort if one was written "        \
    "before a get returned it; drop one put in four")                          \
  X("invalidptr", opt_invalidptr, 0, 0, 1,                                    \
    "check pointers passed to the API and found in typed pointer slots: one "  \
    "into the heap must point into an allocated object (abort otherwise)")     \
  X("hugepages", opt_hugepages, 0, 0, 1,                                      \
    "1: ask the OS to back the heap with transparent huge pages "              \
    "(MADV_HUGEPAGE)")                                                         \
  X("disablethp", opt_disablethp, 0, 0, 1,                                    \
    "1: ask the OS never to back the heap with transparent huge pages "        \
    "(MADV_NOHUGEPAGE; wins over hugepages=1), arena chunks included")        \
  X("failmem", opt_failmem, 0, 0, 1000000000,                                 \
    "testing: the Nth request for memory from the OS fails (counted from "    \
    "start-up, before anything else is read)")                                 \
  X("failmempersist", opt_failmempersist, 0, 0, 1,                             \
    "testing, with failmem: every request after the Nth fails too")

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

/* The next name=value item of a GODEBUG string, skipping empty items
 * (",,"): returns where the item after it starts, or NULL when none is
 * left. An item without '=' has an empty value. */
typedef struct godebug_item {
  const char *key, *val;
  size_t klen, vlen;
} godebug_item;

static const char *godebug_next(const char *s, godebug_item *it) {
  while (s != NULL && *s == ',') s++;
  if (s == NULL || *s == 0) return NULL;
  const char *comma = strchr(s, ',');
  size_t len = comma ? (size_t)(comma - s) : strlen(s);
  const char *eq = memchr(s, '=', len);
  it->key = s;
  it->klen = eq ? (size_t)(eq - s) : len;
  it->val = eq ? eq + 1 : "";
  it->vlen = eq ? len - it->klen - 1 : 0;
  return comma ? comma + 1 : s + len;
}

static bool godebug_is(const godebug_item *it, const char *name) {
  return it->klen == strlen(name) && memcmp(it->key, name, it->klen) == 0;
}

/* GODEBUG=failmem/failmempersist, read before anything else so that it
 * can fail start-up's first request. Silent: parse_godebug reports a
 * malformed value later, from the table. As there, a malformed value
 * keeps what an earlier item set (parse_long writes only on success). */
void gogc_options_fault_init(void) {
  long nth = 0, persist = 0;
  godebug_item it;
  for (const char *s = getenv("GODEBUG"); (s = godebug_next(s, &it)) != NULL;) {
    if (godebug_is(&it, "failmem")) {
      (void)parse_long(it.val, it.vlen, 0, 1000000000, &nth);
    } else if (godebug_is(&it, "failmempersist")) {
      (void)parse_long(it.val, it.vlen, 0, 1, &persist);
    }
  }
  if (nth > 0) gogc_os_fail_set((uint64_t)nth, persist != 0);
}

static void parse_godebug(gogc_runtime *rt, const char *s) {
  godebug_item it;
  while ((s = godebug_next(s, &it)) != NULL) {
    bool known = false;
#define X(name, field, def, min, max, doc)                                       \
  if (godebug_is(&it, name)) {                                                  \
    known = true;                                                               \
    long v;                                                                     \
    if (parse_long(it.val, it.vlen, min, max, &v)) rt->field = (int)v;          \
    else                                                                        \
      gogc_warn("GODEBUG: %s=\"%.*s\" is not a number from %d to %d; using %d", \
                name, (int)it.vlen, it.val, min, max, rt->field);               \
  }
    GOGC_GODEBUG_OPTIONS(X)
#undef X
    if (!known) gogc_warn("GODEBUG: unknown setting \"%.*s\" ignored", (int)it.klen, it.key);
  }
}

/* Go's parseByteCount: ^[0-9]+(([KMGT]i)?B)?$, no overflow. */
bool gogc_parse_byte_count(const char *s, int64_t *out) {
  size_t n = strlen(s);
  if (n == 0) return false;
  uint64_t mul = 1;
  if (s[n - 1] == 'B') {
    n--;
    if (n >= 2 && s[n - 1] == 'i') {
      switch (s[n - 2]) {
      case 'K': mul = 1ull << 10; break;
      case 'M': mul = 1ull << 20; break;
      case 'G': mul = 1ull << 30; break;
      case 'T': mul = 1ull << 40; break;
      default: return false;
      }
      n -= 2;
    }
  }
  if (n == 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > ((uint64_t)INT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > (uint64_t)INT64_MAX / mul) return false;
  *out = (int64_t)(v * mul);
  return true;
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
  rt->mem_limit = INT64_MAX;
  v = getenv("GOMEMLIMIT");
  if (v != NULL && *v != 0 && strcmp(v, "off") != 0) {
    int64_t lim;
    if (gogc_parse_byte_count(v, &lim)) rt->mem_limit = lim;
    else
      gogc_warn("GOMEMLIMIT=\"%s\" is not a byte count (digits with an optional B, KiB, MiB, "
                "GiB or TiB suffix) or \"off\"; no memory limit", v);
  }
  if ((v = getenv("GODEBUG")) != NULL) parse_godebug(rt, v);
  gogc__stress = rt->opt_gcstress != 0 || rt->opt_gcstressslow != 0;
  if (rt->opt_invalidptr) atomic_or_relaxed(&gogc__wb_enabled, WB_CHECK);
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
