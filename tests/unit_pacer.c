/* The pacer and the GC CPU limiter, driven by a simulated program.
 *
 * The simulation steps a 2-core machine in 1 ms ticks. The program
 * allocates at a fixed rate per core of mutator CPU; its live heap follows
 * a script (steady, rising, falling). A background worker marks with 25%
 * of the CPU at a fixed scan rate; allocating threads assist at the
 * pacer's ratio (unless the limiter is on). A cycle starts when the heap
 * reaches the trigger and ends when the scan work (the live heap) is done;
 * then the pacer measures cons/mark and commits the next goal, as mgc.c
 * does. Memory held = heap + a fixed non-heap overhead.
 *
 * What is checked, per scenario, after the first cycles (the pacer needs
 * a measurement): the heap at the end of each mark stays within a few
 * percent of its goal, the trigger sits between 80% and 95% of the runway,
 * the goal follows GOGC or the limit, no runaway (bounded cycle count, the
 * heap never passes the hard goal), and GC CPU stays near or under half
 * when the limit is too small for the live heap.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>

#include "check.h"

#define MiB (1024.0 * 1024.0)

typedef struct scenario {
  const char *name;
  int gogc;
  double limit_mib;                   /* 0: none */
  double live0_mib, live1_mib;        /* live heap ramps from live0 to live1 */
  double alloc_rate_mib;              /* MiB per mutator core-second */
  double seconds;
  /* expectations */
  double max_over_goal;               /* heap at mark end <= goal * this */
  double max_gc_cpu;                  /* fraction of all CPU over the run */
  int expect_cycles;                  /* 0: none at all; 1: at least a few */
  double max_peak_mib;                /* 0: not checked */
  double min_gc_cpu;                  /* GC CPU must reach this (no-limiter runs) */
  int no_limiter;                     /* the limiter's bucket never fills */
} scenario;

typedef struct result {
  int cycles;
  double worst_over_goal;  /* max heap_end / goal after warm-up */
  double gc_cpu;           /* GC's share of all CPU over the run */
  double gc_cpu_late;      /* over the second half (after the limiter's bucket filled) */
  double peak_mib;
  int trigger_out_of_bounds;
  int limiter_on_ticks;
} result;

static const double scan_rate = 400 * MiB; /* bytes scanned per GC core-second */
static const double non_heap = 6 * MiB;
static const int procs = 2;

