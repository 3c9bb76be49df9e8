#!/usr/bin/env bash
# The whole test suite under the GODEBUG stress modes, outside CI. CI runs
# every black-box test under gcstress=1000 but only a few under gcstress=1
# and gcstressslow=1 (tests/CMakeLists.txt, "Stress modes"); this runs
# every program CTest runs in the plain configuration (each test_* and
# unit_* program and fuzz_replay, with the arguments and environment CTest
# gives it, GODEBUG aside) under each of these settings:
#
#   stress1      GODEBUG=gcverify=1,gcstress=1       a full collection at every allocation
#   stress7      GODEBUG=gcverify=1,gcstress=7       ... at every 7th allocation of a thread
#   slow         GODEBUG=gcverify=1,gcstressslow=1   ... at every allocation slow path
#   checkmark7   GODEBUG=gcverify=1,gccheckmark=1,gcstress=7
#                                                    stress7 with the checkmark pass too
#
# Two programs at a time (GOGC_STRESS_JOBS), each under a time limit of
# 20 minutes (GOGC_STRESS_TIMEOUT, seconds). About 15 minutes on 2 cores
# (the longest, test_survive under stress1 and slow: 2-3 minutes each).
# A lost or corrupted object, a verifier or checkmark report, a crash, a
# failed check or a run past the limit fails the run. At the end a table:
# test, mode, result (ok, skipped: the program passed by skipping itself,
# FAIL(exit N), FAIL(signal N), TIMEOUT), seconds; the exit status is 1 if
# anything failed.
#
#   scripts/stress_modes.sh [TEST...]     default: every program; a TEST is
#                                         a name like test_alloc or unit_oom
#   GOGC_STRESS_MODES="stress1 slow"      only these modes (default: all four)
#
# Builds a Release tree in build/stress-modes. Logs: build/stress-modes/logs/
# (MODE-TEST.log: the command, then its output; summary.txt: the table;
# FAILED: the logs of the runs that failed). Logs of runs that passed are
# removed at the end unless GOGC_STRESS_KEEP=1; those of failures stay.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${GOGC_STRESS_JOBS:-2}
limit=${GOGC_STRESS_TIMEOUT:-1200}

declare -A mode_env=(
  [stress1]="gcverify=1,gcstress=1"
  [stress7]="gcverify=1,gcstress=7"
  [slow]="gcverify=1,gcstressslow=1"
  [checkmark7]="gcverify=1,gccheckmark=1,gcstress=7"
)
read -r -a modes <<<"${GOGC_STRESS_MODES:-stress1 stress7 slow checkmark7}"
for m in "${modes[@]}"; do
  [ -n "${mode_env[$m]+x}" ] || { echo "stress_modes: unknown mode $m (stress1 stress7 slow checkmark7)" >&2; exit 2; }
done

# Each program as tests/CMakeLists.txt runs it: name, then the environment
# besides GODEBUG ("-" for none), then its arguments. The test_threads
# variants of CTest (GOGC=10, gcstoptheworld=1/2) run the same program.
# test_arena makes 20000 arenas, as in CI's gcstress=1000 runs (200000 in
# the plain run: a collection at each of their allocations takes an hour).
# Under these modes the tests make smaller structures themselves
# (tu_stress_heavy in tests/testutil.h) and skip the checks that count
# cycles (tu_stressed); unit_concurrent skips itself (its held cycles
# cannot wait for the collections an allocation forces).
programs=(
  "test_alloc -"
  "test_reclaim -"
  "test_survive -"
  "test_threads -"
  "test_env -"
  "test_badinput -"
  "test_modes -"
  "test_fork -"
  "test_memlimit -"
  "test_final -"
  "test_pool -"
  "test_arena GOGC_TEST_ARENAS=20000"
  "test_events -"
  "test_proclife -"
  "unit_internals -"
  "unit_oom -"
  "unit_concurrent -"
  "unit_pacer -"
  "fuzz_replay - $root/tests/fuzz/corpus"
)
if [ $# -gt 0 ]; then
  selected=()
  for want in "$@"; do
    found=0
    for p in "${programs[@]}"; do
      if [ "${p%% *}" = "$want" ]; then selected+=("$p"); found=1; fi
    done
    [ $found = 1 ] || { echo "stress_modes: no program $want" >&2; exit 2; }
  done
  programs=("${selected[@]}")
fi

cmake -S . -B build/stress-modes -DCMAKE_BUILD_TYPE=Release -DGOGC_WERROR=ON >/dev/null
cmake --build build/stress-modes -j"$(nproc)" >/dev/null
bin=$root/build/stress-modes/tests
logs=$root/build/stress-modes/logs
rm -rf "$logs" && mkdir -p "$logs/results"

# One program under one mode; its result goes to results/N (run in the
# background, so it never fails itself).
run_one() { # index, mode, name, env, args...
  local idx=$1 mode=$2 name=$3 extra=$4; shift 4
  local log="$logs/$mode-$name.log" envs=("GODEBUG=${mode_env[$mode]}")
  [ "$extra" = "-" ] || envs+=("$extra")
  local start end rc=0 result
  {
    echo "# cd $bin && ${envs[*]} timeout $limit ./$name $*"
    echo
  } >"$log"
  start=$(date +%s)
  (cd "$bin" && ulimit -c 0 && env "${envs[@]}" timeout -k 30 "$limit" "./$name" "$@") >>"$log" 2>&1 || rc=$?
  end=$(date +%s)
  case $rc in
    0) if grep -q "skipped under GODEBUG" "$log"; then result=skipped; else result=ok; fi ;;
    124 | 137) result="TIMEOUT" ;;
    *) if [ "$rc" -gt 128 ]; then result="FAIL(signal $((rc - 128)))"; else result="FAIL(exit $rc)"; fi ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$mode" "$result" "$((end - start))" >"$logs/results/$idx"
  [ "$rc" = 0 ] || echo "$log" >>"$logs/FAILED"
  printf '%-16s %-11s %-16s %5s s\n' "$name" "$mode" "$result" "$((end - start))"
}

echo "stress_modes: ${#programs[@]} programs x ${#modes[@]} modes, $jobs at a time, limit $limit s each"
idx=0
running=0
for mode in "${modes[@]}"; do
  for p in "${programs[@]}"; do
    read -r -a f <<<"$p"
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    run_one "$(printf '%04d' $idx)" "$mode" "${f[@]}" &
    running=$((running + 1))
    idx=$((idx + 1))
  done
done
wait

{
  printf '%-16s %-11s %-16s %s\n' test mode result seconds
  cat "$logs"/results/* | while IFS=$'\t' read -r name mode result secs; do
    printf '%-16s %-11s %-16s %7s\n' "$name" "$mode" "$result" "$secs"
  done
} >"$logs/summary.txt"
rm -rf "$logs/results"
echo
cat "$logs/summary.txt"
if [ "${GOGC_STRESS_KEEP:-0}" != 1 ]; then
  for log in "$logs"/*.log; do
    grep -qxF "$log" "$logs/FAILED" 2>/dev/null || rm -f "$log"
  done
fi
if [ -e "$logs/FAILED" ]; then
  echo
  echo "stress_modes: FAILURES (logs kept):"
  sed 's/^/  /' "$logs/FAILED"
  exit 1
fi
echo "stress_modes: no failure"
