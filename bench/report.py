#!/usr/bin/env python3
"""Run the gogc benchmark programs and print median tables.

Called by bench/run.sh after it has built the programs into bench/out/bin
(bin/<program>-<impl>). Every (benchmark, implementation) pair runs --runs
times; the implementations are interleaved within each round. Each program
prints one line "RESULT key=value ..."; the table shows the median of every
figure. Output checks: the other stdout lines of every run must be identical
across runs and implementations (binary-trees check lines, GCBench progress,
latency's live-set summary), and a non-zero exit or a timeout is a failure.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

IMPLS = ["gogc", "gogc-stw", "boehm", "malloc", "go"]
# gogc-stw: the gogc programs with marking done with the world stopped.
BIN_OF = {"gogc-stw": "gogc"}
ENV_OF = {"gogc-stw": {"GODEBUG": "gcstoptheworld=1"}}
BASELINE = "boehm"


def bench_table(cfg):
    """name -> (program, argv, description, extra env, impls or None)"""
    limit = cfg.live_mib * 3 // 2
    return {
        "binarytrees-1t": ("binarytrees", [str(cfg.depth), "1"],
                           "binary-trees depth %d, 1 thread" % cfg.depth,
                           {}, None),
        "binarytrees-2t": ("binarytrees", [str(cfg.depth), "2"],
                           "binary-trees depth %d, 2 threads" % cfg.depth,
                           {}, None),
        "gcbench": ("gcbench", [], "GCBench (stretch 18, long-lived 16, "
                    "array 500000 doubles, trees 4..16), 1 thread", {}, None),
        "latency": ("latency", [str(cfg.live_mib), str(cfg.churn), "2"],
                    "latency: %d MiB live of 64-byte nodes, %g x live "
                    "replaced, 2 mutator threads" % (cfg.live_mib, cfg.churn),
                    {}, None),
        # Go's "use the memory you are given" mode; Boehm and malloc have
        # no soft limit, so only gogc and Go run it.
        "latency-limit": ("latency", [str(cfg.live_mib), str(cfg.churn), "2"],
                          "latency as above with GOGC=off GOMEMLIMIT=%dMiB "
                          "(1.5 x live)" % limit,
                          {"GOGC": "off", "GOMEMLIMIT": "%dMiB" % limit},
                          ["gogc", "gogc-stw", "go"]),
        # Memory given back: after the churn, 90% of the live set is
        # dropped and the program goes on at ~100 MiB/s for 5 s.
        "latency-drop": ("latency", [str(cfg.live_mib), "4", "2", "5"],
                         "latency, %d MiB live, 4 x live replaced, then 90%% "
                         "of the live set dropped and 5 s more allocating "
                         "live-size MiB/s; "
                         "RSS sampled every 10 ms" % cfg.live_mib, {}, None),
        # The cost of finalizers and weak pointers to a collection.
        "final": ("final", [str(cfg.final_n)],
                  "final: %d objects of 32 bytes kept reachable; full "
                  "collections with a finalizer / a weak pointer (Boehm: a "
                  "disappearing link) on each, against none; then all "
                  "dropped" % cfg.final_n, {}, ["gogc", "boehm"]),
        # Pools: gogc_pool against Go's sync.Pool and malloc/free.
        "pool": ("pool", ["0.5"],
                 "pool: get+put of a 1 KiB buffer (1 thread; 2 threads, "
                 "wall ns per pair); a fresh 1 KiB allocation; a request "
                 "loop with a 4 KiB scratch buffer from a pool or fresh",
                 {}, ["gogc", "go", "malloc", "boehm"]),
        # Arenas: requests building trees, arena / collected / malloc.
        "arena": ("arena", [str(cfg.arena_objects)],
                  "arena: 24-byte objects, %d per part; requests that build, "
                  "walk and drop a tree of 1000 / 10000 / 100000 nodes "
                  "(gogc: an arena per request, and collected nodes)" %
                  cfg.arena_objects, {}, ["gogc", "boehm", "malloc"]),
    }


def binarytrees_expected(depth):
    """The check lines binary-trees must print for DEPTH."""
    n = max(depth, 6)
    lines = ["stretch tree of depth %d\t check: %d" % (n + 1, 2 ** (n + 2) - 1)]
    for d in range(4, n + 1, 2):
        iters = 2 ** (n - d + 4)
        lines.append("%d\t trees of depth %d\t check: %d" %
                     (iters, d, iters * (2 ** (d + 1) - 1)))
    lines.append("long lived tree of depth %d\t check: %d" %
                 (n, 2 ** (n + 1) - 1))
    return lines


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Build and run the gogc benchmarks against Boehm GC, "
        "malloc/free and Go; print median tables and write "
        "bench/out/results.md.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes: binary-trees depth 18, latency 256 MiB")
    p.add_argument("--runs", type=int, default=5,
                   help="runs per (benchmark, impl); median reported "
                   "(default 5)")
    p.add_argument("--only", default="",
                   help="comma-separated benchmarks: binarytrees (both), "
                   "binarytrees-1t, binarytrees-2t, gcbench, latency (all "
                   "three), latency-limit, latency-drop, final, pool, arena")
    p.add_argument("--impls", default=",".join(IMPLS),
                   help="comma-separated implementations (default %s)" %
                   ",".join(IMPLS))
    p.add_argument("--depth", type=int, default=None,
                   help="binary-trees depth (default 21, --quick 18)")
    p.add_argument("--live-mib", type=int, default=None,
                   help="latency live set in MiB (default 1024, --quick 256)")
    p.add_argument("--final-n", type=int, default=None,
                   help="final: objects (default 1000000, --quick 200000)")
    p.add_argument("--arena-objects", type=int, default=None,
                   help="arena: objects per part (default 4000000, --quick "
                   "1000000)")
    p.add_argument("--churn", type=float, default=16.0,
                   help="latency: MiB replaced per MiB live (default 16)")
    p.add_argument("--timeout", type=int, default=None,
                   help="seconds before a run is killed (default 600, "
                   "--quick 180)")
    p.add_argument("--bin", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    cfg = p.parse_args(argv)
    if cfg.depth is None:
        cfg.depth = 18 if cfg.quick else 21
    if cfg.live_mib is None:
        cfg.live_mib = 256 if cfg.quick else 1024
    if cfg.arena_objects is None:
        cfg.arena_objects = 1000000 if cfg.quick else 4000000
    if cfg.final_n is None:
        cfg.final_n = 200000 if cfg.quick else 1000000
    if cfg.timeout is None:
        cfg.timeout = 180 if cfg.quick else 600
    if cfg.runs < 1:
        p.error("--runs must be at least 1")
    names = list(bench_table(cfg))
    only = [s.strip() for s in cfg.only.split(",") if s.strip()]
    sel = []
    for o in only or names:
        match = [n for n in names if n == o or n.startswith(o + "-")]
        if not match:
            p.error("unknown benchmark %r (choose from %s)" %
                    (o, ", ".join(names)))
        sel += [m for m in match if m not in sel]
    cfg.benches = sel
    cfg.impl_list = [s.strip() for s in cfg.impls.split(",") if s.strip()]
    for i in cfg.impl_list:
        if i not in IMPLS:
            p.error("unknown implementation %r (choose from %s)" %
                    (i, ", ".join(IMPLS)))
    return cfg


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except Exception:
        return ""


def machine_lines(cfg):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.1f GiB RAM" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    gcc = sh("gcc -dumpfullversion")
    gov = sh("go version").replace("go version ", "")
    boehm = sh("dpkg-query -W -f='${Version}' libgc-dev")
    gogc_env = os.environ.get("GOGC")
    return [
        "- machine: %s, nproc=%d%s, %s %s" %
        (model, os.cpu_count() or 0, mem, platform.system(),
         platform.release()),
        "- toolchain: gcc %s (-O2), %s, Boehm GC libgc-dev %s" %
        (gcc or "?", gov or "Go not available", boehm or "?"),
        "- figures are **medians of %d runs** per (benchmark, implementation);"
        " implementations interleaved in each round" % cfg.runs,
        "- GOGC=%s for gogc and Go; Boehm at its defaults (parallel "
        "marking, started at init), glibc malloc at its defaults" %
        (gogc_env if gogc_env is not None else "unset (100)"),
        "- date: %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    ]


def run_once(path, args, timeout, extra_env=None):
    """Run one program; return (rc, stdout, stderr, note)."""
    t0 = time.time()
    env = dict(os.environ)
    for k, v in (extra_env or {}).items():
        env[k] = (env[k] + "," + v) if k == "GODEBUG" and env.get(k) else v
    proc = subprocess.Popen([path] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        note = ""
        if proc.returncode < 0:
            note = "killed by signal %d" % -proc.returncode
        elif proc.returncode != 0:
            note = "exit status %d" % proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        note = "timeout after %ds" % timeout
    return proc.returncode, out, err, note, time.time() - t0


def parse_result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            d = {}
            for kv in line.split()[1:]:
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    d[k] = v
            return d
    return None


def fnum(d, key):
    try:
        return float(d[key])
    except (KeyError, ValueError, TypeError):
        return None


def median_of(runs, key):
    vals = [v for v in (fnum(r, key) for r in runs) if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(v, base):
    if v is None or base is None or base == 0:
        return "-"
    return "%.2fx" % (v / base)


def render(headers, rows, aligns):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for c, w, a in zip(cells, widths, aligns):
            out.append(c.rjust(w) if a == "r" else c.ljust(w))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else
                         ("-" * (w + 2)) for w, a in zip(widths, aligns)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def custom_table(name, desc, cfg, results, failures, available, missing,
                 headers, row_of, legend):
    """A table for a benchmark with its own columns: one row per
    implementation that ran, row_of(impl, runs) giving the cells after
    "impl" and "ok"; failures and missing programs as notes."""
    aligns = ["l"] + ["r"] * (len(headers) - 1)
    rows, notes = [], []
    for impl in cfg.impl_list:
        if impl not in bench_table(cfg)[name][4]:
            continue
        if impl not in available or (name, impl) in missing:
            notes.append("%s: not run" % impl)
            continue
        runs = results.get((name, impl), [])
        fails = failures.get((name, impl), [])
        if fails:
            notes.append("%s: %d failed run(s): %s" %
                         (impl, len(fails), "; ".join(sorted(set(fails)))))
        rows.append([impl, "%d/%d" % (len(runs), len(runs) + len(fails))] +
                    row_of(impl, runs))
    text = "### %s\n\n%s\n\n%s\n\n%s\n" % (name, desc,
                                            render(headers, rows, aligns),
                                            legend)
    if notes:
        text += "\n" + "\n".join("- " + n for n in notes) + "\n"
    return text


FINAL_COLS = [("fin_extra_ns", "fin +ns/obj"), ("weak_extra_ns", "weak +ns/obj"),
              ("fin_death_ns", "fin death ns/obj"),
              ("weak_death_ns", "weak death ns/obj"),
              ("reg_fin_ns", "set fin ns"), ("reg_weak_ns", "make weak ns")]


def final_table(name, desc, cfg, results, failures, available, missing):
    """Per-object costs, each with its ratio to Boehm's median."""
    headers = ["impl", "ok", "plain GC ms"]
    for _, h in FINAL_COLS:
        headers += [h, "vs boehm"]
    base = results.get((name, BASELINE), [])

    def row_of(impl, runs):
        row = [fmt(median_of(runs, "plain_ms"), ".1f")]
        for key, _ in FINAL_COLS:
            v = median_of(runs, key)
            row += [fmt(v, ".1f"), ratio(v, median_of(base, key))]
        return row
    return custom_table(
        name, desc, cfg, results, failures, available, missing, headers,
        row_of, "+ns/obj: extra time of a full collection per object that "
        "has a finalizer (weak pointer), all reachable; death: the "
        "collection that finds them all dead, plus running the finalizers, "
        "per object; set/make: registration per object.")