static result simulate(const scenario *sc) {
  result r = {0};
  gogc_pacer p;
  gogc_limiter l;
  int64_t limit = sc->limit_mib > 0 ? (int64_t)(sc->limit_mib * MiB) : INT64_MAX;
  gogc_pacer_init(&p, sc->gogc, limit, procs);
  gogc_limiter_init(&l, procs, 0);
  if (sc->no_limiter) l.capacity = UINT64_MAX / 4;
  const double dt = 0.001;
  double heap = sc->live0_mib * MiB; /* heap_live: marked + allocated since */
  p.heap_marked = (uint64_t)heap;
  p.globals_scan = 1 << 20;
  p.mapped_ready = (uint64_t)(heap + non_heap);
  p.heap_alloc = (uint64_t)heap;
  gogc_pacer_commit(&p, true);
  bool marking = false;
  double work_left = 0, work_done = 0, triggered = 0, mark_start = 0;
  double bg_cpu = 0, assist_cpu = 0, gc_total = 0, gc_late = 0, gc_tick = 0;
  uint64_t heap_scan_max = 0;
  int ticks = (int)(sc->seconds / dt);
  for (int i = 0; i < ticks; i++) {
    double t = i * dt;
    double frac = (double)i / ticks;
    double live = (sc->live0_mib + (sc->live1_mib - sc->live0_mib) * frac) * MiB;
    double mut_cpu = procs * dt;
    gc_tick = 0;
    if (marking) {
      double bg = 0.25 * procs * dt;
      mut_cpu -= bg;
      bg_cpu += bg;
      gc_tick += bg;
      double done = bg * scan_rate;
      /* Assists: the allocation of this tick owes ratio * bytes of work. */
      double ratio = l.enabled ? 0
                               : gogc_pacer_assist_ratio(&p, (uint64_t)heap, (uint64_t)triggered,
                                                         (uint64_t)work_done, heap_scan_max);
      double a_per_cpu = sc->alloc_rate_mib * MiB;
      double cpu_alloc = mut_cpu / (1 + ratio * a_per_cpu / scan_rate);
      double assist = mut_cpu - cpu_alloc;
      assist_cpu += assist;
      gc_tick += assist;
      done += assist * scan_rate;
      heap += cpu_alloc * a_per_cpu;
      work_done += done;
      work_left -= done;
      if (work_left <= 0) { /* mark termination */
        marking = false;
        gogc_mark_stats m = {
            .heap_triggered = (uint64_t)triggered,
            .heap_end = (uint64_t)heap,
            .heap_marked = (uint64_t)live,
            .scan_work = (uint64_t)work_done,
            .root_scan_work = p.globals_scan,
            .stack_scan = 0,
            .mark_ns = (uint64_t)((t - mark_start) * 1e9) + 1,
            .bg_cpu_ns = (uint64_t)(bg_cpu * 1e9),
            .assist_cpu_ns = (uint64_t)(assist_cpu * 1e9),
        };
        if (r.cycles >= 3 && p.goal != UINT64_MAX) {
          double over = heap / (double)p.goal;
          if (over > r.worst_over_goal) r.worst_over_goal = over;
        }
        gogc_pacer_end_cycle(&p, &m);
        p.mapped_ready = (uint64_t)(heap + non_heap);
        p.heap_alloc = (uint64_t)heap;
        p.heap_free = 0;
        heap = live; /* the sweep frees the rest */
        gogc_pacer_commit(&p, true);
        r.cycles++;
        if (p.goal != UINT64_MAX && p.trigger != p.goal) {
          double span = (double)(p.goal - p.heap_marked);
          double pos = ((double)p.trigger - (double)p.heap_marked) / span;
          if (pos < 0.69 || pos > 0.951) {
            if ((double)(p.goal - p.trigger) > 4 * MiB + 1) r.trigger_out_of_bounds++;
          }
        }
      }
    } else {
      heap += mut_cpu * sc->alloc_rate_mib * MiB;
      if (heap < live) heap = live;
      if (heap >= (double)p.trigger) {
        marking = true;
        triggered = heap;
        heap_scan_max = (uint64_t)heap;
        work_left = live + (double)p.globals_scan;
        work_done = 0;
        mark_start = t;
        bg_cpu = assist_cpu = 0;
      }
    }
    gc_total += gc_tick;
    if (i >= ticks / 2) gc_late += gc_tick;
    gogc_limiter_update(&l, (uint64_t)((t + dt) * 1e9), (uint64_t)(gc_tick * 1e9), 0,
                        (uint64_t)(procs * dt * 1e9));
    r.limiter_on_ticks += l.enabled;
    double held = heap + non_heap;
    if (held / MiB > r.peak_mib) r.peak_mib = held / MiB;
  }
  r.gc_cpu = gc_total / (procs * sc->seconds);
  r.gc_cpu_late = gc_late / (procs * sc->seconds / 2);
  return r;
}

