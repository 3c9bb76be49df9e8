#!/usr/bin/env bash
# Long stress runs, outside CI: the multi-threaded stress test, the
# phase-stepping tests and the finalizer and pool tests again and again,
# then a million arenas; in every collector mode, with the
# heap verifier and checkmark on, two at a time (the machine's cores busy,
# as in a loaded production box). Any lost or corrupted object, verifier
# or checkmark report fails the run; the failing output is kept.
#
#   scripts/stress.sh [ROUNDS]          default 20 rounds (about 17 min on 2 cores)
#
# Builds a Release tree in build/stress. Logs: build/stress/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
cmake -S . -B build/stress -DCMAKE_BUILD_TYPE=Release -DGOGC_WERROR=ON >/dev/null
cmake --build build/stress -j"$(nproc)" >/dev/null
logs=build/stress/logs
rm -rf "$logs" && mkdir -p "$logs"
bin=build/stress/tests

modes=(
  "GODEBUG=gcverify=1,gccheckmark=1"
  "GOGC=10 GODEBUG=gcverify=1,gccheckmark=1"
  "GODEBUG=gcverify=1,gcstoptheworld=1"
  "GODEBUG=gcverify=1,gcstoptheworld=2"
)
run() { # log, env..., program  (may run in the background: failures go to a file)
  local log=$1; shift
  if ! env "$@" >"$log" 2>&1; then
    echo "FAILED: $* (see $log)"
    echo "$log" >>"$logs/FAILED"
  fi
}
for r in $(seq 1 "$rounds"); do
  for i in "${!modes[@]}"; do
    # shellcheck disable=SC2086
    run "$logs/threads-$r-$i-a.log" ${modes[$i]} "$bin/test_threads" &
    # shellcheck disable=SC2086
    run "$logs/threads-$r-$i-b.log" ${modes[$i]} "$bin/test_threads"
    wait
  done
  run "$logs/concurrent-$r.log" GODEBUG=gcverify=1,gccheckmark=1 "$bin/unit_concurrent"
  # Finalizers, pools and arenas beside the stress test.
  run "$logs/final-$r.log" GODEBUG=gcverify=1,gccheckmark=1 "$bin/test_final" &
  run "$logs/pool-$r.log" GODEBUG=gcverify=1,gccheckmark=1 "$bin/test_pool" &
  run "$logs/threads-$r-x.log" GOGC=10 GODEBUG=gcverify=1,gccheckmark=1 "$bin/test_threads"
  wait
  echo "round $r/$rounds done"
done
# A million arenas made and freed (CI runs 200000).
run "$logs/arena-million.log" GOGC_TEST_ARENAS=1000000 "$bin/test_arena"
if [ -e "$logs/FAILED" ]; then
  echo "stress: FAILURES (logs in $logs)"
  exit 1
fi
rm -rf "$logs"
echo "stress: $rounds rounds, no failure"
