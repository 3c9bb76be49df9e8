/* gogc: events (an embedder's listener) and the trace built on them.
 *
 * Listener. One function the program registers (gogc_set_event_listener),
 * called at each phase boundary of each cycle and for the work between
 * (stack scans, mark assists, sweeping, scavenging, heap growth). Events
 * are emitted with the world running, never during a stop, and never
 * while the collector holds a lock a registered thread might wait for
 * outside a critical section; but a listener may run inside an
 * allocation's critical section, so it must not call into gogc, allocate
 * collected memory or block (copy the event somewhere and return, like
 * Whippet's listeners). Off, an event costs one load of a global.
 *
 * Trace. GOGC_TRACE=FILE (or gogc_trace_start) installs an internal
 * listener that writes the Chrome trace-event JSON format (an array of
 * events; Perfetto and chrome://tracing open it): complete events ("X")
 * for cycles, pauses, the concurrent mark, stack scans, assists, sweeps
 * and scavenger work, on one track for the collector and one per thread;
 * counters ("C") for the live heap, the goal, the memory limit, memory
 * held and RSS, and GC CPU. Events go to a buffer written out when full
 * and at gogc_trace_stop or exit, under trace_lock; the array is closed
 * at stop, and a file cut short by a crash still opens in both viewers.
 * When the program also has a listener, both are called.
 */
#define _GNU_SOURCE /* gettid */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gogc_event_fn user_fn;   /* [atomic] */
static void *user_data;         /* [atomic, with user_fn] */
static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER; /* setters, one at a time */
static uint32_t trace_on;       /* [atomic] */

uint32_t gogc__events_on; /* user_fn != NULL || trace_on: the one load per event */

static void update_on(void) {
  atomic_store_release(&gogc__events_on,
                       (uint32_t)(atomic_load_relaxed(&user_fn) != NULL ||
                                  atomic_load_relaxed(&trace_on)));
}

/* Calls of the program's listener in progress. Once gogc_set_event_listener
 * returns, the old listener is neither running nor called again: an emitter
 * counts itself in before it loads the listener, and the setter, after the
 * store, waits for the count to drop to zero (both sequentially
 * consistent: either the emitter sees the new listener or the setter sees
 * the emitter). */
static uint32_t listener_calls;

GOGC_API void gogc_set_event_listener(gogc_event_fn fn, void *data) {
  if (gogc_ensure_init() != 0) return;
  gogc_lock(&listener_lock);
  atomic_store_seqcst(&user_fn, NULL);
  uint32_t n;
  while ((n = atomic_load_seqcst(&listener_calls)) != 0) gogc_os_futex_wait(&listener_calls, n);
  atomic_store_relaxed(&user_data, data);
  atomic_store_seqcst(&user_fn, fn);
  pthread_mutex_unlock(&listener_lock);
  update_on();
}

/* ---------------------------------------------------------------------------
 * The trace writer
 * ------------------------------------------------------------------------- */
#define TRACE_BUF (256u << 10)
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;          /* [trace_lock] */
static char *trace_buf;            /* [trace_lock] */
static size_t trace_len;           /* [trace_lock] */
static bool trace_first;           /* [trace_lock] no event written yet */
static uint64_t trace_t0;          /* [trace_lock] */
static uint64_t trace_cycle_start; /* [trace_lock] */
static uint64_t trace_mark_start;  /* [trace_lock] */
static uint64_t trace_sweep_start; /* [trace_lock] */