static void test_scenarios(void) {
  /* Scenarios where marking needs less than half the CPU keep the heap at
   * its goal; where it would need more (GOGC=10, very fast allocation, a
   * limit below the live heap), the limiter holds GC near half the CPU and
   * the heap overshoots instead: bounded, never a runaway. The limiter, as
   * Go's, drops GC time past a full bucket, so at the simulation's 1 ms
   * updates it turns on and off every tick (25% GC on, 100% off): at most
   * 62.5%. Without it, the same programs spend nearly all the CPU in GC
   * (the death spiral it exists to prevent). */
  static const scenario table[] = {
      /* name                   gogc  limit  live0 live1 rate secs  over  cpu  cyc peak mincpu nolim */
      {"GOGC=100 steady",        100,    0,    64,   64, 100, 20, 1.05, 0.30, 1, 0, 0, 0},
      {"GOGC=400 steady",        400,    0,    64,   64, 100, 20, 1.05, 0.15, 1, 0, 0, 0},
      {"GOGC=100 rising",        100,    0,    16,  256, 100, 20, 1.06, 0.30, 1, 0, 0, 0},
      {"GOGC=100 falling",       100,    0,   256,   16, 100, 20, 1.05, 0.30, 1, 0, 0, 0},
      {"GOGC=off",                -1,    0,    64,   64, 100, 10, 0, 0.001, 0, 0, 0, 0},
      {"GOGC=off limit, 10->80%", -1,  256,    26,  205, 100, 20, 1.05, 0.50, 1, 256 * 1.05, 0, 0},
      {"GOGC=100 limit binds",   100,  256,   160,  160, 100, 20, 1.05, 0.50, 1, 256 * 1.05, 0, 0},
      {"GOGC=100 limit loose",   100, 4096,    64,   64, 100, 20, 1.05, 0.30, 1, 0, 0, 0},
      {"GOGC=10 (limiter)",       10,    0,    64,   64, 100, 20, 1.60, 0.63, 1, 0, 0, 0},
      {"fast alloc (limiter)",   100,    0,    64,   64, 2000, 20, 3.50, 0.63, 1, 0, 0, 0},
      {"limit < live (limiter)",  -1,  128,   160,  160, 100, 20, 0, 0.63, 1, 0, 0, 0},
      {"limit < live, no limiter", -1, 128,   160,  160, 100, 20, 0, 1.00, 1, 0, 0.85, 1},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const scenario *sc = &table[i];
    result r = simulate(sc);
    printf("%-26s cycles %4d  heap/goal %.3f  gc cpu %.3f (late %.3f)  peak %.0f MiB  "
           "limiter on %d ms\n",
           sc->name, r.cycles, r.worst_over_goal, r.gc_cpu, r.gc_cpu_late, r.peak_mib,
           r.limiter_on_ticks);
    if (sc->expect_cycles == 0) {
      CHECKF(r.cycles == 0, "%s: %d cycles with no goal", sc->name, r.cycles);
    } else {
      CHECKF(r.cycles >= 3, "%s: only %d cycles", sc->name, r.cycles);
      /* no runaway: a cycle takes at least the time to scan the live heap */
      CHECKF(r.cycles < (int)(sc->seconds * 1000), "%s: %d cycles", sc->name, r.cycles);
    }
    if (sc->max_over_goal > 0)
      CHECKF(r.worst_over_goal <= sc->max_over_goal, "%s: heap reached %.3f x the goal", sc->name,
             r.worst_over_goal);
    CHECKF(r.gc_cpu_late <= sc->max_gc_cpu, "%s: GC CPU %.3f > %.3f", sc->name, r.gc_cpu_late,
           sc->max_gc_cpu);
    CHECKF(r.trigger_out_of_bounds == 0, "%s: trigger outside 70-95%% of the runway %d times",
           sc->name, r.trigger_out_of_bounds);
    if (sc->min_gc_cpu > 0)
      CHECKF(r.gc_cpu_late >= sc->min_gc_cpu, "%s: GC CPU only %.3f", sc->name, r.gc_cpu_late);
    if (sc->max_peak_mib > 0)
      CHECKF(r.peak_mib <= sc->max_peak_mib, "%s: peak %.0f MiB > %.0f", sc->name, r.peak_mib,
             sc->max_peak_mib);
  }
}