POOL_COLS = [("pair1_ns", "get+put ns"), ("pair2_ns", "2 threads ns"),
             ("fresh_ns", "fresh 1K ns"), ("req_pool_ns", "request, pool ns"),
             ("req_fresh_ns", "request, fresh ns")]


def pool_table(name, desc, cfg, results, failures, available, missing):
    """ns per operation, each with its ratio to Go's median."""
    headers = ["impl", "ok"]
    for _, h in POOL_COLS:
        headers += [h, "vs go"]
    headers += ["GCs pool", "GCs fresh"]
    base = results.get((name, "go"), [])

    def row_of(impl, runs):
        row = []
        for key, _ in POOL_COLS:
            v = median_of(runs, key)
            row += [fmt(v, ".1f"), ratio(v, median_of(base, key))]
        for key in ("req_pool_gcs", "req_fresh_gcs"):
            v = median_of(runs, key)
            row.append("-" if v is None else "%g" % v)
        return row
    return custom_table(
        name, desc, cfg, results, failures, available, missing, headers,
        row_of, "malloc: malloc+free stands for the pool; Boehm has no pool. "
        "GCs: collections during each request part (same duration).")


def arena_table(name, desc, cfg, results, failures, available, missing):
    """ns per object: gogc's arena and collected columns side by side."""
    headers = ["impl", "ok", "alloc, arena", "alloc, arena warm", "alloc"]
    for k in (1000, 10000, 100000):
        headers += ["req %d, arena" % k, "req %d" % k, "collected / arena",
                    "GCs arena / other"]
    headers += ["peak RSS MiB"]

    def row_of(impl, runs):
        row = [fmt(median_of(runs, "alloc_arena_ns"), ".2f"),
               fmt(median_of(runs, "alloc_warm_ns"), ".2f"),
               fmt(median_of(runs, "alloc_ns"), ".2f")]
        for k in (1000, 10000, 100000):
            a = median_of(runs, "req%d_arena_ns" % k)
            h = median_of(runs, "req%d_ns" % k)
            ga = median_of(runs, "req%d_arena_gcs" % k)
            gh = median_of(runs, "req%d_gcs" % k)
            row += [fmt(a, ".1f"), fmt(h, ".1f"),
                    "-" if a is None or h is None or a == 0 else "%.2fx" % (h / a),
                    "%s / %s" % ("-" if ga is None else "%g" % ga,
                                 "-" if gh is None else "%g" % gh)]
        row.append(fmt(median_of(runs, "rss_mib"), ".0f"))
        return row
    return custom_table(
        name, desc, cfg, results, failures, available, missing, headers,
        row_of, "ns per object. alloc: allocation alone, in fresh memory "
        "(gogc: from an arena, and gogc_alloc; Boehm GC_MALLOC; malloc); "
        "warm: from arenas whose chunks are recycled (no page faults). "
        "req K: per node of a "
        "request building, walking and dropping a K-node tree, all-in; the "
        "second column is collected nodes (malloc: freed one by one). "
        "collected / arena: gogc's speed-up from the arena.")