static void trace_flush(void) {
  size_t off = 0;
  while (off < trace_len) {
    ssize_t w = write(trace_fd, trace_buf + off, trace_len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  trace_len = 0;
}

static void trace_put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace_put(const char *fmt, ...) {
  if (trace_len + 512 > TRACE_BUF) trace_flush();
  if (!trace_first) trace_buf[trace_len++] = ',';
  trace_first = false;
  trace_buf[trace_len++] = '\n';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(trace_buf + trace_len, TRACE_BUF - trace_len, fmt, ap);
  va_end(ap);
  if (n > 0) trace_len += (size_t)n < TRACE_BUF - trace_len ? (size_t)n : TRACE_BUF - trace_len - 1;
}

static double us(uint64_t ns) { return (double)(ns - trace_t0) / 1000.0; }

/* A complete event on a track (tid 0: the collector). */
static void span_event(const char *name, uint64_t start, uint64_t end, uint64_t tid,
                       uint32_t cycle) {
  trace_put("{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,"
            "\"tid\":%llu,\"args\":{\"cycle\":%u}}",
            name, us(start), (double)(end - start) / 1000.0, (unsigned long long)tid, cycle);
}

static void counters(const gogc_event *e) {
  gogc_runtime *rt = gogc_rt;
  int64_t limit = atomic_load_relaxed(&rt->mem_limit);
  uint64_t elapsed = e->time_ns - rt->start_ns;
  double cpu = elapsed ? (double)atomic_load_relaxed(&rt->gc_cpu_ns) / ((double)elapsed * rt->ncpu) : 0;
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  trace_put("{\"name\":\"heap MiB\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{\"live\":%.2f,"
            "\"goal\":%.2f,\"held\":%.2f,\"RSS\":%.2f}}",
            us(e->time_ns), (double)e->heap_live / 1048576.0,
            e->heap_goal == UINT64_MAX ? 0.0 : (double)e->heap_goal / 1048576.0,
            (double)e->memory_held / 1048576.0, (double)res * 4096.0 / 1048576.0);
  if (limit != INT64_MAX)
    trace_put("{\"name\":\"memory limit MiB\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{"
              "\"limit\":%.2f}}",
              us(e->time_ns), (double)limit / 1048576.0);
  trace_put("{\"name\":\"GC CPU %%\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{\"gc\":%.2f}}",
            us(e->time_ns), cpu * 100.0);
}

static void trace_event(const gogc_event *e) {
  gogc_lock(&trace_lock);
  if (trace_fd < 0) {
    pthread_mutex_unlock(&trace_lock);
    return;
  }
  switch (e->kind) {
  case GOGC_EVENT_CYCLE_START:
    trace_cycle_start = e->time_ns;
    counters(e);
    break;
  case GOGC_EVENT_PAUSE_END:
    span_event(e->detail == 0   ? "STW sweep termination"
               : e->detail == 1 ? "STW mark termination"
                                : "STW cycle",
               e->time_ns - e->duration_ns, e->time_ns, 0, e->cycle);
    break;
  case GOGC_EVENT_MARK_START:
    trace_mark_start = e->time_ns;
    break;
  case GOGC_EVENT_MARK_END:
    if (trace_mark_start) span_event("concurrent mark", trace_mark_start, e->time_ns, 0, e->cycle);
    trace_mark_start = 0;
    break;
  case GOGC_EVENT_CYCLE_END: {
    char name[32];
    snprintf(name, sizeof name, "GC %u", e->cycle);
    if (trace_cycle_start) span_event(name, trace_cycle_start, e->time_ns, 0, e->cycle);
    trace_sweep_start = e->time_ns;
    counters(e);
    break;
  }
  case GOGC_EVENT_SWEEP_DONE:
    if (trace_sweep_start) span_event("sweep", trace_sweep_start, e->time_ns, 0, e->cycle);
    trace_sweep_start = 0;
    break;
  case GOGC_EVENT_STACK_SCAN:
    span_event("stack scan", e->time_ns - e->duration_ns, e->time_ns, e->thread, e->cycle);
    break;
  case GOGC_EVENT_ASSIST:
    span_event("mark assist", e->time_ns - e->duration_ns, e->time_ns, e->thread, e->cycle);
    break;
  case GOGC_EVENT_WORKER:
    if (e->duration_ns >= 1000) /* slices that found work */
      span_event(e->detail ? "idle mark worker" : "background mark worker",
                 e->time_ns - e->duration_ns, e->time_ns, e->thread, e->cycle);
    break;
  case GOGC_EVENT_SCAVENGE:
    span_event("scavenge", e->time_ns - e->duration_ns, e->time_ns, e->thread, e->cycle);
    break;
  case GOGC_EVENT_HEAP_GROW:
    trace_put("{\"name\":\"heap MiB\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,\"args\":{"
              "\"mapped\":%.2f}}",
              us(e->time_ns), (double)e->heap_mapped / 1048576.0);
    break;
  default:
    break;
  }
  pthread_mutex_unlock(&trace_lock);
}

GOGC_API int gogc_trace_start(const char *path) {
  if (gogc_ensure_init() != 0 || path == NULL) return -1;
  gogc_lock(&trace_lock);
  if (trace_fd >= 0) {
    pthread_mutex_unlock(&trace_lock);
    gogc_warn("gogc_trace_start(%s): a trace is already being written", path);
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || (trace_buf == NULL && (trace_buf = gogc_os_alloc(TRACE_BUF)) == NULL)) {
    if (fd >= 0) close(fd);
    pthread_mutex_unlock(&trace_lock);
    gogc_warn("gogc_trace_start(%s): cannot open the file", path);
    return -1;
  }
  trace_fd = fd;
  trace_len = 0;
  trace_first = true;
  trace_t0 = gogc_rt->start_ns;
  trace_cycle_start = trace_mark_start = trace_sweep_start = 0;
  trace_buf[trace_len++] = '[';
  trace_put("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"gogc\"}}");
  trace_put("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":"
            "\"collector\"}}");
  pthread_mutex_unlock(&trace_lock);
  atomic_store_relaxed(&trace_on, 1);
  update_on();
  return 0;
}

GOGC_API void gogc_trace_stop(void) {
  atomic_store_relaxed(&trace_on, 0);
  update_on();
  gogc_lock(&trace_lock);
  if (trace_fd >= 0) {
    trace_buf[trace_len++] = '\n';
    trace_buf[trace_len++] = ']';
    trace_buf[trace_len++] = '\n';
    trace_flush();
    close(trace_fd);
    trace_fd = -1;
  }
  pthread_mutex_unlock(&trace_lock);
}

static void trace_at_exit(void) { gogc_trace_stop(); }

/* In the child of fork: the trace belongs to the parent (another thread
 * may have held trace_lock at the fork): the child writes none. */
void gogc_events_fork_child(void) {
  pthread_mutex_init(&trace_lock, NULL);
  trace_fd = -1;
  atomic_store_relaxed(&trace_on, 0);
  update_on();
}

/* GOGC_TRACE=FILE, at initialisation. */
void gogc_events_init(void) {
  const char *path = getenv("GOGC_TRACE");
  if (path == NULL || *path == 0) return;
  if (gogc_trace_start(path) == 0) atexit(trace_at_exit);
}

/* ---------------------------------------------------------------------------
 * Emitting
 * ------------------------------------------------------------------------- */
/* The calling thread's id without a system call per event. */
static __thread uint64_t cached_tid;
static uint64_t self_tid(void) {
  gogc_thread *t = gogc_self;
  if (t != NULL) return t->os_tid;
  if (cached_tid == 0) cached_tid = (uint64_t)gettid();
  return cached_tid;
}

void gogc_event_emit(gogc_event *e) {
  gogc_runtime *rt = gogc_rt;
  if (e->time_ns == 0) e->time_ns = gogc_os_nanotime();
  if (e->cycle == 0) e->cycle = (uint32_t)atomic_load_relaxed(&rt->num_gc) + 1; /* marking now */
  if (e->thread == 0) e->thread = self_tid();
  e->heap_live = atomic_load_relaxed(&rt->heap_live);
  e->heap_goal = atomic_load_relaxed(&rt->next_gc);
  e->heap_mapped = atomic_load_relaxed(&rt->heap_mapped);
  /* Racy reads: figures for a trace, not accounting. */
  e->memory_held = e->heap_mapped - atomic_load_relaxed(&rt->pages_scav) * PAGE_SIZE + gogc_meta_bytes();
  if (atomic_load_relaxed(&trace_on)) trace_event(e);
  if (atomic_load_relaxed(&user_fn) == NULL) return;
  atomic_add_seqcst(&listener_calls, 1);
  gogc_event_fn fn = atomic_load_seqcst(&user_fn);
  if (fn != NULL) fn(e, atomic_load_relaxed(&user_data));
  if (atomic_sub_seqcst(&listener_calls, 1) == 0) gogc_os_futex_wake(&listener_calls, INT_MAX);
}