/* Goals by formula, one commit each. */
static void test_goals(void) {
  gogc_pacer p;
  gogc_pacer_init(&p, 100, INT64_MAX, 2);
  p.heap_marked = 100u << 20;
  p.stack_scan = 1u << 20;
  p.globals_scan = 1u << 20;
  gogc_pacer_commit(&p, true);
  CHECK(p.goal == (100u << 20) + (102u << 20));
  CHECK(!p.limit_bound);
  /* first cycle, no measurement: the earliest trigger, 80% of the way */
  uint64_t want = (100u << 20) + (uint64_t)((double)(102u << 20) * 0.80);
  CHECKF(p.trigger == want, "trigger %llu want %llu", (unsigned long long)p.trigger,
         (unsigned long long)want);
  /* tiny heaps: the 4 MiB minimum scaled by GOGC */
  p.heap_marked = 1000;
  p.stack_scan = p.globals_scan = 0;
  gogc_pacer_commit(&p, true);
  CHECK(p.goal == 4u << 20);
  p.gc_percent = 50;
  gogc_pacer_commit(&p, true);
  CHECK(p.goal == 2u << 20);
  /* stop-the-world marking: trigger at the goal */
  gogc_pacer_commit(&p, false);
  CHECK(p.trigger == p.goal);
  /* GOGC off, no limit: nothing */
  p.gc_percent = -1;
  gogc_pacer_commit(&p, true);
  CHECK(p.goal == UINT64_MAX && p.trigger == UINT64_MAX);
  /* GOGC off, a limit: limit - non-heap - 3% headroom */
  p.mem_limit = 1000ll << 20;
  p.heap_marked = 100u << 20;
  p.mapped_ready = 300u << 20;
  p.heap_alloc = 200u << 20;
  p.heap_free = 50u << 20; /* non-heap: 50 MiB */
  gogc_pacer_commit(&p, true);
  uint64_t g = (950ull << 20);
  g -= g / 100 * 3;
  CHECKF(p.goal == g, "limit goal %llu want %llu", (unsigned long long)p.goal, (unsigned long long)g);
  CHECK(p.limit_bound);
  /* over the limit already: the overage comes off the goal too */
  p.mapped_ready = 1100u << 20;
  p.heap_alloc = 1000u << 20;
  p.heap_free = 50u << 20; /* non-heap 50, overage 100 */
  gogc_pacer_commit(&p, true);
  g = 850ull << 20;
  g -= g / 100 * 3;
  CHECK(p.goal == g);
  /* non-heap memory above the limit: the goal is the live heap (collect continuously) */
  p.mem_limit = 40ll << 20;
  gogc_pacer_commit(&p, true);
  CHECK(p.goal == p.heap_marked && p.trigger == p.goal);
  /* the smaller goal wins */
  p.gc_percent = 100;
  p.mem_limit = 10000ll << 20;
  p.mapped_ready = p.heap_alloc = 100u << 20;
  p.heap_free = 0;
  gogc_pacer_commit(&p, true);
  CHECK(!p.limit_bound && p.goal == (200u << 20));
}

/* Assist ratio: work left over heap left; extrapolated when the heap grew;
 * finite past the goal. */
static void test_assist_ratio(void) {
  gogc_pacer p;
  gogc_pacer_init(&p, 100, INT64_MAX, 2);
  p.heap_marked = 100u << 20;
  p.last_heap_scan = 100u << 20;
  gogc_pacer_commit(&p, true); /* goal 200 MiB */
  /* no mark measured yet: the worst case (all of the heap) is expected */
  double r = gogc_pacer_assist_ratio(&p, 150u << 20, 140u << 20, 50u << 20, 150u << 20);
  CHECKF(fabs(r - 2.0) < 0.01, "ratio %f", r); /* 100 MiB left to scan, 50 MiB of room */
  p.cycles_measured = 1;
  r = gogc_pacer_assist_ratio(&p, 150u << 20, 140u << 20, 50u << 20, 150u << 20);
  CHECKF(fabs(r - 1.0) < 0.01, "ratio %f", r); /* 50 MiB left to scan, 50 MiB of room */
  r = gogc_pacer_assist_ratio(&p, 190u << 20, 140u << 20, 50u << 20, 150u << 20);
  CHECKF(fabs(r - 5.0) < 0.05, "ratio %f", r);
  /* past the goal: 10% more room, then the 64 KiB floor (every refill
   * assists for its whole time bound); finite either way */
  r = gogc_pacer_assist_ratio(&p, 210u << 20, 140u << 20, 50u << 20, 150u << 20);
  CHECKF(fabs(r - 10.0) < 0.05, "ratio %f", r); /* 100 left, 10 MiB of room */
  r = gogc_pacer_assist_ratio(&p, 300u << 20, 140u << 20, 50u << 20, 150u << 20);
  CHECKF(r > 1000 && isfinite(r), "ratio %f", r);
  /* ...also when more was scanned than the estimate allowed (the work
   * left then looks like nothing): it was 0.015, and assists did nothing */
  r = gogc_pacer_assist_ratio(&p, 300u << 20, 140u << 20, 200u << 20, 150u << 20);
  CHECKF(r >= 1000 && isfinite(r), "ratio %f", r);
  /* more work than expected: the goal moves out, towards the hard goal */
  double r2 = gogc_pacer_assist_ratio(&p, 190u << 20, 140u << 20, 120u << 20, 300u << 20);
  CHECK(r2 > 0 && isfinite(r2));
}

