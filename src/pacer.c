/* gogc: the pacer and the GC CPU limiter (Go's mgcpacer.go, mgclimit.go).
 *
 * The pacer answers three questions, from numbers the collector measures:
 *
 *   goal     how large may the heap grow before the next cycle ends?
 *   trigger  at what heap size must the next concurrent mark start so
 *            that it ends near the goal?
 *   assists  during a mark, how much scan work does an allocating thread
 *            owe per byte it allocates?
 *
 * Goal. Two goals, the smaller wins:
 *   GOGC:   marked + (marked + stacks + globals) * GOGC / 100, at least
 *           4 MiB * GOGC / 100; none when GOGC is off.
 *   limit:  the memory limit minus what is not heap (metadata, mark
 *           structures, free space inside spans) and minus any overage,
 *           less 3% headroom (at least 1 MiB), never below the live heap.
 *           Free pages not yet returned to the OS count as heap: the
 *           scavenger returns them as the heap grows into the limit.
 *
 * Trigger (Go 1.18). Marking at the background workers' 25% of the CPU
 * while the program allocates at its measured rate moves the heap by
 *   runway = cons/mark * (1 - 0.25) / 0.25 * expected scan work
 * where cons/mark is allocation per unit of mutator CPU over scan work per
 * unit of GC CPU, the largest of the last five measurements (erring on the
 * early side: more cycles, fewer assists). The trigger is goal - runway,
 * kept between 80% and 95% of the way from the live heap to the goal (and
 * at most 4 MiB short of a large goal). Go's earliest trigger is 70%; ours
 * is later because on a machine whose every core runs the program, the
 * assists do the marking whenever the trigger is, and all that is
 * allocated while marking is black: it counts as marked, and a doubled
 * heap goal, even where it dies at once. Starting at 80% cut that floating
 * garbage (binary-trees with 2 threads: peak RSS -12%, the latency
 * workload's -12%) for about 13% more cycles (docs/design.md).
 *
 * When the live heap is already at the goal (a limit set too low), the
 * trigger is the goal: the collector runs back to back, and only the CPU
 * limiter keeps that from starving the program.
 *
 * Assists (Go's revise). Work left / heap left before the goal. If the
 * scan work passes what was expected (the heap grew during the mark), the
 * goal is extrapolated towards a hard goal of (1 + GOGC/100) x goal and the
 * work expected becomes the worst case; past the goal, it moves 10% further
 * (2% when the limit set it), and past that the ratio is as high as the
 * work left allows. The collector bounds each assist's time (mgc.c), so a
 * high ratio means an assist at every span refill, each short: allocation
 * slows to the marking rate without a long stall.
 *
 * CPU limiter (Go 1.19). A leaky bucket of GOMAXPROCS x 1 s of CPU time
 * fills with GC CPU (assists, background marking, stop-the-world time
 * times the threads stopped) and drains with mutator CPU; idle marking is
 * free. While the bucket is full, GC takes more than half of the CPU over
 * the last seconds, and the limiter is on: assists and synchronous
 * scavenging are skipped (an allocating thread past a limit-set goal only
 * waits, briefly: mgc.c gogc_assist) and the heap may overshoot the
 * memory limit instead of the program thrashing in back-to-back
 * collections.
 *
 * Everything here is a pure function of a gogc_pacer / gogc_limiter
 * struct: tests drive them with scripted heaps, rates and clocks
 * (tests/unit_pacer.c). mgc.c fills the inputs and publishes the outputs.
 */
#include "internal.h"

#define PACER_UTIL 0.25           /* background marking's share of the CPU */
#define TRIGGER_MIN 0.80          /* Go: 45/64 (0.70); see above */
#define TRIGGER_MAX 0.95          /* Go: 61/64 */
#define BIG_HEAP_SLACK (4u << 20) /* trigger at most this far below a large goal */
#define PACER_RATIO_PAST_GOAL 1000.0 /* assist ratio floor past the extended goal */

void gogc_pacer_init(gogc_pacer *p, int gc_percent, int64_t mem_limit, int procs) {
  memset(p, 0, sizeof *p);
  atomic_store_relaxed(&p->gc_percent, gc_percent);
  p->mem_limit = mem_limit;
  p->procs = procs > 0 ? procs : 1;
}

