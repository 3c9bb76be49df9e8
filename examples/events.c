/* events: an embedder's view of the collector.
 *
 * A listener counts the events of each kind and keeps the longest pause
 * (copying what it needs and returning at once: listeners must not call
 * into gogc or block). A trace of the same run goes to events-trace.json
 * in the current directory (open it in ui.perfetto.dev, or run
 * scripts/trace_report.py on it).
 *
 * Run: ./build/examples/events
 */
#include <gogc.h>

#include <stdint.h>
#include <stdio.h>

static uint64_t counts[16];
static uint64_t longest_pause;

static void listen(const gogc_event *e, void *data) {
  (void)data;
  if ((unsigned)e->kind < 16) __atomic_fetch_add(&counts[e->kind], 1, __ATOMIC_RELAXED);
  if (e->kind == GOGC_EVENT_PAUSE_END && e->duration_ns > longest_pause) longest_pause = e->duration_ns;
}

struct node {
  struct node *next;
  char payload[48];
};

int main(void) {
  gogc_set_event_listener(listen, NULL);
  int traced = gogc_trace_start("events-trace.json") == 0;
  struct node *keep = NULL;
  for (int i = 0; i < 2000000; i++) { /* garbage, with a few survivors */
    struct node *n = gogc_alloc(sizeof *n);
    if (i % 1000 == 0) {
      gogc_store(&n->next, keep);
      keep = n;
    }
  }
  gogc_collect();
  if (traced) gogc_trace_stop();
  gogc_set_event_listener(NULL, NULL);
  printf("cycles %llu, pauses %llu (longest %.3f ms), stack scans %llu, assists %llu, sweeps done %llu%s\n",
         (unsigned long long)counts[GOGC_EVENT_CYCLE_END], (unsigned long long)counts[GOGC_EVENT_PAUSE_END],
         (double)longest_pause / 1e6, (unsigned long long)counts[GOGC_EVENT_STACK_SCAN],
         (unsigned long long)counts[GOGC_EVENT_ASSIST], (unsigned long long)counts[GOGC_EVENT_SWEEP_DONE],
         traced ? "; trace in events-trace.json" : "");
  gogc_keep_alive(keep);
  return counts[GOGC_EVENT_CYCLE_END] > 0 && counts[GOGC_EVENT_CYCLE_START] >= counts[GOGC_EVENT_CYCLE_END]
             ? 0
             : 1;
}