/* The limiter: fills with GC time, drains with mutator time, turns on only
 * when the bucket is full, never banks idle credit. */
static void test_limiter(void) {
  gogc_limiter l;
  gogc_limiter_init(&l, 2, 0);
  uint64_t ms = 1000000, now = 0;
  /* 40% GC for 10 s: never on */
  for (int i = 0; i < 10000; i++) {
    now += ms;
    gogc_limiter_update(&l, now, 8 * ms / 10, 0, 2 * ms);
    CHECK(!l.enabled || i < 0);
  }
  CHECK(l.bucket == 0);
  /* 100% GC: on after the bucket (2 CPU-seconds) fills, i.e. 1 s of wall time */
  int on_at = -1;
  for (int i = 0; i < 2000; i++) {
    now += ms;
    gogc_limiter_update(&l, now, 2 * ms, 0, 2 * ms);
    if (l.enabled && on_at < 0) on_at = i;
  }
  CHECKF(on_at >= 990 && on_at <= 1010, "limiter on after %d ms", on_at);
  CHECK(l.times_enabled == 1);
  /* back to 60% GC: still filling, stays on; then 30%: drains, turns off */
  for (int i = 0; i < 100; i++) {
    now += ms;
    gogc_limiter_update(&l, now, 12 * ms / 10, 0, 2 * ms);
  }
  CHECK(l.enabled);
  /* GC past a full bucket is not carried (Go): off at the first update
   * where the mutator had more than half */
  now += ms;
  gogc_limiter_update(&l, now, 6 * ms / 10, 0, 2 * ms);
  CHECK(!l.enabled);
  /* idle time is free: idle marking does not fill the bucket */
  gogc_limiter_init(&l, 2, 0);
  for (int i = 0; i < 3000; i++) {
    now += ms;
    gogc_limiter_update(&l, now, 0, 2 * ms, 2 * ms);
  }
  CHECK(!l.enabled && l.bucket == 0);
}

static void test_byte_counts(void) {
  static const struct {
    const char *s;
    int ok;
    int64_t v;
  } t[] = {
      {"0", 1, 0},
      {"1", 1, 1},
      {"1B", 1, 1},
      {"1KiB", 1, 1024},
      {"256MiB", 1, 256ll << 20},
      {"3GiB", 1, 3ll << 30},
      {"2TiB", 1, 2ll << 40},
      {"9223372036854775807", 1, INT64_MAX},
      {"9223372036854775808", 0, 0},
      {"8388608TiB", 0, 0},
      {"", 0, 0},
      {"B", 0, 0},
      {"KiB", 0, 0},
      {"1MB", 0, 0},
      {"1kiB", 0, 0},
      {"1.5GiB", 0, 0},
      {"-1", 0, 0},
      {" 1", 0, 0},
      {"1 ", 0, 0},
      {"1iB", 0, 0},
      {"1XiB", 0, 0},
      {"off", 0, 0}, /* handled by the caller, not a byte count */
      {"99999999999999999999999", 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int64_t v = -7;
    bool ok = gogc_parse_byte_count(t[i].s, &v);
    CHECKF(ok == (bool)t[i].ok && (!ok || v == t[i].v), "\"%s\": ok %d value %lld", t[i].s, ok,
           (long long)v);
  }
}

int main(void) {
  test_goals();
  test_assist_ratio();
  test_limiter();
  test_byte_counts();
  test_scenarios();
  return check_done();
}