uint64_t gogc_pacer_limit_goal(const gogc_pacer *p) {
  if (p->mem_limit == INT64_MAX || p->mem_limit < 0) return UINT64_MAX;
  uint64_t limit = (uint64_t)p->mem_limit;
  uint64_t ready = p->mapped_ready;
  uint64_t heap = p->heap_free + p->heap_alloc;
  uint64_t non_heap = ready > heap ? ready - heap : 0;
  uint64_t overage = ready > limit ? ready - limit : 0;
  if (non_heap + overage >= limit) return p->heap_marked; /* collect continuously */
  uint64_t goal = limit - (non_heap + overage);
  uint64_t headroom = goal / 100 * 3;
  if (headroom < (1u << 20)) headroom = 1u << 20;
  goal = goal < 2 * headroom ? headroom : goal - headroom;
  if (goal < p->heap_marked) goal = p->heap_marked;
  return goal;
}

void gogc_pacer_commit(gogc_pacer *p, bool concurrent) {
  uint64_t pct_goal = UINT64_MAX;
  if (p->gc_percent >= 0) {
    uint64_t pct = (uint64_t)p->gc_percent;
    uint64_t roots = p->stack_scan + p->globals_scan;
    pct_goal = p->heap_marked + (p->heap_marked + roots) * pct / 100;
    uint64_t min = (uint64_t)HEAP_MINIMUM * pct / 100;
    if (pct_goal < min) pct_goal = min;
  }
  uint64_t lim_goal = gogc_pacer_limit_goal(p);
  atomic_store_relaxed(&p->limit_bound, lim_goal < pct_goal);
  uint64_t goal = p->limit_bound ? lim_goal : pct_goal;
  atomic_store_relaxed(&p->goal, goal);
  if (goal == UINT64_MAX) {
    p->trigger = UINT64_MAX;
    return;
  }
  uint64_t marked = p->heap_marked;
  if (!concurrent || marked >= goal) { /* no allocation while marking, or no room */
    p->trigger = goal;
    return;
  }
  uint64_t span = goal - marked;
  uint64_t min_t = marked + (uint64_t)((double)span * TRIGGER_MIN);
  uint64_t max_t = marked + (uint64_t)((double)span * TRIGGER_MAX);
  if (goal > BIG_HEAP_SLACK && goal - BIG_HEAP_SLACK > max_t) max_t = goal - BIG_HEAP_SLACK;
  if (max_t < min_t) max_t = min_t;
  uint64_t trig = min_t;
  if (p->cycles_measured > 0) {
    double scan = (double)(p->last_heap_scan + p->stack_scan + p->globals_scan);
    double runway = p->cons_mark * (1 - PACER_UTIL) / PACER_UTIL * scan;
    trig = runway >= (double)goal ? min_t : goal - (uint64_t)runway;
  }
  if (trig < min_t) trig = min_t;
  if (trig > max_t) trig = max_t;
  p->trigger = trig;
}

void gogc_pacer_end_cycle(gogc_pacer *p, const gogc_mark_stats *m) {
  double dur = (double)m->mark_ns * (double)p->procs;
  if (dur > 0 && m->scan_work > 0 && m->heap_end >= m->heap_triggered) {
    double u = (double)(m->bg_cpu_ns + m->assist_cpu_ns) / dur;
    double u_idle = (double)m->idle_cpu_ns / dur;
    if (u > 0.95) u = 0.95;
    if (u < 0.01) u = 0.01;
    double cur = (double)(m->heap_end - m->heap_triggered) * (u + u_idle) /
                 ((double)m->scan_work * (1 - u));
    double best = cur;
    for (int i = 0; i < 4; i++)
      if (p->cons_hist[i] > best) best = p->cons_hist[i];
    for (int i = 3; i > 0; i--) p->cons_hist[i] = p->cons_hist[i - 1];
    p->cons_hist[0] = cur;
    p->cons_mark = best;
    atomic_store_relaxed(&p->cycles_measured, p->cycles_measured + 1);
  }
  p->heap_marked = m->heap_marked;
  atomic_store_relaxed(&p->last_heap_scan,
                       m->scan_work > m->root_scan_work ? m->scan_work - m->root_scan_work : 0);
  atomic_store_relaxed(&p->stack_scan, m->stack_scan);
}

/* Called by assists without gc_lock, while the collector may be revising
 * the pacer: each field is read once, atomically (the collector stores them
 * atomically too); a ratio from a mix of old and new values is still a
 * sensible one. */
