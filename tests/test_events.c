/* test_events: the event listener sees every phase of every cycle, in
 * order; GOGC_TRACE writes a valid Chrome trace-event JSON file whose
 * cycles and pauses match memstats (child process). */
#include <gogc.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

#define MAXEV 100000
static gogc_event g_ev[MAXEV];
static uint32_t g_nev;

static void listener(const gogc_event *e, void *data) {
  uint32_t *calls = data;
  __atomic_fetch_add(calls, 1, __ATOMIC_RELAXED);
  uint32_t i = __atomic_fetch_add(&g_nev, 1, __ATOMIC_RELAXED);
  if (i < MAXEV) g_ev[i] = *e;
}

/* The phase events of one cycle, in order: CYCLE_START, PAUSE_START(0),
 * PAUSE_END(0), MARK_START, then one or more PAUSE_START(1)/PAUSE_END(1),
 * MARK_END, CYCLE_END. */
static int check_cycle(uint32_t cycle, char *why, size_t n) {
  static const gogc_event_kind want[] = {GOGC_EVENT_CYCLE_START, GOGC_EVENT_PAUSE_START,
                                         GOGC_EVENT_PAUSE_END, GOGC_EVENT_MARK_START};
  size_t k = 0;
  int terms = 0, ended = 0;
  uint64_t last = 0;
  for (uint32_t i = 0; i < g_nev && i < MAXEV; i++) {
    const gogc_event *e = &g_ev[i];
    if (e->cycle != cycle) continue;
    if (e->kind == GOGC_EVENT_STACK_SCAN || e->kind == GOGC_EVENT_ASSIST ||
        e->kind == GOGC_EVENT_SCAVENGE || e->kind == GOGC_EVENT_HEAP_GROW ||
        e->kind == GOGC_EVENT_SWEEP_DONE || e->kind == GOGC_EVENT_WORKER)
      continue;
    if (e->time_ns < last) return snprintf(why, n, "cycle %u: time went back", cycle), 0;
    last = e->time_ns;
    if (k < 4) {
      if (e->kind != want[k]) return snprintf(why, n, "cycle %u: event %zu is %d, not %d", cycle, k, e->kind, want[k]), 0;
      k++;
      continue;
    }
    if (ended) return snprintf(why, n, "cycle %u: event %d after CYCLE_END", cycle, e->kind), 0;
    if (e->kind == GOGC_EVENT_PAUSE_START && e->detail == 1) terms++;
    else if (e->kind == GOGC_EVENT_PAUSE_END && e->detail == 1) {
      if (e->duration_ns == 0) return snprintf(why, n, "cycle %u: a pause of 0 ns", cycle), 0;
    } else if (e->kind == GOGC_EVENT_MARK_END) {
      if (terms == 0) return snprintf(why, n, "cycle %u: MARK_END without mark termination", cycle), 0;
    } else if (e->kind == GOGC_EVENT_CYCLE_END) {
      ended = 1;
    } else {
      return snprintf(why, n, "cycle %u: unexpected event %d", cycle, e->kind), 0;
    }
  }
  if (k < 4 || !ended) return snprintf(why, n, "cycle %u: incomplete (%zu, ended %d)", cycle, k, ended), 0;
  return 1;
}

/* Under GODEBUG=gcstress=N (N <= 100) or gcstressslow=1 a cycle runs at
 * nearly every allocation: 128 KiB of garbage per call instead (about
 * 1500 cycles in all), so that every cycle's events fit in g_ev. */
static size_t garbage_bytes(size_t plain) {
  return tu_stress_heavy() ? (size_t)128 << 10 : plain;
}

static void *churn(void *arg) {
  (void)arg;
  tu_garbage(garbage_bytes(16u << 20), 16, 1024, 2, 7);
  return NULL;
}