def table(name, desc, cfg, results, failures, available, missing):
    if name == "arena":
        return arena_table(name, desc, cfg, results, failures, available,
                           missing)
    if name == "pool":
        return pool_table(name, desc, cfg, results, failures, available,
                          missing)
    if name == "final":
        return final_table(name, desc, cfg, results, failures, available,
                           missing)
    is_lat = name.startswith("latency")
    is_drop = name == "latency-drop"
    headers = ["impl", "ok", "wall s", "vs boehm", "cpu s", "vs boehm",
               "peak RSS MiB", "vs boehm", "GCs"]
    if is_lat:
        headers += ["gap max ms", "gap p99.9 us", "gap p99 us", "GC CPU %"]
    if is_drop:
        headers += ["RSS target MiB", "reached after s", "RSS at end MiB"]
    aligns = ["l"] + ["r"] * (len(headers) - 1)
    base = results.get((name, BASELINE), [])
    bw, bc, br = (median_of(base, k) for k in ("wall_s", "cpu_s", "rss_mib"))
    rows, notes = [], []
    only_impls = bench_table(cfg)[name][4]
    for impl in cfg.impl_list:
        if only_impls is not None and impl not in only_impls:
            continue
        if impl not in available:
            notes.append("%s: not run (%s)" % (impl, available.get(
                impl + "!", "program not built")))
            continue
        if (name, impl) in missing:
            notes.append("%s: not run (program not built)" % impl)
            continue
        runs = results.get((name, impl), [])
        fails = failures.get((name, impl), [])
        okcol = "%d/%d" % (len(runs), len(runs) + len(fails))
        if fails:
            notes.append("%s: %d failed run(s): %s" %
                         (impl, len(fails), "; ".join(sorted(set(fails)))))
        w, c, r = (median_of(runs, k) for k in ("wall_s", "cpu_s", "rss_mib"))
        g = median_of(runs, "gcs")
        row = [impl, okcol, fmt(w, ".2f"), ratio(w, bw), fmt(c, ".2f"),
               ratio(c, bc), fmt(r, ".0f"), ratio(r, br),
               "-" if g is None else "%g" % g]
        if is_lat:
            gc = median_of(runs, "gc_cpu")
            row += [fmt(median_of(runs, "gap_max_ms"), ".2f"),
                    fmt(median_of(runs, "gap_p999_us"), ".1f"),
                    fmt(median_of(runs, "gap_p99_us"), ".1f"),
                    "-" if gc is None else "%.1f" % (100 * gc)]
        if is_drop:
            # never reaching the target counts as worse than any time
            reach = [fnum(r, "drop_reach_s") for r in runs]
            reach = [99.0 if v is None or v < 0 else v for v in reach]
            med = statistics.median(reach) if reach else None
            row += [fmt(median_of(runs, "drop_target_mib"), ".0f"),
                    "-" if med is None else ("never" if med >= 99 else
                                             "%.2f" % med),
                    fmt(median_of(runs, "drop_rss_end_mib"), ".0f")]
        rows.append(row)
    text = "### %s\n\n%s\n\n%s\n" % (name, desc, render(headers, rows, aligns))
    if notes:
        text += "\n" + "\n".join("- " + n for n in notes) + "\n"
    return text