double gogc_pacer_assist_ratio(const gogc_pacer *p, uint64_t heap_live, uint64_t triggered,
                               uint64_t work_done, uint64_t heap_scan_max) {
  const uint64_t p_goal = atomic_load_relaxed(&p->goal);
  const bool limit_bound = atomic_load_relaxed(&p->limit_bound);
  const int gc_percent = atomic_load_relaxed(&p->gc_percent);
  uint64_t goal = p_goal;
  uint64_t roots = atomic_load_relaxed(&p->stack_scan) + atomic_load_relaxed(&p->globals_scan);
  uint64_t max_scan = heap_scan_max + roots;
  /* No mark measured yet (the first cycle, which under a memory limit may
   * start with hundreds of MiB allocated): expect the worst case, never
   * "almost nothing", or the first assists would earn huge credit. */
  uint64_t expected =
      atomic_load_relaxed(&p->cycles_measured) ? atomic_load_relaxed(&p->last_heap_scan) + roots : max_scan;
  if (goal == UINT64_MAX) goal = heap_live + heap_live / 2 + (4u << 20); /* forced, GOGC off */
  if (work_done > expected && expected > 0 && goal > triggered) {
    /* The heap grew while marking: extrapolate, up to the hard goal. */
    double g = (double)triggered + (double)(goal - triggered) * (double)max_scan / (double)expected;
    double pct = gc_percent >= 0 ? gc_percent : 100000;
    double hard = (double)p_goal * (1 + pct / 100);
    if (limit_bound || p_goal == UINT64_MAX) hard = (double)goal * 1.1;
    if (g > hard) g = hard;
    goal = (uint64_t)g;
    expected = max_scan;
  }
  if (heap_live >= goal) {
    /* Past the goal: 10% more room (Go's maxOvershoot), 2% when the
     * memory limit set the goal; past that, the floor below makes every
     * refill assist for its whole time bound (mgc.c): allocation slows to
     * what marking allows, in short steps, instead of Go's one long
     * assist. */
    goal = goal + (limit_bound ? goal / 50 : goal / 10);
    expected = max_scan;
  }
  double left = expected > work_done + 1000 ? (double)(expected - work_done) : 1000;
  if (goal > heap_live + (64u << 10)) return left / (double)(goal - heap_live);
  /* Past the extended goal too: every refill assists for its whole time
   * bound. The ratio is kept at PACER_RATIO_PAST_GOAL at least even when
   * the work left looks small: then the estimate was wrong (the first
   * cycle, begun at a tiny heap under a limit of 0, saw more scan work
   * than the heap it began with), and with 1000 bytes left over a 64 KiB
   * floor the ratio came out at 0.015, assists lived on the background
   * worker's credit, and a program churned 64 MiB under GOMEMLIMIT=0
   * before its first cycle ended. (Go divides by a heap distance of 1.) */
  double r = left / (double)(64u << 10);
  return r > PACER_RATIO_PAST_GOAL ? r : PACER_RATIO_PAST_GOAL;
}

/* ---------------------------------------------------------------------------
 * GC CPU limiter
 * ------------------------------------------------------------------------- */
void gogc_limiter_init(gogc_limiter *l, int procs, uint64_t now) {
  memset(l, 0, sizeof *l);
  l->capacity = (uint64_t)(procs > 0 ? procs : 1) * 1000000000ull;
  l->last = now;
}

/* total: CPU time available since the last update (wall x procs); gc: GC
 * CPU in it; idle: idle marking (free, not counted). Returns the state. */
bool gogc_limiter_update(gogc_limiter *l, uint64_t now, uint64_t gc, uint64_t idle,
                         uint64_t total) {
  atomic_store_relaxed(&l->last, now); /* read without limiter_lock (gogc_limiter_poll) */
  if (idle > total) idle = total;
  total -= idle;
  if (gc > total) gc = total;
  uint64_t mutator = total - gc;
  int64_t b = (int64_t)l->bucket + (int64_t)gc - (int64_t)mutator;
  if (b < 0) b = 0;
  /* GC time past a full bucket is dropped, as in Go. Carrying it (so that
   * on/off flapping averages exactly half the CPU) was tried: each carried
   * excess became a long stretch without assists, and on the 1 GiB
   * workload with a 1.5 GiB limit the heap ran 17% past the limit instead
   * of 7%, for 2% less GC CPU. */
  if ((uint64_t)b >= l->capacity) {
    b = (int64_t)l->capacity;
    if (!l->enabled) l->times_enabled++;
    l->enabled = true;
  } else {
    l->enabled = false;
  }
  l->bucket = (uint64_t)b;
  return l->enabled;
}
