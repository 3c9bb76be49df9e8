/* demo: the collector at work.
 *
 * Builds a long-lived binary tree (the live heap), then churns through
 * short-lived trees and strings on two threads, so the collector runs many
 * cycles while the live data stays put. With GODEBUG=gctrace=1 (the README
 * command sets it) each cycle prints Go's gctrace line; at the end a
 * summary from gogc_read_memstats shows cycles, pauses and memory.
 */
#include <gogc.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
  struct node *left, *right;
  uint64_t value;
};

static const gogc_type *node_type;
static struct node *long_lived; /* a global root */

static struct node *tree(int depth, uint64_t v) {
  struct node *n = gogc_alloc_typed(node_type);
  n->value = v;
  if (depth > 0) {
    gogc_store(&n->left, tree(depth - 1, 2 * v));
    gogc_store(&n->right, tree(depth - 1, 2 * v + 1));
  }
  return n;
}

static uint64_t sum(const struct node *n) {
  return n ? n->value + sum(n->left) + sum(n->right) : 0;
}

static void *churn(void *arg) {
  long id = (long)arg;
  uint64_t total = 0;
  for (int i = 0; i < 400; i++) {
    struct node *t = tree(12, (uint64_t)i);
    char *s = gogc_strdup("a short-lived string");
    total += sum(t) + strlen(s);
  }
  printf("thread %ld: churned 400 trees (checksum %llu)\n", id, (unsigned long long)total);
  return NULL;
}

#ifndef GOGC_SOURCE_DIR
#define GOGC_SOURCE_DIR "."
#endif
#define TRACE_FILE "gogc-demo-trace.json"
#define REPORT_FILE "gogc-demo-report.html"

int main(void) {
  node_type = GOGC_TYPE(struct node, offsetof(struct node, left), offsetof(struct node, right));
  /* A trace of the run (unless GOGC_TRACE names another file), turned
   * into an HTML report at the end. */
  int traced = getenv("GOGC_TRACE") == NULL && gogc_trace_start(TRACE_FILE) == 0;
  printf("gogc %s demo: a 16 MiB live tree, 2 threads allocating garbage\n", gogc_version());
  gogc_store(&long_lived, tree(19, 1));
  uint64_t expect = sum(long_lived);

  pthread_t t[2];
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, churn, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  gogc_collect();

  gogc_memstats ms;
  gogc_read_memstats(&ms);
  uint64_t max_pause = 0;
  for (int i = 0; i < GOGC_PAUSE_RING; i++)
    if (ms.pause_ns[i] > max_pause) max_pause = ms.pause_ns[i];
  int ok = sum(long_lived) == expect;
  printf("\nsummary\n");
  printf("  long-lived tree intact:  %s\n", ok ? "yes" : "NO");
  printf("  collections:             %u (%u forced)\n", ms.num_gc, ms.num_forced_gc);
  printf("  allocated in total:      %.1f MiB in %llu objects\n", ms.total_alloc / 1048576.0,
         (unsigned long long)ms.mallocs);
  printf("  live heap now:           %.1f MiB in %llu objects\n", ms.heap_alloc / 1048576.0,
         (unsigned long long)ms.heap_objects);
  printf("  heap mapped:             %.1f MiB (next goal %.1f MiB)\n", ms.heap_sys / 1048576.0,
         ms.next_gc / 1048576.0);
  printf("  pauses:                  total %.2f ms, longest cycle %.2f ms\n", ms.pause_total_ns / 1e6,
         max_pause / 1e6);
  printf("  marking:                 %s; longest stop-the-world %.3f ms, longest "
         "single-thread stop %.3f ms, %llu assists\n",
         ms.concurrent ? "concurrent" : "with the world stopped", ms.pause_max_ns / 1e6,
         ms.stack_pause_max_ns / 1e6, (unsigned long long)ms.mark_assists);
  printf("  GC CPU fraction:         %.1f%%\n", ms.gc_cpu_fraction * 100);
  if (traced) {
    gogc_trace_stop();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 '%s/scripts/trace_report.py' %s -o %s 2>/dev/null",
             GOGC_SOURCE_DIR, TRACE_FILE, REPORT_FILE);
    fflush(stdout);
    if (system(cmd) == 0)
      printf("  report:                  %s (open it in a browser; the trace, %s, opens in "
             "ui.perfetto.dev)\n", REPORT_FILE, TRACE_FILE);
    else
      printf("  trace:                   %s (ui.perfetto.dev; for a report: python3 "
             "scripts/trace_report.py %s -o %s)\n", TRACE_FILE, TRACE_FILE, REPORT_FILE);
  }
  return ok ? 0 : 1;
}