static void test_listener(void) {
  uint32_t calls = 0;
  gogc_set_event_listener(listener, &calls);
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  uint32_t first = ms.num_gc + 1;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churn, NULL) == 0); /* a second thread: stack scans */
  for (int i = 0; i < 5; i++) {
    tu_garbage(garbage_bytes(4u << 20), 16, 1024, 2, (uint64_t)i);
    gogc_collect();
  }
  pthread_join(t, NULL);
  gogc_set_event_listener(NULL, NULL);
  gogc_read_memstats(&ms);
  uint32_t last = ms.num_gc;
  printf("listener: %u events in %u cycles\n", g_nev, last - first + 1);
  CHECKF(g_nev < MAXEV, "%u events", g_nev);
  CHECK(calls == g_nev || g_nev >= MAXEV);
  int ok = 1, scans = 0, dones = 0;
  char why[200] = "";
  for (uint32_t c = first; c <= last && ok; c++) ok = check_cycle(c, why, sizeof why);
  for (uint32_t i = 0; i < g_nev && i < MAXEV; i++) {
    scans += g_ev[i].kind == GOGC_EVENT_STACK_SCAN;
    dones += g_ev[i].kind == GOGC_EVENT_SWEEP_DONE;
  }
  CHECKF(ok, "%s", why);
  CHECKF(last - first + 1 >= 5, "only %u cycles", last - first + 1);
  CHECKF(scans >= (int)(last - first + 1), "%d stack scans for %u cycles", scans, last - first + 1);
  CHECKF(dones >= 5, "%d SWEEP_DONE events", dones);
  /* Off again: no more events. */
  uint32_t n = g_nev;
  gogc_collect();
  CHECK(g_nev == n);
}

/* ---------------------------------------------------------------------------
 * The trace file
 * ------------------------------------------------------------------------- */
/* A small JSON validator: returns the end of the value at p, or NULL. */
static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  return p;
}
static const char *json_value(const char *p, int depth);
static const char *json_string(const char *p) {
  if (*p++ != '"') return NULL;
  while (*p && *p != '"') {
    if (*p == '\\') p++;
    if (*p) p++;
  }
  return *p == '"' ? p + 1 : NULL;
}
static const char *json_value(const char *p, int depth) {
  p = skip_ws(p);
  if (depth > 32) return NULL;
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    int obj = *p == '{';
    p = skip_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (obj) {
        p = json_string(skip_ws(p));
        if (p == NULL) return NULL;
        p = skip_ws(p);
        if (*p++ != ':') return NULL;
      }
      p = json_value(p, depth + 1);
      if (p == NULL) return NULL;
      p = skip_ws(p);
      if (*p == ',') {
        p++;
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  if (*p == '"') return json_string(p);
  if (*p == '-' || (*p >= '0' && *p <= '9')) {
    char *end;
    strtod(p, &end);
    return end > p ? end : NULL;
  }
  if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0) return p + 4;
  if (strncmp(p, "false", 5) == 0) return p + 5;
  return NULL;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static int child_traced(void) {
  for (int i = 0; i < 6; i++) {
    tu_garbage(2u << 20, 16, 1024, 2, (uint64_t)i);
    gogc_collect();
  }
  gogc_memstats ms;
  gogc_read_memstats(&ms);
  printf("%u\n", ms.num_gc);
  return 0; /* the trace is finished at exit */
}

static void test_trace(void) {
  char path[] = "/tmp/gogc_traceXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  char env[64];
  snprintf(env, sizeof env, "GOGC_TRACE=%s", path);
  const char *extra[] = {env, NULL};
  char *out = NULL, *err = NULL;
  int st = tu_run_child("traced", extra, &out, &err);
  CHECKF(st == 0, "child status %d: %s", st, err ? err : "");
  unsigned cycles = out ? (unsigned)strtoul(out, NULL, 10) : 0;
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f == NULL) return;
  static char buf[8 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  unlink(path);
  buf[n] = 0;
  const char *end = json_value(buf, 0);
  CHECKF(end != NULL && *skip_ws(end) == 0, "the trace is not valid JSON (%zu bytes)", n);
  int gcs = count(buf, "\"name\":\"GC ") - count(buf, "\"name\":\"GC CPU");
  int p1 = count(buf, "\"STW sweep termination\""), p2 = count(buf, "\"STW mark termination\"");
  CHECKF(cycles >= 6 && gcs == (int)cycles, "%d cycle events for %u cycles", gcs, cycles);
  CHECKF(p1 == (int)cycles && p2 >= (int)cycles, "pauses: %d sweep termination, %d mark termination", p1, p2);
  CHECK(count(buf, "\"heap MiB\"") >= 2 * (int)cycles);
  CHECK(count(buf, "\"GC CPU %\"") >= 2 * (int)cycles);
  CHECK(count(buf, "\"sweep\"") >= 1);
  free(out);
  free(err);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "traced") == 0) return child_traced();
  const char *gd = getenv("GODEBUG");

  if (gd && strstr(gd, "gcstoptheworld")) {
    printf("test_events: phase order checked in the concurrent mode only\n");
  } else {
    test_listener();
  }
  test_trace();
  return check_done();
}