def main():
    cfg = parse_args(sys.argv[1:])
    if cfg.parse_only:
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = cfg.out or os.path.join(here, "out")
    bin_dir = cfg.bin or os.path.join(out_dir, "bin")
    log_dir = os.path.join(out_dir, "logs")
    os.makedirs(log_dir, exist_ok=True)
    benches = bench_table(cfg)

    # Which programs exist. run.sh may leave bin/SKIP-<impl> with a reason.
    available = {}
    for impl in cfg.impl_list:
        skip = os.path.join(bin_dir, "SKIP-" + BIN_OF.get(impl, impl))
        if os.path.exists(skip):
            with open(skip) as f:
                available[impl + "!"] = f.read().strip()
            continue
        available[impl] = True

    header = ["# gogc benchmarks", ""] + machine_lines(cfg)
    load = os.getloadavg()[0]
    ncpu = os.cpu_count() or 1
    header.append("- load average at start: %.2f on %d CPUs%s" % (
        load, ncpu, " (**WARNING: machine busy, timings unreliable**)"
        if load > 0.5 * ncpu else ""))
    header.append("")
    print("\n".join(header), flush=True)

    results, failures, missing = {}, {}, set()
    raw = open(os.path.join(out_dir, "raw.jsonl"), "w")
    sections = []
    for name in cfg.benches:
        prog, args, desc, benv, only_impls = benches[name]
        impls = [i for i in cfg.impl_list if i in available and
                 (only_impls is None or i in only_impls) and
                 os.access(os.path.join(bin_dir, "%s-%s" % (prog, BIN_OF.get(i, i))),
                           os.X_OK)]
        for i in cfg.impl_list:
            if i in available and i not in impls and (only_impls is None or
                                                      i in only_impls):
                missing.add((name, i))
        # Expected stdout (without the RESULT line): computed for
        # binary-trees, else that of the first good run (those programs
        # check themselves and exit non-zero when wrong).
        reference = None
        if prog == "binarytrees":
            reference = ("the expected", binarytrees_expected(cfg.depth))
        print("== %s: %s" % (name, desc), flush=True)
        for r in range(cfg.runs):
            k = r % len(impls) if impls else 0
            for impl in impls[k:] + impls[:k]:
                fails = failures.get((name, impl), [])
                if len(fails) >= 2 and not results.get((name, impl)):
                    if r == 2:
                        print("  %-6s failed twice, skipping its remaining "
                              "runs" % impl, flush=True)
                    continue
                path = os.path.join(bin_dir, "%s-%s" % (prog, BIN_OF.get(impl, impl)))
                env = dict(benv)
                env.update(ENV_OF.get(impl, {}))
                rc, out, err, note, el = run_once(path, args, cfg.timeout,
                                                  env)
                res = parse_result(out)
                lines = [l for l in out.splitlines()
                         if not l.startswith("RESULT ")]
                if not note and res is None:
                    note = "no RESULT line"
                if not note:
                    if reference is None:
                        reference = (impl, lines)
                    elif lines != reference[1]:
                        note = "output differs from %s" % (
                            reference[0] if reference[0] == "the expected"
                            else reference[0] + "'s")
                if note:
                    log = os.path.join(log_dir, "%s-%s-run%d.log" %
                                       (name, impl, r + 1))
                    with open(log, "w") as f:
                        f.write("$ %s %s\n# %s\n--- stdout\n%s\n--- stderr\n"
                                "%s\n" % (path, " ".join(args), note, out,
                                          err))
                    failures.setdefault((name, impl), []).append(note)
                    print("  run %d/%d %-6s FAILED: %s (log: %s)" %
                          (r + 1, cfg.runs, impl, note,
                           os.path.relpath(log)), flush=True)
                    if err.strip():
                        print("    stderr: " + err.strip().splitlines()[-1],
                              flush=True)
                    continue
                results.setdefault((name, impl), []).append(res)
                raw.write(json.dumps({"bench": name, "run": r + 1, **res}) +
                          "\n")
                raw.flush()
                extra = ""
                if "gap_max_ms" in res:
                    extra = "  gap max %s ms p99.9 %s us" % (
                        res["gap_max_ms"], res["gap_p999_us"])
                print("  run %d/%d %-6s wall %7ss  cpu %7ss  rss %7s MiB  "
                      "gcs %s%s" % (r + 1, cfg.runs, impl, res.get("wall_s"),
                                    res.get("cpu_s"), res.get("rss_mib"),
                                    res.get("gcs"), extra), flush=True)
        sections.append(table(name, desc, cfg, results, failures, available,
                              missing))
    raw.close()

    legend = (
        "Columns: ok = successful runs / runs; wall = elapsed seconds; "
        "cpu = user+system seconds of the whole process (all threads); "
        "peak RSS = ru_maxrss; GCs = collections "
        "(gogc num_gc, Boehm GC_get_gc_no, Go NumGC; '-' for malloc); "
        "vs boehm = median / Boehm's median (lower is better). "
        "Latency gaps: time between consecutive iterations of a mutator "
        "thread in the steady phase (max, 99.9th and 99th percentile over "
        "all iterations of both threads).")
    body = "\n".join(header) + "\n" + "\n".join(sections) + "\n" + legend + "\n"
    print()
    print("\n".join(sections))
    print(legend)
    md = os.path.join(out_dir, "results.md")
    with open(md, "w") as f:
        f.write(body)
    print("\nwritten: %s (raw runs: %s)" %
          (os.path.relpath(md), os.path.relpath(os.path.join(out_dir,
                                                             "raw.jsonl"))))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
